"""Writing output rows: an aligned table for the terminal, JSON Lines, CSV, an HTML page."""

from __future__ import annotations

import csv
import json
import unicodedata
from itertools import accumulate
from pathlib import Path

from src.inference.html_page import page
from src.inference.rows import FIELDS
from src.text.letters import ARABIC

ISOLATE, POP = "\u2068", "\u2069"  # first-strong isolate: a cell's direction stays inside it


def _char_width(c: str) -> int:
    return (0 if unicodedata.combining(c) or c in (ISOLATE, POP) else
            2 if unicodedata.east_asian_width(c) in "WF" else 1)


def width(text: str) -> int:
    return sum(map(_char_width, text))


def cell(value, size: int) -> str:
    text = "" if value is None else str(value)
    if width(text) > size:
        # The longest start that leaves a column for the ellipsis.
        end = next(i for i, used in enumerate(accumulate(map(_char_width, text)))
                   if used > size - 1)
        text = text[:end] + "…"
    padding = " " * (size - width(text))
    return (ISOLATE + text + POP if ARABIC.search(text) else text) + padding


def write_table(rows, out) -> None:
    """Aligned columns; each Arabic cell is a bidi isolate, so it reads in logical order and
    cannot drag its neighbours across the line."""
    columns = (("file", 14), ("#", 4), ("speaker", 22), ("stance", 17), ("sentiment", 17),
               ("text", 60))
    out.write(" ".join(cell(name, size) for name, size in columns).rstrip() + "\n")
    for row in rows:
        values = (Path(row["file"]).name, row["index"], row["speaker"] or "—",
                  _labelled(row, "stance"), _labelled(row, "sentiment"), row["text"])
        out.write(" ".join(cell(v, size) for v, (_, size) in zip(values, columns, strict=True))
                  .rstrip() + "\n")


def _labelled(row: dict, task: str) -> str:
    if row[task] is None:
        return "—"
    score = row[f"{task}_score"]
    return f"{row[task]} {'actor' if score is None else f'{score:.2f}'}"


def write_rows(rows, fmt: str, out, all_scores: bool, texts: dict[str, str] | None = None
               ) -> None:
    """``texts`` (file name -> its text) is for html only, which draws the rows onto them."""
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        names = [*FIELDS, *(("stance_scores", "sentiment_scores") if all_scores else ())]
        writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v
                             for k, v in row.items()})
    elif fmt == "html":
        out.write(page(rows, texts))
    else:
        write_table(rows, out)
