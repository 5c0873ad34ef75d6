"""Find the statements in news text, attribute their speakers, label stance and sentiment.

    python -m src.predict FILE [FILE ...]      # articles; '-' reads standard input
    python -m src.predict --lines FILE         # one statement per line
    python -m src.predict --run-dir RUN_OR_MODEL_DIR --format jsonl FILE > out.jsonl
    python -m src.predict --backend onnx-int8 FILE  # after src.export --run-dir RUN --onnx --int8
    python -m src.predict --stance model FILE  # the stance model alone, speakers still shown
    python -m src.predict --format html article.txt > out.html  # the article, highlighted
    python -m src.predict --lines tweets.txt --target "Covid Vaccine"  # a target-reading model

Each row: file, index, start/end character offsets into the input, text; who speaks it
(src.inference.speakers): speaker, speaker_start/speaker_end (offsets into the input; null when
no speaker is named in the statement, as for an inherited one), actor (the actor list's name),
camp, cue, cue_start/cue_end, resolution (list, nationality, context, relay or inherited; null
when unresolved); clutter (true for a line that is not the article's text: a related-story
teaser, a byline, a link line; it has no speaker); quote;
stance, stance_source (actor: the resolved speaker's camp; model: the stance model's label;
clutter: none, for a line the run's clutter detector flags as web clutter), stance_score (the
model's probability; null when the actor or clutter decided), sentiment,
sentiment_score (and every label's probability with --all-scores). Speaker spans come from the
run's speaker tagger (RUN/speaker/) when it has one, from the rule attributor otherwise;
clutter from the run's clutter detector (RUN/clutter/, task=clutter), false without one.
Problems with an input file are reported on stderr and the other files are still processed; the
exit code is then 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from src.core.errors import USAGE, InputError, error, reported, warn
from src.inference.choices import BACKENDS, STANCE_MODES


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m src.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="text files; '-' for standard input")
    parser.add_argument("--run-dir", "--model", dest="run_dir", type=Path, metavar="DIR",
                        help="a run folder (stance/, sentiment/) or one model folder "
                             "(default: the newest run under outputs/train/runs)")
    parser.add_argument("--format", choices=("table", "jsonl", "csv", "html"),
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
                             "--run-dir RUN --onnx [--int8] (default: torch)")
    parser.add_argument("--encoding", default="utf-8", help="of the input files")
    parser.add_argument("--target", metavar="TEXT",
                        help="what every statement takes its stance on, for a stance model "
                             "trained with data.target_column (Mawqif's: Covid Vaccine, "
                             "Women empowerment, Digital Transformation)")
    args = parser.parse_args(argv)
    if args.target is not None and not args.target.strip():
        parser.error("--target: empty; expected the text of the target")
    return args


@reported
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from src.inference.formats import write_rows
    from src.inference.loading import check_targets
    from src.inference.rows import check_sizes, models_for, rows_for, score, speakers_for
    from src.inference.statements import Statement, find_statements, read_text
    from src.text.letters import ARABIC
    from src.text.segmentation import split_lines, split_statements

    check_sizes(args.batch_size, args.max_length)
    models, run = models_for(args.run_dir, args.device, args.max_length, args.backend)
    check_targets(models, None if args.target is None else "--target", run)
    speakers = speakers_for(run, args.device, args.backend)
    split = split_lines if args.lines else split_statements
    failed = False
    statements: list[Statement] = []
    texts: dict[str, str] = {}  # for html, which shows them
    for name in args.files:
        try:
            text = read_text(name, args.encoding)
        except InputError as err:
            error(str(err))
            failed = True
            continue
        texts[name] = text
        found = find_statements(name, text, split, speakers)
        if not found:
            warn(f"{name}: empty file, nothing to predict")
        for statement in found:
            if not ARABIC.search(statement.text):
                warn(f"{name}:{statement.line}: statement {statement.index} has no Arabic "
                     "text; predicted anyway")
        statements += found

    with _progress(len(statements) * len(models)) as advance:
        targets = None if args.target is None else [args.target] * len(statements)
        scores = score(statements, models, args.batch_size, advance,
                       targets) if statements else {}
    fmt = args.format or ("table" if sys.stdout.isatty() else "jsonl")
    write_rows(rows_for(statements, models, scores, args.all_scores, args.stance), fmt,
               sys.stdout, args.all_scores, texts)
    return USAGE if failed else 0


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
