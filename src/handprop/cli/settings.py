"""``handprop train``'s settings: the data source, the task, the defaults said aloud, the network built
from them, and the checks that a resumed run's settings are the run it continues.

The resolved settings are one dict, saved in checkpoints: ``--resume`` rebuilds the same data,
split and callbacks from it, so the resumed run continues bit for bit.
"""

import os

import numpy as np

from ..data.tables import printable
from ..errors import DataError, HandpropValueError
from .checks import check_network_size
from .source import (MAX_CLASSES, check_array_kinds, check_source_finite, check_target, check_task,
                     check_typed_flags, load_options, report_dropped)

SKLEARN_SETS = ("digits", "iris", "breast_cancer", "wine")
# Settings a resumed run may change without leaving the run it continues.
RESUME_FREE = {"epochs", "checkpoint", "checkpoint_every", "log"}
# Output paths: only ever from the command line of the run that writes them, never from a file.
OUTPUT_SETTINGS = ("checkpoint", "log")
# What a checkpoint's settings must hold, and of which type (a tuple of choices for text settings).
_NUMBER = (int, float)
SETTINGS = {"dataset": (str, type(None)), "data": (str, type(None)), "target": (str, type(None)),
            "seed": int, "n": int, "noise": _NUMBER + (type(None),), "task": ("classification", "regression"),
            "loss": ("ce", "bce", "mse"), "layers": str, "activation": ("relu", "leaky_relu", "tanh", "sigmoid"),
            "optimizer": ("adam", "sgd"), "lr": _NUMBER, "momentum": _NUMBER, "weight_decay": _NUMBER, "l1": _NUMBER, "l2": _NUMBER,
            "epochs": int, "batch_size": int, "val": _NUMBER, "test": _NUMBER, "patience": int,
            "scale": bool, "checkpoint_every": int}
# How the data file was read: a resumed run must read it the same way (None: not typed).
FILE_SETTINGS = {"delimiter": (str, type(None)), "no_header": (bool, type(None)), "columns": (str, type(None)),
                 "drop": (str, type(None)), "drop_missing_target": (bool, type(None))}
SETTINGS.update(FILE_SETTINGS)
SETTINGS["n"] = (int, type(None))  # None: the generated set's default


# ----------------------------------------------------------------------------------- data
def load_source(s):
    """``(X, y, class_names, feature_names, target_name)`` from the settings' data source, checked:
    a target to learn (not constant, of a kind ``--task`` can learn), finite numbers."""
    from ..data import Dataset, load_data, load_sklearn, make_dataset

    if s["dataset"] in SKLEARN_SETS:
        ds = load_sklearn(s["dataset"])
    elif s["dataset"] is not None:
        kw = {"n": 1000 if s["n"] is None else s["n"], "seed": s["seed"]}
        if s["noise"] is not None:
            kw["noise"] = s["noise"]
        X, y = make_dataset(s["dataset"], **kw)
        ds = Dataset(X=X, y=y, feature_names=[f"x{j}" for j in range(X.shape[1])], target_name="y")
    else:
        ds = load_data(s["data"], **load_options(s))
        report_dropped(ds, s["data"])
    if ds.y is None:
        raise DataError(f"{s['data']}: no target in this file; save X and y together (np.savez(path, X=X, y=y))")
    check_array_kinds(s["data"], ds.X, ds.y)
    check_source_finite(s["data"], ds.X, ds.y)
    check_target(ds.y, ds.class_names, ds.target_name, s["data"] or s["dataset"])
    if s.get("task"):
        check_task(s["task"], ds.y, ds.class_names, ds.target_name)
    return ds.X, ds.y, ds.class_names, ds.feature_names, ds.target_name


def detect_task(y, class_names):
    if class_names is not None:
        return "classification", "the target holds text labels"
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return "regression", f"it has {y.shape[1]} columns"
    if y.dtype.kind in "iub":
        k = len(np.unique(y))
        if k <= MAX_CLASSES and k <= len(y) // 2:
            return "classification", f"it holds whole numbers with {k} distinct values"
        return "regression", f"it holds whole numbers with {k} distinct values (more than {MAX_CLASSES})"
    return "regression", "it holds fractional numbers"


