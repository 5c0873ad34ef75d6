"""Reading and writing the dataset's JSON Lines files, with errors that name file and line, and
how a CSV or TSV file of one's own is read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from src.core.errors import QawlError

# Reads a CSV or TSV file with or without a byte-order mark.
CSV_ENCODING = "utf-8-sig"


class DataError(QawlError):
    """A problem in an input file; the message starts with ``file:line:`` where a line is known."""


def csv_delimiter(path: Path) -> str:
    """The field separator of a CSV or TSV file, by its suffix."""
    return "\t" if path.suffix.lower() == ".tsv" else ","


def csv_options(path: Path) -> dict:
    """How datasets' csv builder reads a CSV or TSV file of one's own, in training and in
    src.predict_bulk alike; pandas would otherwise turn the label "None" into NaN."""
    return {"encoding": CSV_ENCODING, "keep_default_na": False, "sep": csv_delimiter(path)}


def read_numbered_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """``(line number, record)`` pairs of a JSONL file; blank lines are skipped, any other line
    must be a JSON object."""
    path = Path(path)
    try:
        # Lines end at "\n" only: str.splitlines() would also cut at U+2028 or U+0085, which
        # json.dumps leaves unescaped inside the texts that write_jsonl writes.
        lines = path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory (expected a JSONL file)") from None
    except PermissionError:
        raise DataError(f"{path}: cannot be read (permission denied)") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: not valid JSON ({err.msg})") from None
        except RecursionError:
            raise DataError(f"{path}:{number}: JSON nested too deeply "
                            "(expected a JSON object)") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        records.append((number, record))
    return records


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSONL file (see :func:`read_numbered_jsonl`)."""
    return [record for _, record in read_numbered_jsonl(path)]


def write_jsonl(path: str | Path, records: Iterable[dict]) -> None:
    """Write records one per line, Arabic kept readable; the file is replaced only when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    partial.replace(path)
