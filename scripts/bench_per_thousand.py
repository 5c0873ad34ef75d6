"""Training time per 1,000 statements, on the project's data or your own.

    python scripts/bench_per_thousand.py [--models tfidf,tiny,me5_embed_lr] [--out DIR]
        [-- OVERRIDE ...]

Trains each model once with ``python -m src.train``'s ``train(cfg)`` on the data the overrides
choose (default: the project's; ``-- experiment=mawqif`` for Mawqif, ``-- data=table
data.files.train=mine.csv ...`` for a file of yours) and prints, per task, the seconds per
1,000 training statements: per epoch for transformers models (the Trainer's train_runtime over
the epochs run, the dev pass after each epoch included; loading and saving are not), for the
whole fit for scikit-learn ones (half the wall time of both tasks, loading included); with the
statements' mean length in the model's tokens, which the time of a BERT grows with.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.core.config import CONFIG_DIR
from src.models.layout import CHECKPOINTS, TRAINER_STATE


def history(run: Path, task: str) -> tuple[float, float] | None:
    """Epochs the task trained (early stopping may end it before the recipe's last) and the
    Trainer's train_runtime (the dev pass after each epoch included), from the run's training
    history; None for a scikit-learn model."""
    path = run / CHECKPOINTS / task / TRAINER_STATE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    runtime = next(entry["train_runtime"] for entry in reversed(state["log_history"])
                   if "train_runtime" in entry)
    return state["epoch"], runtime


def mean_tokens(folder: Path, texts: list[str]) -> float | None:
    if not (folder / "tokenizer.json").is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return statistics.mean(len(encoding.ids) for encoding in tokenizer.encode_batch(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tfidf,tiny,me5_embed_lr")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_per_thousand"))
    parser.add_argument("overrides", nargs="*", help="training overrides, after --")
    args = parser.parse_args()
    from hydra.utils import instantiate

    from src.train import CLASSIFIED, train

    rows = []
    for model in args.models.split(","):
        run = args.out / model
        if run.exists():
            raise SystemExit(f"error: {run}: exists; remove it, or give --out another folder")
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[f"model={model}", f"paths.output_dir={run}",
                                              *args.overrides])
        start = time.perf_counter()
        metrics = train(cfg)
        seconds = time.perf_counter() - start
        data = instantiate(cfg.data, _convert_="all")
        texts = data["train"]["text"]
        tasks = [task for task in metrics if task in CLASSIFIED]
        for task in tasks:
            trained = history(run, task)
            epochs, per_task = trained or (None, seconds / len(tasks))
            per_unit = per_task / (epochs or 1) / (len(texts) / 1000)
            tokens = mean_tokens(run / task, texts)
            rows.append((model, task, len(texts), tokens, epochs, per_unit, per_task,
                         metrics[task]["test"]["macro_f1"]))
            print(f"{model} {task}: {per_unit:.1f} s per 1,000 statements"
                  f"{' per epoch' if epochs else ''}", file=sys.stderr)
    print(f"Overrides: {' '.join(args.overrides) or '(none: the project data)'}\n")
    print("| model | task | train statements | mean tokens | epochs | s per 1,000 statements "
          "(per epoch) | s training the task | test macro-F1 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for model, task, n, tokens, epochs, per_unit, per_task, f1 in rows:
        print(f"| {model} | {task} | {n} | {f'{tokens:.0f}' if tokens else '—'} | "
              f"{f'{epochs:g}' if epochs else '—'} | {per_unit:.1f} | {per_task:.0f} | {f1:.3f} |")


if __name__ == "__main__":
    main()
