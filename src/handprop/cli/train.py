"""``handprop train``: data in, a trained and saved model out, with every default said aloud.

Defaults, chosen so that a user who gives only the data and the target gets a good model:
classification (text labels, or whole numbers with at most 50 distinct values) is trained with
softmax cross-entropy on logits, regression with MSE on a linear output; hidden layers 128,64 ReLU
(He init); Adam, lr 0.001, weight decay 0.001; 100 epochs of batches of 32; inputs (and regression
targets) standardised with statistics of the training rows. ``--val`` adds validation with early
stopping; ``--dataset`` holds out 20% as a test part.

The resolved settings (``handprop.cli.settings``) are one dict, saved in checkpoints: ``--resume``
rebuilds the same data, split and callbacks from it, so the resumed run continues bit for bit.
Output paths are never saved nor read back: a resumed run writes checkpoints to its ``--checkpoint``
(else back to the ``--resume`` file) and its history to its ``--log`` (else nowhere).
``handprop.cli.checks`` refuses outputs that are inputs, and sizes this machine cannot hold, before
any data is read.
"""

import sys

import numpy as np

from ..errors import DataError, HandpropValueError
from ..layerspec import GRAMMAR as LAYER_GRAMMAR
from ..layerspec import parse_layers as parse_network
from .advice import training_record
from .checks import check_network_size, check_outputs, check_source_size
from .common import add_teaching_flags, after_training, score_model, seed_arg
from .settings import (OUTPUT_SETTINGS, SKLEARN_SETS, build, check_resume, describe, detect_task, given_settings,
                       load_source, parse_layers, resolve, source_settings, split_rows)
from .source import add_file_flags


# ----------------------------------------------------------------------------------- parser
def add_train_command(sub):
    """Add ``train`` to the subparsers ``sub``."""
    p = sub.add_parser("train", help="train a network on a CSV/NPZ file or a built-in data set",
                       description="Train an MLP. Only DATA (or --dataset) is needed: every other "
                                   "setting has a default, printed at the start.")
    p.add_argument("data", nargs="?", help="a .csv/.tsv/.txt (header row) or .npz (X, y) file")
    p.add_argument("--dataset", help="a built-in set instead of DATA: moons, circles, spirals, xor, "
                                     "blobs, regression, ... or digits, iris, breast_cancer, wine (scikit-learn)")
    p.add_argument("--target", help="target column of DATA (default: the last column); "
                                    "several numeric targets: t1,t2")
    add_file_flags(p, train=True)
    p.add_argument("--n", type=int, help="rows to generate for --dataset (default 1000)")
    p.add_argument("--noise", type=float, help="noise of a generated --dataset (default: the generator's)")
    p.add_argument("--task", choices=["classification", "regression"], help="default: from the target")
    p.add_argument("--layers", help="hidden layer sizes, e.g. 64,32 (default 128,64; 'none' for none), or the "
                                    "whole network written out, e.g. 'reshape:1x40,conv:25x5/2,relu,flatten,"
                                    "dense:10' (layers: " + LAYER_GRAMMAR + ")")
    p.add_argument("--activation", choices=["relu", "leaky_relu", "tanh", "sigmoid"], help="default relu")
    p.add_argument("--loss", choices=["ce", "bce", "mse"], help="default: ce for classes, mse for numbers")
    p.add_argument("--optimizer", choices=["adam", "sgd"], help="default adam")
    p.add_argument("--lr", type=float, help="learning rate (default 0.001 for adam, 0.01 for sgd)")
    p.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, help="L2 weight decay (default 0.001)")
    p.add_argument("--l1", type=float, help="L1 penalty l1·Σ|W| on every Dense layer's weights, in the loss "
                                           "(default 0)")
    p.add_argument("--l2", type=float, help="L2 penalty l2·ΣW² on every Dense layer's weights, in the loss "
                                           "(default 0; Keras' convention)")
    p.add_argument("--epochs", type=int, help="default 100")
    p.add_argument("--batch-size", type=int, help="default 32")
    p.add_argument("--val", type=float, help="fraction of rows for validation and early stopping (default 0)")
    p.add_argument("--test", type=float, help="fraction of rows held out and scored at the end "
                                              "(default 0.2 with --dataset, 0 for files)")
    p.add_argument("--patience", type=int, help="early stopping patience in epochs, with --val (default 20; 0: off)")
    p.add_argument("--no-scale", dest="scale", action="store_const", const=False, help="do not standardise")
    p.add_argument("--seed", type=seed_arg, help="seed of the splits, initial weights and shuffling (default 0)")
    p.add_argument("--out", default="model.npz", help="where to save the model (default model.npz)")
    p.add_argument("--checkpoint", help="save a resumable checkpoint here after every epoch")
    p.add_argument("--checkpoint-every", type=int, help="epochs between checkpoints (default 1)")
    p.add_argument("--log", help="write the history per epoch to this .csv or .json file")
    p.add_argument("--resume", help="continue the run saved in this checkpoint (same data and settings)")
    p.add_argument("--quiet", action="store_true", help="print only the final scores")
    add_teaching_flags(p)
    p.set_defaults(func=cmd_train)


