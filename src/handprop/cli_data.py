"""The real-data subcommands of ``handprop``: ``train``, ``evaluate``, ``predict``, ``summary``.

``cli.make_parser`` registers them with ``add_commands(sub)``; they live here to keep ``cli.py``
short. Every ``cmd_*`` returns an exit code: 0 success, 2 bad input (raised as HandpropError and
printed by ``cli.main``), 130 interrupted by Ctrl-C (the model trained so far is still saved).

Defaults, chosen so that a user who gives only the data and the target gets a good model:
classification (string labels, or whole numbers with at most 50 distinct values) is trained with
softmax cross-entropy on logits, regression with MSE on a linear output; hidden layers 128,64 ReLU
(He init); Adam, lr 0.001, weight decay 0.001; 100 epochs of batches of 32; inputs (and regression
targets) standardised with statistics of the training rows.
"""

import os
import sys

import numpy as np

from .errors import DataError, HandpropValueError

SKLEARN_SETS = ("digits", "iris", "breast_cancer", "wine")
MAX_CLASSES = 50
# Settings a resumed run may change without leaving the run it continues.
RESUME_FREE = {"epochs", "checkpoint", "checkpoint_every", "log"}


# ----------------------------------------------------------------------------------- parser
def add_commands(sub):
    """Add ``train``, ``evaluate``, ``predict`` and ``summary`` to the subparsers ``sub``."""
    p = sub.add_parser("train", help="train a network on a CSV/NPZ file or a built-in data set",
                       description="Train an MLP. Only DATA (or --dataset) is needed: every other "
                                   "setting has a default, printed at the start.")
    p.add_argument("data", nargs="?", help="a .csv/.tsv/.txt (header row) or .npz (X, y) file")
    p.add_argument("--dataset", help="a built-in set instead of DATA: moons, circles, spirals, xor, "
                                     "blobs, regression, ... or digits, iris, breast_cancer, wine (scikit-learn)")
    p.add_argument("--target", help="target column of DATA (default: the last column)")
    p.add_argument("--n", type=int, help="rows to generate for --dataset (default 1000)")
    p.add_argument("--noise", type=float, help="noise of a generated --dataset (default: the generator's)")
    p.add_argument("--task", choices=["classification", "regression"], help="default: from the target")
    p.add_argument("--layers", help="hidden layer sizes, e.g. 64,32 (default 128,64; 'none' for none)")
    p.add_argument("--activation", choices=["relu", "leaky_relu", "tanh", "sigmoid"], help="default relu")
    p.add_argument("--loss", choices=["ce", "bce", "mse"], help="default: ce for classes, mse for numbers")
    p.add_argument("--optimizer", choices=["adam", "sgd"], help="default adam")
    p.add_argument("--lr", type=float, help="learning rate (default 0.001 for adam, 0.01 for sgd)")
    p.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, help="L2 weight decay (default 0.001)")
    p.add_argument("--epochs", type=int, help="default 100")
    p.add_argument("--batch-size", type=int, help="default 32")
    p.add_argument("--val", type=float, help="fraction of rows for validation and early stopping (default 0)")
    p.add_argument("--test", type=float, help="fraction of rows held out and scored at the end "
                                              "(default 0.2 with --dataset, 0 for files)")
    p.add_argument("--patience", type=int, help="early stopping patience in epochs, with --val (default 20; 0: off)")
    p.add_argument("--no-scale", dest="scale", action="store_const", const=False, help="do not standardise")
    p.add_argument("--seed", type=int, help="seed of the splits, initial weights and shuffling (default 0)")
    p.add_argument("--out", default="model.npz", help="where to save the model (default model.npz)")
    p.add_argument("--checkpoint", help="save a resumable checkpoint here after every epoch")
    p.add_argument("--checkpoint-every", type=int, help="epochs between checkpoints (default 1)")
    p.add_argument("--log", help="write the history per epoch to this .csv or .json file")
    p.add_argument("--resume", help="continue the run saved in this checkpoint (same data and settings)")
    p.add_argument("--quiet", action="store_true", help="print only the final scores")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a saved model on labelled data")
    p.add_argument("model", help="a model saved by train (.npz)")
    p.add_argument("data", help="a .csv/.npz file holding the model's features and the target")
    p.add_argument("--target", help="target column (default: the one the model was trained on)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="write predictions for DATA as CSV to stdout")
    p.add_argument("model")
    p.add_argument("data", help="a .csv/.npz/.npy file of features (a target column is ignored)")
    p.add_argument("--proba", action="store_true", help="add one probability column per class")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("summary", help="describe a saved model or checkpoint")
    p.add_argument("model")
    p.set_defaults(func=cmd_summary)


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
    return ds.X, ds.y, ds.class_names, ds.feature_names, ds.target_name


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
    lines.append(f"model: {' -> '.join(str(v) for v in [n_features] + _layers(s['layers']))} -> "
                 f"{model.n_outputs}, {s['activation']} hidden layers (He init), {out}; "
                 f"{model.n_params:,} parameters")
    lines.append(f"optimizer: {opt!r}; {s['epochs']} epochs, batch size {s['batch_size']}, seed {s['seed']}")
    parts = [f"validation {s['val']:.0%}" + (f" (early stopping, patience {s['patience']})"
                                             if s["patience"] else "") if s["val"] else "no validation"]
    parts.append(f"test {s['test']:.0%}" if s["test"] else "no test part")
    scaled = "inputs standardised" + (" and target" if info.y_scaler is not None else "")
    parts.append(scaled + " (training rows' mean/std)" if s["scale"] else "inputs not scaled")
    lines.append("split: " + ", ".join(parts))
    return "\n".join(lines)


def _scores(model, info, X, y_true):
    """Metrics on raw features ``X`` against raw-label indices / raw values ``y_true``."""
    from . import metrics

    if info.task == "classification":
        out = model.predict(info.prepare(X), batch_size=8192)
        labels = metrics.output_to_labels(out, from_logits=True)
        scores = {"accuracy": metrics.accuracy(y_true, labels)}
        if info.loss is not None:
            target = y_true.astype(np.float64) if getattr(info.loss, "from_logits", False) else y_true
            scores["loss"] = float(info.loss.forward(out, target))
        return scores, labels
    pred = info.predict(model, X)
    return {"mse": metrics.mse(y_true, pred), "mae": metrics.mae(y_true, pred), "r2": metrics.r2(y_true, pred)}, None


# ----------------------------------------------------------------------------------- commands
def cmd_train(args):
    from . import callbacks as cb
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
    classification = s["task"] == "classification"
    if classification:
        raw = np.asarray(class_names)[y] if class_names is not None else np.asarray(y)
        if raw.ndim != 1:
            raise DataError(f"classification needs one label per row; the target has shape {raw.shape}")
        encoder = LabelEncoder().fit(raw)
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
        model, loss, opt = _build(s, X.shape[1], len(encoder.classes_) if encoder else 0, y.shape[1] if y.ndim == 2 else 1)
        info = ModelInfo(loss=loss, task=s["task"], x_scaler=x_scaler, y_scaler=y_scaler,
                         label_encoder=encoder, feature_names=feature_names, target_name=target_name)
        model.info = info
    fit_y = (lambda v: v.astype(np.float64)) if s["loss"] == "bce" else (
        (lambda v: info.y_scaler.transform(v)) if info.y_scaler is not None else (lambda v: v))
    if not args.quiet:
        print(_describe(s, len(X), X.shape[1], why, info, model, loss, opt))
        if ckpt is not None:
            print(f"resuming {args.resume}: {ckpt.epochs_done} of {s['epochs']} epochs done")
    callbacks = []
    if val is not None and s["patience"]:
        callbacks.append(cb.EarlyStopping("val_loss", patience=s["patience"]))
    if s.get("checkpoint"):
        callbacks.append(cb.ModelCheckpoint(s["checkpoint"], every=s["checkpoint_every"], info=info, settings=s))
    if s.get("log"):
        callbacks.append(cb.JSONLogger(s["log"]) if s["log"].endswith(".json") else cb.CSVLogger(s["log"]))
    history = fit(model, info.prepare(train[0]), fit_y(train[1]), loss=loss, optimizer=opt, epochs=s["epochs"],
                  batch_size=s["batch_size"], seed=[s["seed"], 2],
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
    return 130 if history.stop_reason and history.stop_reason.startswith("interrupted") else 0


def _read_eval_data(path, info, n_inputs, target, need_target):
    """``(X, y)`` with X's columns in the model's feature order; y None if the file has no target.

    With ``need_target`` the target column is ``target``, else the model's, else the last one. Without
    it (predict), a target column present in the file is ignored and every other column is a feature.
    """
    from .data import load_data

    name = target or info.target_name
    if need_target:
        ds = load_data(path, target=name)
    else:
        try:
            ds = load_data(path, target=name) if name else None
        except DataError:  # no such column: a file of features only
            ds = None
        except HandpropValueError:  # a .npy file: features only by nature
            ds = load_data(path)
        if ds is None:
            ds = load_data(path)
            text = os.path.splitext(str(path))[1].lower() in (".csv", ".tsv", ".txt")
            if ds.y is not None and text:
                # The reader took the last column as the target; here it is a feature.
                if ds.class_names is not None:
                    raise DataError(f"{path}: column {ds.target_name!r} is not numeric")
                ds.X = np.column_stack([ds.X, np.asarray(ds.y, dtype=np.float64)])
                ds.feature_names = list(ds.feature_names) + [ds.target_name]
                ds.y = None
    X = ds.X
    names = info.feature_names
    if names and list(ds.feature_names) != names and set(names) <= set(ds.feature_names):
        pos = {name: j for j, name in enumerate(ds.feature_names)}
        X = np.asarray(X)[:, [pos[name] for name in names]]
    if X.shape[1] != n_inputs:
        raise DataError(f"{path}: {X.shape[1]} feature columns, but the model takes {n_inputs}"
                        + (f" ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})" if names else ""))
    y = ds.y
    if y is not None and ds.class_names is not None:
        y = np.asarray(ds.class_names)[y]
    return X, y


def _class_names(info, model):
    """Class names from the label encoder, else the output indices 0..k-1."""
    if info.class_names is not None:
        return info.class_names
    return [str(i) for i in range(max(model.n_outputs, 2))]


def _class_indices(info, y, n_classes):
    if info.label_encoder is not None:
        return info.label_encoder.transform(y)
    if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= n_classes)):
        raise DataError(f"the model has no class names, so the target must hold class indices 0..{n_classes - 1}")
    return y.astype(np.int64)


