"""Models side by side on real news: seeds, training time, and predict speed against pipeline.

    python scripts/bench_models.py [--models tiny,tfidf,me5_embed_lr,me5_small] [--seeds 1,2,3]
        [--out outputs/bench_models] [--repeats 3]

For each model and seed, trains both tasks with ``python -m src.train``'s ``train(cfg)`` on the
default data (all sources), and scores the real statements of the test split: stance and
sentiment macro-F1, mean ± sample std over the seeds. Training time is the wall time of the first
seed for both tasks (later seeds of me5_embed_lr reuse the embeddings computed in-process).
Seconds per epoch: the median over seeds of wall time divided by the epochs run, summed over the
tasks (loading and evaluation included, so an upper bound; transformers models only).
Prediction: the first seed's stance model labels the real test statements through
``src.inference.loading`` and, for transformers models, through ``transformers.pipeline`` with
``batch_size=32`` on the same folder; statements per second, median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import statistics
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
from src.data.schema import TASKS
from src.evaluation.metrics import macro_f1_from_counts


def macro_f1(labels: list[str], gold: list[str], predicted: np.ndarray) -> float:
    index = {label: i for i, label in enumerate(labels)}
    return partial(macro_f1_from_counts, n_labels=len(labels))(
        np.array([index[g] for g in gold]), predicted)


def epochs_run(run: Path) -> float:
    """Epochs trained, summed over the tasks, from each task's newest checkpoint (0 for a
    scikit-learn model, which has no epochs)."""
    total = 0.0
    for task in TASKS:
        states = sorted((run / "checkpoints" / task).glob("checkpoint-*/trainer_state.json"),
                        key=lambda p: int(p.parent.name.split("-")[1]))
        if states:
            total += json.loads(states[-1].read_text())["epoch"]
    return total


def speed(run: Path, texts: list[str], repeats: int) -> tuple[float, float | None]:
    from src.inference.loading import load_task_model

    model = load_task_model(run / "stance")
    ours = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.probabilities(texts)
        ours.append(len(texts) / (time.perf_counter() - start))
    if not (run / "stance" / "config.json").exists():
        return statistics.median(ours), None
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(run / "stance"), device="cpu")
    theirs = []
    for _ in range(repeats):
        start = time.perf_counter()
        classify(texts, batch_size=32, truncation=True)
        theirs.append(len(texts) / (time.perf_counter() - start))
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,tfidf,me5_embed_lr,me5_small")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_models"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from src.inference.loading import load_models
    from src.train import train

    test = [r for r in read_jsonl(SPLIT_FILES["test"]) if r["source"] == "real"]
    texts = [r["text"] for r in test]
    rows = []
    for model in args.models.split(","):
        scores = {task: [] for task in TASKS}
        totals, epochs, predict = [], [], None
        for seed in args.seeds.split(","):
            run = args.out / f"{model}-seed{seed}"
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
                cfg = compose("train", overrides=[f"model={model}", f"seed={seed}",
                                                  f"paths.output_dir={run}"])
            start = time.perf_counter()
            train(cfg)
            totals.append(time.perf_counter() - start)
            if epochs_run(run):
                epochs.append(totals[-1] / epochs_run(run))
            models, _ = load_models(run)
            for task in TASKS:
                chosen = models[task].probabilities(texts).argmax(axis=1)
                scores[task].append(macro_f1(models[task].labels, [r[task] for r in test],
                                             chosen))
            if predict is None:
                predict = speed(run, texts, args.repeats)
            print(f"{model} seed {seed}: stance {scores['stance'][-1]:.3f} sentiment "
                  f"{scores['sentiment'][-1]:.3f}, {totals[-1]:.0f} s", file=sys.stderr)
        rows.append((model, scores, totals, epochs, predict))

    def mean_std(values: list[float]) -> str:
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {spread:.3f}"

    print(f"Real test split: {len(test)} statements; seeds {args.seeds}; macro-F1 mean ± std.\n")
    print("| model | stance macro-F1 | sentiment macro-F1 | s per epoch (per task) | "
          "training s, first seed (both tasks) | ours, statements/s | pipeline, statements/s |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for model, scores, totals, epochs, (ours, theirs) in rows:
        per_epoch = f"{statistics.median(epochs):.1f}" if epochs else "—"
        pipe = f"{theirs:.1f}" if theirs else "—"
        print(f"| {model} | {mean_std(scores['stance'])} | {mean_std(scores['sentiment'])} | "
              f"{per_epoch} | {totals[0]:.0f} | {ours:.1f} | {pipe} |")


if __name__ == "__main__":
    main()
