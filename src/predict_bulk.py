"""Predict over inputs too large for one go: streamed, batched, resumable.

    python -m src.predict_bulk INPUT --output OUT.jsonl [--model RUN] [--backend onnx-int8]

INPUT is a folder of articles (every ``*.txt`` under it, in sorted order, each split into
statements and attributed as ``python -m src.predict`` does) or a JSONL or Parquet file with one
statement per row in ``--text-column`` (``--articles``: one article per row). It is read with
``datasets`` in streaming mode, so it need not fit in memory, and scored by a batched ``map``.

OUT gets one JSON line per statement: ``record`` (the article's or row's position in the input),
``source`` (the article's file, or the row's ``--id-column`` value when the rows have one), then
the fields of ``python -m src.predict``. Run the same command again after an interruption and it
goes on after the last complete record; rows of a record cut off midway are dropped and redone.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import astuple, fields
from pathlib import Path

from src.core.errors import USAGE, InputError, error, reported, warn
from src.inference.choices import BACKENDS, STANCE_MODES
from src.inference.rows import FIELDS, models_for, rows_for, score, speakers_for
from src.inference.statements import ARABIC, Statement, find_statements, read_text

TABLE_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}
COLUMNS = ("record", "source", *FIELDS[1:])
# A Statement as columns between the two maps; its file is the record's source.
STATEMENT = ("source", *(f.name for f in fields(Statement)[1:]))


def completed_records(output: Path) -> tuple[int, int]:
    """How many input records ``output`` holds in full, and the byte offset where the rows of the
    last one start (it may be incomplete, so it is redone). Raises InputError for a file this
    command did not write."""
    if not output.exists():
        return 0, 0
    last, start = None, 0
    with output.open("rb") as handle:
        for number, line in enumerate(iter(handle.readline, b""), 1):
            try:
                record = json.loads(line)["record"]
            except (ValueError, KeyError, TypeError):
                if line.endswith(b"\n"):
                    raise InputError(f"{output}:{number}: not a row of python -m src.predict_bulk"
                                     " (expected JSON with a 'record' field); not touching it"
                                     ) from None
                break  # the last line, cut off mid-write
            if record != last:
                last, start = record, handle.tell() - len(line)
    return (0, 0) if last is None else (last, start)


class Articles:
    """The .txt files of a folder as records; an unreadable one is reported, counted and left
    without rows (it keeps its record number, so a resumed run lines up)."""

    def __init__(self, paths: list[str], encoding: str, start: int) -> None:
        self.paths, self.encoding, self.start, self.unreadable = paths, encoding, start, 0

    def __call__(self):
        for record, path in enumerate(self.paths[self.start:], self.start):
            try:
                text = read_text(path, self.encoding)
            except InputError as err:
                error(str(err))
                self.unreadable += 1
                text = None
            yield {"record": record, "source": path, "text": text}


def open_input(path: Path, text_column: str, id_column: str, encoding: str, skip: int):
    """A streaming dataset of the input records (record, source, text) after the first ``skip``,
    and the folder's reader."""
    from datasets import IterableDataset, load_dataset

    if path.is_dir():
        paths = sorted(str(p) for p in path.rglob("*.txt") if p.is_file())
        if not paths:
            raise InputError(f"{path}: no .txt files in this folder")
        reader = Articles(paths, encoding, skip)
        return IterableDataset.from_generator(reader), reader
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    builder = TABLE_FORMATS.get(path.suffix.lower())
    if builder is None:
        raise InputError(f"{path}: expected a folder of .txt files, or a .jsonl or .parquet file")
    rows = load_dataset(builder, data_files=str(path), split="train", streaming=True)
    try:
        first = next(iter(rows))
    except StopIteration:
        raise InputError(f"{path}: no rows") from None
    except Exception as err:  # the readers' own errors say which line or column
        raise InputError(f"{path}: cannot be read as {builder}: {err}") from None
    if text_column not in first:
        raise InputError(f"{path}: no column '{text_column}' (columns: {', '.join(first)}); "
                         "pass --text-column")
    source = id_column if id_column in first else None

    def normalise(row: dict, record: int) -> dict:
        return {"record": record, "source": str(row[source]) if source else str(path),
                "text": row[text_column]}

    return rows.map(normalise, with_indices=True, remove_columns=list(first)).skip(skip), None


