"""The predict rows drawn onto their articles: one self-contained right-to-left HTML page.

Each input appears exactly as written, its statements highlighted in their stance's colour,
the speaker underlined, and every label and score in the statement's tooltip. The page loads
nothing from outside and runs no script, so it opens the same offline, mailed or archived.
"""

from __future__ import annotations

import zlib
from collections import Counter
from html import escape

# Light backgrounds, so the black text on them stays readable.
STANCE_COLOURS = {"regime": "#f6c4bd", "russia": "#c3d8f5", "opposition": "#c9ecb8",
                  "none": "#e4e4e4"}
# For the labels of a model trained on labels of its own.
PALETTE = ("#fde0a2", "#ddcaf4", "#bce8e3", "#f8cde4", "#e4e6ad", "#fbd3b1", "#cfd3f7",
           "#d9efc7", "#f3d0c8", "#c8e4f1")
# Without a stance model the rows have no stance: the statement is outlined, not filled.
NO_STANCE = "no stance"

STYLE = """
body { margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #111; background: #fff;
  font-family: "Noto Naskh Arabic", "Noto Sans Arabic", "Amiri", "DejaVu Sans", sans-serif; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; padding: 0; list-style: none; }
.legend li { display: flex; align-items: center; gap: .4rem; }
.swatch { display: inline-block; width: 1.6em; height: 1em; border-radius: 3px;
  box-shadow: inset 0 0 0 1px rgba(0, 0, 0, .25); }
h2 { font-size: 1.1rem; border-bottom: 1px solid #ccc; }
.article { white-space: pre-wrap; line-height: 2.1; font-size: 1.15rem; }
/* The inset edge keeps two neighbouring statements of one stance apart. */
.statement { color: inherit; border-radius: 3px; padding: 0 1px;
  box-decoration-break: clone; -webkit-box-decoration-break: clone;
  box-shadow: inset 0 0 0 1px rgba(0, 0, 0, .15); }
.statement:hover { box-shadow: inset 0 0 0 2px #333; }
.speaker { text-decoration: underline 2px; text-underline-offset: .35em; }
"""


def colours(labels) -> dict:
    """A background colour for each stance label: fixed for the project's four; for any other,
    the palette's colour at a slot that the label's checksum picks, so a label keeps its colour
    from page to page, or the next free one when two labels of a page pick the same slot."""
    picked = {}
    for label in sorted(set(labels) - set(STANCE_COLOURS)):
        slot = zlib.crc32(label.encode()) % len(PALETTE)
        turn = PALETTE[slot:] + PALETTE[:slot]
        # With more labels than colours, some share one.
        picked[label] = next((c for c in turn if c not in picked.values()), turn[0])
    return {label: STANCE_COLOURS.get(label) or picked[label] for label in labels}


def page(rows, texts: dict[str, str]) -> str:
    """The HTML page of ``rows`` (src.inference.rows.rows_for) over ``texts`` (file name -> the
    text their offsets point into), one section per text, in the order of ``texts``."""
    rows = list(rows)
    counts = Counter(NO_STANCE if row["stance"] is None else row["stance"] for row in rows)
    known = [label for label in STANCE_COLOURS if label in counts]
    labels = [*known, *sorted(label for label in counts if label not in known)]
    classes = {label: f"stance-{i}" for i, label in enumerate(labels)}
    rules = [f".{classes[label]} {{ background: {colour}; }}"
             for label, colour in colours(set(labels) - {NO_STANCE}).items()]
    if NO_STANCE in classes:
        rules.append(f".{classes[NO_STANCE]} {{ background: transparent; "
                     "box-shadow: inset 0 0 0 1px #777; }")
    legend = "".join(f'<li><span class="swatch {classes[label]}"></span><bdi>{escape(label)}'
                     f"</bdi> ({counts[label]})</li>" for label in labels)
    sections = "".join(_section(name, text, [r for r in rows if r["file"] == name], classes)
                       for name, text in texts.items())
    title = escape(", ".join(texts) or "qawl")
    return (f'<!DOCTYPE html>\n<html lang="ar" dir="rtl">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{STYLE}{chr(10).join(rules)}\n</style>\n"
            f'</head>\n<body>\n<ul class="legend" aria-label="stance">{legend}</ul>\n'
            f"{sections}</body>\n</html>\n")


def _section(name: str, text: str, rows: list[dict], classes: dict) -> str:
    parts, cursor = [], 0
    for row in sorted(rows, key=lambda r: (r["start"], r["end"])):
        # Statements do not overlap; should two ever do, the text is still shown once.
        start, end = max(row["start"], cursor), row["end"]
        if end <= start:
            continue
        parts.append(escape(text[cursor:start]))
        label = NO_STANCE if row["stance"] is None else row["stance"]
        parts.append(f'<mark class="statement {classes[label]}" data-index="{row["index"]}" '
                     f'title="{escape(_tooltip(row))}">{_statement(text, start, end, row)}'
                     "</mark>")
        cursor = end
    parts.append(escape(text[cursor:]))
    return (f'<section>\n<h2><bdi>{escape(name)}</bdi></h2>\n<div class="article">'
            f'{"".join(parts)}</div>\n</section>\n')


def _statement(text: str, start: int, end: int, row: dict) -> str:
    """The statement's text, its speaker's words (those within the statement) underlined."""
    if row["speaker_start"] is None:
        return escape(text[start:end])
    left, right = max(row["speaker_start"], start), min(row["speaker_end"], end)
    if left >= right:
        return escape(text[start:end])
    return (f'{escape(text[start:left])}<u class="speaker">{escape(text[left:right])}</u>'
            f"{escape(text[right:end])}")


def _tooltip(row: dict) -> str:
    lines = [f"#{row['index']}"]
    if row["stance"] is not None:
        decided = {"actor": "the speaker's camp", "clutter": "web clutter"}.get(
            row["stance_source"]) or f"model {row['stance_score']:.2f}"
        lines.append(f"stance: {row['stance']} ({decided})")
    if row["sentiment"] is not None:
        lines.append(f"sentiment: {row['sentiment']} {row['sentiment_score']:.2f}")
    for task in ("stance", "sentiment"):
        if f"{task}_scores" in row:
            lines.append(f"{task} scores: " + ", ".join(
                f"{label} {p:.2f}" for label, p in row[f"{task}_scores"].items()))
    lines.append(" · ".join(f"{name}: {row[name] or '—'}"
                            for name in ("speaker", "actor", "camp")))
    return "\n".join(lines)
