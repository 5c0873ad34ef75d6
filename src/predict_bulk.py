"""Predict over inputs too large for one go: streamed, batched, resumable.

    python -m src.predict_bulk INPUT --output OUT.jsonl [--run-dir RUN] [--backend onnx-int8]
    python -m src.predict_bulk tweets.jsonl -o OUT.jsonl --target-column target  # Mawqif-style

INPUT is a folder of articles (every ``*.txt`` under it, in sorted order, each split into
statements and attributed as ``python -m src.predict`` does) or a JSONL or Parquet file with one
statement per row in ``--text-column`` (``--articles``: one article per row). It is read with
``datasets`` in streaming mode, so it need not fit in memory, and scored by a batched ``map``.

OUT gets one JSON line per statement: ``record`` (the article's or row's position in the input),
``source`` (the article's file, or the row's ``--id-column`` value when the rows have one), with
``--target-column`` or ``--target`` the ``target`` its stance was scored towards (for a stance
model trained with ``data.target_column``), then the fields of ``python -m src.predict`` (with
--all-scores, every label's probability too). Run the same command again after an interruption
and it goes on after the last complete record; rows of a record cut off midway are dropped and
redone. ``OUT.meta.json``, written before the first row, records what OUT is written from (the
input, the models, the options that change a row) and the articles found unreadable: an OUT
without it, or written from anything else, is refused untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import astuple, fields
from pathlib import Path

from src.core.errors import USAGE, InputError, error, reported, warn
from src.data.io import CSV_ENCODING, csv_delimiter, csv_options
from src.inference.choices import BACKENDS, STANCE_MODES
from src.inference.loading import check_targets
from src.inference.rows import FIELDS, check_sizes, models_for, rows_for, score, speakers_for
from src.inference.statements import Statement, find_statements, read_text
from src.models import layout
from src.text.letters import ARABIC

TABLE_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv",
                 ".tsv": "csv"}
COLUMNS = ("record", "source", *FIELDS[1:])
# A Statement as columns between the two maps; its file is the record's source.
STATEMENT = ("source", *(f.name for f in fields(Statement)[1:]))
ROW_START = b'{"record": '  # how each row's line starts: json.dumps of COLUMNS, in order
# The options that change what a row holds (--batch-size, --chunk and --device change only how
# fast it comes), by their argparse names.
SETTINGS = ("backend", "stance", "max_length", "all_scores", "text_column", "id_column",
            "articles", "encoding", "target_column", "target")


def completed_records(output: Path) -> tuple[int, int]:
    """How many input records ``output`` holds in full, and the byte offset where the rows of the
    last one start (it may be incomplete, so it is redone). Raises InputError for a line this
    command did not write."""
    last, start = None, 0
    with output.open("rb") as handle:
        for number, line in enumerate(iter(handle.readline, b""), 1):
            try:
                record = json.loads(line)["record"]
            except (ValueError, KeyError, TypeError):
                # A row cut off mid-write still starts as every row does; anything else is not ours.
                if line.endswith(b"\n") or line[:len(ROW_START)] != ROW_START[:len(line)]:
                    raise InputError(f"{output}:{number}: not a row of python -m src.predict_bulk"
                                     " (expected JSON with a 'record' field); not touching it"
                                     ) from None
                break  # the last line, cut off mid-write
            if record != last:
                last, start = record, handle.tell() - len(line)
    return (0, 0) if last is None else (last, start)


def stat_digest(paths: list[Path]) -> str:
    """A digest of each file's path, size and modification time: what make and rsync trust to
    tell a file unchanged. A stat per file is cheap; hashing the contents would cost a pass over
    the whole input at every start."""
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def article_paths(folder: Path) -> list[str]:
    """The articles of a folder input, in record order."""
    return sorted(str(p) for p in folder.rglob("*.txt") if p.is_file())


def input_fingerprint(path: Path) -> dict:
    files = [Path(p) for p in article_paths(path)] if path.is_dir() else [path]
    return {"path": str(path.resolve()), "digest": stat_digest(files)}


def model_fingerprints(run: Path, backend: str) -> dict[str, dict]:
    """Each model folder of ``run`` (the speaker tagger's too) by task: what decides its scores,
    every file of the folder but its card and metrics, and the ONNX file ``backend`` reads."""
    fingerprints = {}
    # A run's task folder that does not load is left out of the scoring with a warning, and is
    # fingerprinted as it is: reading it to name its task would refuse the whole run.
    folders = layout.task_folders(run) if layout.is_run_folder(run) else layout.model_folders(run)
    for task, folder in folders.items():
        files = [p for p in sorted(folder.iterdir())
                 if p.is_file() and p.name not in (layout.CARD, layout.METRICS)]
        if backend in layout.ONNX_FILES and (folder / layout.ONNX_FILES[backend]).is_file():
            files.append(folder / layout.ONNX_FILES[backend])
        fingerprints[task] = {"path": str(folder.resolve()), "digest": stat_digest(files)}
    return fingerprints


def shown(value) -> str:
    if value is None or value is False:
        return "not given"
    return "given" if value is True else str(value)


def differences(then: dict, now: dict) -> list[str]:
    """What ``now`` (the input, the models and the settings) changes of ``then``, in words."""
    changed = []
    for key in sorted(then["files"].keys() | now["files"].keys(), key=lambda k: k != "input"):
        old, new = then["files"].get(key), now["files"].get(key)
        if old == new:
            continue
        what = "the input" if key == "input" else f"the {key} model"
        if old and new and old["path"] == new["path"]:
            changed.append(f"{what} {new['path']} (changed since: its files, sizes or times)")
        else:
            changed.append(f"{what} ({old['path'] if old else 'none'} then, "
                           f"{new['path'] if new else 'none'} now)")
    for name, value in now["settings"].items():
        if then["settings"].get(name) != value:
            changed.append(f"--{name.replace('_', '-')} ({shown(then['settings'].get(name))} "
                           f"then, {shown(value)} now)")
    return changed


class Sidecar:
    """``OUT.meta.json``, written before OUT's first row: what OUT is written from (``files``:
    the input's and the models' fingerprints; ``settings``) and the ``unreadable`` articles so
    far, as [record, message]. A resumed run goes on only from the same, and reports again the
    unreadable articles before the point it resumes from."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = output.with_name(output.name + ".meta.json")
        self.meta: dict = {"unreadable": []}

    def earlier(self) -> dict | None:
        """What the run that wrote OUT recorded; None when there is nothing to resume (no OUT,
        or an empty one). Raises InputError for an OUT that is a folder, or that has no sidecar
        of this command: a file it did not write."""
        if self.output.is_dir():
            raise InputError(f"{self.output}: a folder; expected a .jsonl file to write")
        if not self.output.parent.is_dir():
            raise InputError(f"{self.output}: no folder {self.output.parent} to write it in "
                             "(create it first)")
        if not self.output.exists() or self.output.stat().st_size == 0:
            return None
        refused = f"{self.output}: not written by python -m src.predict_bulk"
        advice = "not touching it: write to another --output, or delete it to start over"
        try:
            meta = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{refused} (no {self.path.name} beside it); {advice}") from None
        except (OSError, ValueError) as err:
            raise InputError(f"{refused} ({self.path}: {err}); {advice}") from None
        if not isinstance(meta, dict) or set(meta) != {"files", "settings", "unreadable"}:
            raise InputError(f"{refused} ({self.path} is not its record); {advice}")
        return meta

    def start(self, now: dict, earlier: dict | None, done: int) -> None:
        """Record ``now`` (files, settings), keeping the unreadable articles before record
        ``done``; raises InputError when ``earlier`` was written from anything else."""
        kept = []
        if earlier is not None:
            changed = differences(earlier, now)
            if changed:
                raise InputError(f"{self.output}: written from another input, models or "
                                 f"settings: {'; '.join(changed)}; not touching it: write to "
                                 "another --output, or delete it to start over")
            kept = [entry for entry in earlier["unreadable"] if entry[0] < done]
        self.meta = {**now, "unreadable": kept}
        self.save()

    def unreadable(self, record: int, message: str) -> None:
        self.meta["unreadable"].append([record, message])
        self.save()

    def save(self) -> None:
        # Whole or not at all: a sidecar cut off mid-write would refuse the resume.
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(self.meta, ensure_ascii=False, indent=1) + "\n",
                           encoding="utf-8")
        os.replace(partial, self.path)


