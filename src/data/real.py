"""Real-news annotation: labels written against a worksheet become dataset records.

    python -m src.data.real check WORKSHEET.jsonl LABELS.jsonl
    python -m src.data.real merge WORKSHEET.jsonl LABELS.jsonl OUT.jsonl [--annotator NAME]

A worksheet is the ``statements.jsonl`` that ``python -m src.data.select`` writes: every
statement of the chosen articles with its provenance and the pre-annotation. A labels file has
one line per statement::

    {"id": ..., "stance": ..., "sentiment": ..., "speaker": "<as written in text>" | null,
     "speaker_inherited": false, "cue": "<one word of text>" | null, "clutter": false}

with optional ``speaker_occurrence``/``cue_occurrence`` (1-based, when the phrase occurs more
than once) and ``note``. An inherited speaker (a bare «وأضاف») is written as it was last named,
with ``speaker_inherited: true``. ``check`` lists every problem as ``file:line: ...``; ``merge``
writes the records, spans as character offsets, the pre-annotation kept under ``pre``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from src.core.errors import error, reported
from src.data.io import DataError, read_numbered_jsonl, write_jsonl
from src.data.schema import LABELS, TASKS
from src.text.letters import ARABIC_LETTER

PROVENANCE = ("article_id", "corpus", "outlet", "url", "date", "index")


def find_phrase(text: str, phrase: str, occurrence: int = 1) -> list[int] | None:
    """``[start, end]`` of the ``occurrence``-th whole-word ``phrase`` in ``text`` (any
    occurrence when none stands as whole words), or None."""
    starts = [m.start() for m in re.finditer(re.escape(phrase), text)]
    whole = [s for s in starts
             if not (s > 0 and ARABIC_LETTER.match(text[s - 1]))
             and not (s + len(phrase) < len(text) and ARABIC_LETTER.match(text[s + len(phrase)]))]
    # A clitic (و, ف, ب, ل) glued to a name leaves no word boundary; such a match still counts.
    candidates = whole or starts
    if not 1 <= occurrence <= len(candidates):
        return None
    start = candidates[occurrence - 1]
    return [start, start + len(phrase)]


def to_record(statement: dict, labels: dict, where: str) -> dict:
    """The dataset record of one worksheet statement and its labels, or DataError."""
    for task in TASKS:
        if labels.get(task) not in LABELS[task]:
            raise DataError(f"{where}: {task} {labels.get(task)!r} is not one of "
                            f"{', '.join(LABELS[task])}")
    for flag in ("speaker_inherited", "clutter"):
        if not isinstance(labels.get(flag, False), bool):
            raise DataError(f"{where}: expected true or false for {flag!r}")
    text = statement["text"]
    speaker, cue = labels.get("speaker"), labels.get("cue")
    inherited = labels.get("speaker_inherited", False)
    for name, value in (("speaker", speaker), ("cue", cue)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise DataError(f"{where}: expected a phrase of the text or null for {name!r}")
    if inherited and speaker is None:
        raise DataError(f"{where}: speaker_inherited is true, so 'speaker' must name the "
                        "inherited speaker")
    speaker_span = None
    if speaker is not None and not inherited:
        speaker_span = find_phrase(text, speaker, labels.get("speaker_occurrence", 1))
        if speaker_span is None:
            raise DataError(f"{where}: speaker {speaker!r} is not in the statement's text "
                            "(an inherited speaker needs speaker_inherited: true)")
    cue_span = None
    if cue is not None:
        cue_span = find_phrase(text, cue, labels.get("cue_occurrence", 1))
        if cue_span is None:
            raise DataError(f"{where}: cue {cue!r} is not in the statement's text")
    clutter = labels.get("clutter", False)
    if clutter and (labels["stance"], labels["sentiment"], speaker) != ("none", "neutral", None):
        raise DataError(f"{where}: clutter is none/neutral with a null speaker")
    record = {"id": statement["id"], "text": text, "stance": labels["stance"],
              "sentiment": labels["sentiment"], "speaker": speaker, "source": "real",
              "derived_from": None,
              **{key: statement[key] for key in PROVENANCE},
              "speaker_span": speaker_span, "speaker_inherited": inherited,
              "cue_span": cue_span, "clutter": clutter}
    if labels.get("note"):
        record["note"] = labels["note"]
    record["pre"] = statement.get("pre")
    return record


def merge(worksheet: Path, labels_path: Path) -> tuple[list[dict], list[str]]:
    """Records for every labelled statement, and the problems found (``file:line: ...``)."""
    statements = {s["id"]: s for _, s in read_numbered_jsonl(worksheet)}
    records, problems, seen = [], [], set()
    for number, labels in read_numbered_jsonl(labels_path):
        where = f"{labels_path}:{number}"
        statement = statements.get(labels.get("id"))
        if statement is None:
            problems.append(f"{where}: id {labels.get('id')!r} is not in {worksheet}")
            continue
        if labels["id"] in seen:
            problems.append(f"{where}: id {labels['id']!r} labelled twice")
            continue
        seen.add(labels["id"])
        try:
            records.append(to_record(statement, labels, where))
        except DataError as err:
            problems.append(str(err))
    return records, problems


@reported
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.data.real",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "merge"):
        command = commands.add_parser(name)
        command.add_argument("worksheet", type=Path)
        command.add_argument("labels", type=Path)
        if name == "merge":
            command.add_argument("output", type=Path)
            command.add_argument("--annotator", help="recorded with every record")
    args = parser.parse_args(argv)
    records, problems = merge(args.worksheet, args.labels)
    for problem in problems:
        error(problem)
    labelled = {record["id"] for record in records}
    missing = [s["id"] for _, s in read_numbered_jsonl(args.worksheet) if s["id"] not in labelled]
    if missing:
        print(f"{len(missing)} statements of {args.worksheet} not labelled yet, from "
              f"{missing[0]}", file=sys.stderr)
    if problems:
        return 1
    if args.command == "merge":
        if args.annotator:
            for record in records:
                record["annotator"] = args.annotator
        write_jsonl(args.output, records)
    print(f"{len(records)} statements labelled, no problems", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
