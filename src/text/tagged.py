"""What a source of speaker spans (the learned tagger or the rules) finds in one statement."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """``text[start:end]`` of one statement, with its confidence (the tagger's mean token
    probability; the rules give 1)."""

    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Tagged:
    """What was found in one statement: its speaker phrase and its cue, each or None."""

    speaker: Span | None
    cue: Span | None
