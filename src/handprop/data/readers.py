"""Reading data from files: CSV here, ``.npy`` and ``.npz`` in :mod:`.arrays`; never pickles.

Errors point at the spot to fix, as a compiler does: ``file:line:column``, with 1-based line numbers
as an editor shows them and the column given by number and by name. They are
:class:`~handprop.errors.DataError` (the content cannot be used) or
:class:`~handprop.errors.FileFormatError` (the file is not what its extension claims).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import existing_file
from ..errors import DataError, HandpropValueError
from .arrays import load_array, load_xy

__all__ = ["Dataset", "read_csv", "load_array", "load_xy", "load_data"]


@dataclass
class Dataset:
    """Features, targets and the names that go with them.

    Attributes
    ----------
    X : ndarray, shape (n, d)
        Features.
    y : ndarray of shape (n,) or (n, k), or None
        Targets; None when the source holds features only (a ``.npy`` file).
    feature_names : list of str
        ``d`` names, one per column of ``X``.
    target_name : str or None
        Name of the target column.
    class_names : list of str or None
        Set when the targets were labels mapped to indices: ``class_names[y[i]]`` is row ``i``'s.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target_name: str | None = None
    class_names: list[str] | None = None


# ---------------------------------------------------------------------------------------------- CSV

_MAX_LISTED = 10  # how many bad rows a message names before it says "and N more"


def _decode(raw, encoding, path):
    """Decode the whole file at once, so that a bad byte can be located by its offset."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise HandpropValueError(f"unknown encoding {encoding!r}") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{path}:{line}: cannot decode byte 0x{raw[exc.start]:02x} at byte offset {exc.start} "
            f"(line {line}) as {encoding}; pass the file's encoding, e.g. encoding='latin-1'"
        ) from None
    # Spreadsheet programs often start UTF-8 files with a byte-order mark; it is not part of the
    # first column's name.
    return text[1:] if text.startswith("\ufeff") else text


def _sniff_delimiter(text):
    """Guess the delimiter from the first non-blank line: the most frequent of , tab ; |."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _where(path, line, j, names):
    """``file:line:column (column 'name')``, the prefix of every cell-level message."""
    return f"{path}:{line}:{j + 1} (column {j + 1} '{names[j]}')"


def _first_bad_cell(rows, lines, cols, names, path):
    """Raise the DataError for the first cell (row-major) of ``cols`` that is not a number."""
    for row, line in zip(rows, lines):
        for j in cols:
            cell = row[j]
            if not cell.strip():
                raise DataError(
                    f"{_where(path, line, j, names)}: empty cell; every feature needs a value "
                    f"(fill or drop the row)")
            try:
                float(cell)
            except ValueError:
                raise DataError(
                    f"{_where(path, line, j, names)}: cannot read {cell!r} as a number; "
                    f"feature columns must be numeric") from None
    # NumPy refused a column that float() accepts cell by cell: should not happen, but say so.
    raise DataError(f"{path}: a feature column could not be converted to numbers")


