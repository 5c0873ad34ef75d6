"""Speaker and cue spans from a trained token-classification model (``task=speaker``).

The exported folder is an ordinary Hugging Face token-classification model with BIO labels for
``SPEAKER`` and ``CUE``; this module reads it with ``pipeline("token-classification",
aggregation_strategy="simple")``, exactly as a user without our code would, and keeps for each
statement the most confident cue span and speaker span, read as the guidelines write a speaker
(§8.1: whole words, a nationality adjective kept, a patron left out, a name in the reported
content or one with neither cue nor headline colon no speaker).
"""

from __future__ import annotations

from dataclasses import replace
from operator import attrgetter
from pathlib import Path

from src.models.layout import TAGGER_TASK as TAGGER_FOLDER
from src.text.attribution import MATCHING
from src.text.speaker_words import (
    AFFILIATIONS,
    COMPLEMENTISERS,
    LEADING_TITLES,
    SAMENESS,
    is_nationality,
    speaks_uncued,
    word_spans,
)
from src.text.tagged import Span, Tagged

SPEAKER, CUE = "SPEAKER", "CUE"
ENTITIES = (SPEAKER, CUE)
BIO_LABELS = ("O", *(f"{prefix}-{entity}" for entity in ENTITIES for prefix in ("B", "I")))


def without_spaces(span: Span, text: str) -> Span:
    """``span`` less the white space at its ends: XLM-R's tokenizer (e5's) counts the space
    before a word into the word's offsets, so the pipeline's spans start with it."""
    piece = text[span.start:span.end]
    start = span.start + len(piece) - len(piece.lstrip())
    return replace(span, start=start, end=max(start, span.end - len(piece) + len(piece.rstrip())))


def to_words(span: Span, words: list[tuple[int, int]]) -> Span:
    """``span`` as the whole ``words`` (a statement's :func:`word_spans`) it touches, without
    their punctuation: the guidelines' spans are whole words (714 of the 717 real train and dev
    speaker spans), and a tagger that tags some of a word's pieces («ال|غضبان») would otherwise
    miss by a letter."""
    touched = [(start, end) for start, end in words if start < span.end and span.start < end]
    if not touched:
        return span
    return replace(span, start=touched[0][0], end=touched[-1][1])


def joined(groups: list[dict], text: str, words: list[tuple[int, int]]
           ) -> list[tuple[str, Span]]:
    """The pipeline's groups with neighbours of one entity merged when only white space parts
    them: "simple" aggregation starts a new group at every B- tag, and a word-piece tagged B-
    inside a name («ديمتري بيس|كوف») would otherwise cut it in two. ``words`` are the
    statement's :func:`word_spans`, which the groups are snapped to (:func:`to_words`)."""
    merged: list[tuple[str, Span, int]] = []
    for group in groups:
        entity = group["entity_group"]
        span = to_words(without_spaces(Span(int(group["start"]), int(group["end"]),
                                            float(group["score"])), text), words)
        if merged and merged[-1][0] == entity and not text[merged[-1][1].end:span.start].strip():
            _, last, pieces = merged[-1]
            score = (last.score * pieces + span.score) / (pieces + 1)
            merged[-1] = (entity, Span(last.start, span.end, score), pieces + 1)
        else:
            merged.append((entity, span, 1))
    return [(entity, span) for entity, span, _ in merged]


SCORE = attrgetter("score")
HEAD_WORDS = 5  # the longest speaker phrase taken back from an affiliation («الموالي لدمشق»)


def _folded_words(text: str, words: list[tuple[int, int]]) -> list[str]:
    return [MATCHING(text[start:end]) for start, end in words]


def in_content(text: str, cue: Span, span: Span, words: list[tuple[int, int]]) -> bool:
    """Whether ``span`` lies in the content the cue introduces: after a complementiser that
    follows the cue («وأضافت الوكالة أن جيش الإسلام سلم ...»)."""
    between = [(start, end) for start, end in words if cue.end <= start and end <= span.start]
    return any(word in COMPLEMENTISERS for word in _folded_words(text, between))


