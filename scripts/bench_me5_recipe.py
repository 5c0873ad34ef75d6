"""The me5_small recipe, chosen on real dev: learning rate, epochs, frozen word embeddings.

    python scripts/bench_me5_recipe.py [--task stance] [--seed 42]
        [--frozen 1e-4:5,2e-4:3] [--trained 1e-4:3] [--out outputs/bench_me5_recipe]

``--frozen`` and ``--trained`` list learning rate:epochs settings with the word embeddings
frozen and trained. A setting whose run folder is complete is scored again, not retrained.

Each setting fine-tunes ``model=me5_small`` on the default data with early stopping off and
every epoch's checkpoint kept; every checkpoint then labels the dev split, and the table gives
macro-F1 on its real statements and on all of it after each epoch, with the seconds each epoch
took (wall time of the run over its epochs, loading and the final evaluation included). Only
dev figures are read: the recipe is chosen without the test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hydra import compose, initialize_config_dir

from src.core.config import CONFIG_DIR
from src.data.io import read_jsonl
from src.data.paths import SPLIT_FILES
from src.evaluation.metrics import classification_metrics


def checkpoints(run: Path, task: str) -> list[tuple[float, Path]]:
    found = []
    for state in (run / "checkpoints" / task).glob("checkpoint-*/trainer_state.json"):
        found.append((json.loads(state.read_text())["epoch"], state.parent))
    return sorted(found)


def score(folder: Path, normalized_by: Path, dev: list[dict], task: str) -> tuple[float, float]:
    from src.inference.loading import load_task_model
    from src.text.normalization import ArabicNormalizer

    model = load_task_model(folder, device="cpu")
    model.normalizer = ArabicNormalizer.load(normalized_by)
    chosen = model.probabilities([r["text"] for r in dev]).argmax(axis=1)
    index = {label: i for i, label in enumerate(model.labels)}
    gold = [index[r[task]] for r in dev]
    real = [i for i, r in enumerate(dev) if r["source"] == "real"]
    everything = classification_metrics(model.labels, gold, chosen)["macro_f1"]
    real_only = classification_metrics(model.labels, [gold[i] for i in real],
                                       [chosen[i] for i in real])["macro_f1"]
    return real_only, everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="stance", choices=("stance", "sentiment"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--frozen", default="1e-4:5,2e-4:3")
    parser.add_argument("--trained", default="1e-4:3")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_me5_recipe"))
    args = parser.parse_args()
    from src.train import train

    dev = list(read_jsonl(SPLIT_FILES["dev"]))
    settings = [(float(rate), frozen, int(epochs))
                for frozen, listed in ((True, args.frozen), (False, args.trained))
                for rate, epochs in (item.split(":") for item in listed.split(",") if item)]
    rows = []
    for rate, frozen, epochs in settings:
        run = args.out / f"lr{rate:g}-{'frozen' if frozen else 'unfrozen'}-e{epochs}"
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[
                "model=me5_small", f"task={args.task}", f"seed={args.seed}",
                f"paths.output_dir={run}", f"trainer.args.learning_rate={rate}",
                f"trainer.args.num_train_epochs={epochs}", "trainer.args.save_total_limit=null",
                "trainer.early_stopping_patience=null",
                f"model.freeze_word_embeddings={str(frozen).lower()}"])
        timing = run / "seconds.json"
        if not timing.exists():
            start = time.perf_counter()
            train(cfg)
            timing.write_text(json.dumps(time.perf_counter() - start))
        curve = [score(folder, run / args.task, dev, args.task)
                 for _, folder in checkpoints(run, args.task)]
        seconds = json.loads(timing.read_text()) / epochs
        rows.append((rate, frozen, curve, seconds))
        print(f"lr {rate:g} frozen {frozen}: real dev "
              + " ".join(f"{r:.3f}" for r, _ in curve), file=sys.stderr)

    real = sum(r["source"] == "real" for r in dev)
    print(f"{args.task}, seed {args.seed}: dev macro-F1 after each epoch, real dev ({real}) / "
          f"all dev ({len(dev)}).\n")
    print("| learning rate | word embeddings | real dev by epoch | all dev by epoch | s/epoch |")
    print("| ---: | --- | --- | --- | ---: |")
    for rate, frozen, curve, seconds in rows:
        print(f"| {rate:g} | {'frozen' if frozen else 'trained'} | "
              + ", ".join(f"{r:.3f}" for r, _ in curve) + " | "
              + ", ".join(f"{a:.3f}" for _, a in curve) + f" | {seconds:.0f} |")


if __name__ == "__main__":
    main()
