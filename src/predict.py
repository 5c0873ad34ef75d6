"""Find the statements in news text, attribute their speakers, label stance and sentiment.

    python -m src.predict FILE [FILE ...]      # articles; '-' reads standard input
    python -m src.predict --lines FILE         # one statement per line
    python -m src.predict --model RUN_OR_MODEL_DIR --format jsonl FILE > out.jsonl
    python -m src.predict --backend onnx-int8 FILE  # after python -m src.export RUN --onnx --int8

Each row: file, index, start/end character offsets into the input, text, speaker, quote,
stance, stance_score, sentiment, sentiment_score (and every label's probability with
--all-scores). Problems with an input file are reported on stderr and the other files are still
processed; the exit code is then 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

FIELDS = ("file", "index", "start", "end", "text", "speaker", "quote", "stance", "stance_score",
          "sentiment", "sentiment_score")
# Spelled out, not read from src.inference.ONNX_FILES: importing that would slow --help.
BACKENDS = ("torch", "onnx", "onnx-int8")
ARABIC = re.compile(r"[\u0600-\u06FF]")
ISOLATE, POP = "\u2068", "\u2069"  # first-strong isolate: a cell's direction stays inside it


class InputError(ValueError):
    pass


@dataclass
class Statement:
    file: str
    index: int
    start: int
    end: int
    line: int
    text: str
    speaker: str | None
    quote: str | None


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


def find_statements(name: str, text: str, split, actors) -> list[Statement]:
    """The statements that ``split`` (text -> spans) finds in ``text``, with their speakers;
    speakers carry over from statement to statement within ``text`` only."""
    from src.attribution import Attributor

    attribute = Attributor(actors)
    statements = []
    for index, span in enumerate(split(text)):
        found = attribute(span.text)
        statements.append(Statement(name, index, span.start, span.end,
                                    text.count("\n", 0, span.start) + 1, span.text,
                                    found.speaker, found.quote))
    return statements


def models_for(model: Path | None, device: str | None, max_length: int | None,
               backend: str) -> dict:
    """The models of ``model`` (default: the newest run) by task, saying on stderr which run is
    used and which task it lacks; raises src.inference.ModelError."""
    from src.inference import load_models, newest_run

    if model is None:
        model = newest_run()
        print(f"using model {model}", file=sys.stderr)
    models, missing = load_models(model, device, max_length, backend)
    for task in missing:
        warn(f"{model} has no {task} model: predicting {' and '.join(models)} only")
    return models


def score(statements: list[Statement], models: dict, batch_size: int, progress=None) -> dict:
    """Each task's label probabilities for ``statements``, warning of those cut to fit a model."""
    texts = [s.text for s in statements]
    scores = {}
    for task, model in models.items():
        scores[task] = model.probabilities(texts, batch_size, progress)
        for position in model.truncated:
            statement = statements[position]
            warn(f"{statement.file}:{statement.line}: statement {statement.index} is longer "
                 f"than the model's limit of {model.max_length} tokens; only its start was "
                 f"used for {task}")
    return scores


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def rows_for(statements: list[Statement], models: dict, scores: dict, all_scores: bool):
    for position, statement in enumerate(statements):
        row = {name: getattr(statement, name) for name in FIELDS[:7]}
        for task in ("stance", "sentiment"):
            if task in models:
                probabilities = scores[task][position]
                best = int(probabilities.argmax())
                row[task] = models[task].labels[best]
                row[f"{task}_score"] = round(float(probabilities[best]), 4)
                if all_scores:
                    row[f"{task}_scores"] = {label: round(float(p), 4) for label, p in
                                             zip(models[task].labels, probabilities, strict=True)}
            else:
                row[task] = row[f"{task}_score"] = None
        yield row


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
    return "—" if row[task] is None else f"{row[task]} {row[f'{task}_score']:.2f}"


def write_rows(rows, fmt: str, out, all_scores: bool) -> None:
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
    else:
        write_table(rows, out)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m src.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="text files; '-' for standard input")
    parser.add_argument("--model", type=Path,
                        help="a run folder (stance/, sentiment/) or one model folder "
                             "(default: the newest run under outputs/train/runs)")
    parser.add_argument("--format", choices=("table", "jsonl", "csv"),
                        help="default: table on a terminal, jsonl when piped")
    parser.add_argument("--lines", action="store_true",
                        help="one statement per line: no sentence splitting")
    parser.add_argument("--all-scores", action="store_true", help="every label's probability")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int,
                        help="tokens per statement (default: the model's limit)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda if available)")
    parser.add_argument("--backend", choices=BACKENDS, default="torch",
                        help="onnx: onnxruntime on the model's onnx/model.onnx (fp32); onnx-int8: "
                             "on onnx/model_quantized.onnx; both written by python -m src.export "
                             "RUN --onnx [--int8] (default: torch)")
    parser.add_argument("--encoding", default="utf-8", help="of the input files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from src.attribution import ActorList
    from src.inference import ModelError, usable_cores
    from src.segmentation import split_lines, split_statements

    try:
        models = models_for(args.model, args.device, args.max_length, args.backend)
    except ModelError as err:
        error(str(err))
        return 2

    import torch

    torch.set_num_threads(usable_cores())
    actors = ActorList.load()
    split = split_lines if args.lines else split_statements
    failed = False
    statements: list[Statement] = []
    for name in args.files:
        try:
            text = read_text(name, args.encoding)
        except InputError as err:
            error(str(err))
            failed = True
            continue
        found = find_statements(name, text, split, actors)
        if not found:
            warn(f"{name}: empty file, nothing to predict")
        for statement in found:
            if not ARABIC.search(statement.text):
                warn(f"{name}:{statement.line}: statement {statement.index} has no Arabic "
                     "text; predicted anyway")
        statements += found

    with _progress(len(statements) * len(models)) as advance:
        scores = score(statements, models, args.batch_size, advance) if statements else {}
    fmt = args.format or ("table" if sys.stdout.isatty() else "jsonl")
    write_rows(rows_for(statements, models, scores, args.all_scores), fmt, sys.stdout,
               args.all_scores)
    return 2 if failed else 0


class _progress:
    """A progress bar on stderr for long inputs, only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.bar = None
        if total > 256 and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="statement", file=sys.stderr)

    def __enter__(self):
        return self.bar.update if self.bar is not None else None

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


if __name__ == "__main__":
    sys.exit(main())
