"""Rank likely label errors: ``python -m src.audit [--folds 5] [--out FILE]``.

Out-of-fold probabilities come from the TF-IDF model, cross-validated over the whole dataset with
groups kept together; cleanlab's ``find_label_issues`` then ranks the statements whose given
label the other folds find least likely. The output is a review file, one flagged label per line,
worst first: decisions taken on it belong in ``data/CHANGELOG.md``. A re-run keeps the
``decision`` recorded on every row whose (task, id) it flags again; rows no longer flagged drop out
(their decisions stay in the changelog).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from src.data.io import read_jsonl, write_jsonl
from src.data.paths import DATA_DIR, SPLIT_FILES
from src.data.schema import LABELS
from src.text.normalization import ArabicNormalizer

REVIEW_FILE = DATA_DIR / "audit" / "label_issues.jsonl"


def out_of_fold(texts: list[str], y: np.ndarray, groups: list[str], folds: int,
                seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

    from src.models.tfidf import TfidfLogReg

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(TfidfLogReg().pipeline(seed, balanced=False), texts, y,
                             groups=groups, cv=splitter, method="predict_proba")


def audit(records: list[dict], folds: int = 5, seed: int = 13) -> list[dict]:
    from cleanlab.filter import find_label_issues

    normalise = ArabicNormalizer()
    texts = [normalise(r["text"]) for r in records]
    groups = [r["group"] for r in records]
    flagged = []
    for task, labels in LABELS.items():
        y = np.array([labels.index(r[task]) for r in records])
        probabilities = out_of_fold(texts, y, groups, folds, seed)
        ranked = find_label_issues(y, probabilities, return_indices_ranked_by="self_confidence")
        for rank, index in enumerate(ranked, 1):
            record = records[index]
            flagged.append({
                "task": task, "rank": rank, "id": record["id"], "text": record["text"],
                "speaker": record["speaker"], "given": record[task],
                "suggested": labels[int(probabilities[index].argmax())],
                "given_probability": round(float(probabilities[index][y[index]]), 4),
            })
    return flagged


def carry_decisions(flagged: list[dict], previous: list[dict]) -> int:
    """Copy each ``decision`` in ``previous`` onto the row of ``flagged`` with the same (task, id);
    returns how many were carried."""
    decided = {(row["task"], row["id"]): row["decision"] for row in previous if "decision" in row}
    carried = 0
    for row in flagged:
        if (row["task"], row["id"]) in decided:
            row["decision"] = decided[row["task"], row["id"]]
            carried += 1
    return carried


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REVIEW_FILE)
    args = parser.parse_args(argv)
    records = [r for path in SPLIT_FILES.values() for r in read_jsonl(path)]
    previous = read_jsonl(args.out) if args.out.exists() else []
    flagged = audit(records, args.folds)
    carried = carry_decisions(flagged, previous)
    write_jsonl(args.out, flagged)
    for task in LABELS:
        count = sum(f["task"] == task for f in flagged)
        print(f"{task}: {count} of {len(records)} labels flagged")
    print(f"decisions carried over: {carried} of {sum('decision' in row for row in previous)}")
    print(f"review file: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
