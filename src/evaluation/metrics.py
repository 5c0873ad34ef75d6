"""Classification metrics, computed locally with scikit-learn (no metric downloads)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from src.models.layout import DEFAULT_NEUTRAL

# Labels that mean "no position" / "no polarity" unless data.neutral_labels says otherwise; the
# polar score averages over the others, as SemEval's F1-PN does for sentiment and StanceEval's
# FAVOR/AGAINST average does for stance.
NON_POLAR = frozenset(DEFAULT_NEUTRAL)


def polar_labels(labels: Sequence[str], neutral: Collection[str] = NON_POLAR) -> list[int]:
    return [index for index, name in enumerate(labels) if name not in neutral]


def classification_metrics(
    labels: Sequence[str], y_true: Sequence[int], y_pred: Sequence[int],
    neutral: Collection[str] = NON_POLAR,
) -> dict[str, float]:
    """Accuracy, macro-F1 and polar macro-F1 (over the labels not in ``neutral``; left out
    when every label, or none, is neutral)."""
    every = list(range(len(labels)))
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=every, average="macro",
                                   zero_division=0)),
    }
    polar = polar_labels(labels, neutral)
    if polar and len(polar) < len(labels):
        metrics["polar_macro_f1"] = float(f1_score(y_true, y_pred, labels=polar,
                                                   average="macro", zero_division=0))
    return metrics


def compute_metrics_for(labels: Sequence[str], neutral: Collection[str] = NON_POLAR):
    """A ``compute_metrics`` callable for the Hugging Face Trainer."""

    def compute(prediction) -> dict[str, float]:
        logits, y_true = prediction.predictions, prediction.label_ids
        return classification_metrics(labels, y_true, np.argmax(logits, axis=-1), neutral)

    return compute


def macro_f1_from_counts(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over ``n_labels`` classes from a confusion matrix: the same value as
    scikit-learn's with ``zero_division=0``, fast enough for thousands of bootstrap resamples."""
    confusion = np.bincount(y_true * n_labels + y_pred, minlength=n_labels * n_labels)
    confusion = confusion.reshape(n_labels, n_labels)
    true_positive = np.diag(confusion)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(n_labels),
                   where=denominator > 0)
    return float(f1.mean())


def per_class(labels: Sequence[str], y_true: Sequence[int], y_pred: Sequence[int]) -> dict:
    """Precision, recall, F1 and support of every label."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(labels))), zero_division=0)
    return {label: {"precision": float(p), "recall": float(r), "f1": float(f),
                    "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)}


def calibration_bins(probabilities: np.ndarray, y_true: Sequence[int], bins: int = 10):
    """Top-label confidence, correctness and equal-width bin of every item. Bin i holds
    confidences in (i/bins, (i+1)/bins]; a confidence of 0 joins the first."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    return confidence, correct, index


def expected_calibration_error(probabilities: np.ndarray, y_true: Sequence[int],
                               bins: int = 10) -> float:
    """Top-label ECE with equal-width confidence bins: the support-weighted mean gap between
    confidence and accuracy."""
    confidence, correct, index = calibration_bins(probabilities, y_true, bins)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(confidence[members].mean() - correct[members].mean())
    return float(error)


def bootstrap_values(statistic, *columns: Sequence[int], resamples: int = 1000,
                     seed: int = 0) -> list[float]:
    """``statistic(*columns)`` on each of ``resamples`` resamplings of the items, every column
    resampled with the same rows (so a paired comparison stays paired)."""
    columns = [np.asarray(column) for column in columns]
    items = len(columns[0])
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        sample = rng.integers(0, items, items)
        values.append(statistic(*(column[sample] for column in columns)))
    return values


def bootstrap_interval(y_true: Sequence[int], y_pred: Sequence[int], statistic, *,
                       resamples: int = 1000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(y_true, y_pred)`` over resampled items."""
    values = bootstrap_values(statistic, y_true, y_pred, resamples=resamples, seed=seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def span_scores(predicted: Sequence, gold: Sequence) -> dict:
    """Precision, recall and F1 of character spans, at most one ``(start, end)`` per item on
    each side (None for none), as BBC's Citron scores quote spans. ``exact``: a predicted span
    is right when it has the gold offsets; ``overlap``: when it shares a character with the gold
    span; both count spans, precision over the predicted ones and recall over the gold ones.
    ``proportional`` is Citron's own overlap measure, in characters rather than tokens: the
    characters shared, over the characters predicted and over the gold characters."""
    pairs = list(zip(predicted, gold, strict=True))
    n_predicted = sum(p is not None for p, _ in pairs)
    n_gold = sum(g is not None for _, g in pairs)
    shared = [max(0, min(p[1], g[1]) - max(p[0], g[0])) if p is not None and g is not None else 0
              for p, g in pairs]
    exact = sum(p is not None and g is not None and tuple(p) == tuple(g) for p, g in pairs)
    overlapping = sum(size > 0 for size in shared)
    predicted_chars = sum(p[1] - p[0] for p, _ in pairs if p is not None)
    gold_chars = sum(g[1] - g[0] for _, g in pairs if g is not None)
    return {"exact": _prf(exact, n_predicted, exact, n_gold),
            "overlap": _prf(overlapping, n_predicted, overlapping, n_gold),
            "proportional": _prf(sum(shared), predicted_chars, sum(shared), gold_chars),
            "predicted": n_predicted, "gold": n_gold}


def _prf(right_predicted: float, predicted: float, right_gold: float, gold: float) -> dict:
    precision = right_predicted / predicted if predicted else 0.0
    recall = right_gold / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}
