"""Reading data from files by their extension: CSV in :mod:`.csvfile`, ``.npy`` and ``.npz`` in
:mod:`.arrays`; never pickles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._checks import existing_file
from ..errors import DataError, HandpropValueError
from .arrays import load_array, load_xy
from .csvfile import TEXT_EXTENSIONS, column_indices, column_names, read_csv, text_delimiter
from .tables import Dataset

__all__ = ["Dataset", "read_csv", "load_array", "load_xy", "load_data", "default_feature_names",
           "column_names"]


def _default_names(X):
    return default_feature_names(X.shape[1]) if X.ndim == 2 else []


def default_feature_names(n):
    """The names of ``n`` unnamed columns (an ``.npz`` file, a CSV read without a header)."""
    return [f"x{j}" for j in range(n)]


def _select(ds, columns, drop, path):
    """``columns``/``drop`` applied by name to an array file's ``x0, x1, ...`` columns."""
    if columns is None and drop is None:
        return ds
    names = ds.feature_names
    keep = column_indices(columns, names, path, "feature") if columns is not None else list(range(len(names)))
    if drop is not None:
        gone = set(column_indices(drop, names, path, "--drop"))
        keep = [j for j in keep if j not in gone]
    if not keep:
        raise DataError(f"{path}: no feature column is left; at least one feature is needed")
    ds.X, ds.feature_names = np.asarray(ds.X)[:, keep], [names[j] for j in keep]
    return ds


def _drop_missing(ds, path):
    """Rows of an array file whose target is NaN, dropped (``missing_target="drop"``)."""
    y = np.asarray(ds.y)
    if y.dtype.kind != "f":
        return ds
    keep = np.isfinite(y.reshape(len(y), -1)).all(axis=1)
    if keep.all():
        return ds
    if not keep.any():
        raise DataError(f"{path}: every row's target is missing; nothing is left to learn from")
    ds.dropped_lines = np.flatnonzero(~keep).tolist()
    ds.X, ds.y = np.asarray(ds.X)[keep], y[keep]
    return ds


def _load_npz(path, target, columns, drop, missing_target, has_target, n_features):
    if isinstance(target, (list, tuple)):
        raise HandpropValueError(f"{path}: an .npz file has one target array (a 2-d y holds several "
                                 f"targets); got target={target!r}")
    y_key = "y" if target is None else target
    if has_target:
        X, y = load_xy(path, y_key=y_key, n_features=None if columns or drop else n_features)
    else:
        X, y = load_array(path, key="X", n_features=None if columns or drop else n_features), None
    ds = Dataset(X=X, y=y, feature_names=_default_names(X), target_name=y_key if has_target else None)
    if y is not None and y.dtype.kind in "US" and y.ndim == 1:  # text labels, as in a CSV file
        classes, ds.y = np.unique(y.astype(str), return_inverse=True)
        ds.class_names = [str(c) for c in classes]
    if has_target and missing_target == "drop":
        ds = _drop_missing(ds, path)
    return _select(ds, columns, drop, path)


def load_data(path, target=None, *, delimiter=None, header=True, columns=None, drop=None,
              missing_target="error", has_target=True, n_features=None):
    """Load a data set, choosing the reader by the file's extension.

    ``.csv`` (comma, or ``;`` when the first line holds more of them), ``.tsv`` (tab) and ``.txt``
    (delimiter guessed) go to :func:`read_csv`; ``.npz`` to :func:`load_xy` (``target`` names the
    target array, default ``"y"``); ``.npy`` holds features only and is memory-mapped.

    Parameters
    ----------
    path : str or os.PathLike
    target : str, list of str, or None
        Target column(s) (text files) or array (``.npz``).
    delimiter : str or None
        Text files: the delimiter, instead of the one the extension implies.
    header, columns, drop, missing_target, has_target
        As :func:`read_csv`. For array files ``columns`` and ``drop`` use the names ``x0, x1, ...``,
        ``missing_target="drop"`` drops rows whose target is NaN, and ``has_target=False`` reads
        ``X`` alone. A 1-d ``y`` of text holds class labels (as a CSV label column).
    n_features : int or None
        Array files: ``X`` must have this many columns, checked from the file's header before any
        data is read (a file declaring a huge array costs nothing to refuse).

    Returns
    -------
    Dataset

    Raises
    ------
    HandpropValueError
        An unknown extension (the message lists the known ones), an option that cannot apply to
        the file (a delimiter for an array file, ``target`` for ``.npy``).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if path.exists() or ext in TEXT_EXTENSIONS:  # a directory, a device or a pipe: say which
        existing_file(path)
    if ext in TEXT_EXTENSIONS:
        if delimiter is None:
            delimiter = text_delimiter(path, ext)
        return read_csv(path, target=target, delimiter=delimiter, header=header, columns=columns,
                        drop=drop, missing_target=missing_target, has_target=has_target)
    if ext in (".npz", ".npy"):
        for given, flag in ((delimiter is not None, "a delimiter (--delimiter)"),
                            (header is not True, "header=False (--no-header)")):
            if given:
                raise HandpropValueError(f"{path}: {flag} applies to text files; an {ext} file holds "
                                         "arrays without a header or delimiter")
    if ext == ".npz":
        return _load_npz(path, target, columns, drop, missing_target, has_target, n_features)
    if ext == ".npy":
        if target is not None:
            raise HandpropValueError(
                f"{path}: a .npy file holds features only; target={target!r} cannot apply "
                f"(save X and y together with np.savez(path, X=X, y=y))")
        X = load_array(path, n_features=None if columns or drop else n_features)
        return _select(Dataset(X=X, y=None, feature_names=_default_names(X)), columns, drop, path)
    known = ", ".join([*TEXT_EXTENSIONS, ".npz", ".npy"])
    raise HandpropValueError(f"{path}: unknown file extension '{ext}'; known: {known}")
