"""Speaker and cue spans from a trained token-classification model (``task=speaker``).

The exported folder is an ordinary Hugging Face token-classification model with BIO labels for
``SPEAKER`` and ``CUE``; this module reads it with ``pipeline("token-classification",
aggregation_strategy="simple")``, exactly as a user without our code would, and keeps for each
statement the most confident speaker span and cue span.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from src.models.layout import TAGGER_TASK as TAGGER_FOLDER
from src.text.speaker_words import word_spans
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


def joined(groups: list[dict], text: str) -> list[tuple[str, Span]]:
    """The pipeline's groups with neighbours of one entity merged when only white space parts
    them: "simple" aggregation starts a new group at every B- tag, and a word-piece tagged B-
    inside a name («ديمتري بيس|كوف») would otherwise cut it in two."""
    merged: list[tuple[str, Span, int]] = []
    words = word_spans(text)
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


def best_spans(groups: list[dict], text: str) -> Tagged:
    """The most confident span of each entity among the pipeline's aggregated groups for
    ``text``."""
    best: dict[str, Span] = {}
    for entity, span in joined(groups, text):
        if entity in ENTITIES and (entity not in best or span.score > best[entity].score):
            best[entity] = span
    return Tagged(best.get(SPEAKER), best.get(CUE))


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
