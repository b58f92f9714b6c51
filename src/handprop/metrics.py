"""Metrics: how good are the predictions, in numbers a person reads (not the loss being minimised).

Classification::

    accuracy  = (number of rows whose predicted class is the true class) / n
    confusion[i, j] = number of rows of true class i predicted as class j

Regression (over all elements, ``e = pred − y``)::

    MSE = mean(e²)       MAE = mean(|e|)       R² = 1 − Σ e² / Σ (y − mean(y))²

``R²`` is 1 for perfect predictions and 0 for always predicting the mean (per output column, then
averaged, as scikit-learn's ``r2_score``).

A network's raw output becomes class labels with :func:`output_to_labels`: the argmax of several
columns (logits or probabilities), or one column thresholded (0.5 on probabilities, 0 on logits).
"""

import math

import numpy as np

from ._arguments import positive_int
from ._safety import as_numeric, check_finite, check_memory
from .errors import DataError, HandpropValueError, ShapeError


def _labels(y, name):
    """Class labels from ``y``: 1-D labels as they are; a one-hot / score matrix by its argmax."""
    try:
        y = np.asarray(y)
    except (ValueError, TypeError):  # rows of different lengths
        raise DataError(f"{name} is not a table: its rows have different lengths") from None
    if y.dtype.kind == "f":
        check_finite(name, y)  # a NaN label or score would count as a wrong answer, silently
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ShapeError(f"{name} must be labels (n,) or one row per sample (n, k), got shape {y.shape}")
    return y


def output_to_labels(output, from_logits=True):
    """Predicted class indices from a model's output (n, k).

    Several columns: ``argmax`` (softmax keeps the order, so logits and probabilities agree).
    One column: ``output > 0`` for logits, ``output >= 0.5`` for probabilities (sigmoid(0) = 0.5).
    """
    out = np.asarray(output)
    if out.ndim != 2:
        raise ShapeError(f"output must have shape (n, k), got {out.shape}")
    if out.shape[1] > 1:
        return out.argmax(axis=1)
    return (out[:, 0] > 0 if from_logits else out[:, 0] >= 0.5).astype(np.int64)


def accuracy(y_true, y_pred):
    """Fraction of rows whose predicted class equals the true class.

    Both arguments may be labels (n,) or one-hot / score rows (n, k) (compared by argmax).
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ShapeError(f"y_true has {len(t)} rows but y_pred has {len(p)}")
    if len(t) == 0:
        raise HandpropValueError("accuracy of 0 samples is undefined")
    return float(np.mean(t == p))


def _pair(y_true, y_pred):
    t = as_numeric("y_true", y_true).astype(np.float64, copy=False)
    p = as_numeric("y_pred", y_pred).astype(np.float64, copy=False)
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.ndim == 0:
            raise ShapeError(f"{name} must hold one value (or row) per sample, got the single number {a}")
    if t.size == 0 or p.size == 0:
        raise HandpropValueError("a metric of 0 samples is undefined")
    if t.shape != p.shape:
        # A single output may come as (n,) on one side and (n, 1) on the other.
        if t.size == p.size and t.ndim <= 2 and p.ndim <= 2 and len(t) == len(p):
            t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
        else:
            raise ShapeError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    check_finite("y_true", t)
    check_finite("y_pred", p)
    return _scaled(t, p)


def _scaled(t, p):
    """``(t / s, p / s, s)``: squares of values beyond 1e150 overflow, so such values are divided by
    a power of two ``s`` (exactly) and the metric scaled back; below that, ``s = 1``."""
    top = max(float(np.max(np.abs(t))), float(np.max(np.abs(p))))
    if top <= 1e150:
        return t, p, 1.0
    s = 2.0 ** math.frexp(top)[1]
    return t / s, p / s, s


def mse(y_true, y_pred):
    """Mean squared error ``mean((pred − y)²)`` over all elements (inf if that exceeds a float)."""
    t, p, s = _pair(y_true, y_pred)
    return float(np.mean((p - t) ** 2)) * s * s


def mae(y_true, y_pred):
    """Mean absolute error ``mean(|pred − y|)`` over all elements."""
    t, p, s = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t))) * s


def r2(y_true, y_pred):
    """Coefficient of determination ``1 − SS_res / SS_tot`` per column, averaged over columns.

    A constant column of ``y_true`` has ``SS_tot = 0``: its score is 1 if predicted exactly and 0
    otherwise (scikit-learn's convention), rather than a division by zero.
    """
    t, p, _ = _pair(y_true, y_pred)  # (R² does not change with the scale)
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    safe = np.where(ss_tot > 0, ss_tot, 1.0)
    score = np.where(ss_tot > 0, 1.0 - ss_res / safe, np.where(ss_res == 0, 1.0, 0.0))
    return float(score.mean())


def confusion_matrix(y_true, y_pred, n_classes=None):
    """``C[i, j]`` = number of samples of true class ``i`` predicted as class ``j`` (int64).

    Labels must be integers ``0 .. n_classes-1``; ``n_classes`` defaults to the largest label + 1.
    The diagonal holds the correct predictions: ``trace(C) / C.sum()`` is the accuracy.
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ShapeError(f"y_true has {len(t)} rows but y_pred has {len(p)}")
    for name, v in (("y_true", t), ("y_pred", p)):
        if v.dtype.kind not in "iub" and not (v.dtype.kind == "f" and np.all(v == np.round(v))):
            raise HandpropValueError(f"confusion_matrix: {name} must hold integer class labels, got {v.dtype}")
        if len(v) and float(v.min()) < 0:
            raise HandpropValueError("confusion_matrix: labels must be >= 0")
        if len(v) and float(v.max()) >= 2**31:
            raise HandpropValueError(f"confusion_matrix: {name} holds the label {v.max():g}: labels are class "
                                     "indices 0..k-1 (handprop.data.LabelEncoder makes them)")
    t, p = t.astype(np.int64), p.astype(np.int64)
    n_classes = positive_int("confusion_matrix: n_classes", n_classes, allow_none=True)
    top = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if n_classes is None:
        n_classes = top
    elif top > n_classes:
        raise HandpropValueError(f"confusion_matrix: label {top - 1} is out of range for n_classes={n_classes}")
    check_memory(f"confusion_matrix: a {n_classes:,} × {n_classes:,} matrix", n_classes * n_classes * 8,
                 "labels are class indices 0..k-1 (handprop.data.LabelEncoder makes them)")
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (t, p), 1)
    return C


def format_confusion(C, class_names=None):
    """The matrix as text: rows are true classes, columns predicted ones."""
    k = len(C)
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(k)]
    width = max([len(n) for n in names] + [len(str(C.max(initial=0))), 4])
    head = " " * width + " | " + " ".join(f"{n:>{width}}" for n in names) + "   <- predicted"
    lines = [head, "-" * len(head)]
    for name, row in zip(names, C):
        lines.append(f"{name:>{width}} | " + " ".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


# Metrics fit can report each epoch: name -> (function on (y_true, labels or values), kind).
# "class" metrics get the predicted labels, "value" metrics the raw output.
METRICS = {"accuracy": (accuracy, "class"), "mse": (mse, "value"), "mae": (mae, "value"),
           "r2": (r2, "value")}
ALIASES = {"acc": "accuracy", "r_squared": "r2"}


def get(name):
    """``(canonical name, function, kind)`` for a metric name."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in METRICS:
        raise HandpropValueError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    fn, kind = METRICS[key]
    return key, fn, kind