class Articles:
    """The .txt files of a folder as records; an unreadable one is reported, passed to
    ``on_unreadable`` and left without rows (it keeps its record number, so a resumed run
    lines up)."""

    def __init__(self, paths: list[str], encoding: str, start: int,
                 on_unreadable: Callable[[int, str], None], target: str | None = None) -> None:
        self.paths, self.encoding, self.start = paths, encoding, start
        self.on_unreadable, self.target = on_unreadable, target

    def __call__(self):
        for record, path in enumerate(self.paths[self.start:], self.start):
            try:
                text = read_text(path, self.encoding)
            except InputError as err:
                error(str(err))
                self.on_unreadable(record, str(err))
                text = None
            yield {"record": record, "source": path, "text": text, "target": self.target}


def table_columns(path: Path, builder: str) -> list[str]:
    """The columns of a Parquet file (its schema) or a JSONL file (its first row), read without
    streaming it: a stream over a file without the columns asked for has aborted the interpreter
    inside pyarrow (exit code 134) rather than raised."""
    if builder == "parquet":
        import pyarrow.parquet as pq

        try:
            with pq.ParquetFile(path) as table:
                if table.metadata.num_rows == 0:
                    raise InputError(f"{path}: no rows")
                return table.schema_arrow.names
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise InputError(f"{path}: cannot be read as parquet: {err}") from None
    if builder == "csv":
        import csv

        try:
            with path.open(encoding=CSV_ENCODING, newline="") as handle:
                header = next(csv.reader(handle, delimiter=csv_delimiter(path)), None)
                if header is None or next(handle, None) is None:
                    raise InputError(f"{path}: no rows (expected a header row, then one row per "
                                     "statement)")
                return header
        except UnicodeDecodeError as err:
            raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError as err:
                    raise InputError(f"{path}:{number}: not JSON ({err}); expected one JSON "
                                     "object per line") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path}:{number}: a JSON {type(row).__name__}; expected "
                                     "one JSON object per line")
                return list(row)
    raise InputError(f"{path}: no rows")