def _check_finite(X, lines, feature_cols, names, path):
    """Refuse NaN and infinity, naming the rows (as line numbers) and columns that hold them."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    bad_rows = np.flatnonzero(bad.any(axis=1))
    parts = []
    for i in bad_rows[:_MAX_LISTED]:
        cols = ", ".join(f"{feature_cols[k] + 1} '{names[feature_cols[k]]}'"
                         for k in np.flatnonzero(bad[i]))
        parts.append(f"line {lines[i]} (column {cols})")
    more = f" and {len(bad_rows) - _MAX_LISTED} more rows" if len(bad_rows) > _MAX_LISTED else ""
    i0 = bad_rows[0]
    k0 = np.flatnonzero(bad[i0])[0]
    raise DataError(
        f"{_where(path, lines[i0], feature_cols[k0], names)}: NaN or infinite value; "
        f"{len(bad_rows)} row(s) hold NaN/inf: {'; '.join(parts)}{more}. "
        f"Remove or impute them before training")


def _parse_target(cells, lines, j, names, path):
    """Numbers -> int64 (all integral) or float64; otherwise labels -> indices + class names."""
    for cell, line in zip(cells, lines):
        if not cell.strip():
            raise DataError(f"{_where(path, line, j, names)}: empty target cell")
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        # Not all numbers: class labels. np.unique sorts them, so indices follow sorted names.
        classes, y = np.unique(np.array([c.strip() for c in cells]), return_inverse=True)
        return y.astype(np.int64).reshape(-1), [str(c) for c in classes]
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        listed = ", ".join(str(lines[i]) for i in bad[:_MAX_LISTED])
        raise DataError(
            f"{_where(path, lines[bad[0]], j, names)}: NaN or infinite target at line(s) {listed}")
    # 2**53: beyond it float64 no longer holds every integer, so int64 would invent digits.
    if np.all(values == np.round(values)) and np.all(np.abs(values) < 2.0**53):
        return values.astype(np.int64), None
    return values, None


def read_csv(path, target=None, delimiter=",", encoding="utf-8"):
    """Read a CSV file with a header row into a :class:`Dataset`.

    Parameters
    ----------
    path : str or os.PathLike
    target : str or None, default None
        Name of the target column; None takes the last column.
    delimiter : str or None, default ","
        A single character; None guesses among ``,``, tab, ``;`` and ``|`` from the header line.
    encoding : str, default "utf-8"
        A leading UTF-8 byte-order mark is ignored.

    Returns
    -------
    Dataset
        ``X`` float64 of shape (n, d) with every column but the target, in file order; ``y`` of
        shape (n,): int64 if every target value is a whole number, float64 if any is not, and
        int64 class indices if any is not a number (then ``class_names`` holds the sorted labels).

    Raises
    ------
    DataError
        With ``file:line:column`` for: a non-numeric, empty, NaN or infinite feature cell; a row
        with a different number of fields than the header; an empty file or one with a header only;
        a missing target column (the columns present are listed); duplicate or empty column names;
        bytes that cannot be decoded with ``encoding`` (byte offset and line given).

    Notes
    -----
    Blank lines are skipped. The stdlib ``csv`` module splits the fields (quotes included) and NumPy
    converts a column at a time; a 1797 x 65 file takes a few tens of milliseconds.
    """
    if target is not None and not isinstance(target, str):
        raise HandpropValueError(f"target must be a column name (str) or None, got {target!r}")
    raw = existing_file(path).read_bytes()
    text = _decode(raw, encoding, path)
    if delimiter is None:
        delimiter = _sniff_delimiter(text)
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise HandpropValueError(f"delimiter must be a single character, got {delimiter!r}")

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True,
                        skipinitialspace=True)  # "1, 2" is as common as "1,2"
    header, header_line, rows, lines = None, 0, [], []
    prev_end = 0
    try:
        for row in reader:
            # line_num counts physical lines read so far, so a row starts one after the last end
            # (a quoted field may span lines; we report where its row starts).
            start, prev_end = prev_end + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if header is None:
                header, header_line = [name.strip() for name in row], start
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path}:{start}: expected {len(header)} fields (as in the header on line "
                    f"{header_line}), got {len(row)}")
            rows.append(row)
            lines.append(start)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None

    if header is None:
        raise DataError(f"{path}: the file is empty; a header row with column names is expected")
    for j, name in enumerate(header):
        if not name:
            raise DataError(f"{path}:{header_line}:{j + 1}: column {j + 1} has no name in the header")
    seen = {}
    for j, name in enumerate(header):
        if name in seen:
            raise DataError(
                f"{path}:{header_line}:{j + 1}: duplicate column name '{name}' "
                f"(columns {seen[name] + 1} and {j + 1})")
        seen[name] = j
    if not rows:
        raise DataError(f"{path}: only a header (line {header_line}), no data rows")
    if target is None:
        t = len(header) - 1
    elif target in seen:
        t = seen[target]
    else:
        raise DataError(
            f"{path}: no target column '{target}'; the columns are: {', '.join(header)}")
    feature_cols = [j for j in range(len(header)) if j != t]
    if not feature_cols:
        raise DataError(
            f"{path}: only one column ('{header[t]}'), the target; at least one feature is needed")

    columns = list(zip(*rows))  # transpose once: NumPy converts a whole column per call
    X = np.empty((len(rows), len(feature_cols)), dtype=np.float64)
    try:
        for k, j in enumerate(feature_cols):
            X[:, k] = np.array(columns[j], dtype=np.float64)
    except ValueError:
        _first_bad_cell(rows, lines, feature_cols, header, path)
    _check_finite(X, lines, feature_cols, header, path)
    y, class_names = _parse_target(columns[t], lines, t, header, path)
    return Dataset(X=X, y=y, feature_names=[header[j] for j in feature_cols],
                   target_name=header[t], class_names=class_names)


_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: guess from the header


def _default_names(X):
    return [f"x{j}" for j in range(X.shape[1])] if X.ndim == 2 else []


def load_data(path, target=None):
    """Load a data set, choosing the reader by the file's extension.

    ``.csv`` (comma), ``.tsv`` (tab) and ``.txt`` (delimiter guessed) go to :func:`read_csv`;
    ``.npz`` to :func:`load_xy` (``target`` names the target array, default ``"y"``); ``.npy`` holds
    features only and is memory-mapped.

    Parameters
    ----------
    path : str or os.PathLike
    target : str or None
        Target column (text files) or array (``.npz``).

    Returns
    -------
    Dataset

    Raises
    ------
    HandpropValueError
        An unknown extension (the message lists the known ones), or ``target`` given for ``.npy``.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if path.is_dir():  # a directory has no extension either: say what it is
        existing_file(path)
    if ext in _CSV_DELIMITERS:
        return read_csv(path, target=target, delimiter=_CSV_DELIMITERS[ext])
    if ext == ".npz":
        y_key = "y" if target is None else target
        X, y = load_xy(path, y_key=y_key)
        return Dataset(X=X, y=y, feature_names=_default_names(X), target_name=y_key)
    if ext == ".npy":
        if target is not None:
            raise HandpropValueError(
                f"{path}: a .npy file holds features only; target={target!r} cannot apply "
                f"(save X and y together with np.savez(path, X=X, y=y))")
        X = load_array(path)
        return Dataset(X=X, y=None, feature_names=_default_names(X))
    known = ", ".join([*_CSV_DELIMITERS, ".npz", ".npy"])
    raise HandpropValueError(f"{path}: unknown file extension '{ext}'; known: {known}")
