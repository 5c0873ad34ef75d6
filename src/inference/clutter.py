"""Web clutter in an article: the lines that are not its news text (data/GUIDELINES.md §8.8).

Clutter has no speaker, whatever it says. Most of it is a marker line («رابط الخبر»,
«للمزيد:», «اقرأ أيضا», a byline, a tag list), but the related-story teasers that close an
article are ordinary lede sentences («قالت نيكي هايلي، سفيرة ...») about other news: the
speaker tagger, which reads one statement, finds their speakers. What gives a teaser away is
its place in the article: near the end, sharing few words with the headline and the body. The
detector is a scikit-learn pipeline over each statement's text (character n-grams, for the
markers) and those context features of its article (:func:`context_rows`), trained by
``python -m src.train task=clutter`` (``src.models.clutter``) into ``RUN/clutter/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from src.text.attribution import MATCHING

CLUTTER_TASK = "clutter"
MODEL_FILE = "model.skops"
LABELS_FILE = "labels.json"
# Teaser blocks hold five related stories (CNN) or fewer: the body is what comes before the
# last TAIL statements.
TAIL = 6
NEAR_END = 5
FAR = 10  # statements from the end past which a statement is simply "far"
LONG = 400  # characters past which length tells nothing more
SHORT = 30  # characters below which a line is a marker, a byline or a fragment
CONTEXT = ("share of words seen before", "share of words in the headline",
           "share of words in the body", "statements to the end", "place in the article",
           "length", "ends a sentence", "headline", "short", "near the end")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r'[.!?؟…"”»)\]]\s*$')


def _words(text: str) -> frozenset[str]:
    """The content words of ``text``, folded: four letters or more, numbers left out."""
    return frozenset(word for word in (MATCHING(w) for w in _WORD.findall(text))
                     if len(word) >= 4 and not word.isdigit())


def _share(words: frozenset[str], seen: set[str] | frozenset[str]) -> float:
    return len(words & seen) / len(words) if words else 0.0


def context_rows(texts: list[str]) -> list[list]:
    """One row per statement of one article, ``texts`` in article order: the text, then the
    ``CONTEXT`` features, as the pipeline reads them."""
    words = [_words(text) for text in texts]
    n = len(texts)
    body_end = max(1, n - TAIL)
    rows, seen, body = [], set(), set()
    for i, (text, own) in enumerate(zip(texts, words, strict=True)):
        if i and i <= body_end:
            body |= words[i - 1]
        to_end = n - 1 - i
        rows.append([text, _share(own, seen), _share(own, words[0]) if i else 1.0,
                     _share(own, body), min(to_end, FAR) / FAR, i / max(1, n - 1),
                     min(len(text), LONG) / LONG, float(bool(_SENTENCE_END.search(text))),
                     float(i == 0), float(len(text.strip()) < SHORT), float(to_end < NEAR_END)])
        seen |= own
    return rows


class ClutterDetector:
    """A ``task=clutter`` export: which statements of an article are clutter."""

    def __init__(self, folder: Path) -> None:
        from src.inference.loading import trusted_skops

        self.folder = Path(folder)
        self._pipeline = trusted_skops(self.folder / MODEL_FILE)

    @staticmethod
    def in_run(run: Path) -> Path | None:
        """The clutter folder of a training run, if the run trained one."""
        folder = Path(run) / CLUTTER_TASK
        return folder if (folder / MODEL_FILE).is_file() else None

    def __call__(self, texts: list[str]) -> list[bool]:
        """Whether each statement of one article, ``texts`` in article order, is clutter."""
        if not texts:
            return []
        return [bool(flag) for flag in self._pipeline.predict(context_rows(list(texts)))]


def save_detector(pipeline, folder: Path) -> None:
    import skops.io

    folder.mkdir(parents=True, exist_ok=True)
    skops.io.dump(pipeline, folder / MODEL_FILE)
    (folder / LABELS_FILE).write_text(json.dumps(
        {"task": CLUTTER_TASK, "id2label": {"0": "text", "1": "clutter"},
         "features": ["text", *CONTEXT]}, ensure_ascii=False, indent=2) + "\n")


def clutter_of(run: Path) -> ClutterDetector | None:
    """The clutter detector ``run`` trained, or None; raises ModelError for one that cannot
    be loaded."""
    from src.core.errors import ModelError

    folder = ClutterDetector.in_run(run) if Path(run).is_dir() else None
    if folder is None:
        return None
    try:
        return ClutterDetector(folder)
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: the clutter detector could not be loaded ({err})") from None
