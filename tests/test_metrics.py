"""Metrics: hand-worked values, agreement with scikit-learn, and refusals of bad input."""

import numpy as np
import pytest

from handprop import metrics
from handprop.errors import HandpropValueError, ShapeError


def test_accuracy_hand_worked():
    # 3 of the 4 labels match.
    assert metrics.accuracy([0, 1, 2, 1], [0, 1, 1, 1]) == 0.75
    # Score rows are compared by argmax: rows predict 1, 0, 0; truths 1, 0, 1.
    scores = np.array([[0.1, 0.9], [2.0, -1.0], [0.7, 0.3]])
    assert metrics.accuracy([1, 0, 1], scores) == pytest.approx(2 / 3)
    # One-hot truths work too.
    assert metrics.accuracy(np.eye(3)[[0, 2]], [0, 1]) == 0.5


def test_output_to_labels_thresholds_logits_at_0_and_probabilities_at_half():
    out = np.array([[-0.1], [0.2], [0.6]])
    np.testing.assert_array_equal(metrics.output_to_labels(out, from_logits=True), [0, 1, 1])
    np.testing.assert_array_equal(metrics.output_to_labels(out, from_logits=False), [0, 0, 1])
    np.testing.assert_array_equal(metrics.output_to_labels(np.array([[1, 3, 2], [5, 0, 0]])), [1, 0])


def test_regression_metrics_hand_worked():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.0, 4.0])
    # errors 0.5, 0, -1, 0: squared 0.25 + 1 = 1.25 over 4; absolute 1.5 over 4
    assert metrics.mse(y, p) == 1.25 / 4
    assert metrics.mae(y, p) == 1.5 / 4
    # SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5; R^2 = 1 - 1.25 / 5
    assert metrics.r2(y, p) == pytest.approx(1 - 1.25 / 5)
    assert metrics.r2(y, y) == 1.0
    assert metrics.r2(y, np.full(4, y.mean())) == 0.0
    # (n,) against (n, 1) is one output column either way
    assert metrics.mse(y, p.reshape(-1, 1)) == metrics.mse(y, p)


def test_r2_of_a_constant_target_is_1_if_exact_else_0():
    assert metrics.r2([3.0, 3.0], [3.0, 3.0]) == 1.0
    assert metrics.r2([3.0, 3.0], [3.0, 2.0]) == 0.0


def test_confusion_matrix_hand_worked():
    C = metrics.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], n_classes=3)
    np.testing.assert_array_equal(C, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert C.dtype == np.int64
    assert np.trace(C) / C.sum() == metrics.accuracy([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    text = metrics.format_confusion(C, ["a", "b", "c"])
    assert text.splitlines()[2].split() == ["a", "|", "1", "1", "0"]


@pytest.mark.slow  # imports scikit-learn (~2 s)
def test_against_scikit_learn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y, p = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    assert metrics.mse(y, p) == pytest.approx(skm.mean_squared_error(y, p), rel=1e-12)
    assert metrics.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)
    assert metrics.r2(y, p) == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    t, q = rng.integers(0, 4, 80), rng.integers(0, 4, 80)
    np.testing.assert_array_equal(metrics.confusion_matrix(t, q, 4), skm.confusion_matrix(t, q, labels=range(4)))
    assert metrics.accuracy(t, q) == skm.accuracy_score(t, q)


@pytest.mark.parametrize("call, error, match", [
    (lambda: metrics.accuracy([0, 1], [0]), ShapeError, "y_true has 2 rows but y_pred has 1"),
    (lambda: metrics.accuracy([], []), HandpropValueError, "0 samples"),
    (lambda: metrics.mse(np.ones(3), np.ones(4)), ShapeError, r"shape \(3,\) but y_pred has shape \(4,\)"),
    (lambda: metrics.confusion_matrix([0, 3], [0, 1], n_classes=2), HandpropValueError, "label 3 is out of range"),
    (lambda: metrics.confusion_matrix([0, -1], [0, 1]), HandpropValueError, ">= 0"),
    (lambda: metrics.confusion_matrix([0.5], [0]), HandpropValueError, "integer class labels"),
    (lambda: metrics.get("f1"), HandpropValueError, "unknown metric 'f1'; choose one of accuracy"),
    (lambda: metrics.output_to_labels(np.ones(3)), ShapeError, r"\(n, k\)"),
])
def test_bad_input_is_refused_with_a_message(call, error, match):
    with pytest.raises(error, match=match):
        call()