def split_rows(X, y, s, stratify):
    """Train / validation / test parts (fractions of all rows), reproducible from the seed."""
    from ..data import train_test_split, train_val_test_split

    val, test, seed = s["val"], s["test"], s["seed"]
    if val and test:
        Xt, Xv, Xs, yt, yv, ys = train_val_test_split(X, y, val, test, seed=seed, stratify=stratify)
        return (Xt, yt), (Xv, yv), (Xs, ys)
    if val or test:
        Xt, Xo, yt, yo = train_test_split(X, y, val or test, seed=seed, stratify=stratify)
        return (Xt, yt), ((Xo, yo) if val else None), ((Xo, yo) if test else None)
    return (X, y), None, None


# ----------------------------------------------------------------------------------- settings
# n: None is 1000 rows for a generated set (None, so that --n typed for a file can be refused).
DATA_DEFAULTS = {"seed": 0, "n": None, "noise": None, "target": None, "delimiter": None, "no_header": None,
                 "columns": None, "drop": None, "drop_missing_target": None}


def given_settings(args):
    """The settings the user typed (absent: not given), plus the data source."""
    keys = ["task", "layers", "activation", "loss", "optimizer", "lr", "momentum", "weight_decay", "l1", "l2",
            "epochs", "batch_size", "val", "test", "patience", "scale", "checkpoint",
            "checkpoint_every", "log", "n", "noise", "target", "seed", "delimiter", "no_header", "columns",
            "drop", "drop_missing_target"]
    check_typed_flags(args, SKLEARN_SETS)
    given = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    for k in ("checkpoint", "log"):  # a resumed run may start in another directory
        if k in given:
            given[k] = os.path.abspath(given[k])
    if args.dataset is not None:
        given["dataset"] = args.dataset
    if args.data is not None:
        given["data"] = os.path.abspath(args.data)
    return given


def source_settings(given):
    """The data-source settings, defaults filled in."""
    s = dict(DATA_DEFAULTS, dataset=None, data=None)
    s.update({k: v for k, v in given.items() if k in s})
    if "task" in given:  # checked against the target as the data are read
        s["task"] = given["task"]
    return s


def resolve(given, task, typed=None):
    """Every training setting, with defaults filled in: the run is exactly this dict. ``typed``: the
    flags typed on this command line (default: all of ``given``), held to "does it do anything"."""
    typed = given if typed is None else typed
    s = source_settings(given)
    s.update(given)
    s.setdefault("task", task)
    classification = s["task"] == "classification"
    s.setdefault("loss", "ce" if classification else "mse")
    s.setdefault("layers", "128,64")
    s.setdefault("activation", "relu")
    s.setdefault("optimizer", "adam")
    s.setdefault("lr", 0.001 if s["optimizer"] == "adam" else 0.01)
    s.setdefault("momentum", 0.9)
    s.setdefault("weight_decay", 0.001)
    s.setdefault("l1", 0.0)
    s.setdefault("l2", 0.0)
    for flag in ("l1", "l2"):
        if not 0 <= s[flag] < float("inf"):
            raise HandpropValueError(f"--{flag} must be a number >= 0 (the penalty's rate), got {s[flag]}")
    s.setdefault("epochs", 100)
    s.setdefault("batch_size", 32)
    s.setdefault("val", 0.0)
    s.setdefault("test", 0.2 if s["dataset"] else 0.0)
    s.setdefault("patience", 20)
    s.setdefault("scale", True)
    s.setdefault("checkpoint", None)
    s.setdefault("checkpoint_every", 1)
    s.setdefault("log", None)
    for flag in ("val", "test"):
        if not 0 <= s[flag] < 1:
            raise HandpropValueError(f"--{flag} must be a fraction of the rows in [0, 1), got {s[flag]}")
    if s["lr"] == 0:  # lr 0 never moves a weight: refuse it rather than diagnose it
        raise HandpropValueError(f"--lr must be positive, got {s['lr']:g}; the default is 0.001 for adam, 0.01 for sgd")
    for flag in ("epochs", "batch_size", "checkpoint_every"):  # checked here even if unused
        if s[flag] < 1:
            raise HandpropValueError(f"--{flag.replace('_', '-')} must be a positive integer, got {s[flag]}")
    if s["val"] + s["test"] >= 1:
        raise HandpropValueError(f"--val {s['val']} + --test {s['test']} leave no rows for training")
    if "patience" in typed and s["patience"] and not s["val"]:
        raise HandpropValueError(f"--patience {s['patience']} does nothing without --val: early stopping "
                                 "watches the validation loss; add --val 0.2, or leave --patience out")
    if "activation" in typed and is_network_spec(s["layers"]):
        raise HandpropValueError(f"--activation does nothing when --layers writes out the network: put the "
                                 f"activations in --layers itself, e.g. 'dense:64,{s['activation']},dense'")
    if "checkpoint_every" in typed and not s["checkpoint"]:
        raise HandpropValueError("--checkpoint-every does nothing without --checkpoint PATH: add it, or leave "
                                 "--checkpoint-every out")
    return s


