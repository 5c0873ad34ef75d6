"""How the stance model is told who speaks, chosen on real dev.

    python scripts/bench_speaker_input.py [--model tfidf] [--forms none,colon,camp,sep]
        [--split dev] [--tagger RUN/speaker] [--out outputs/bench_speaker_input]

For each form (``speaker_input``; ``none`` is the statement alone) trains the stance model on the
default data, with the annotated speakers in train. The real statements of ``--split`` are then
read article by article by the rule attributor (or ``--tagger``), and the model labels each
statement with the speaker and camp found there. Prints stance macro-F1 of the model alone and of
the combined decision (the resolved camp, else the model), with 95 % bootstrap intervals.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.core.config import CONFIG_DIR
from src.data.io import read_jsonl
from src.data.paths import SPLIT_FILES
from src.evaluation.metrics import bootstrap_interval, macro_f1_from_counts
from src.evaluation.speakers import read_articles, real_articles
from src.inference.speakers import Speakers, decide
from src.text.attribution import ActorList


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tfidf")
    parser.add_argument("--forms", default="none,colon,camp,sep")
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--tagger", type=Path)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_speaker_input"))
    args = parser.parse_args()
    from src.inference.loading import load_task_model
    from src.inference.tagging import SpeakerTagger
    from src.train import train

    records = list(read_jsonl(SPLIT_FILES[args.split]))
    articles = real_articles(records)
    positions = [p for article in articles for p in article]
    texts = [r["text"] for r in records]
    actors = ActorList.load()
    tagger = SpeakerTagger(args.tagger) if args.tagger else None
    readings = read_articles(Speakers(actors, tagger), texts, articles)
    statements = [texts[p] for p in positions]
    found = [(readings[p].speaker, readings[p].camp) for p in positions]
    print(f"real {args.split}: {len(positions)} statements, {len(articles)} articles; speakers "
          f"from {'the tagger ' + str(args.tagger) if tagger else 'the rule attributor'}; "
          f"model={args.model}\n")
    print("| speaker_input | model alone [95 % CI] | combined [95 % CI] |")
    print("| --- | --- | --- |")
    for form in args.forms.split(","):
        run = args.out / f"{args.model}-{form}"
        overrides = [f"model={args.model}", "task=stance", f"paths.output_dir={run}"]
        if form != "none":
            overrides.append(f"speaker_input={form}")
        if not (run / "stance" / "metrics.json").exists():
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
                train(compose("train", overrides=overrides))
        model = load_task_model(run / "stance")
        labels = model.labels
        chosen = model.probabilities(statements, speakers=found).argmax(axis=1)
        combined = np.array([labels.index(decide(camp, labels[c])[0])
                             for (_, camp), c in zip(found, chosen, strict=True)])
        gold = np.array([labels.index(records[p]["stance"]) for p in positions])
        cells = []
        for predicted in (chosen, combined):
            score = partial(macro_f1_from_counts, n_labels=len(labels))
            low, high = bootstrap_interval(gold, predicted, score)
            cells.append(f"{score(gold, predicted):.3f} [{low:.3f}, {high:.3f}]")
        print(f"| {form} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
