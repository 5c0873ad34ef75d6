"""The statements found in a text, with who speaks them and where, as character offsets."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from src.core.errors import InputError

# Read from each Statement as it is; the stance and sentiment columns follow them.
STATEMENT_FIELDS = ("file", "index", "start", "end", "text", "speaker", "speaker_start",
                    "speaker_end", "actor", "camp", "cue", "cue_start", "cue_end", "resolution",
                    "quote")
ARABIC = re.compile(r"[\u0600-\u06FF]")


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
    if b"\x00" in data[:8192]:
        raise InputError(f"{name}: looks like a binary file (expected {encoding} text)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(f"{name}:{line}: not {encoding} text (byte 0x{data[err.start]:02x}); "
                         "if the file is in another encoding, pass it, e.g. --encoding cp1256"
                         ) from None
    except LookupError:
        raise InputError(f"--encoding {encoding}: unknown encoding") from None
    return text.removeprefix("\ufeff")


def find_statements(name: str, text: str, split, speakers) -> list[Statement]:
    """The statements that ``split`` (text -> spans) finds in ``text``, with who speaks them
    (``speakers``, a src.inference.speakers.Speakers); speakers carry over from statement to
    statement within ``text`` only."""
    from src.text.attribution import first_quote

    spans = split(text)
    statements = []
    for index, (span, reading) in enumerate(zip(spans, speakers([s.text for s in spans]),
                                                 strict=True)):
        speaker_at = _shifted(reading.speaker_span, span.start)
        cue_at = _shifted(reading.cue_span, span.start)
        statements.append(Statement(
            name, index, span.start, span.end, text.count("\n", 0, span.start) + 1, span.text,
            reading.speaker, first_quote(span.text), *speaker_at, reading.actor, reading.camp,
            reading.cue, *cue_at, reading.resolution))
    return statements


def _shifted(span: tuple[int, int] | None, offset: int) -> tuple[int | None, int | None]:
    return (None, None) if span is None else (span[0] + offset, span[1] + offset)