def is_network_spec(text):
    """Whether ``--layers`` writes out the network (``reshape:1x40,conv:25x5/2,relu,...``, the grammar
    of ``handprop.layerspec``) rather than listing hidden sizes (``64,32``)."""
    first = str(text).split(",")[0].strip()  # sizes start with a number; a network with a layer's name
    return bool(first) and not first[0].isdigit() and str(text).strip().lower() != "none"


def parse_layers(text):
    """The hidden sizes of ``--layers`` (``"64,32"``); their memory is checked by ``build``. A written
    out network (``is_network_spec``) has none: its layers come from ``handprop.layerspec``."""
    if is_network_spec(text):
        return None
    if str(text).lower() in ("", "none"):
        return []
    try:
        sizes = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise HandpropValueError(f"--layers must be comma-separated sizes like 64,32 (or a network written out, "
                                 f"such as dense:64,relu,dense: see handprop train --help), got {text!r}") from None
    if any(v < 1 for v in sizes):
        raise HandpropValueError(f"--layers sizes must be positive, got {text!r}")
    return sizes


def check_saved_settings(where, saved, what="the checkpoint's settings"):
    """Settings saved in a file (a checkpoint's, a model's training record), every key present with a
    value of its type: they come from a file. ``what`` names them in errors."""
    from ..errors import FileFormatError

    if not isinstance(saved, dict):
        raise FileFormatError(f"{where}: {what} are not an object")
    for key in FILE_SETTINGS:  # how the file was read: absent in checkpoints written before these flags
        saved.setdefault(key, None)
    saved.setdefault("l1", 0.0)  # so were the penalties
    saved.setdefault("l2", 0.0)
    missing = sorted(set(SETTINGS) - set(saved))
    if missing:
        raise FileFormatError(f"{where}: {what} lack {', '.join(missing)}; it cannot be "
                              "resumed with handprop train")
    for key, kind in SETTINGS.items():
        value = saved[key]
        if isinstance(kind, tuple) and isinstance(kind[0], str):
            ok = value in kind
        else:  # True is an int to Python, not to a setting
            ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            raise FileFormatError(f"{where}: {what[:-1]} {key} is {value!r:.80}, not a valid value")
    try:
        resolve(dict(saved), saved["task"], typed=())  # the ranges typed flags are held to
        parse_layers(saved["layers"])
        if not 0 <= saved["seed"] < 2**32 or (saved["n"] is not None and saved["n"] < 1):
            raise HandpropValueError(f"seed {saved['seed']} or n {saved['n']} is out of range")
    except HandpropValueError as exc:
        raise FileFormatError(f"{where}: {what}: {exc}") from None


def check_resume(args, saved):
    """The checkpoint's settings, refusing typed flags that would change the run. Output paths come
    from this command line alone: checkpoints go to --checkpoint, else back to the --resume file;
    the history to --log, else nowhere."""
    check_saved_settings(args.resume, saved)
    given = given_settings(args)
    for key, value in given.items():
        if key in RESUME_FREE or value == saved.get(key):
            continue
        raise HandpropValueError(
            f"--resume: {key} is {value!r} here but {saved.get(key)!r} in the checkpoint; a resumed run "
            "keeps the checkpoint's data and settings (only --epochs, --checkpoint and --log may change)")
    s = {k: v for k, v in saved.items() if k in SETTINGS}
    s.update({k: v for k, v in given.items() if k in RESUME_FREE})
    s["checkpoint"] = given.get("checkpoint", os.path.abspath(args.resume))
    s["log"] = given.get("log")
    return s


