"""Transfer to real news: train on authored, real or all statements, score on the real test split.

    python scripts/bench_transfer.py [--models tfidf,tiny] [--seed 42] [--out outputs/transfer]

For each model and each training mix ((a) authored + seed, as before real news; (b) real only;
(c) all), trains with ``python -m src.train``'s own ``train(cfg)`` and ``data.sources``, then
scores the real statements of the test split (never used for training or model selection) and of
the dev split: stance and sentiment macro-F1 with 95 % bootstrap intervals. The actor-list rule,
which learns nothing, is scored on the same split. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.core.config import CONFIG_DIR
from src.data.io import read_jsonl
from src.data.paths import SPLIT_FILES
from src.data.schema import LABELS, TASKS
from src.evaluation.metrics import bootstrap_interval, macro_f1_from_counts
from src.evaluation.report import attribute_in_context

MIXES = {"(a) authored + seed": "[authored,seed]", "(b) real": "[real]",
         "(c) all": "[real,authored,seed]"}


def scored(labels: list[str], gold: list[str], predicted: list[str], seed: int) -> str:
    index = {label: i for i, label in enumerate(labels)}
    y_true = np.array([index[g] for g in gold])
    y_pred = np.array([index[p] for p in predicted])
    statistic = partial(macro_f1_from_counts, n_labels=len(labels))
    low, high = bootstrap_interval(y_true, y_pred, statistic, resamples=1000, seed=seed)
    return f"{statistic(y_true, y_pred):.3f} [{low:.3f}, {high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tfidf,tiny")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path("outputs/transfer"))
    args = parser.parse_args()
    from src.inference.loading import load_models
    from src.train import train

    splits = {split: [r for r in read_jsonl(SPLIT_FILES[split]) if r["source"] == "real"]
              for split in ("dev", "test")}
    rows = []
    for model in args.models.split(","):
        for mix, sources in MIXES.items():
            run = args.out / f"{model}-{sources.strip('[]').replace(',', '+')}-seed{args.seed}"
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
                cfg = compose("train", overrides=[f"model={model}", f"data.sources={sources}",
                                                  f"seed={args.seed}",
                                                  f"paths.output_dir={run}"])
            started = time.perf_counter()
            train(cfg)
            seconds = time.perf_counter() - started
            models, _ = load_models(run)
            cells = {}
            for split, records in splits.items():
                texts = [r["text"] for r in records]
                for task in TASKS:
                    chosen = models[task]
                    guesses = [chosen.labels[i] for i in chosen.probabilities(texts).argmax(1)]
                    cells[(split, task)] = scored(list(LABELS[task]),
                                                  [r[task] for r in records], guesses, args.seed)
            rows.append((model, mix, cells, seconds))
            print(f"{model} {mix}: {seconds:.0f} s", file=sys.stderr)
    records = splits["test"]
    camps = [a.camp or "none" for a in attribute_in_context([r["text"] for r in records],
                                                             records)]
    rule = scored(list(LABELS["stance"]), [r["stance"] for r in records], camps, args.seed)
    test = splits["test"]
    print(f"Real test split: {len(test)} statements from "
          f"{len({r['article_id'] for r in test})} articles; real dev: {len(splits['dev'])} "
          f"statements. Macro-F1 [95 % bootstrap interval, 1000 resamples], seed {args.seed}.\n")
    print("| model | trained on | real test stance | real test sentiment | real dev stance | "
          "real dev sentiment | training s |")
    print("| --- | --- | --- | --- | --- | --- | ---: |")
    for model, mix, cells, seconds in rows:
        print(f"| {model} | {mix} | {cells[('test', 'stance')]} | "
              f"{cells[('test', 'sentiment')]} | {cells[('dev', 'stance')]} | "
              f"{cells[('dev', 'sentiment')]} | {seconds:.0f} |")
    print(f"| actor-list rule | — | {rule} | — | — | — | 0 |")


if __name__ == "__main__":
    main()
