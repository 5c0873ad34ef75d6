"""The statements found in a text, with who speaks them and where, as character offsets."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from src.core.errors import InputError

# Read from each Statement as it is; the stance and sentiment columns follow them.
STATEMENT_FIELDS = ("file", "index", "start", "end", "text", "speaker", "speaker_start",
                    "speaker_end", "actor", "camp", "cue", "cue_start", "cue_end", "resolution",
                    "clutter", "quote")


@dataclass
class Statement:
    """One statement and who speaks it; offsets are into the input text."""

    file: str
    index: int
    start: int
    end: int
    line: int
    text: str
    speaker: str | None
    quote: str | None
    speaker_start: int | None = None
    speaker_end: int | None = None
    actor: str | None = None
    camp: str | None = None
    cue: str | None = None
    cue_start: int | None = None
    cue_end: int | None = None
    resolution: str | None = None
    clutter: bool = False


def read_text(name: str, encoding: str) -> str:
    """The text of ``name`` ('-' is standard input), or InputError saying what is wrong."""
    if name == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(name)
        if path.is_dir():
            raise InputError(f"{name}: is a directory (expected a text file)")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except PermissionError:
            raise InputError(f"{name}: cannot be read (permission denied)") from None
        except OSError as err:
            raise InputError(f"{name}: cannot be read ({err.strerror})") from None
    binary = InputError(f"{name}: looks like a binary file (expected {encoding} text)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        if b"\x00" in data:
            raise binary from None
        line = data[: err.start].count(b"\n") + 1
        raise InputError(f"{name}:{line}: not {encoding} text (byte 0x{data[err.start]:02x}); "
                         "if the file is in another encoding, pass it, e.g. --encoding cp1256"
                         ) from None
    except LookupError:
        raise InputError(f"--encoding {encoding}: unknown encoding") from None
    # A NUL character, anywhere, is no article's: the bytes are binary (a UTF-16 file decodes
    # its NUL bytes into letters, so it is the decoded text that is checked).
    if "\x00" in text:
        raise binary
    return text.removeprefix("\ufeff")


def find_statements(name: str, text: str, split, speakers) -> list[Statement]:
    """The statements that ``split`` (text -> spans) finds in ``text``, with who speaks them
    (``speakers``, a src.inference.speakers.Speakers); speakers carry over from statement to
    statement within ``text`` only. Speakers read each statement without its invisible
    characters, as they read it clean; the speaker and cue are given as written, with offsets
    into ``text``."""
    from src.text.attribution import first_quote
    from src.text.normalization import VisibleText

    spans = split(text)
    visible = [VisibleText.of(span.text) for span in spans]
    written: dict[str, str] = {}  # each speaker read so far, as the text writes it
    statements = []
    for index, (span, seen, reading) in enumerate(zip(
            spans, visible, speakers([v.text for v in visible]), strict=True)):
        speaker, speaker_at = _as_written(span.start, seen, reading.speaker,
                                          reading.speaker_span)
        if reading.speaker_span is not None:
            written[reading.speaker] = speaker
        elif reading.speaker is not None:  # inherited: as it was last written
            speaker = written.get(reading.speaker, speaker)
        cue, cue_at = _as_written(span.start, seen, reading.cue, reading.cue_span)
        statements.append(Statement(
            name, index, span.start, span.end, text.count("\n", 0, span.start) + 1, span.text,
            speaker, first_quote(span.text), *speaker_at, reading.actor, reading.camp,
            cue, *cue_at, reading.resolution, reading.clutter))
    return statements


def _as_written(offset: int, seen, phrase: str | None, span: tuple[int, int] | None
                ) -> tuple[str | None, tuple[int | None, int | None]]:
    """``phrase`` found at ``span`` of the visible statement ``seen``, as ``seen.written`` has
    it, and its offsets into the input (the statement starts at ``offset``)."""
    if span is None:
        return phrase, (None, None)
    start, end = seen.original(*span)
    return seen.written[start:end], (start + offset, end + offset)