def open_input(path: Path, text_column: str, id_column: str, encoding: str, skip: int,
               on_unreadable: Callable[[int, str], None], target_column: str | None = None,
               target: str | None = None):
    """A streaming dataset of the input records (record, source, text, target) after the
    first ``skip``; an unreadable article of a folder goes to ``on_unreadable``. The target is
    each row's ``target_column`` (InputError at a row without one), else ``target``."""
    from datasets import IterableDataset, load_dataset

    if path.is_dir():
        if target_column is not None:
            raise InputError(f"--target-column {target_column}: {path} is a folder of articles, "
                             "which has no columns; pass --target TEXT for all of them")
        paths = article_paths(path)
        if not paths:
            raise InputError(f"{path}: no .txt files in this folder")
        return IterableDataset.from_generator(Articles(paths, encoding, skip, on_unreadable,
                                                       target))
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    builder = TABLE_FORMATS.get(path.suffix.lower())
    if builder is None:
        raise InputError(f"{path}: expected a folder of .txt files, or a .jsonl, .parquet, .csv "
                         "or .tsv file")
    columns = table_columns(path, builder)
    for column, option in ((text_column, "--text-column"), (target_column, "--target-column")):
        if column is not None and column not in columns:
            raise InputError(f"{path}: no column '{column}' (columns: {', '.join(columns)}); "
                             f"pass {option}")
    source = id_column if id_column in columns else None

    def normalise(row: dict, record: int) -> dict:
        found = target
        if target_column is not None:
            found = row[target_column]
            if not isinstance(found, str) or not found.strip():
                raise InputError(f"{path}: row {record + 1} has no target in column "
                                 f"'{target_column}' ({found!r}); the model reads one with "
                                 "each text")
        return {"record": record, "source": str(row[source]) if source else str(path),
                "text": row[text_column], "target": found}

    # Read as training reads a table of one's own.
    options = csv_options(path) if builder == "csv" else {}
    rows = load_dataset(builder, data_files=str(path), split="train", streaming=True, **options)
    return rows.map(normalise, with_indices=True, remove_columns=columns).skip(skip)


def segmenter(articles_mode: bool, speakers):
    from src.text.segmentation import Span, split_statements

    def whole(text: str) -> list[Span]:
        return [Span(0, len(text), text)]

    split = split_statements if articles_mode else whole

    def segment(batch: dict) -> dict:
        out = {name: [] for name in ("record", "target", *STATEMENT)}
        for record, source, text, target in zip(batch["record"], batch["source"], batch["text"],
                                                batch["target"], strict=True):
            if not isinstance(text, str) or not text.strip():
                continue
            for statement in find_statements(source, text, split, speakers):
                for column, value in zip(out.values(), (record, target, *astuple(statement)),
                                         strict=True):
                    column.append(value)
        return out

    return segment


def output_columns(models: dict, all_scores: bool, targeted: bool) -> tuple[str, ...]:
    """The fields of each output row: COLUMNS with, when a target is given, the target after
    the source, and score_columns."""
    columns = (*COLUMNS[:2], "target", *COLUMNS[2:]) if targeted else COLUMNS
    return (*columns, *score_columns(models, all_scores))


