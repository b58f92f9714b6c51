"""The data side of the command line: how a file is read, and what is refused before training.

``train`` reads a data file with the flags ``--delimiter``, ``--no-header``, ``--columns``, ``--drop``
and ``--drop-missing-target``; ``evaluate`` shares the first two and the last, ``predict`` the first
two. Before a single
weight moves, the target is checked: not constant, not missing, of a kind the task can learn. An
option that would change nothing (``--n`` for a file, ``--target`` for a built-in set) is refused,
so that a typed flag always does what it says.
"""

import sys

import numpy as np

from ..data.tables import printable
from ..errors import DataError, HandpropValueError

MAX_CLASSES = 50

# Flags that read a data file: they do nothing with --dataset.
FILE_FLAGS = ("target", "delimiter", "no_header", "columns", "drop", "drop_missing_target")


def names_list(text):
    """``"a,b"`` as ``["a", "b"]``; None stays None; one name stays a string."""
    if text is None or "," not in text:
        return text
    return [part.strip() for part in text.split(",")]


DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}


def delimiter(text):
    """``--delimiter``: one character, or a name (tab, comma, semicolon, pipe, space; ``\\t``)."""
    return None if text is None else DELIMITER_NAMES.get(text.lower() if len(text) > 1 else text, text)


def load_options(s):
    """Keyword arguments of :func:`handprop.data.load_data` from the run's settings."""
    return {"target": names_list(s.get("target")), "delimiter": delimiter(s.get("delimiter")),
            "header": not s.get("no_header"), "columns": names_list_or_none(s.get("columns")),
            "drop": names_list_or_none(s.get("drop")),
            "missing_target": "drop" if s.get("drop_missing_target") else "error"}


def target_names(target_name):
    """The target's column names (a model may have several targets, saved as ``"t1,t2"``)."""
    return str(target_name or "y").split(",")


def names_list_or_none(text):
    """``"a"`` or ``"a,b"`` as a list of names; None stays None."""
    value = names_list(text)
    return [value] if isinstance(value, str) else value


def _flag(key):
    return "--" + key.replace("_", "-")


def check_typed_flags(args, sklearn_sets):
    """Refuse options that would do nothing here, naming the option and why."""
    typed = sorted(k for k in ("n", "noise", *FILE_FLAGS) if getattr(args, k, None) is not None)
    dataset, data = getattr(args, "dataset", None), getattr(args, "data", None)
    for_files = [k for k in typed if k in FILE_FLAGS]
    for_generated = [k for k in typed if k in ("n", "noise")]
    if dataset is not None and for_files:
        flag = _flag(for_files[0])
        raise HandpropValueError(f"{flag} reads a data file; --dataset {dataset} is built in, with its own "
                                 f"columns and target ('y'): leave {flag} out, or give a data file instead")
    if dataset in sklearn_sets and for_generated:
        flag = _flag(for_generated[0])
        raise HandpropValueError(f"{flag} applies to generated data sets (moons, circles, ...); --dataset "
                                 f"{dataset} is a fixed data set from scikit-learn: leave {flag} out")
    if dataset is None and data is not None and for_generated:
        flag = _flag(for_generated[0])
        raise HandpropValueError(f"{flag} applies to generated data sets (--dataset moons, ...), not to the "
                                 f"data file {printable(data)}: leave {flag} out")
    patience = getattr(args, "patience", None)
    if patience is not None and patience < 0:
        raise HandpropValueError(f"--patience must be >= 0 (epochs without improvement; 0 turns early "
                                 f"stopping off), got {patience}")


def report_dropped(ds, path):
    """Say (on stderr) which rows --drop-missing-target left out."""
    lines = ds.dropped_lines
    if lines:
        shown = ", ".join(str(v) for v in lines[:10]) + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")
        where = (f"lines {shown}" if str(path).lower().endswith((".csv", ".tsv", ".txt"))
                 else f"rows {shown}, 0-based")
        print(f"warning: --drop-missing-target: dropped {len(lines)} row(s) of {printable(path)} whose target "
              f"is missing ({where}); {len(ds.X)} rows are left", file=sys.stderr)


