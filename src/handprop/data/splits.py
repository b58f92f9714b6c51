"""Reproducible random splits of (X, y) into training, validation and test parts.

Randomness comes only from ``np.random.default_rng(seed)``: the same seed gives the same split.
Stratified splits keep class proportions exactly up to one row per class, and part sizes are the
same with or without stratifying.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError, HandpropValueError, ShapeError
from ._checks import check_fraction, make_rng

__all__ = ["train_test_split", "train_val_test_split"]


def _as_labels(y):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ShapeError(f"stratify=True needs 1-d class labels y, got shape {y.shape}")
    return y


def _part_sizes(n, fractions, names):
    """Exact sizes of the held-out parts (each >= 1, rounded half up) and of the training part."""
    sizes = [max(1, math.floor(f * n + 0.5)) for f in fractions]
    n_train = n - sum(sizes)
    if n_train < 1:
        given = ", ".join(f"{name}={f}" for name, f in zip(names, fractions))
        raise DataError(f"{n} samples are too few to split with {given}: "
                        f"every part needs at least one sample")
    return [n_train, *sizes]


def _allocate(counts, size):
    """Split ``size`` among classes in proportion to ``counts``, exactly (largest remainder).

    Integer arithmetic: each class gets ``floor(c * size / total)`` and the leftover units go to the
    largest remainders, so the shares sum to ``size`` and none exceeds its class's count.
    """
    total = int(counts.sum())
    base, rem = np.divmod(counts * size, total)
    need = size - int(base.sum())
    order = np.argsort(-rem, kind="stable")  # ties: the earlier (smaller) class label first
    base[order[:need]] += 1
    return base


def _split_indices(n, y, fractions, names, rng, stratify):
    """Index arrays of the parts (train first), each in random order."""
    sizes = _part_sizes(n, fractions, names)
    if not stratify:
        perm = rng.permutation(n)
        return np.split(perm, np.cumsum(sizes)[:-1])
    y = _as_labels(y)
    if y.dtype.kind == "f" and np.any(y != np.round(y)):
        raise DataError("stratify=True needs class labels, but y holds fractional values "
                        "(a regression target?)")
    classes, inverse = np.unique(y, return_inverse=True)
    inverse = inverse.reshape(-1)
    # Members of each class, shuffled; held-out parts are carved off each class in turn, in
    # proportion to what is left, so the per-class shares sum exactly to the part sizes.
    members = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
    remaining = np.array([len(m) for m in members], dtype=np.int64)
    taken = np.zeros_like(remaining)
    held = []
    for size in sizes[1:]:
        share = _allocate(remaining, size)
        held.append([m[t:t + s] for m, t, s in zip(members, taken, share)])
        taken += share
        remaining -= share
    train = [m[t:] for m, t in zip(members, taken)]
    # Shuffle each part so that classes are interleaved rather than in blocks.
    return [rng.permutation(np.concatenate(part)) for part in [train, *held]]


def _check_xy(X, y):
    X = np.asarray(X)  # no copy, memory maps stay memory maps
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ShapeError(f"X and y need the same number of rows, got shapes {X.shape} and {y.shape}")
    return X, y, len(X)


def train_test_split(X, y, test_size=0.2, seed=None, stratify=False):
    """Split rows into a training and a test part, at random.

    Parameters
    ----------
    X : array_like, shape (n, ...)
        May be a memory map: only the selected rows are read (fancy indexing copies just those).
    y : array_like, shape (n, ...)
    test_size : float in (0, 1), default 0.2
        Fraction of rows in the test part: ``round(test_size * n)`` rows (half up), at least 1.
    seed : int, numpy.random.Generator or None
    stratify : bool, default False
        Keep the class proportions of the 1-d labels ``y`` in both parts: each class is split on its
        own, and rounding is shared out so that the part sizes are exactly as without stratifying.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray

    Raises
    ------
    HandpropValueError
        ``test_size`` outside (0, 1).
    ShapeError
        ``X`` and ``y`` of different lengths.
    DataError
        Too few rows for both parts to be non-empty.
    """
    test_size = check_fraction(test_size, "test_size")
    X, y, n = _check_xy(X, y)
    train, test = _split_indices(n, y, [test_size], ["test_size"], make_rng(seed), stratify)
    return X[train], X[test], y[train], y[test]


def train_val_test_split(X, y, val_size, test_size, seed=None, stratify=False):
    """Split rows into training, validation and test parts, at random.

    Parameters
    ----------
    X, y : array_like, shape (n, ...)
    val_size, test_size : float in (0, 1)
        Fractions of all rows (not of what is left), whose sum must be below 1. Each part gets
        ``round(size * n)`` rows (at least 1); training gets the rest.
    seed : int, numpy.random.Generator or None
    stratify : bool, default False
        As in :func:`train_test_split`.

    Returns
    -------
    X_train, X_val, X_test, y_train, y_val, y_test : ndarray
    """
    val_size = check_fraction(val_size, "val_size")
    test_size = check_fraction(test_size, "test_size")
    if val_size + test_size >= 1:
        raise HandpropValueError(
            f"val_size + test_size must be < 1 to leave rows for training, "
            f"got {val_size} + {test_size}")
    X, y, n = _check_xy(X, y)
    train, val, test = _split_indices(n, y, [val_size, test_size], ["val_size", "test_size"],
                                      make_rng(seed), stratify)
    return X[train], X[val], X[test], y[train], y[val], y[test]
