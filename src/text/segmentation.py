"""Split Arabic news text into candidate statements, keeping character offsets.

Sentences end at ``.``, ``!``, ``?``, ``؟`` or a line break, but never inside a quotation
(``"..."``, ``«...»``, ``“...”``): a quoted statement may hold several sentences and still
belongs to one speaker. A dateline such as ``دمشق - `` opening a paragraph is not part of
the statement. Invisible characters (``src.text.letters.INVISIBLE``) are looked through: the
statements are those of the text without them, given as spans of the text as written.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from src.text.letters import ARABIC_LETTERS, QUOTE_PAIRS
from src.text.normalization import VisibleText

TERMINATORS = ".!?؟"
# A place name of one to three words, then a dash, at the very start of a paragraph.
DATELINE = re.compile(rf"^[{ARABIC_LETTERS}]+(?: [{ARABIC_LETTERS}]+){{0,2}} ?[-–—] ")


@dataclass(frozen=True)
class Span:
    """A statement: its text and where it lies in the input (``text == source[start:end]``)."""

    start: int
    end: int
    text: str


def _strip(source: str, start: int, end: int) -> Span | None:
    while start < end and source[start].isspace():
        start += 1
    while end > start and source[end - 1].isspace():
        end -= 1
    if start == end:
        return None
    return Span(start, end, source[start:end])


def _sentence_ends(paragraph: str) -> list[int]:
    """Offsets just after each sentence end in ``paragraph`` (the last one is its length)."""
    ends = []
    closer = None
    for i, char in enumerate(paragraph):
        if closer is not None:
            if char == closer:
                closer = None
            continue
        if char in QUOTE_PAIRS:
            closer = QUOTE_PAIRS[char]
        elif char in TERMINATORS:
            after = paragraph[i + 1 : i + 2]
            # "2.5" or "أستانا.12" are not sentence ends; a terminator must be followed by
            # space, a closing quote or the paragraph end.
            if after == "" or after.isspace():
                ends.append(i + 1)
    if not ends or ends[-1] != len(paragraph):
        ends.append(len(paragraph))
    return ends


def _as_written(split):
    """``split`` run on the visible text, its spans moved back onto the text as written."""

    @functools.wraps(split)
    def split_as_written(source: str) -> list[Span]:
        visible = VisibleText.of(source)
        spans = split(visible.text)
        if visible.text is source:
            return spans
        return [Span(start, end, source[start:end])
                for start, end in (visible.original(s.start, s.end) for s in spans)]

    return split_as_written


@_as_written
def split_statements(source: str) -> list[Span]:
    """All statements of ``source`` in reading order (paragraphs are separated by line breaks)."""
    spans = []
    offset = 0
    for line in source.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        lead = len(body) - len(body.lstrip())
        dateline = DATELINE.match(body[lead:])
        begin = lead + (dateline.end() if dateline else 0)
        for end in _sentence_ends(body):
            if end <= begin:
                continue
            span = _strip(source, offset + begin, offset + end)
            if span is not None:
                spans.append(span)
            begin = end
        offset += len(line)
    return spans


@_as_written
def split_lines(source: str) -> list[Span]:
    """One statement per non-empty line, for inputs that are already segmented."""
    spans = []
    offset = 0
    for line in source.splitlines(keepends=True):
        span = _strip(source, offset, offset + len(line.rstrip("\r\n")))
        if span is not None:
            spans.append(span)
        offset += len(line)
    return spans