def check_source_finite(path, X, y=None):
    """NaN/inf rows named as rows of the file (before any split shuffles them). CSV readers
    already report line and column; arrays from .npz/.npy files are checked here."""
    from .._safety import check_finite

    for name, a in (("X", X), ("y", y)):
        if a is not None and np.asarray(a).dtype.kind == "f":
            try:
                check_finite(name, np.asarray(a))
            except DataError as exc:
                raise DataError(f"{path}: {exc}") from None


def check_array_kinds(path, X, y):
    """Features must be a 2-d table of numbers; targets numbers (an .npz may hold text or 1-d X)."""
    X = np.asarray(X) if not hasattr(X, "dtype") else X
    if X.ndim != 2:
        raise DataError(f"{printable(path)}: X has shape {X.shape}; features need a 2-d table (rows, columns)"
                        + ("; one feature per row: save X.reshape(-1, 1)" if X.ndim == 1 else ""))
    if X.size == 0:
        raise DataError(f"{printable(path)}: X has shape {X.shape}: no data")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{printable(path)}: X has dtype {X.dtype}; features must be numbers")
    if y is not None and np.asarray(y).dtype.kind not in "biuf":
        raise DataError(f"{printable(path)}: y has dtype {np.asarray(y).dtype}; handprop reads numeric "
                        "targets from .npz files (class labels as integers 0..k-1): save "
                        "y=np.unique(labels, return_inverse=True)[1], or use a CSV file with a label column")


def check_target(y, class_names, target_name, where):
    """Refuse a target that teaches nothing (one class, one value) or that the scaler cannot hold."""
    y = np.asarray(y)
    if len(y) == 0:
        raise DataError(f"{printable(where)}: no rows to learn from")
    cols = y.reshape(len(y), -1)
    names = target_names(target_name)
    names = names if len(names) == cols.shape[1] else [f"{target_name or 'y'}[{k}]" for k in range(cols.shape[1])]
    for k in range(cols.shape[1]):
        c = cols[:, k]
        if np.all(c == c[0]):
            value = class_names[int(c[0])] if class_names is not None else c[0].item()
            raise DataError(f"{printable(where)}: target '{printable(names[k])}' holds one value "
                            f"({printable(repr(value))}) in all {len(c)} rows; there is nothing to learn (one "
                            f"class, or a constant). Check that --target names the column you mean")
    if cols.dtype.kind == "f":  # a regression target is standardised: it must be representable
        from ..data import StandardScaler

        try:
            StandardScaler().fit(cols, names=names)
        except DataError as exc:
            raise DataError(f"{printable(where)}: target {exc}") from None


def check_task(task, y, class_names, target_name):
    """``--task`` against the target: no regression on text labels; a warning for many classes."""
    name = printable(target_name or "y")
    if task == "regression" and class_names is not None:
        shown = ", ".join(printable(c) for c in class_names[:5])
        raise DataError(f"--task regression: target '{name}' holds text labels ({shown}{', ...' if len(class_names) > 5 else ''}); "
                        "regression needs numbers. Leave --task out (or use --task classification) to learn the labels")
    if task == "classification" and class_names is None:
        k = len(np.unique(np.asarray(y)))
        if k > MAX_CLASSES:
            print(f"warning: --task classification: target '{name}' has {k} distinct values, and each "
                  f"becomes a class; for a continuous target use --task regression", file=sys.stderr)


def add_file_flags(p, train=False, evaluate=False):
    """How a data file is read: delimiter, header, and (train) which columns; (evaluate, predict)
    how its columns meet the model's. Flags not typed stay None, so a resumed run ignores them."""
    on = {"action": "store_const", "const": True}
    p.add_argument("--delimiter", help="the text file's delimiter: one character, or tab, comma, semicolon, "
                                       "pipe, space (default: ',' for .csv, or ';' when the header holds "
                                       "more of them; tab for .tsv)")
    p.add_argument("--no-header", **on, help="the text file has no header row: its columns are x0, x1, ...")
    if train or evaluate:
        p.add_argument("--drop-missing-target", **on, help="drop rows whose target is missing "
                                                          "(empty, NA, ?...) instead of refusing the file")
    if train:
        p.add_argument("--columns", help="the feature columns to use, comma-separated (default: all "
                                         "but the target)")
        p.add_argument("--drop", help="columns to leave out, comma-separated (an id, a date...)")
    else:
        p.add_argument("--by-position", **on, help="match the file's columns to the model's by position, "
                                                   "not by name (the counts must be equal)")
