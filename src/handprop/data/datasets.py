"""Toy data sets for teaching and testing, plus loaders for small real ones.

Every generator has the form ``f(n=..., noise=..., seed=None) -> (X, y)`` with

* ``X``: float64, shape ``(n, d)``;
* ``y``: int64, shape ``(n,)``, labels ``0 .. k-1`` for classification, or float64, shape ``(n, 1)``
  for :func:`regression1d`.

All randomness comes from ``np.random.default_rng(seed)``: the same seed gives bit-identical arrays
and the global NumPy RNG is never used. Two-class sets are balanced (the classes differ in size by at
most one) and their rows are shuffled, so that a mini-batch taken from the front sees both classes.

The MNIST IDX reader lives in :mod:`handprop.data.idx` and is re-exported here.
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np

from ..errors import HandpropError, HandpropValueError
from ._checks import check_nonnegative_float, check_positive_int, make_rng
from .idx import load_mnist, read_idx
from .readers import Dataset

__all__ = [
    "xor", "and_", "or_", "circles", "moons", "spirals", "blobs", "regression1d",
    "DATASETS", "make_dataset", "load_sklearn", "read_idx", "load_mnist",
]

# The four corners of the unit square, in the order of a truth table: (0,0), (0,1), (1,0), (1,1).
_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def _logic_gate(truth, n, noise, seed):
    """Shared body of :func:`xor`, :func:`and_`, :func:`or_`; ``truth`` is the 4-row truth table."""
    truth = np.asarray(truth, dtype=np.int64)
    noise = check_nonnegative_float(noise, "noise")
    rng = make_rng(seed)
    if n is None:
        corner = np.arange(4)
    else:
        n = check_positive_int(n, "n")
        # Cycling through the corners keeps them equally represented (counts differ by at most 1);
        # the permutation then hides the cycle.
        corner = rng.permutation(np.arange(n) % 4)
    X = _CORNERS[corner]
    if noise > 0:
        X = X + noise * rng.standard_normal(X.shape)
    return X, truth[corner]


def xor(n=None, noise=0.0, seed=None):
    """Exclusive-or: the classic set a single-layer perceptron cannot separate.

    Parameters
    ----------
    n : int or None, default None
        None gives exactly the four canonical points ``[[0,0],[0,1],[1,0],[1,1]]`` with labels
        ``[0,1,1,0]``, in that order. An int draws ``n`` points from the four corners, each corner
        used ``n // 4`` or ``n // 4 + 1`` times, in random order.
    noise : float, default 0.0
        Standard deviation of Gaussian noise added to every coordinate.
    seed : int, numpy.random.Generator or None
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of float64, shape (n, 2)
    y : ndarray of int64, shape (n,)
        ``x0 XOR x1`` of the corner each point was drawn from.
    """
    return _logic_gate([0, 1, 1, 0], n, noise, seed)


def and_(n=None, noise=0.0, seed=None):
    """Logical AND on the corners of the unit square (linearly separable; 1 only at (1,1)).

    Same parameters and shapes as :func:`xor`; labels are ``[0, 0, 0, 1]`` for the canonical points.
    The trailing underscore avoids the Python keyword.
    """
    return _logic_gate([0, 0, 0, 1], n, noise, seed)


def or_(n=None, noise=0.0, seed=None):
    """Logical OR on the corners of the unit square (linearly separable; 0 only at (0,0)).

    Same parameters and shapes as :func:`xor`; labels are ``[0, 1, 1, 1]`` for the canonical points.
    """
    return _logic_gate([0, 1, 1, 1], n, noise, seed)


def _two_class_sizes(n):
    """Sizes of class 0 and class 1 for a balanced two-class set of ``n`` points."""
    return n // 2, n - n // 2


def _shuffle(rng, X, y):
    """Shuffle rows of ``X`` and ``y`` together, so that classes are interleaved."""
    order = rng.permutation(len(X))
    return X[order], y[order]


def circles(n=200, noise=0.05, factor=0.5, seed=None):
    """A small circle inside a large one: needs a hidden layer to separate.

    Points lie evenly spaced in angle on the unit circle (class 0, ``n // 2`` points) and on a circle
    of radius ``factor`` (class 1, the rest), then Gaussian noise is added and the rows shuffled.

    Parameters
    ----------
    n : int, default 200
    noise : float, default 0.05
        Standard deviation of the Gaussian noise on each coordinate.
    factor : float, default 0.5
        Radius of the inner circle relative to the outer one, in (0, 1).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    X : ndarray of float64, shape (n, 2)
    y : ndarray of int64, shape (n,)
        0 for the outer circle, 1 for the inner one.
    """
    n = check_positive_int(n, "n")
    noise = check_nonnegative_float(noise, "noise")
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise HandpropValueError(f"factor must be a number in (0, 1), got {factor!r}")
    rng = make_rng(seed)
    n_out, n_in = _two_class_sizes(n)
    # Even spacing (rather than random angles) gives a clean ring even for small n.
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate([
        np.column_stack([np.cos(t_out), np.sin(t_out)]),
        factor * np.column_stack([np.cos(t_in), np.sin(t_in)]),
    ])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    return _shuffle(rng, X, y)


def moons(n=200, noise=0.1, seed=None):
    """Two interleaving half circles.

    Class 0 is the upper half of the unit circle, ``(cos t, sin t)`` for ``t`` in ``[0, pi]``;
    class 1 is the lower half shifted right and up, ``(1 - cos t, 0.5 - sin t)``.

    Parameters
    ----------
    n : int, default 200
    noise : float, default 0.1
        Standard deviation of the Gaussian noise on each coordinate.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    X : ndarray of float64, shape (n, 2)
    y : ndarray of int64, shape (n,)
    """
    n = check_positive_int(n, "n")
    noise = check_nonnegative_float(noise, "noise")
    rng = make_rng(seed)
    n0, n1 = _two_class_sizes(n)
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    X = np.concatenate([
        np.column_stack([np.cos(t0), np.sin(t0)]),
        np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)]),
    ])
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    return _shuffle(rng, X, y)


def spirals(n=200, noise=0.0, turns=1.75, seed=None):
    """Two interleaved spirals, as in the TensorFlow Playground.

    Each arm starts at the origin and winds outwards to radius 1: point ``i`` of ``m`` on an arm has
    radius ``r = i / m`` and angle ``2 pi turns r + delta``, with ``delta = 0`` for class 0 and ``pi``
    for class 1 (the second arm is the first rotated by half a turn). The Playground uses radius 5;
    radius 1 keeps the inputs at the scale a network expects without standardising.

    Parameters
    ----------
    n : int, default 200
    noise : float, default 0.0
        Standard deviation of the Gaussian noise on each coordinate. The arms are about
        ``1 / (2 turns)`` apart, so noise above ~0.1 starts to merge them.
    turns : float, default 1.75
        How many full turns each arm makes (the Playground's 1.75).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    X : ndarray of float64, shape (n, 2)
    y : ndarray of int64, shape (n,)
    """
    n = check_positive_int(n, "n")
    noise = check_nonnegative_float(noise, "noise")
    if isinstance(turns, bool) or not isinstance(turns, numbers.Real) or not 0 < turns < np.inf:
        raise HandpropValueError(f"turns must be a finite number > 0, got {turns!r}")
    rng = make_rng(seed)
    parts = []
    for label, size in enumerate(_two_class_sizes(n)):
        r = np.arange(size) / max(size, 1)
        t = 2 * np.pi * turns * r + np.pi * label
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    X = np.concatenate(parts)
    y = np.repeat(np.arange(2, dtype=np.int64), _two_class_sizes(n))
    X = X + noise * rng.standard_normal(X.shape)
    return _shuffle(rng, X, y)


def blobs(n=200, centers=3, n_features=2, cluster_std=1.0, seed=None):
    """Isotropic Gaussian clusters, one class per cluster.

    Parameters
    ----------
    n : int, default 200
        Total number of points; cluster sizes differ by at most one.
    centers : int or array_like of shape (k, n_features), default 3
        The number of clusters, whose centres are then drawn uniformly from ``[-10, 10]^d``, or the
        centres themselves.
    n_features : int, default 2
        Ignored when ``centers`` is an array (its width is used).
    cluster_std : float or array_like of shape (k,), default 1.0
        Standard deviation of each cluster (the "noise" of this set).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    X : ndarray of float64, shape (n, n_features)
    y : ndarray of int64, shape (n,)
        The index of the cluster each point came from.
    """
    n = check_positive_int(n, "n")
    rng = make_rng(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        k = check_positive_int(centers, "centers")
        d = check_positive_int(n_features, "n_features")
        centre_points = rng.uniform(-10.0, 10.0, size=(k, d))
    else:
        centre_points = np.asarray(centers, dtype=np.float64)
        if centre_points.ndim != 2 or centre_points.shape[0] == 0 or centre_points.shape[1] == 0:
            raise HandpropValueError(
                f"centers must be an int or an array of shape (k, n_features), "
                f"got shape {centre_points.shape}")
        if not np.all(np.isfinite(centre_points)):
            raise HandpropValueError("centers must be finite")
        k, d = centre_points.shape
    try:
        std = np.asarray(cluster_std, dtype=np.float64)
    except (TypeError, ValueError):
        std = None
    if std is not None and std.ndim == 0:
        std = np.full(k, float(std))
    if std is None or std.shape != (k,):
        raise HandpropValueError(
            f"cluster_std must be a number or a sequence of {k} numbers (one per centre), "
            f"got {cluster_std!r}")
    if not np.all(np.isfinite(std)) or np.any(std < 0):
        raise HandpropValueError(f"cluster_std must be finite and >= 0, got {cluster_std!r}")
    y = rng.permutation(np.arange(n) % k).astype(np.int64)
    X = centre_points[y] + std[y, None] * rng.standard_normal((n, d))
    return X, y


def regression1d(n=200, noise=0.1, seed=None):
    """A noisy sine curve: the smallest regression problem worth fitting.

    ``x`` is drawn uniformly from ``[-pi, pi]`` and ``y = sin(x) + noise * N(0, 1)``.

    Parameters
    ----------
    n : int, default 200
    noise : float, default 0.1
        Standard deviation of the Gaussian noise on the target.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    X : ndarray of float64, shape (n, 1)
    y : ndarray of float64, shape (n, 1)
        A column, like the output of a one-unit network, so that losses need no reshaping.
    """
    n = check_positive_int(n, "n")
    noise = check_nonnegative_float(noise, "noise")
    rng = make_rng(seed)
    X = rng.uniform(-np.pi, np.pi, size=(n, 1))
    y = np.sin(X) + noise * rng.standard_normal((n, 1))
    return X, y


DATASETS = {
    "xor": xor,
    "and": and_,
    "or": or_,
    "circles": circles,
    "moons": moons,
    "spirals": spirals,
    "blobs": blobs,
    "regression": regression1d,
}


def make_dataset(name, **kwargs):
    """Generate the toy set registered under ``name`` in :data:`DATASETS`.

    Parameters
    ----------
    name : str
        One of ``DATASETS`` (``"xor"``, ``"and"``, ``"or"``, ``"circles"``, ``"moons"``,
        ``"spirals"``, ``"blobs"``, ``"regression"``).
    **kwargs
        Passed to the generator (``n``, ``noise``, ``seed``...).

    Returns
    -------
    X, y : ndarray
        As returned by the generator.

    Raises
    ------
    HandpropValueError
        For an unknown name (the message lists the valid ones) or an argument the generator does
        not take (the message lists those it does).
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise HandpropValueError(
            f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}")
    fn = DATASETS[name]
    accepted = list(inspect.signature(fn).parameters)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        # A TypeError here would not say which arguments *are* accepted.
        raise HandpropValueError(
            f"dataset {name!r} does not take {', '.join(unknown)}; "
            f"it takes: {', '.join(accepted)}")
    return fn(**kwargs)


# name -> (function name in sklearn.datasets, name of the target)
_SKLEARN = {
    "digits": ("load_digits", "digit"),
    "iris": ("load_iris", "species"),
    "breast_cancer": ("load_breast_cancer", "diagnosis"),
    "wine": ("load_wine", "cultivar"),
}


def load_sklearn(name):
    """Load one of scikit-learn's bundled classification sets (no network access).

    Parameters
    ----------
    name : {"digits", "iris", "breast_cancer", "wine"}

    Returns
    -------
    Dataset
        ``X`` float64 of shape (n, d), ``y`` int64 of shape (n,), ``feature_names`` (d strings),
        ``target_name`` and ``class_names`` (k strings, ``class_names[y[i]]`` names row ``i``).

    Raises
    ------
    HandpropValueError
        For an unknown name.
    HandpropError
        When scikit-learn is not installed; handprop's core needs only NumPy, so scikit-learn is an
        optional extra and is imported only here.
    """
    if not isinstance(name, str) or name not in _SKLEARN:
        raise HandpropValueError(
            f"unknown scikit-learn dataset {name!r}; choose one of: {', '.join(sorted(_SKLEARN))}")
    try:
        import sklearn.datasets as skd
    except ImportError as exc:
        raise HandpropError(
            f"load_sklearn({name!r}) needs scikit-learn, which is not installed; "
            f'install it with: pip install "handprop[datasets]"') from exc
    loader_name, target_name = _SKLEARN[name]
    bunch = getattr(skd, loader_name)()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    feature_names = getattr(bunch, "feature_names", None)
    if feature_names is None or len(feature_names) != X.shape[1]:
        feature_names = [f"x{j}" for j in range(X.shape[1])]
    return Dataset(
        X=X,
        y=y,
        feature_names=[str(f) for f in feature_names],
        target_name=target_name,
        class_names=[str(c) for c in bunch.target_names],
    )