def cmd_evaluate(args):
    from .io import load
    from .metrics import confusion_matrix, format_confusion

    model = load(args.model)
    info = model.info
    X, y = _read_eval_data(args.data, info, model.n_inputs, args.target, need_target=True)
    if y is None:
        raise DataError(f"{args.data}: no target column {info.target_name!r} to score against")
    if info.task is None:
        raise DataError(f"{args.model}: the model does not say whether it classifies or regresses; "
                        "save it with its loss (model.save(path, loss=...))")
    if info.task == "classification":
        y = _class_indices(info, np.asarray(y), len(_class_names(info, model)))
    else:
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    scores, labels = _scores(model, info, X, y)
    print(f"samples: {len(X)}")
    for key, value in scores.items():
        print(f"{key}: {value:.4f}")
    if labels is not None:
        names = _class_names(info, model)
        C = confusion_matrix(y, labels, n_classes=len(names))
        print("confusion matrix (rows: true class, columns: predicted class):")
        print(format_confusion(C, names))
    return 0


def cmd_predict(args):
    import csv

    from .io import load

    model = load(args.model)
    info = model.info
    X, _ = _read_eval_data(args.data, info, model.n_inputs, None, need_target=False)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    if info.task is None:
        raise DataError(f"{args.model}: the model does not say whether it classifies or regresses; "
                        "save it with its loss (model.save(path, loss=...))")
    if info.task == "classification":
        labels = info.predict(model, X)
        header = [info.target_name or "label"]
        proba = info.probabilities(model.predict(info.prepare(X), batch_size=8192)) if args.proba else None
        if args.proba:
            header += [f"p_{c}" for c in _class_names(info, model)]
        writer.writerow(header)
        for i, label in enumerate(labels.tolist()):
            writer.writerow([label] + ([repr(float(p)) for p in proba[i]] if args.proba else []))
    else:
        if args.proba:
            raise HandpropValueError("--proba is for classification models; this one does regression")
        pred = info.predict(model, X)
        k = pred.shape[1]
        name = info.target_name or "prediction"
        writer.writerow([name] if k == 1 else [f"{name}_{j}" for j in range(k)])
        for row in pred:
            writer.writerow([repr(float(v)) for v in row])
    return 0


def cmd_summary(args):
    from .io import _load

    config, _, model = _load(args.model)
    info = model.info
    print(f"{args.model}: handprop model (format {config['format_version']}, "
          f"written by handprop {config.get('handprop_version')})")
    print(model.summary())
    print(f"loss: {info.loss!r}" if info.loss is not None else "loss: not recorded")
    if info.task:
        print(f"task: {info.task}" + (f", classes: {', '.join(info.class_names)}" if info.class_names else ""))
    if info.feature_names:
        names = info.feature_names
        print(f"features: {len(names)} ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})")
    if info.target_name:
        print(f"target: {info.target_name}")
    pre = [n for n, o in (("inputs", info.x_scaler), ("target", info.y_scaler)) if o is not None]
    print("standardised: " + (", ".join(pre) if pre else "nothing"))
    ck = config.get("checkpoint")
    if ck:
        print(f"checkpoint: {ck.get('epochs_done')} of {ck.get('epochs')} epochs done, "
              f"optimizer {ck['optimizer']['class']} {ck['optimizer']['config']}")
    return 0
