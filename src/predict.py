"""Find the statements in news text, attribute their speakers, label stance and sentiment.

    python -m src.predict FILE [FILE ...]      # articles; '-' reads standard input
    python -m src.predict --lines FILE         # one statement per line
    python -m src.predict --model RUN_OR_MODEL_DIR --format jsonl FILE > out.jsonl
    python -m src.predict --backend onnx-int8 FILE  # after python -m src.export RUN --onnx --int8
    python -m src.predict --stance model FILE  # the stance model alone, speakers still shown

Each row: file, index, start/end character offsets into the input, text; who speaks it
(src.speakers): speaker, speaker_start/speaker_end (offsets into the input; null when no speaker
is named in the statement, as for an inherited one), actor (the actor list's name), camp, cue,
cue_start/cue_end, resolution (list, context, relay or inherited; null when unresolved); quote;
stance, stance_source (actor: the resolved speaker's camp; model: the stance model's label),
stance_score (the model's probability; null when the actor decided), sentiment,
sentiment_score (and every label's probability with --all-scores). Speaker spans come from the
run's speaker tagger (RUN/speaker/) when it has one, from the rule attributor otherwise.
Problems with an input file are reported on stderr and the other files are still processed; the
exit code is then 2.
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

# Read from each Statement as it is; the stance and sentiment columns follow them.
STATEMENT_FIELDS = ("file", "index", "start", "end", "text", "speaker", "speaker_start",
                    "speaker_end", "actor", "camp", "cue", "cue_start", "cue_end", "resolution",
                    "quote")
FIELDS = (*STATEMENT_FIELDS, "stance", "stance_source", "stance_score", "sentiment",
          "sentiment_score")
# Spelled out, not read from src.inference.ONNX_FILES: importing that would slow --help.
BACKENDS = ("torch", "onnx", "onnx-int8")
STANCE_MODES = ("combined", "model")  # spelled out as in src.speakers, for a fast --help
ARABIC = re.compile(r"[\u0600-\u06FF]")
ISOLATE, POP = "\u2068", "\u2069"  # first-strong isolate: a cell's direction stays inside it


class InputError(ValueError):
    pass


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
    (``speakers``, a src.speakers.Speakers); speakers carry over from statement to statement
    within ``text`` only."""
    from src.attribution import first_quote

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


def speakers_for(run: Path, device: str | None):
    """Who speaks, for ``run``: its speaker tagger when it trained one, on ``device`` as the
    models are (default: cuda if available), the rule attributor otherwise; raises
    src.inference.ModelError for a tagger that cannot be loaded."""
    import torch

    from src.attribution import ActorList
    from src.speakers import Speakers, tagger_of

    tagger = tagger_of(run, device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if tagger is not None:
        print(f"speakers from the tagger in {tagger.folder}", file=sys.stderr)
    return Speakers(ActorList.load(), tagger)


def models_for(model: Path | None, device: str | None, max_length: int | None,
               backend: str) -> tuple[dict, Path]:
    """The models of ``model`` (default: the newest run) by task, and the run or model folder
    they came from, saying on stderr which run is used and which task it lacks; raises
    src.inference.ModelError."""
    from src.inference import load_models, newest_run

    if model is None:
        model = newest_run()
        print(f"using model {model}", file=sys.stderr)
    models, missing = load_models(model, device, max_length, backend)
    for task in missing:
        warn(f"{model} has no {task} model: predicting {' and '.join(models)} only")
    return models, model


def score(statements: list[Statement], models: dict, batch_size: int, progress=None) -> dict:
    """Each task's label probabilities for ``statements``, warning of those cut to fit a model."""
    texts = [s.text for s in statements]
    # A stance model trained with its speaker (speaker_input) reads the one found here.
    speakers = [(s.speaker, s.camp) for s in statements]
    scores = {}
    for task, model in models.items():
        scores[task] = model.probabilities(texts, batch_size, progress, speakers=speakers)
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


def rows_for(statements: list[Statement], models: dict, scores: dict, all_scores: bool,
             stance_mode: str = "combined"):
    """One output row per statement. The stance is decided once (src.speakers.decide): the
    resolved speaker's camp, or the model's label (always with ``stance_mode`` "model")."""
    from src.speakers import decide

    for position, statement in enumerate(statements):
        row = {name: getattr(statement, name) for name in STATEMENT_FIELDS}
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
        row["stance_source"] = None
        if "stance" in models:  # without a stance model there is no stance to print
            row["stance"], row["stance_source"] = decide(statement.camp, row["stance"],
                                                         stance_mode)
            if row["stance_source"] == "actor":
                row["stance_score"] = None
        yield {name: row[name] for name in (*FIELDS, *(f"{task}_scores" for task in models
                                                        if all_scores))}


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
    parser.add_argument("--stance", choices=STANCE_MODES, default="combined",
                        help="combined: a resolved speaker's camp is the stance, the model "
                             "decides the rest; model: the stance model alone (default: "
                             "combined)")
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
    from src.inference import ModelError, usable_cores
    from src.segmentation import split_lines, split_statements

    try:
        models, run = models_for(args.model, args.device, args.max_length, args.backend)
        speakers = speakers_for(run, args.device)
    except ModelError as err:
        error(str(err))
        return 2

    import torch

    torch.set_num_threads(usable_cores())
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
        found = find_statements(name, text, split, speakers)
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
    write_rows(rows_for(statements, models, scores, args.all_scores, args.stance), fmt,
               sys.stdout, args.all_scores)
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
