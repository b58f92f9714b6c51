"""``handprop train``: data in, a trained and saved model out, with every default said aloud.

Defaults, chosen so that a user who gives only the data and the target gets a good model:
classification (text labels, or whole numbers with at most 50 distinct values) is trained with
softmax cross-entropy on logits, regression with MSE on a linear output; hidden layers 128,64 ReLU
(He init); Adam, lr 0.001, weight decay 0.001; 100 epochs of batches of 32; inputs (and regression
targets) standardised with statistics of the training rows. ``--val`` adds validation with early
stopping; ``--dataset`` holds out 20% as a test part.

The resolved settings are one dict, saved in checkpoints: ``--resume`` rebuilds the same data,
split and callbacks from it, so the resumed run continues bit for bit.
"""

import os
import sys

import numpy as np

from .errors import DataError, HandpropValueError

SKLEARN_SETS = ("digits", "iris", "breast_cancer", "wine")
MAX_CLASSES = 50
# Settings a resumed run may change without leaving the run it continues.
RESUME_FREE = {"epochs", "checkpoint", "checkpoint_every", "log"}


# ----------------------------------------------------------------------------------- data
def _load_source(s):
    """``(X, y, class_names, feature_names, target_name)`` from the settings' data source."""
    from .data import load_data, load_sklearn, make_dataset

    if s["dataset"] in SKLEARN_SETS:
        ds = load_sklearn(s["dataset"])
    elif s["dataset"] is not None:
        kw = {"n": s["n"], "seed": s["seed"]}
        if s["noise"] is not None:
            kw["noise"] = s["noise"]
        X, y = make_dataset(s["dataset"], **kw)
        return X, y, None, [f"x{j}" for j in range(X.shape[1])], "y"
    else:
        ds = load_data(s["data"], target=s["target"])
    if ds.y is None:
        raise DataError(f"{s['data']}: no target in this file; save X and y together (np.savez(path, X=X, y=y))")
    _check_finite(s["data"], ds.X, ds.y)
    return ds.X, ds.y, ds.class_names, ds.feature_names, ds.target_name


def _check_finite(path, X, y=None):
    """NaN/inf rows named as rows of the file (before any split shuffles them). CSV readers
    already report line and column; arrays from .npz/.npy files are checked here."""
    from ._safety import check_finite

    for name, a in (("X", X), ("y", y)):
        if a is not None and np.asarray(a).dtype.kind == "f":
            try:
                check_finite(name, np.asarray(a))
            except DataError as exc:
                raise DataError(f"{path}: {exc}") from None


def _detect_task(y, class_names):
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


def _split(X, y, s, stratify):
    """Train / validation / test parts (fractions of all rows), reproducible from the seed."""
    from .data import train_test_split, train_val_test_split

    val, test, seed = s["val"], s["test"], s["seed"]
    if val and test:
        Xt, Xv, Xs, yt, yv, ys = train_val_test_split(X, y, val, test, seed=seed, stratify=stratify)
        return (Xt, yt), (Xv, yv), (Xs, ys)
    if val or test:
        Xt, Xo, yt, yo = train_test_split(X, y, val or test, seed=seed, stratify=stratify)
        return (Xt, yt), ((Xo, yo) if val else None), ((Xo, yo) if test else None)
    return (X, y), None, None


# ----------------------------------------------------------------------------------- settings
DATA_DEFAULTS = {"seed": 0, "n": 1000, "noise": None, "target": None}


def _given(args):
    """The settings the user typed (absent: not given), plus the data source."""
    keys = ["task", "layers", "activation", "loss", "optimizer", "lr", "momentum", "weight_decay",
            "epochs", "batch_size", "val", "test", "patience", "scale", "checkpoint",
            "checkpoint_every", "log", "n", "noise", "target", "seed"]
    given = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    for k in ("checkpoint", "log"):  # a resumed run may start in another directory
        if k in given:
            given[k] = os.path.abspath(given[k])
    if args.dataset is not None:
        given["dataset"] = args.dataset
    if args.data is not None:
        given["data"] = os.path.abspath(args.data)
    return given


def _source(given):
    """The data-source settings, defaults filled in."""
    s = dict(DATA_DEFAULTS, dataset=None, data=None)
    s.update({k: v for k, v in given.items() if k in s})
    return s


