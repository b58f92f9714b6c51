"""Preparing data for a network: scaling, label encoding, one-hot targets and splits.

Fitted objects save themselves as plain JSON-able dicts (``to_config`` / ``from_config``), so that a
saved model can carry its preprocessing without pickles.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import DataError, HandpropValueError, ShapeError
# The splits live in their own module to keep this one short; they belong to this module's API.
from .splits import train_test_split, train_val_test_split

__all__ = ["StandardScaler", "LabelEncoder", "one_hot", "train_test_split", "train_val_test_split"]


def _not_fitted(obj):
    return HandpropValueError(f"this {type(obj).__name__} is not fitted yet; call fit() first")


def _check_config(d, cls, keys):
    if not isinstance(d, dict) or d.get("class", cls) != cls or not set(keys) <= set(d):
        raise HandpropValueError(
            f"not a {cls} config: expected a dict with keys {sorted(keys)}, got {d!r:.200}")


class StandardScaler:
    """Shift and scale each feature to mean 0 and standard deviation 1.

    ``transform(X) = (X - mean_) / scale_``, where ``scale_`` is the population standard deviation
    (``ddof=0``) of each column of the data seen by :meth:`fit`. Inputs to a network on a common
    scale keep the pre-activations of the first layer in the range where sigmoid and tanh still have
    slope, and let one learning rate suit every weight.

    Attributes
    ----------
    mean_ : ndarray of float64, shape (d,)
    scale_ : ndarray of float64, shape (d,)
        Constant columns get scale 1 rather than 0: they map to 0 instead of dividing by zero.

    Notes
    -----
    Statistics are computed in float64. ``transform`` returns float32 for float32 input (so a
    float32 pipeline stays float32) and float64 for anything else, integers included.
    """

    def __init__(self):
        self.mean_ = None
        self.scale_ = None

    @property
    def n_features(self):
        """Number of columns seen by :meth:`fit` (None before)."""
        return None if self.mean_ is None else len(self.mean_)

    def fit(self, X):
        """Learn ``mean_`` and ``scale_`` from ``X`` of shape (n, d); return ``self``."""
        X = _as_2d(X, "X")
        if len(X) == 0:
            raise DataError("cannot fit a StandardScaler on 0 rows")
        mean = X.mean(axis=0, dtype=np.float64)
        if not np.all(np.isfinite(mean)):
            bad = np.flatnonzero(~np.isfinite(mean))
            raise DataError(f"X holds NaN or infinite values in column(s) {bad[:10].tolist()}")
        std = X.std(axis=0, dtype=np.float64)
        # Rounding leaves a tiny non-zero std on a constant column (e.g. 1e-17 for 0.1 repeated);
        # treat anything at the level of float64 rounding of the mean as constant.
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
        self.mean_ = mean
        self.scale_ = np.where(std <= tiny, 1.0, std)
        return self

    def _check(self, X):
        if self.mean_ is None:
            raise _not_fitted(self)
        X = _as_2d(X, "X")
        if X.shape[1] != len(self.mean_):
            raise ShapeError(
                f"X has {X.shape[1]} features but the StandardScaler was fitted on "
                f"{len(self.mean_)}")
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        return X, dtype

    def transform(self, X):
        """Return ``(X - mean_) / scale_``, shape (n, d)."""
        X, dtype = self._check(X)
        return (X - self.mean_.astype(dtype)) / self.scale_.astype(dtype)

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        """Undo :meth:`transform`: return ``Z * scale_ + mean_``, shape (n, d)."""
        Z, dtype = self._check(Z)
        return Z * self.scale_.astype(dtype) + self.mean_.astype(dtype)

    def to_config(self):
        """A JSON-able dict: ``{"class", "mean", "scale"}`` with lists of floats."""
        if self.mean_ is None:
            raise _not_fitted(self)
        # float() of a float64 round-trips exactly through JSON (repr is shortest-exact).
        return {"class": "StandardScaler",
                "mean": [float(v) for v in self.mean_],
                "scale": [float(v) for v in self.scale_]}

    @classmethod
    def from_config(cls, d):
        """Rebuild a fitted scaler from :meth:`to_config`'s dict."""
        _check_config(d, "StandardScaler", ("mean", "scale"))
        mean = np.asarray(d["mean"], dtype=np.float64)
        scale = np.asarray(d["scale"], dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape:
            raise HandpropValueError(
                f"StandardScaler config: mean and scale must be lists of equal length, "
                f"got {mean.shape} and {scale.shape}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise HandpropValueError("StandardScaler config: mean must be finite and scale > 0")
        obj = cls()
        obj.mean_, obj.scale_ = mean, scale
        return obj

    def __repr__(self):
        return f"StandardScaler(n_features={self.n_features})"


def _as_2d(X, name):
    """``X`` as an array (no copy for arrays or memmaps) that must be 2-d and numeric."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ShapeError(f"{name} must be 2-d (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric, got dtype {X.dtype}")
    return X


def _as_labels(y, name="y"):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ShapeError(f"{name} must be 1-d (n_samples,), got shape {y.shape}")
    return y


class LabelEncoder:
    """Map arbitrary labels (ints, strings...) to indices ``0 .. k-1`` and back.

    ``classes_`` holds the sorted distinct labels seen by :meth:`fit`; label ``classes_[i]``
    becomes index ``i``.
    """

    def __init__(self):
        self.classes_ = None

    def fit(self, y):
        """Learn the classes from ``y`` of shape (n,); return ``self``."""
        y = _as_labels(y)
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise DataError("labels contain NaN; NaN is not a class")
        try:
            self.classes_ = np.unique(y)
        except TypeError:  # an object array mixing types that cannot be ordered (1 and "a")
            kinds = sorted({type(v).__name__ for v in y.tolist()})
            raise DataError(f"labels mix types that cannot be sorted: {', '.join(kinds)}") from None
        return self

    def _index(self):
        # A dict lookup works for any hashable label and treats 1 and 1.0 alike, as == does.
        return {c: i for i, c in enumerate(self.classes_.tolist())}

    def transform(self, y):
        """Return the int64 indices of the labels ``y``, shape (n,).

        Raises
        ------
        DataError
            A label not seen by :meth:`fit`; the message names it and lists the known classes.
        """
        if self.classes_ is None:
            raise _not_fitted(self)
        y = _as_labels(y)
        index = self._index()
        out = np.empty(len(y), dtype=np.int64)
        for i, label in enumerate(y.tolist()):
            try:
                out[i] = index[label]
            except (KeyError, TypeError):  # TypeError: an unhashable label
                known = ", ".join(repr(c) for c in self.classes_.tolist()[:20])
                raise DataError(
                    f"unseen label {label!r} at position {i}; the known classes are: {known}"
                ) from None
        return out

    def fit_transform(self, y):
        """``fit(y)`` then ``transform(y)``."""
        return self.fit(y).transform(y)

    def inverse_transform(self, indices):
        """Return the labels of ``indices`` (ints in ``0 .. k-1``), shape (n,)."""
        if self.classes_ is None:
            raise _not_fitted(self)
        idx = _check_indices(indices, len(self.classes_), "indices")
        return self.classes_[idx]

    def to_config(self):
        """A JSON-able dict: ``{"class", "classes"}``; labels become Python ints/floats/strings."""
        if self.classes_ is None:
            raise _not_fitted(self)
        return {"class": "LabelEncoder", "classes": self.classes_.tolist()}

    @classmethod
    def from_config(cls, d):
        """Rebuild a fitted encoder from :meth:`to_config`'s dict."""
        _check_config(d, "LabelEncoder", ("classes",))
        obj = cls()
        obj.classes_ = np.asarray(d["classes"])
        if obj.classes_.ndim != 1:
            raise HandpropValueError("LabelEncoder config: classes must be a flat list")
        return obj

    def __repr__(self):
        k = None if self.classes_ is None else len(self.classes_)
        return f"LabelEncoder(n_classes={k})"


def _check_indices(y, n_classes, name):
    """``y`` as int64 class indices, refusing fractions and values outside ``0 .. n_classes-1``."""
    y = _as_labels(y, name)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise DataError(f"{name} must hold whole-number class indices, got dtype {y.dtype} "
                            f"with fractional or non-finite values")
    elif y.dtype.kind not in "biu":
        raise DataError(f"{name} must hold integer class indices, got dtype {y.dtype}; "
                        f"use LabelEncoder to turn labels into indices")
    y = y.astype(np.int64)
    if n_classes is not None:
        bad = np.flatnonzero((y < 0) | (y >= n_classes))
        if bad.size:
            raise DataError(f"{name}[{bad[0]}] = {y[bad[0]]} is outside 0..{n_classes - 1} "
                            f"({bad.size} value(s) out of range)")
    return y


def one_hot(y, n_classes=None, dtype=np.float64):
    """One-hot encode class indices.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Class indices in ``0 .. n_classes-1``.
    n_classes : int or None
        Number of columns; None uses ``y.max() + 1``.
    dtype : numpy dtype, default float64

    Returns
    -------
    ndarray of shape (n, n_classes)
        ``out[i, y[i]] = 1``, zeros elsewhere.

    Raises
    ------
    DataError
        Negative, fractional or too large labels (the message names the first one).
    """
    if n_classes is not None and (isinstance(n_classes, bool)
                                  or not isinstance(n_classes, numbers.Integral)
                                  or n_classes <= 0):
        raise HandpropValueError(f"n_classes must be a positive integer or None, got {n_classes!r}")
    y = _check_indices(y, None, "y")
    if n_classes is None:
        if y.size and y.min() < 0:
            i = int(np.argmin(y))
            raise DataError(f"y[{i}] = {y[i]} is negative; class indices start at 0")
        n_classes = int(y.max()) + 1 if y.size else 0
    y = _check_indices(y, n_classes, "y")
    out = np.zeros((len(y), n_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out
