"""Classification metrics, computed locally with scikit-learn (no metric downloads)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

# Labels that mean "no position" / "no polarity"; the polar score averages over the others, as
# SemEval's F1-PN does for sentiment and StanceEval's FAVOR/AGAINST average does for stance.
NON_POLAR = frozenset({"none", "neutral"})


def polar_labels(labels: Sequence[str]) -> list[int]:
    return [index for index, name in enumerate(labels) if name not in NON_POLAR]


def classification_metrics(
    labels: Sequence[str], y_true: Sequence[int], y_pred: Sequence[int]
) -> dict[str, float]:
    """Accuracy, macro-F1 and polar macro-F1 (over the labels other than none/neutral)."""
    every = list(range(len(labels)))
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=every, average="macro",
                                   zero_division=0)),
    }
    polar = polar_labels(labels)
    if polar and len(polar) < len(labels):
        metrics["polar_macro_f1"] = float(f1_score(y_true, y_pred, labels=polar,
                                                   average="macro", zero_division=0))
    return metrics


def compute_metrics_for(labels: Sequence[str]):
    """A ``compute_metrics`` callable for the Hugging Face Trainer."""

    def compute(prediction) -> dict[str, float]:
        logits, y_true = prediction.predictions, prediction.label_ids
        return classification_metrics(labels, y_true, np.argmax(logits, axis=-1))

    return compute