# ----------------------------------------------------------------------------------- command
def _check_agrees(where, s, ckpt):
    """The settings a checkpoint stores against the model, loss and optimizer it holds."""
    from ..errors import FileFormatError

    model = ckpt.model
    said = {"layers": parse_layers(s["layers"]), "loss": s["loss"], "optimizer": s["optimizer"]}
    if said["layers"] is None:  # a written-out network: the layers it names, against those held
        said["layers"] = [repr(layer) for layer in parse_network(s["layers"], model.n_inputs, model.n_outputs)]
        hidden = [repr(layer) for layer in model.layers]
    else:
        hidden = [layer.n_out for layer in model.layers if hasattr(layer, "n_out")][:-1]
    found = {"layers": hidden, "loss": getattr(ckpt.loss, "name", None),
             "optimizer": type(ckpt.optimizer).__name__.lower()}
    for key, value in said.items():
        if found[key] != value:
            raise FileFormatError(f"{where}: the checkpoint's settings say {key} {value!r}, but it holds "
                                  f"{found[key]!r}; the file was altered or damaged")


def _start(args):
    """``(checkpoint or None, settings or None)``: a resumed run's, or None before the data is seen."""
    from ..io import load_checkpoint

    if args.resume:
        ckpt = load_checkpoint(args.resume)
        if not ckpt.settings:
            raise HandpropValueError(f"{args.resume}: this checkpoint was not written by handprop train; "
                                     "resume it from Python with fit(resume=...)")
        s = check_resume(args, ckpt.settings)
        _check_agrees(args.resume, s, ckpt)
        return ckpt, s
    if (args.data is None) == (args.dataset is None):
        raise HandpropValueError("train needs DATA (a file) or --dataset NAME, exactly one of them")
    return None, None


def _callbacks(s, val, info):
    """Early stopping (with validation), checkpoints and the log, all where this command line says."""
    from .. import callbacks as cb

    callbacks = []
    if val is not None and s["patience"]:
        callbacks.append(cb.EarlyStopping("val_loss", patience=s["patience"]))
    if s.get("checkpoint"):
        stored = {k: v for k, v in s.items() if k not in OUTPUT_SETTINGS}  # a file never names outputs
        callbacks.append(cb.ModelCheckpoint(s["checkpoint"], every=s["checkpoint_every"], info=info, settings=stored))
    if s.get("log"):
        callbacks.append(cb.JSONLogger(s["log"]) if s["log"].endswith(".json") else cb.CSVLogger(s["log"]))
    return callbacks


def _encode_target(y, class_names, classification, ckpt):
    """``(y, encoder)``: class indices and their LabelEncoder, or regression targets as columns."""
    from ..data import LabelEncoder

    if not classification:
        return np.asarray(y, dtype=np.float64).reshape(len(y), -1), None
    raw = np.asarray(class_names)[y] if class_names is not None else np.asarray(y)
    if raw.ndim != 1:
        raise DataError(f"classification needs one label per row; the target has shape {raw.shape}")
    # A resumed run keeps the classes it was trained with (the same, for the same data).
    encoder = ckpt.model.info.label_encoder if ckpt is not None else LabelEncoder().fit(raw)
    return encoder.transform(raw), encoder


