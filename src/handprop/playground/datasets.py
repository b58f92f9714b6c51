"""The playground's data: TensorFlow Playground's six toy sets, its input features, and CSV files.

Everything here is NumPy only (no web server), so that the scripts the playground exports can use
it too. A ``Problem`` is what a run trains on::

    points    (n, 2)   where each row is drawn: the plotted axes
    X         (n, d)   the network's raw inputs (features of the points, or a file's columns)
    y         (n,)     labels (classification) or values (regression), as the CLI reads them
    features(grid)     the raw inputs of any grid of plotted points (the heatmaps)

The toy sets live on [-6, 6]², as in TensorFlow Playground; classification labels are 0 and 1.
"""

import numpy as np

from ..errors import HandpropValueError

DOMAIN = 6.0
CLASSIFICATION_SETS = ("circle", "xor", "gauss", "spiral")
REGRESSION_SETS = ("plane", "multi-gauss")
DATASETS = CLASSIFICATION_SETS + REGRESSION_SETS

# name -> (column name in files and commands, formula shown in the page, function of x1, x2)
FEATURES = {
    "x1": ("x1", "x₁", lambda a, b: a),
    "x2": ("x2", "x₂", lambda a, b: b),
    "x1sq": ("x1_sq", "x₁²", lambda a, b: a * a),
    "x2sq": ("x2_sq", "x₂²", lambda a, b: b * b),
    "x1x2": ("x1_x2", "x₁x₂", lambda a, b: a * b),
    "sinx1": ("sin_x1", "sin x₁", lambda a, b: np.sin(a)),
    "sinx2": ("sin_x2", "sin x₂", lambda a, b: np.sin(b)),
}


def _circle(rng, n, noise):
    r = 5.0
    half = n // 2
    radius = np.concatenate([rng.uniform(0, 0.5 * r, half), rng.uniform(0.7 * r, r, n - half)])
    angle = rng.uniform(0, 2 * np.pi, n)
    P = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    labels = (np.hypot(P[:, 0], P[:, 1]) < 0.5 * r).astype(np.int64)  # the label of the clean point
    return P + rng.uniform(-r, r, (n, 2)) * noise, labels


def _xor(rng, n, noise):
    P = rng.uniform(-5, 5, (n, 2))
    P += np.where(P > 0, 0.3, -0.3)  # TF Playground's padding: no point on an axis
    labels = (P[:, 0] * P[:, 1] >= 0).astype(np.int64)
    return P + rng.uniform(-5, 5, (n, 2)) * noise, labels


def _gauss(rng, n, noise):
    sd = 0.5 + 3.5 * noise  # TF Playground: variance from 0.5 to 4 with the noise
    half = n // 2
    P = np.concatenate([rng.normal(2, sd, (half, 2)), rng.normal(-2, sd, (n - half, 2))])
    labels = np.concatenate([np.ones(half, np.int64), np.zeros(n - half, np.int64)])
    return P, labels


def _spiral(rng, n, noise):
    half = n // 2
    parts, labels = [], []
    for label, delta, m in ((1, 0.0, half), (0, np.pi, n - half)):
        i = np.arange(m)
        r = i / m * 5
        t = 1.75 * i / m * 2 * np.pi + delta
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]) + rng.uniform(-1, 1, (m, 2)) * noise)
        labels.append(np.full(m, label, np.int64))
    return np.concatenate(parts), np.concatenate(labels)


def _plane(rng, n, noise):
    P = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    values = (P[:, 0] + P[:, 1]) / (2 * DOMAIN)  # in [-1, 1]
    return P + rng.uniform(-DOMAIN, DOMAIN, (n, 2)) * noise, values


_CENTRES = np.array([[-4, 2.5], [0, 2.5], [4, 2.5], [-4, -2.5], [0, -2.5], [4, -2.5]])
_SIGNS = np.array([-1, 1, -1, 1, -1, 1.0])


def _multi_gauss(rng, n, noise):
    P = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    d2 = ((P[:, None, :] - _CENTRES[None]) ** 2).sum(axis=2)
    values = np.clip((_SIGNS * np.exp(-d2 / 2)).sum(axis=1), -1, 1)
    return P + rng.uniform(-DOMAIN, DOMAIN, (n, 2)) * noise, values


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral,
               "plane": _plane, "multi-gauss": _multi_gauss}


def generate(name, n=500, noise=0.0, seed=0):
    """``(points, y)`` of toy set ``name``: ``n`` points, ``noise`` in [0, 0.5], rows shuffled."""
    if name not in _GENERATORS:
        raise HandpropValueError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
    rng = np.random.default_rng([int(seed), 0])
    P, y = _GENERATORS[name](rng, int(n), float(noise))
    order = rng.permutation(len(P))
    return P[order], y[order]


class Problem:
    """What a run trains on (see the module docstring)."""

    def __init__(self, name, points, X, y, task, feature_names, target_name, features, axes,
                 class_names=None, bounds=None):
        self.name, self.points, self.X, self.y, self.task = name, points, X, y, task
        self.feature_names, self.target_name, self.class_names = feature_names, target_name, class_names
        self.features, self.axes = features, axes
        self.bounds = bounds or (-DOMAIN, DOMAIN, -DOMAIN, DOMAIN)


def toy_problem(name, features, n=500, noise=0.0, seed=0):
    """A toy set with the chosen input ``features`` (keys of FEATURES)."""
    unknown = [f for f in features if f not in FEATURES]
    if unknown or not features:
        raise HandpropValueError(f"features must be some of {', '.join(FEATURES)}, got {','.join(features) or 'none'}")
    points, y = generate(name, n=n, noise=noise, seed=seed)

    def make(P):
        return np.column_stack([FEATURES[f][2](P[:, 0], P[:, 1]) for f in features])

    task = "classification" if name in CLASSIFICATION_SETS else "regression"
    return Problem(name, points, make(points), y, task, [FEATURES[f][0] for f in features],
                   "label" if task == "classification" else "y", make, ("x1", "x2"))


def file_problem(name, ds, task, axes=(0, 1)):
    """A problem from a ``handprop.data.Dataset`` (``load_data``'s): plotted on columns ``axes``,
    every other column held at its mean in the heatmaps."""
    X = np.asarray(ds.X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 1:
        raise HandpropValueError(f"{name}: needs at least one feature column besides the target")
    a, b = axes
    for which, j in (("x axis", a), ("y axis", b)):
        if not 0 <= j < X.shape[1]:
            raise HandpropValueError(f"{name}: the {which} column {j} does not exist; it has "
                                     f"{X.shape[1]} feature columns (0 to {X.shape[1] - 1})")
    means = X.mean(axis=0)

    def make(P):
        F = np.tile(means, (len(P), 1))
        F[:, a] = P[:, 0]
        F[:, b] = P[:, 1]
        return F

    points = X[:, [a, b]]
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = np.where(hi > lo, (hi - lo) * 0.05, 1.0)
    bounds = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    y = np.asarray(ds.y)
    return Problem(name, points, X, y, task, list(ds.feature_names), ds.target_name or "y", make,
                   (ds.feature_names[a], ds.feature_names[b]), class_names=ds.class_names, bounds=bounds)


def detect_task(y, class_names, max_classes=50):
    """Classification or regression, by ``handprop train``'s rule: text labels, or whole numbers
    with at most ``max_classes`` distinct values (and no more than half the rows), are classes."""
    if class_names is not None:
        return "classification"
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return "regression"
    if y.dtype.kind in "iub":
        k = len(np.unique(y))
        return "classification" if k <= max_classes and k <= len(y) // 2 else "regression"
    return "regression"