def grown(span: Span, text: str, words: list[tuple[int, int]]) -> Span:
    """``span`` with the words right after it that the guidelines' speaker phrase keeps: a
    nationality adjective («وزارة الداخلية الاسبانية»; 96 of the 99 real train and dev speaker
    spans that a definite one follows include it) and «ذاته/نفسه» («المصدر ذاته»)."""
    for start, end in (word for word in words if word[0] >= span.end):
        word = text[start:end]
        if text[span.end:start].strip() or not (
                (word.startswith("ال") and is_nationality(word)) or MATCHING(word) in SAMENESS):
            break
        span = replace(span, end=end)
    return span


def untitled(span: Span, text: str, words: list[tuple[int, int]]) -> Span:
    """``span`` without the ranks and honorifics that open it («معالي وزير الخارجية» →
    «وزير الخارجية»), as long as a word is left that is not a nationality adjective
    («الجنرال الروسي» stays)."""
    inside = [word for word in words if span.start <= word[0] and word[1] <= span.end]
    folded = _folded_words(text, inside)
    first = 0
    while (first + 1 < len(inside) and folded[first] in LEADING_TITLES
           and not is_nationality(text[slice(*inside[first + 1])])):
        first += 1
    return replace(span, start=inside[first][0]) if first else span


def unaffiliated(span: Span, cue: Span | None, text: str, words: list[tuple[int, int]]) -> Span:
    """The speaker phrase of a span that names only a patron («وقال تلفزيون حزب الله الموالي
    لدمشق» tagged at «لدمشق»): the words between the cue and the affiliation word, when the
    span begins with one or right after one (no real train or dev speaker span does)."""
    if cue is None:
        return span
    index = next((i for i, (start, end) in enumerate(words) if start <= span.start < end), None)
    if index is None:
        return span
    folded = _folded_words(text, words)
    # the span's first word, the word before it, or the one before «من» («المقربة من الحكومة»)
    places = [index, index - 1, *([index - 2] if index > 0 and folded[index - 1] == "من" else [])]
    for at in places:
        if at < 0 or folded[at] not in AFFILIATIONS:
            continue
        phrase = [word for word in words[:at] if word[0] >= cue.end]
        if 0 < len(phrase) <= HEAD_WORDS:
            return replace(span, start=phrase[0][0], end=phrase[-1][1])
    return span


def best_spans(groups: list[dict], text: str) -> Tagged:
    """The most confident cue among the pipeline's aggregated groups for ``text``, and the most
    confident speaker not in that cue's content, read as the guidelines' phrase (``grown``,
    ``untitled``, ``unaffiliated``); without a cue, only a speaker that ``speaks_uncued``."""
    words = word_spans(text)
    found = joined(groups, text, words)
    cue = max((span for entity, span in found if entity == CUE), key=SCORE, default=None)
    speakers = [span for entity, span in found if entity == SPEAKER]
    if cue is not None:
        speakers = [span for span in speakers if not in_content(text, cue, span, words)] or speakers
    speaker = max(speakers, key=SCORE, default=None)
    if speaker is None or (cue is None and not speaks_uncued(text, (speaker.start, speaker.end))):
        return Tagged(None, cue)
    speaker = untitled(unaffiliated(speaker, cue, text, words), text, words)
    return Tagged(grown(speaker, text, words), cue)


class SpeakerTagger:
    """A ``task=speaker`` export, applied to statements as they are written (no normalisation:
    the spans are character offsets into the caller's text)."""

    def __init__(self, folder: Path, device: str | None = None) -> None:
        from transformers import pipeline
        from transformers.utils import logging

        logging.disable_progress_bar()  # its weight-loading bar; stderr is for what to read
        self.folder = Path(folder)
        self._pipeline = pipeline("token-classification", model=str(self.folder),
                                  aggregation_strategy="simple", device=device or "cpu")

    @staticmethod
    def in_run(run: Path) -> Path | None:
        """The tagger folder of a training run, if the run trained one."""
        folder = Path(run) / TAGGER_FOLDER
        return folder if (folder / "config.json").is_file() else None

    def __call__(self, texts: list[str], batch_size: int = 32) -> list[Tagged]:
        if not texts:
            return []
        texts = list(texts)
        groups = self._pipeline(texts, batch_size=batch_size)
        return [best_spans(found, text) for found, text in zip(groups, texts, strict=True)]
