"""The saved-model subcommands of ``handprop``: ``evaluate``, ``predict``, ``summary``.

``handprop.cli.make_parser`` registers them with ``add_commands(sub)`` (``train`` lives in
``handprop.cli.train``). Every ``cmd_*`` returns an exit code: 0 success, 2 bad
input (raised as HandpropError and printed by ``handprop.cli.main``), 130 interrupted by Ctrl-C (the model
trained so far is still saved).

``evaluate`` prints ``name: value`` lines (``accuracy: 0.9750``) that a script can read, then a
confusion matrix for classes; ``predict`` writes CSV to stdout.
"""

import sys

import numpy as np

from ..data.tables import is_number, printable, spreadsheet_safe
from ..errors import DataError, HandpropValueError
from .common import score_model
from .source import (add_file_flags, check_array_kinds, check_source_finite, delimiter, names_list,
                     names_list_or_none, report_dropped)


# ----------------------------------------------------------------------------------- parser
def add_commands(sub):
    """Add ``evaluate``, ``predict`` and ``summary`` to the subparsers ``sub``."""
    p = sub.add_parser("evaluate", help="score a saved model on labelled data")
    p.add_argument("model", help="a model saved by train (.npz)")
    p.add_argument("data", help="a .csv/.npz file holding the model's features and the target")
    p.add_argument("--target", help="target column (default: the one the model was trained on)")
    add_file_flags(p, evaluate=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="write predictions for DATA as CSV to stdout")
    p.add_argument("model")
    p.add_argument("data", help="a .csv/.npz/.npy file of features (a target column is ignored)")
    p.add_argument("--proba", action="store_true", help="add one probability column per class")
    add_file_flags(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("summary", help="describe a saved model or checkpoint")
    p.add_argument("model")
    p.set_defaults(func=cmd_summary)


# ----------------------------------------------------------------------------------- commands
def _rerun(args, *extra):
    """The command line that was run, with ``extra`` flags added: a fix printed as a command."""
    import shlex

    argv = ["handprop", args.command, args.model, args.data]
    for flag in ("target", "delimiter"):
        if getattr(args, flag, None) is not None:
            argv += [f"--{flag}", getattr(args, flag)]
    argv += [f for f, on in (("--no-header", args.no_header), ("--proba", getattr(args, "proba", False)),
                             ("--drop-missing-target", getattr(args, "drop_missing_target", False))) if on]
    return shlex.join(argv + list(extra))


def _shown(names, limit=8):
    return ", ".join(printable(n) for n in names[:limit]) + (", ..." if len(names) > limit else "")


def _match_by_name(path, names, columns, target, args, n_inputs, need_target):
    """Refuse a file that lacks some of the model's columns; say what would work."""
    present = [n for n in names if n in columns]
    if present and len(present) < len(names):  # some of the model's columns, not all: a wrong file
        missing = [n for n in names if n not in present]
        raise DataError(f"{path}: no column(s) {', '.join(repr(m) for m in missing[:8])} that the "
                        f"model was trained on; the file has: {_shown(columns, 12)}")
    if present:
        return
    targets = [t for t in names_list_or_none(target) or [] if t in columns]
    feats = [c for c in columns if c not in targets]
    # --by-position is offered only where it would run: as many features, and the target found
    runs = len(feats) == n_inputs and (targets or not need_target)
    fix = (f"; if they are the model's features in the model's order, run: {_rerun(args, '--by-position')}"
           if runs else "")
    numbers = [c for c in columns if is_number(c)]
    if numbers:  # whole numbers may be names, but here none of them is the model's: likely data
        fix += (f". The first row holds numbers ({_shown(numbers, 4)}): if it is data, not a header, run: "
                f"{_rerun(args, '--no-header')}")
    raise DataError(f"{path}: none of the model's feature columns is in the file (columns are matched by "
                    f"name): {len(feats)} feature columns, but the model takes {n_inputs} ({_shown(names)}); "
                    f"the file has: {_shown(columns, 12)}. Rename the file's columns to the model's{fix}")


def _load_eval(path, info, n_inputs, args, need_target):
    """The Dataset of ``path``: by name for a text file with a header and a model with names, else by
    position."""
    from ..data import load_data
    from ..data.readers import column_names, default_feature_names

    target = getattr(args, "target", None) or info.target_name
    opts = {"delimiter": delimiter(args.delimiter), "header": not args.no_header, "n_features": n_inputs}
    names = info.feature_names
    columns = None if args.no_header else column_names(path, delimiter(args.delimiter))
    if args.by_position and columns is None and not args.no_header:
        raise HandpropValueError(f"{path}: --by-position does nothing here: an array file has no column names, "
                                 "so its columns are always taken in order; leave --by-position out")
    named = bool(names) and list(names) != default_feature_names(len(names))
    if columns is not None and named and not args.by_position:
        _match_by_name(path, names, columns, target, args, n_inputs, need_target)
        opts["columns"] = names
    if args.no_header:
        target = getattr(args, "target", None)  # the columns are x0, x1, ...: the model's name cannot apply
    if need_target:
        ds = load_data(path, target=names_list(target),
                       missing_target="drop" if args.drop_missing_target else "error", **opts)
        report_dropped(ds, path)
        return ds
    # predict: a target column in the file is ignored (never read, so it may be empty or text)
    present = [t for t in names_list_or_none(target) or [] if t in (columns or ())]
    if present and "columns" not in opts:
        opts["drop"] = present
    return load_data(path, has_target=False, **opts)


def _read_eval_data(path, info, n_inputs, args, need_target):
    """``(X, y)`` with X's columns in the model's feature order; y None if the file has no target.

    Columns are matched by name when the file has a header and the model has names; otherwise (an
    array file, ``--no-header``, ``--by-position``, a model without names) by position, and then the
    counts must be equal. With ``need_target`` the target column is ``--target``, else the model's,
    else the last one. Without it (predict), a target column present in the file is ignored.
    """
    ds = _load_eval(path, info, n_inputs, args, need_target)
    X, names = ds.X, info.feature_names
    check_array_kinds(path, X, None)
    if X.ndim != 2 or X.shape[1] != n_inputs:
        got = f"{X.shape[1]} feature columns" if X.ndim == 2 else f"features of shape {X.shape}"
        raise DataError(f"{path}: {got}, but the model takes {n_inputs}"
                        + (f" ({_shown(names)})" if names else ""))
    y = ds.y

    check_source_finite(path, X, y if ds.class_names is None else None)
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
    from ..io import load
    from ..metrics import confusion_matrix, format_confusion

    model = load(args.model)
    info = model.info
    X, y = _read_eval_data(args.data, info, model.n_inputs, args, need_target=True)
    if y is None:
        raise DataError(f"{args.data}: no target column {info.target_name!r} to score against")
    if info.task is None:
        raise DataError(f"{args.model}: the model does not say whether it classifies or regresses; "
                        "save it with its loss (model.save(path, loss=...))")
    if info.task == "classification":
        y = _class_indices(info, np.asarray(y), len(_class_names(info, model)))
    else:
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    scores, labels = score_model(model, info, X, y)
    print(f"samples: {len(X)}")
    for key, value in scores.items():
        print(f"{key}: {value:.4f}")
    if labels is not None:
        names = _class_names(info, model)
        C = confusion_matrix(y, labels, n_classes=len(names))
        print("confusion matrix (rows: true class, columns: predicted class):")
        print(format_confusion(C, [printable(n) for n in names]))
    return 0


def _output_names(info, k):
    """Column names of predict's CSV output: the target's name(s), or ``prediction_0..``."""
    name = info.target_name or "prediction"
    names = name.split(",")
    if k == 1:
        return [name]
    return names if len(names) == k else [f"{name}_{j}" for j in range(k)]


def cmd_predict(args):
    import csv

    from ..io import load

    model = load(args.model)
    info = model.info
    X, _ = _read_eval_data(args.data, info, model.n_inputs, args, need_target=False)
    # Text from the files (names, labels) is escaped, and made inert for spreadsheets: a cell such
    # as =HYPERLINK(...) would otherwise run when the CSV is opened.
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
        writer.writerow([spreadsheet_safe(h) for h in header])
        for i, label in enumerate(labels.tolist()):
            writer.writerow([spreadsheet_safe(label)] + ([repr(float(p)) for p in proba[i]] if args.proba else []))
    else:
        if args.proba:
            raise HandpropValueError("--proba is for classification models; this one does regression")
        pred = info.predict(model, X)
        writer.writerow([spreadsheet_safe(h) for h in _output_names(info, pred.shape[1])])
        for row in pred:
            writer.writerow([repr(float(v)) for v in row])
    return 0


def cmd_summary(args):
    from ..io import describe

    config, model = describe(args.model)
    info = model.info
    print(f"{printable(args.model)}: handprop model (format {config['format_version']}, "
          f"written by handprop {config.get('handprop_version')})")
    print(model.summary())
    print(f"loss: {info.loss!r}" if info.loss is not None else "loss: not recorded")
    if info.task:
        print(f"task: {info.task}" + (f", classes: {_shown(info.class_names, 50)}" if info.class_names else ""))
    if info.feature_names:
        names = info.feature_names
        print(f"features: {len(names)} ({_shown(names)})")
    if info.target_name:
        print(f"target: {printable(info.target_name)}")
    pre = [n for n, o in (("inputs", info.x_scaler), ("target", info.y_scaler)) if o is not None]
    print("standardised: " + (", ".join(pre) if pre else "nothing"))
    ck = config.get("checkpoint")
    if ck:
        print(f"checkpoint: {ck.get('epochs_done')} of {ck.get('epochs')} epochs done, "
              f"optimizer {ck['optimizer']['class']} {ck['optimizer']['config']}")
    return 0
