"""The checks the losses make of their targets (and predictions): numbers, shapes, class labels."""

import numpy as np

from ._safety import as_numeric, cast
from .errors import HandpropValueError, ShapeError


def numbers(pred, target, loss):
    """``pred`` and ``target`` as arrays of numbers, or a DataError naming the loss and the argument."""
    pred = as_numeric(f"{loss}: pred", pred)
    if pred.size == 0:
        raise HandpropValueError(f"{loss}: pred is empty (shape {pred.shape}); a loss of 0 samples is undefined")
    if pred.dtype.kind != "f":  # integer or boolean outputs (a model's are float): computed as float64
        pred = pred.astype(np.float64)
    return pred, as_numeric(f"{loss}: target", target)


def same_shape_target(pred, target, loss, stacked=False):
    """Targets shaped like pred, as pred's float dtype; (n,) is accepted for a single output.
    ``stacked``: pred is K networks' outputs (K, n, ...), the target one network's (n, ...)."""
    if (type(pred) is type(target) is np.ndarray and (pred.shape[1:] if stacked else pred.shape) == target.shape
            and pred.size and pred.dtype is target.dtype and pred.dtype.kind == "f"):
        return pred, target  # already what the checks below would give (fit's every batch)
    pred, target = numbers(pred, target, loss)
    one = pred.shape[1:] if stacked else pred.shape  # one network's output
    if target.shape != one:
        if len(one) == 2 and one[1] == 1 and target.shape == (one[0],):
            target = target.reshape(-1, 1)
        else:
            raise ShapeError(
                f"{loss}: target has shape {target.shape} but the model's output has shape {one}"
            )
    return pred, cast(f"{loss}: target", target, pred.dtype)


def fit_same_shape_target(self, target, n_outputs, dtype):
    """``Loss.fit_target`` of the losses that compare the target with the output value by value:
    what ``same_shape_target`` does to every batch (integers as the output's float type, (n,) as
    (n, 1) for one output), done once; a target of another shape is left for ``forward`` to refuse."""
    if target.ndim == 1 and n_outputs == 1:
        target = target.reshape(-1, 1)
    if target.dtype.kind not in "biuf":
        return target
    return cast(f"{type(self).__name__}: target", target, dtype)


def class_labels(target, n, k):
    """``target`` as checked class labels (n,) of int, or None when it is (n, k) rows."""
    if target.ndim == 1 or (target.ndim == 2 and target.shape[1] == 1 and k > 1):
        labels = target.reshape(-1)
        if labels.shape[0] != n:
            raise ShapeError(f"CrossEntropy: {labels.shape[0]} labels for {n} rows of logits")
        if labels.dtype.kind == "f":
            if not (np.all(np.isfinite(labels)) and np.all(labels == np.round(labels))):
                raise HandpropValueError("CrossEntropy: class labels must be whole numbers")
        elif labels.dtype.kind not in "iub":
            raise HandpropValueError(f"CrossEntropy: class labels must be integers, got dtype {labels.dtype}")
        if n and (labels.min() < 0 or labels.max() >= k):  # (checked before a cast that could overflow)
            bad = labels[(labels < 0) | (labels >= k)][0]
            raise HandpropValueError(f"CrossEntropy: label {bad:g} is out of range for {k} classes (0..{k - 1})")
        return labels.astype(np.int64) if labels.dtype.kind == "f" else labels
    if target.shape != (n, k):
        raise ShapeError(f"CrossEntropy: target has shape {target.shape} but logits have shape {(n, k)}")
    return None