def build(s, n_features, n_classes, y_dim, rows=1):
    """Model, loss and optimizer from the settings; refuses sizes whose memory (or, for absurd
    counts, time) cannot be had before any weight is allocated."""
    from .. import losses
    from ..layerspec import parse_layers as parse_network
    from ..model import Sequential, mlp
    from ..optimizers import SGD, Adam

    if s["task"] == "classification":
        if s["loss"] == "mse":
            raise HandpropValueError("--loss mse is for regression; classes are trained with ce (or bce for 2 classes)")
        if s["loss"] == "bce" and n_classes != 2:
            raise HandpropValueError(f"--loss bce needs exactly 2 classes, the target has {n_classes}; use ce")
        n_out = 1 if s["loss"] == "bce" else n_classes
        loss = losses.BCE(from_logits=True) if s["loss"] == "bce" else losses.CrossEntropy()
    else:
        if s["loss"] != "mse":
            raise HandpropValueError(f"--loss {s['loss']} is for classes; a numeric target is trained with mse")
        n_out, loss = y_dim, losses.MSE()
    rng = np.random.default_rng([s["seed"], 1])
    if is_network_spec(s["layers"]):  # each layer refuses weights that memory cannot hold as it is made
        model = Sequential(parse_network(s["layers"], n_features, n_out, rng=rng))
    else:
        sizes = [n_features] + parse_layers(s["layers"]) + [n_out]
        check_network_size(s, sizes, rows)
        model = mlp(sizes, s["activation"], output=None, rng=rng)
    for layer in model.layers:  # --l1/--l2: l1·Σ|W| + l2·ΣW² for every Dense layer's weights
        if hasattr(layer, "l2"):
            layer.l1, layer.l2 = float(s["l1"]), float(s["l2"])
    if s["optimizer"] == "adam":
        opt = Adam(lr=s["lr"], weight_decay=s["weight_decay"])
    else:
        opt = SGD(lr=s["lr"], momentum=s["momentum"], weight_decay=s["weight_decay"])
    return model, loss, opt


def describe(s, n_rows, n_features, why, info, model, loss, opt):
    src = f"--dataset {s['dataset']}" if s["dataset"] else printable(s["data"])
    lines = [f"data: {src}: {n_rows} rows, {n_features} features; target {info.target_name!r}"]
    if s["task"] == "classification":
        names = info.class_names
        shown = ", ".join(map(printable, names[:10])) + (", ..." if len(names) > 10 else "")
        lines.append(f"task: classification ({why}): {len(names)} classes [{shown}]")
    else:
        lines.append(f"task: regression ({why})")
    out = {"ce": "logits, softmax cross-entropy (ce)", "bce": "one logit, binary cross-entropy (bce)",
           "mse": "linear output, mean squared error (mse)"}[s["loss"]]
    hidden = parse_layers(s["layers"])
    if hidden is None:
        lines.append(f"model: {n_features} -> {printable(s['layers'])} -> {model.n_outputs}, {out}; "
                     f"{model.n_params:,} parameters")
    else:
        init = "He" if "relu" in s["activation"] else "Glorot"  # mlp's choice for the activation
        kind = f"{s['activation']} hidden layers ({init} init)" if hidden else "no hidden layer (a linear model)"
        sizes = " -> ".join(str(v) for v in [n_features] + hidden + [model.n_outputs])
        lines.append(f"model: {sizes}, {kind}, {out}; {model.n_params:,} parameters")
    lines.append(f"optimizer: {opt!r}; {s['epochs']} epochs, batch size {s['batch_size']}, seed {s['seed']}")
    if s["l1"] or s["l2"]:
        lines.append(f"penalty on every Dense layer's weights: {s['l1']:g}·Σ|W| + {s['l2']:g}·ΣW² (--l1, --l2)")
    parts = [f"validation {s['val']:.0%}" + (f" (early stopping, patience {s['patience']})"
                                             if s["patience"] else "") if s["val"] else "no validation"]
    parts.append(f"test {s['test']:.0%}" if s["test"] else "no test part")
    scaled = "inputs standardised" + (" and target" if info.y_scaler is not None else "")
    parts.append(scaled + " (training rows' mean/std)" if s["scale"] else "inputs not scaled")
    lines.append("split: " + ", ".join(parts))
    return "\n".join(lines)