def segmenter(articles_mode: bool, speakers):
    from src.text.segmentation import Span, split_statements

    def whole(text: str) -> list[Span]:
        return [Span(0, len(text), text)]

    split = split_statements if articles_mode else whole

    def segment(batch: dict) -> dict:
        out = {name: [] for name in ("record", *STATEMENT)}
        for record, source, text in zip(batch["record"], batch["source"], batch["text"],
                                        strict=True):
            if not isinstance(text, str) or not text.strip():
                continue
            for statement in find_statements(source, text, split, speakers):
                for column, value in zip(out.values(), (record, *astuple(statement)),
                                         strict=True):
                    column.append(value)
        return out

    return segment


def scorer(models: dict, batch_size: int, stance_mode: str):
    def score_batch(batch: dict) -> dict:
        statements = [Statement(*values)
                      for values in zip(*(batch[n] for n in STATEMENT), strict=True)]
        rows = list(rows_for(statements, models, score(statements, models, batch_size),
                             all_scores=False, stance_mode=stance_mode))
        out = {name: [row[name] for row in rows] for name in FIELDS[1:]}
        return {"record": batch["record"], "source": batch["source"], **out}

    return score_batch


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m src.predict_bulk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="a folder of .txt articles, or a .jsonl or "
                                                 ".parquet file of statements")
    parser.add_argument("--output", "-o", type=Path, required=True,
                        help="JSONL file of predictions; an existing one is resumed")
    parser.add_argument("--model", type=Path,
                        help="a run folder or one model folder (default: the newest run)")
    parser.add_argument("--backend", choices=BACKENDS, default="torch")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default="id",
                        help="kept as each row's source when the input has it")
    parser.add_argument("--articles", action="store_true",
                        help="each row of a JSONL/Parquet input is an article to split")
    parser.add_argument("--stance", choices=STANCE_MODES, default="combined",
                        help="combined: a resolved speaker's camp is the stance; model: the "
                             "stance model alone (default: combined)")
    parser.add_argument("--batch-size", type=int, default=32, help="statements per forward pass")
    parser.add_argument("--chunk", type=int, default=1024,
                        help="statements scored per map batch (sorted by length within it)")
    parser.add_argument("--device", help="cpu, cuda, … (default: cuda if available)")
    parser.add_argument("--encoding", default="utf-8", help="of the .txt files")
    return parser.parse_args(argv)


@reported
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    done, keep = completed_records(args.output)
    records, reader = open_input(args.input, args.text_column, args.id_column, args.encoding,
                                 done)
    models, run = models_for(args.model, args.device, None, args.backend)
    speakers = speakers_for(run, args.device)
    if done:
        print(f"{args.output}: resuming after {done} complete records", file=sys.stderr)
    articles_mode = args.input.is_dir() or args.articles
    statements = (records
                  .map(segmenter(articles_mode, speakers), batched=True,
                       remove_columns=["text"])
                  .map(scorer(models, args.batch_size, args.stance), batched=True,
                       batch_size=args.chunk, remove_columns=["line"]))
    written = no_arabic = 0
    if args.output.exists():
        with args.output.open("r+b") as handle:
            handle.truncate(keep)
    with args.output.open("a", encoding="utf-8") as out:
        for row in statements:
            no_arabic += not ARABIC.search(row["text"])
            out.write(json.dumps({name: row[name] for name in COLUMNS}, ensure_ascii=False)
                      + "\n")
            written += 1
    if no_arabic:
        warn(f"{no_arabic} statements have no Arabic text; predicted anyway")
    print(f"{args.output}: {written} statements written", file=sys.stderr)
    return USAGE if reader is not None and reader.unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
