"""Metric code against values computed by hand."""

import numpy as np
import pytest

from src.evaluation.metrics import (
    bootstrap_interval,
    classification_metrics,
    expected_calibration_error,
    per_class,
)

STANCE = ["regime", "russia", "opposition", "none"]


def test_accuracy_macro_and_polar_f1_by_hand():
    y_true = [0, 0, 1, 2, 3, 3]
    y_pred = [0, 1, 1, 2, 3, 0]
    # regime: P 1/2 R 1/2 F 1/2; russia: P 1/2 R 1 F 2/3; opposition: F 1; none: P 1 R 1/2 F 2/3
    metrics = classification_metrics(STANCE, y_true, y_pred)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 1 + 2 / 3) / 4)
    assert metrics["polar_macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)


def test_sentiment_polar_f1_is_f1_pn():
    labels = ["positive", "negative", "neutral"]
    metrics = classification_metrics(labels, [0, 1, 2, 2], [0, 2, 2, 1])
    # positive F1 1; negative P 0 R 0 F 0 → F1-PN = 0.5
    assert metrics["polar_macro_f1"] == pytest.approx(0.5)


def test_per_class_report():
    report = per_class(STANCE, [0, 0, 1, 2, 3, 3], [0, 1, 1, 2, 3, 0])
    assert report["russia"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3),
                                "support": 1}
    assert report["none"]["support"] == 2


def test_expected_calibration_error_by_hand():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    y_true = [0, 1, 0, 1]
    # bin (0.8, 0.9]: confidence 0.9, accuracy 0.5, weight 1/2 → 0.2
    # bin (0.5, 0.6]: confidence 0.6, accuracy 1, weight 1/4 → 0.1
    # bin (0.6, 0.7]: confidence 0.7, accuracy 1, weight 1/4 → 0.075
    assert expected_calibration_error(probabilities, y_true) == pytest.approx(0.375)
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, [0, 1]) == 0.0


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 3, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 3, 300))

    def accuracy(t, p):
        return float((t == p).mean())

    low, high = bootstrap_interval(y_true, y_pred, accuracy, resamples=500, seed=3)
    assert low < accuracy(y_true, y_pred) < high
    assert 0.05 < high - low < 0.15  # about 4 standard errors of a proportion near 0.8
    assert bootstrap_interval(y_true, y_pred, accuracy, resamples=500, seed=3) == (low, high)


def test_fast_macro_f1_equals_scikit_learn():
    from sklearn.metrics import f1_score

    from src.evaluation.metrics import macro_f1_from_counts

    rng = np.random.default_rng(0)
    for _ in range(20):
        y_true, y_pred = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
        y_pred[:3] = 3  # a class may be missing from the gold labels
        y_true[y_true == 2] = 1
        expected = f1_score(y_true, y_pred, labels=[0, 1, 2, 3], average="macro",
                            zero_division=0)
        assert macro_f1_from_counts(y_true, y_pred, 4) == pytest.approx(expected)