def _model_for(s, ckpt, train, X, y, encoder, feature_names, target_name):
    """``(model, loss, optimizer, info)``: the checkpoint's, or new ones built from the settings."""
    from ..data import StandardScaler
    from ..io import ModelInfo

    if ckpt is not None:
        model = ckpt.model
        widths = [model.n_inputs] + [layer.n_out for layer in model.layers if hasattr(layer, "n_out")]
        check_network_size(s, widths, len(train[0]))
        return model, ckpt.loss, ckpt.optimizer, model.info
    classification = s["task"] == "classification"
    x_scaler = StandardScaler().fit(train[0], names=feature_names) if s["scale"] else None
    y_scaler = StandardScaler().fit(train[1]) if s["scale"] and not classification else None
    n_classes = len(encoder.classes_) if encoder else 0
    model, loss, opt = build(s, X.shape[1], n_classes, y.shape[1] if y.ndim == 2 else 1, rows=len(train[0]))
    info = ModelInfo(loss=loss, task=s["task"], x_scaler=x_scaler, y_scaler=y_scaler,
                     label_encoder=encoder, feature_names=feature_names, target_name=target_name,
                     optimizer=opt)
    model.info = info
    return model, loss, opt, info


def _batch_size(s, args, n_rows):
    """The settings' batch size, or None (full batch) when it covers every training row."""
    # A batch as large as the data is full-batch training; say so only if the user asked for it.
    batch_size = s["batch_size"] if s["batch_size"] < n_rows else None
    if batch_size is None and args.batch_size is not None and args.batch_size > n_rows:
        print(f"warning: --batch-size {args.batch_size} is larger than the {n_rows} training rows: "
              "every epoch is one full batch", file=sys.stderr)
    return batch_size


def _print_scores(model, info, parts):
    for name, part in zip(("train", "val", "test"), parts):
        if part is not None:
            scores, _ = score_model(model, info, part[0], part[1])
            for key, value in scores.items():
                print(f"{name} {key}: {value:.4f}")


def cmd_train(args):
    from ..blas import blas_threads, fit_batch_size
    from ..io import save, state_is_finite
    from ..training import fit

    ckpt, s = _start(args)
    source = s or source_settings(given_settings(args))
    check_outputs(args, s or given_settings(args))
    check_source_size(source, generated=source["dataset"] not in (None,) + SKLEARN_SETS)
    X, y, class_names, feature_names, target_name = load_source(source)
    task, why = detect_task(y, class_names)
    if s is None:
        s = resolve(given_settings(args), task)
    if s["task"] != task or args.task:
        why = "--task"
    classification = s["task"] == "classification"
    y, encoder = _encode_target(y, class_names, classification, ckpt)
    train, val, test = split_rows(X, y, s, stratify=classification)
    model, loss, opt, info = _model_for(s, ckpt, train, X, y, encoder, feature_names, target_name)
    info.training = training_record(s, None if ckpt is not None else given_settings(args))  # for the doctor
    fit_y = (lambda v: v.astype(np.float64)) if s["loss"] == "bce" else (
        (lambda v: info.y_scaler.transform(v)) if info.y_scaler is not None else (lambda v: v))
    if not args.quiet:
        print(describe(s, len(X), X.shape[1], why, info, model, loss, opt))
        if ckpt is not None:
            print(f"resuming {args.resume}: {ckpt.epochs_done} of {s['epochs']} epochs done")
    batch_size = _batch_size(s, args, len(train[0]))
    with blas_threads(model, fit_batch_size(batch_size, train[0])):  # one BLAS thread for a small model
        history = fit(model, info.prepare(train[0]), fit_y(train[1]), loss=loss, optimizer=opt,
                      epochs=s["epochs"], batch_size=batch_size, seed=[s["seed"], 2],
                      validation_data=None if val is None else (info.prepare(val[0]), fit_y(val[1])),
                      metrics=["accuracy"] if classification else ["r2"], callbacks=_callbacks(s, val, info),
                      progress=not args.quiet, resume=None if ckpt is None else ckpt.resume)
    if history.stop_reason and not args.quiet:
        print(f"stopped: {history.stop_reason}")
    _print_scores(model, info, (train, val, test))
    # Adam's m, v, t for `explain --model` (not after an early stop: its weights may be an earlier epoch's)
    keep = not history.stop_reason and state_is_finite(opt)
    save(model, args.out, info=info, optimizer_state=opt if keep else None)
    if not args.quiet:
        print(f"saved {args.out}")
    args.no_doctor = args.no_doctor or args.quiet
    held = val if val is not None else test  # rows not trained on: the train/held-out gap
    after_training(args, model, loss, info.prepare(train[0]), fit_y(train[1]), history, optimizer=opt,
                   held_out=None if held is None else (info.prepare(held[0]), fit_y(held[1])))
    return 130 if history.stop_reason and history.stop_reason.startswith("interrupted") else 0