def score_columns(models: dict, all_scores: bool) -> tuple[str, ...]:
    """The fields of a row beyond COLUMNS: each task's label probabilities, with --all-scores."""
    return tuple(f"{task}_scores" for task in models) if all_scores else ()


def scorer(models: dict, batch_size: int, stance_mode: str, all_scores: bool, targeted: bool):
    def score_batch(batch: dict) -> dict:
        statements = [Statement(*values)
                      for values in zip(*(batch[n] for n in STATEMENT), strict=True)]
        scores = score(statements, models, batch_size,
                       targets=batch["target"] if targeted else None)
        rows = list(rows_for(statements, models, scores,
                             all_scores=all_scores, stance_mode=stance_mode))
        out = {name: [row[name] for row in rows]
               for name in (*FIELDS[1:], *score_columns(models, all_scores))}
        return {"record": batch["record"], "source": batch["source"], **out}

    return score_batch


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m src.predict_bulk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="a folder of .txt articles, or a .jsonl, "
                                                 ".parquet, .csv or .tsv file of statements")
    parser.add_argument("--output", "-o", type=Path, required=True,
                        help="JSONL file of predictions; one this command wrote is resumed, "
                             "from the input, models and options it started with")
    parser.add_argument("--run-dir", "--model", dest="run_dir", type=Path, metavar="DIR",
                        help="a run folder (stance/, sentiment/) or one model folder "
                             "(default: the newest run under outputs/train/runs)")
    parser.add_argument("--backend", choices=BACKENDS, default="torch",
                        help="onnx: onnxruntime on the model's onnx/model.onnx (fp32); onnx-int8: "
                             "on onnx/model_quantized.onnx; both written by python -m src.export "
                             "--run-dir RUN --onnx [--int8] (default: torch)")
    parser.add_argument("--all-scores", action="store_true", help="every label's probability")
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
    parser.add_argument("--max-length", type=int,
                        help="tokens per statement (default: the model's limit)")
    parser.add_argument("--device", help="cpu, cuda, … (default: cuda if available)")
    parser.add_argument("--encoding", default="utf-8", help="of the .txt files")
    targets = parser.add_mutually_exclusive_group()
    targets.add_argument("--target-column", metavar="COLUMN",
                         help="each row's target, what its stance is towards, for a stance "
                              "model trained with data.target_column")
    targets.add_argument("--target", metavar="TEXT",
                         help="one target for every row (and every article of a folder)")
    args = parser.parse_args(argv)
    if args.target is not None and not args.target.strip():
        parser.error("--target: empty; expected the text of the target")
    return args


@reported
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_sizes(args.batch_size, args.max_length)
    sidecar = Sidecar(args.output)
    earlier = sidecar.earlier()
    done, keep = completed_records(args.output) if earlier else (0, 0)
    records = open_input(args.input, args.text_column, args.id_column, args.encoding, done,
                         sidecar.unreadable, args.target_column, args.target)
    models, run = models_for(args.run_dir, args.device, args.max_length, args.backend)
    targeted = args.target_column is not None or args.target is not None
    check_targets(models, "--target-column" if args.target_column is not None
                  else "--target" if args.target is not None else None, run)
    speakers = speakers_for(run, args.device)
    files = {"input": input_fingerprint(args.input), **model_fingerprints(run, args.backend)}
    sidecar.start({"files": files, "settings": {name: getattr(args, name) for name in SETTINGS}},
                  earlier, done)
    for _, message in sidecar.meta["unreadable"]:
        error(message)  # found before the resume point; the exit code says so again
    if done:
        print(f"{args.output}: resuming after {done} complete records", file=sys.stderr)
    articles_mode = args.input.is_dir() or args.articles
    statements = (records
                  .map(segmenter(articles_mode, speakers), batched=True,
                       remove_columns=["text"])
                  .map(scorer(models, args.batch_size, args.stance, args.all_scores, targeted),
                       batched=True, batch_size=args.chunk, remove_columns=["line"]))
    columns = output_columns(models, args.all_scores, targeted)
    written = no_arabic = 0
    if args.output.exists():
        with args.output.open("r+b") as handle:
            handle.truncate(keep)
    with args.output.open("a", encoding="utf-8") as out:
        for row in statements:
            no_arabic += not ARABIC.search(row["text"])
            out.write(json.dumps({name: row[name] for name in columns}, ensure_ascii=False)
                      + "\n")
            written += 1
    if no_arabic:
        warn(f"{no_arabic} statements have no Arabic text; predicted anyway")
    print(f"{args.output}: {written} statements written", file=sys.stderr)
    return USAGE if sidecar.meta["unreadable"] else 0


if __name__ == "__main__":
    sys.exit(main())