def _resolve(given, task):
    """Every training setting, with defaults filled in: the run is exactly this dict."""
    s = _source(given)
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
    for flag in ("epochs", "batch_size", "checkpoint_every"):  # checked here even if unused
        if s[flag] < 1:
            raise HandpropValueError(f"--{flag.replace('_', '-')} must be a positive integer, got {s[flag]}")
    if s["val"] + s["test"] >= 1:
        raise HandpropValueError(f"--val {s['val']} + --test {s['test']} leave no rows for training")
    return s


def _layers(text):
    if str(text).lower() in ("", "none"):
        return []
    try:
        sizes = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise HandpropValueError(f"--layers must be comma-separated sizes like 64,32, got {text!r}") from None
    if any(v < 1 for v in sizes):
        raise HandpropValueError(f"--layers sizes must be positive, got {text!r}")
    return sizes


def _check_resume(args, saved):
    """The checkpoint's settings, refusing typed flags that would change the run."""
    given = _given(args)
    for key, value in given.items():
        if key in RESUME_FREE or value == saved.get(key):
            continue
        raise HandpropValueError(
            f"--resume: {key} is {value!r} here but {saved.get(key)!r} in the checkpoint; a resumed run "
            "keeps the checkpoint's data and settings (only --epochs, --checkpoint and --log may change)")
    s = dict(saved)
    s.update({k: v for k, v in given.items() if k in RESUME_FREE})
    return s


def _build(s, n_features, n_classes, y_dim):
    from . import losses
    from .model import mlp
    from .optimizers import SGD, Adam

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
    sizes = [n_features] + _layers(s["layers"]) + [n_out]
    model = mlp(sizes, s["activation"], output=None, rng=np.random.default_rng([s["seed"], 1]))
    if s["optimizer"] == "adam":
        opt = Adam(lr=s["lr"], weight_decay=s["weight_decay"])
    else:
        opt = SGD(lr=s["lr"], momentum=s["momentum"], weight_decay=s["weight_decay"])
    return model, loss, opt


def _describe(s, n_rows, n_features, why, info, model, loss, opt):
    src = f"--dataset {s['dataset']}" if s["dataset"] else s["data"]
    lines = [f"data: {src}: {n_rows} rows, {n_features} features; target {info.target_name!r}"]
    if s["task"] == "classification":
        names = info.class_names
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        lines.append(f"task: classification ({why}): {len(names)} classes [{shown}]")
    else:
        lines.append(f"task: regression ({why})")
    out = {"ce": "logits, softmax cross-entropy (ce)", "bce": "one logit, binary cross-entropy (bce)",
           "mse": "linear output, mean squared error (mse)"}[s["loss"]]
    hidden = _layers(s["layers"])
    init = "He" if "relu" in s["activation"] else "Glorot"  # mlp's choice for the activation
    kind = f"{s['activation']} hidden layers ({init} init)" if hidden else "no hidden layer (a linear model)"
    sizes = " -> ".join(str(v) for v in [n_features] + hidden + [model.n_outputs])
    lines.append(f"model: {sizes}, {kind}, {out}; {model.n_params:,} parameters")
    lines.append(f"optimizer: {opt!r}; {s['epochs']} epochs, batch size {s['batch_size']}, seed {s['seed']}")
    parts = [f"validation {s['val']:.0%}" + (f" (early stopping, patience {s['patience']})"
                                             if s["patience"] else "") if s["val"] else "no validation"]
    parts.append(f"test {s['test']:.0%}" if s["test"] else "no test part")
    scaled = "inputs standardised" + (" and target" if info.y_scaler is not None else "")
    parts.append(scaled + " (training rows' mean/std)" if s["scale"] else "inputs not scaled")
    lines.append("split: " + ", ".join(parts))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- command
