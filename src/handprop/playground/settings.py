"""The playground's settings: one dict, read from the page's URL, checked before anything is built.

Keys are the page's element ids (``train-ratio``, ``batch-size``...), so a link's query string is
exactly the settings of its run. Every bad value is refused with a message that names the setting,
the value and what would work.
"""

from ..errors import HandpropValueError
from .datasets import DATASETS, FEATURES

ACTIVATIONS = ("tanh", "relu", "sigmoid", "leaky_relu")
OPTIMIZERS = ("sgd", "adam")
REGULARIZATIONS = ("none", "L2", "L1")
FILE_SETS = ("upload", "file")  # an uploaded CSV; the file given to `handprop playground --data`
MAX_UNITS = 1024  # per hidden layer
MAX_PARAMS = 1_000_000  # per network: a frame's 48×48 grid through it stays well under 100 MB

DEFAULTS = {
    "dataset": "circle", "noise": 0, "train-ratio": 50, "batch-size": 10, "layers": "4,2",
    "activation": "tanh", "lr": 0.03, "regularization": "none", "reg-rate": 0.0,
    "features": "x1,x2", "seed": 0, "optimizer": "sgd", "x-axis": 0, "y-axis": 1,
}


def _number(key, value, kind, lo, hi):
    try:
        v = kind(value)
    except (TypeError, ValueError):
        raise HandpropValueError(f"{key} must be a number, got {value!r}") from None
    if kind is float and v != v:
        raise HandpropValueError(f"{key} must be a number, got {value!r}")
    if not lo <= v <= hi:
        raise HandpropValueError(f"{key} must be between {lo:g} and {hi:g}, got {value!r}")
    return v


def layer_sizes(text):
    """``"8,8"`` as ``[8, 8]``; ``""`` or ``"none"``: no hidden layer."""
    text = str(text).strip()
    if text.lower() in ("", "none"):
        return []
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise HandpropValueError(f"layers must be comma-separated sizes such as 8,8, got {text!r}") from None
    bad = [v for v in sizes if not 1 <= v <= MAX_UNITS]
    if bad:
        raise HandpropValueError(f"layers: every size must be between 1 and {MAX_UNITS}, got {text!r}")
    return sizes


def check_size(sizes):
    """Refuse a network over MAX_PARAMS parameters (``sizes``: inputs, hidden layers, outputs)."""
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if n > MAX_PARAMS:
        raise HandpropValueError(f"layers: a {'-'.join(map(str, sizes))} network has {n:,} parameters; the "
                                 f"playground trains at most {MAX_PARAMS:,} (fewer or narrower layers)")
    return n


def parse(given):
    """Every setting, defaults filled in and checked; ``given`` maps keys to strings or numbers."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise HandpropValueError(f"unknown setting {unknown[0]!r}; settings are: {', '.join(DEFAULTS)}")
    s = dict(DEFAULTS, **given)
    out = {}
    for key, choices in (("dataset", DATASETS + FILE_SETS), ("activation", ACTIVATIONS),
                         ("optimizer", OPTIMIZERS), ("regularization", REGULARIZATIONS)):
        if s[key] not in choices:
            raise HandpropValueError(f"{key} must be one of {', '.join(choices)}, got {s[key]!r}")
        out[key] = s[key]
    out["noise"] = _number("noise", s["noise"], int, 0, 50)
    out["train-ratio"] = _number("train-ratio", s["train-ratio"], int, 10, 90)
    out["batch-size"] = _number("batch-size", s["batch-size"], int, 1, 1_000_000)
    out["lr"] = _number("lr", s["lr"], float, 1e-9, 100.0)
    out["reg-rate"] = _number("reg-rate", s["reg-rate"], float, 0.0, 10.0)
    out["seed"] = _number("seed", s["seed"], int, 0, 2**31 - 1)
    out["x-axis"] = _number("x-axis", s["x-axis"], int, 0, 100_000)
    out["y-axis"] = _number("y-axis", s["y-axis"], int, 0, 100_000)
    layer_sizes(s["layers"])
    out["layers"] = str(s["layers"]).strip()
    features = [f for f in str(s["features"]).split(",") if f]
    bad = [f for f in features if f not in FEATURES]
    if bad or not features:
        raise HandpropValueError(f"features must be some of {', '.join(FEATURES)} (comma-separated), "
                                 f"got {s['features']!r}")
    out["features"] = ",".join(f for f in FEATURES if f in features)
    return out


def penalties(s):
    """``(l1, l2)``: the Dense layers' penalty rates the regularization setting stands for
    (``l1·Σ|W| + l2·ΣW²`` on the weights, in the loss; ``handprop train --l1/--l2``)."""
    rate = s["reg-rate"]
    return (rate if s["regularization"] == "L1" else 0.0, rate if s["regularization"] == "L2" else 0.0)


def test_fraction(s):
    """The fraction of rows held out for the test loss (``handprop train --test``)."""
    return (100 - s["train-ratio"]) / 100
