"""Scores per target, for target-specific stance (Mawqif; StanceEval 2024).

Mawqif labels each text's stance towards a target («Covid Vaccine», «Women empowerment»,
«Digital Transformation»). StanceEval ranks systems by the F1 of Favor and of Against averaged
per target, then over the targets: :func:`target_scores` computes it with every target's
macro-F1 beside it, from label names, so a model's own labels work as they are (its polar
labels are those outside its ``neutral`` ones, ``src.models.layout.neutral_labels(folder)``).

    scores = target_scores(gold, predicted, targets, labels, neutral=["none"])
    scores["stance_eval_f1"], scores["per_target"]["Covid Vaccine"]["polar_macro_f1"]
    print(target_table(scores))

A label with neither gold nor predicted rows in a target scores F1 0 there, as in the
project's other metrics and the SemEval-2016 scorer StanceEval follows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from sklearn.metrics import f1_score

from src.evaluation.metrics import NON_POLAR


def target_scores(gold: Sequence[str], predicted: Sequence[str], targets: Sequence[str],
                  labels: Sequence[str], neutral: Collection[str] = NON_POLAR) -> dict:
    """Per-target and StanceEval scores of ``predicted`` against ``gold`` label names, one
    ``targets`` entry per row; ``labels`` are the model's labels, ``neutral`` those of no
    position. Returns::

        {"stance_eval_f1": mean over targets of their polar_macro_f1,
         "per_target": {target: {"support": rows, "macro_f1": over every label,
                                 "polar_macro_f1": F1 averaged over the polar labels}}}

    Targets in sorted order. Without both polar and neutral labels there is no polar score:
    the polar entries and ``stance_eval_f1`` are left out, as ``classification_metrics``
    leaves out polar macro-F1."""
    if not len(gold) == len(predicted) == len(targets):
        raise ValueError(f"{len(gold)} gold labels, {len(predicted)} predicted, "
                         f"{len(targets)} targets: expected one of each per row")
    gold, predicted, targets = np.asarray(gold), np.asarray(predicted), np.asarray(targets)
    labels = list(labels)
    polar = [label for label in labels if label not in neutral]
    polar = polar if polar and len(polar) < len(labels) else []
    per_target = {}
    for target in sorted(set(targets.tolist())):
        rows = targets == target
        scores = {"support": int(rows.sum()),
                  "macro_f1": float(f1_score(gold[rows], predicted[rows], labels=labels,
                                             average="macro", zero_division=0))}
        if polar:
            scores["polar_macro_f1"] = float(f1_score(gold[rows], predicted[rows], labels=polar,
                                                      average="macro", zero_division=0))
        per_target[target] = scores
    result: dict = {"per_target": per_target}
    if polar and per_target:
        result["stance_eval_f1"] = float(np.mean([s["polar_macro_f1"]
                                                  for s in per_target.values()]))
    return result


def target_table(scores: dict) -> str:
    """``target_scores``' result as a markdown table: one row per target, then StanceEval's
    score (the mean of the polar column)."""
    polar = "stance_eval_f1" in scores
    lines = ["| target | n | macro-F1 |" + (" polar F1 |" if polar else ""),
             "| --- | ---: | ---: |" + (" ---: |" if polar else "")]
    for target, values in scores["per_target"].items():
        cell = target.replace("|", "\\|")
        lines.append(f"| {cell} | {values['support']} | {values['macro_f1']:.4f} |"
                     + (f" {values['polar_macro_f1']:.4f} |" if polar else ""))
    if polar:
        lines.append(f"| StanceEval score (mean over targets) | | | "
                     f"{scores['stance_eval_f1']:.4f} |")
    return "\n".join(lines)