def cmd_train(args):
    from . import callbacks as cb
    from .cli_data import _scores
    from .data import LabelEncoder, StandardScaler
    from .io import ModelInfo, load_checkpoint, save
    from .training import fit

    ckpt = None
    if args.resume:
        ckpt = load_checkpoint(args.resume)
        if not ckpt.settings:
            raise HandpropValueError(f"{args.resume}: this checkpoint was not written by handprop train; "
                                     "resume it from Python with fit(resume=...)")
        s = _check_resume(args, ckpt.settings)
    else:
        if (args.data is None) == (args.dataset is None):
            raise HandpropValueError("train needs DATA (a file) or --dataset NAME, exactly one of them")
        s = None
    X, y, class_names, feature_names, target_name = _load_source(s or _source(_given(args)))
    task, why = _detect_task(y, class_names)
    if s is None:
        s = _resolve(_given(args), task)
    if s["task"] != task or args.task:
        why = "--task"
    classification = s["task"] == "classification"
    if classification:
        raw = np.asarray(class_names)[y] if class_names is not None else np.asarray(y)
        if raw.ndim != 1:
            raise DataError(f"classification needs one label per row; the target has shape {raw.shape}")
        # A resumed run keeps the classes it was trained with (the same, for the same data).
        encoder = ckpt.model.info.label_encoder if ckpt is not None else LabelEncoder().fit(raw)
        y = encoder.transform(raw)
    else:
        encoder = None
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    train, val, test = _split(X, y, s, stratify=classification)
    if ckpt is not None:
        model, loss, opt, info = ckpt.model, ckpt.loss, ckpt.optimizer, ckpt.model.info
    else:
        x_scaler = StandardScaler().fit(train[0]) if s["scale"] else None
        y_scaler = StandardScaler().fit(train[1]) if s["scale"] and not classification else None
        n_classes = len(encoder.classes_) if encoder else 0
        model, loss, opt = _build(s, X.shape[1], n_classes, y.shape[1] if y.ndim == 2 else 1)
        info = ModelInfo(loss=loss, task=s["task"], x_scaler=x_scaler, y_scaler=y_scaler,
                         label_encoder=encoder, feature_names=feature_names, target_name=target_name)
        model.info = info
    fit_y = (lambda v: v.astype(np.float64)) if s["loss"] == "bce" else (
        (lambda v: info.y_scaler.transform(v)) if info.y_scaler is not None else (lambda v: v))
    if not args.quiet:
        print(_describe(s, len(X), X.shape[1], why, info, model, loss, opt))
        if ckpt is not None:
            print(f"resuming {args.resume}: {ckpt.epochs_done} of {s['epochs']} epochs done")
    from ._files import check_writable

    for path in (args.out, s.get("checkpoint"), s.get("log")):
        if path:
            check_writable(path)
    # A batch as large as the data is full-batch training; say so only if the user asked for it.
    batch_size = s["batch_size"] if s["batch_size"] < len(train[0]) else None
    if batch_size is None and args.batch_size is not None and args.batch_size > len(train[0]):
        print(f"warning: --batch-size {args.batch_size} is larger than the {len(train[0])} training rows: "
              "every epoch is one full batch", file=sys.stderr)
    callbacks = []
    if val is not None and s["patience"]:
        callbacks.append(cb.EarlyStopping("val_loss", patience=s["patience"]))
    if s.get("checkpoint"):
        callbacks.append(cb.ModelCheckpoint(s["checkpoint"], every=s["checkpoint_every"], info=info, settings=s))
    if s.get("log"):
        callbacks.append(cb.JSONLogger(s["log"]) if s["log"].endswith(".json") else cb.CSVLogger(s["log"]))
    history = fit(model, info.prepare(train[0]), fit_y(train[1]), loss=loss, optimizer=opt, epochs=s["epochs"],
                  batch_size=batch_size, seed=[s["seed"], 2],
                  validation_data=None if val is None else (info.prepare(val[0]), fit_y(val[1])),
                  metrics=["accuracy"] if classification else ["r2"], callbacks=callbacks,
                  progress=not args.quiet, resume=None if ckpt is None else ckpt.resume)
    if history.stop_reason and not args.quiet:
        print(f"stopped: {history.stop_reason}")
    for name, part in (("train", train), ("val", val), ("test", test)):
        if part is not None:
            scores, _ = _scores(model, info, part[0], part[1])
            for key, value in scores.items():
                print(f"{name} {key}: {value:.4f}")
    save(model, args.out, info=info)
    if not args.quiet:
        print(f"saved {args.out}")
    from .cli import after_training

    args.no_doctor = args.no_doctor or args.quiet
    after_training(args, model, loss, info.prepare(train[0]), fit_y(train[1]), history)
    return 130 if history.stop_reason and history.stop_reason.startswith("interrupted") else 0
