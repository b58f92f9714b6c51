"""Reading CSV files: a header row, numeric features, a target of numbers or labels.

Errors point at the spot to fix, as a compiler does: ``file:line:column``, with 1-based line numbers
as an editor shows them and the column given by number and by name (escaped, see
:func:`~handprop.data.tables.printable`). They are :class:`~handprop.errors.DataError`.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import numpy as np

from ._checks import existing_file
from ..errors import DataError, HandpropValueError
from .tables import (Dataset, decimal_comma_hint, delimiter_hint, is_missing, looks_like_data,
                     printable)

__all__ = ["read_csv", "column_names", "column_indices", "text_delimiter", "TEXT_EXTENSIONS"]

# ---------------------------------------------------------------------------------------------- CSV

_MAX_LISTED = 10  # how many bad rows a message names before it says "and N more"


def _decode(raw, encoding, path):
    """Decode the whole file at once, so that a bad byte can be located by its offset."""
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):  # TypeError: not a name at all (None, 8)
        raise HandpropValueError(f"unknown encoding {encoding!r}; give its name, e.g. encoding='utf-8'") from None
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
    return f"{path}:{line}:{j + 1} (column {j + 1} '{printable(names[j])}')"


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
                what = "a missing value" if is_missing(cell) else "a number"
                raise DataError(
                    f"{_where(path, line, j, names)}: cannot read {cell!r} as {what}; "
                    f"feature columns must be numeric{decimal_comma_hint(cell)}") from None
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
        cols = ", ".join(f"{feature_cols[k] + 1} '{printable(names[feature_cols[k]])}'"
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


def _parse_targets(columns, t_cols, lines, names, path):
    """One target column as :func:`_parse_target`; several: numbers only, float64 of shape (n, k)."""
    if len(t_cols) == 1:
        return _parse_target(columns[t_cols[0]], lines, t_cols[0], names, path)
    parts = []
    for j in t_cols:
        y, classes = _parse_target(columns[j], lines, j, names, path)
        if classes is not None:
            raise DataError(
                f"{path}: target column {j + 1} '{printable(names[j])}' holds text labels; several "
                f"targets are trained together only as numbers (regression), so name one label column")
        parts.append(y.astype(np.float64))
    return np.column_stack(parts), None


def _split_rows(text, delimiter, path, header):
    """``(names, header_line, rows, lines)``: the header (or generated names) and the data rows."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True,
                        skipinitialspace=True)  # "1, 2" is as common as "1,2"
    names, header_line, rows, lines = None, 0, [], []
    prev_end = 0
    try:
        for row in reader:
            # line_num counts physical lines read so far, so a row starts one after the last end
            # (a quoted field may span lines; we report where its row starts).
            start, prev_end = prev_end + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if names is None:
                if not header:
                    names, header_line = [f"x{j}" for j in range(len(row))], 0
                else:
                    _check_header(row, start, path)
                    names, header_line = [name.strip() for name in row], start
                    continue
            if len(row) != len(names):
                where = f"the header on line {header_line}" if header else f"line {lines[0]}"
                raise DataError(f"{path}:{start}: expected {len(names)} fields (as in {where}), got {len(row)}")
            rows.append(row)
            lines.append(start)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None
    if names is None:
        raise DataError(f"{path}: the file is empty; a header row with column names is expected")
    return names, header_line, rows, lines


def _check_header(row, line, path):
    """Refuse a first row of numbers as a header: it is data, and reading it as names loses a row."""
    if looks_like_data(row):
        shown = printable(",".join(cell.strip() for cell in row[:6])) + (",..." if len(row) > 6 else "")
        raise DataError(
            f"{path}:{line}: no header: the first row ({shown}) holds numbers, so it is data, "
            f"not column names. Add a header row naming the columns, or read the file without one "
            f"with --no-header (Python: header=False; the columns are then x0, x1, ...)")
    for j, name in enumerate(row):
        if not name.strip():
            raise DataError(f"{path}:{line}:{j + 1}: column {j + 1} has no name in the header")
    seen = {}
    for j, name in enumerate(row):
        name = name.strip()
        if name in seen:
            raise DataError(
                f"{path}:{line}:{j + 1}: duplicate column name '{printable(name)}' "
                f"(columns {seen[name] + 1} and {j + 1})")
        seen[name] = j


def column_indices(wanted, names, path, what):
    """Positions of the column names ``wanted``; an unknown name is refused with the list."""
    pos = {name: j for j, name in enumerate(names)}
    missing = [w for w in wanted if w not in pos]
    if missing:
        listed = ", ".join(printable(n) for n in names)
        raise DataError(f"{path}: no {what} column {', '.join(repr(m) for m in missing)}; "
                        f"the columns are: {listed}")
    return [pos[w] for w in wanted]


def _choose_columns(names, target, columns, drop, has_target, path):
    """``(target_cols, feature_cols)`` from the target name(s), ``columns`` and ``drop``."""
    if not has_target:
        t_cols = []
    elif target is None:
        t_cols = [len(names) - 1]
    else:
        t_cols = column_indices([target] if isinstance(target, str) else list(target), names, path, "target")
    if columns is not None:
        f_cols = column_indices(columns, names, path, "feature")
        both = [names[j] for j in f_cols if j in t_cols]
        if both:
            raise DataError(f"{path}: column '{printable(both[0])}' is the target; it cannot also be a feature")
    else:
        f_cols = [j for j in range(len(names)) if j not in t_cols]
    if drop is not None:
        gone = set(column_indices(drop, names, path, "--drop"))
        f_cols = [j for j in f_cols if j not in gone]
    if not f_cols:
        shown = ", ".join(f"'{printable(names[j])}'" for j in t_cols)
        raise DataError(f"{path}: no feature column is left (the target: {shown}); at least one feature is needed"
                        if columns is not None or drop is not None else
                        f"{path}: only one column ({shown}), the target; at least one feature is needed")
    return t_cols, f_cols


def _missing_targets(rows, lines, t_cols, names, path, missing_target):
    """Rows whose target is missing (NA, ?, empty...): refused, naming the lines, or dropped."""
    bad = [i for i, row in enumerate(rows) if any(is_missing(row[j]) for j in t_cols)]
    if not bad:
        return rows, lines, []
    if missing_target == "drop":
        gone = set(bad)
        keep = [i for i in range(len(rows)) if i not in gone]
        if not keep:
            raise DataError(f"{path}: every row's target is missing; nothing is left to learn from")
        return [rows[i] for i in keep], [lines[i] for i in keep], [lines[i] for i in bad]
    i0 = bad[0]
    j0 = next(j for j in t_cols if is_missing(rows[i0][j]))
    cell = rows[i0][j0].strip()
    what = ("empty target cell" if not cell else "NaN or infinite target" if cell.lower() == "nan"
            else f"missing target value {cell!r}")
    listed = ", ".join(str(lines[i]) for i in bad[:_MAX_LISTED])
    more = f" and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
    raise DataError(
        f"{_where(path, lines[i0], j0, names)}: {what} at line(s) {listed}{more}: {len(bad)} row(s) have "
        f"no target. Fill them in, or drop those rows with --drop-missing-target "
        f"(Python: missing_target='drop')")


def _check_options(target, header, columns, drop, missing_target, delimiter):
    if target is not None and not isinstance(target, str) and not (
            isinstance(target, (list, tuple)) and target and all(isinstance(t, str) for t in target)):
        raise HandpropValueError(
            f"target must be a column name (str) or None, got {target!r} (several targets: a list of names)")
    if not isinstance(header, bool):
        raise HandpropValueError(f"header must be True or False, got {header!r}")
    for name, value in (("columns", columns), ("drop", drop)):
        if value is not None and (isinstance(value, str) or not all(isinstance(v, str) for v in value)):
            raise HandpropValueError(f"{name} must be a list of column names, got {value!r}")
    if missing_target not in ("error", "drop"):
        raise HandpropValueError(f"missing_target must be 'error' or 'drop', got {missing_target!r}")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\""):
        raise HandpropValueError(f"delimiter must be a single character, got {delimiter!r} "
                                 "(not a quote or a line break)")


def read_csv(path, target=None, delimiter=",", encoding="utf-8", *, header=True, columns=None, drop=None,
             missing_target="error", has_target=True):
    """Read a CSV file with a header row into a :class:`Dataset`.

    Parameters
    ----------
    path : str or os.PathLike
    target : str, list of str, or None, default None
        Name of the target column (several names: several numeric targets, ``y`` of shape (n, k));
        None takes the last column.
    delimiter : str or None, default ","
        A single character; None guesses among ``,``, tab, ``;`` and ``|`` from the header line.
    encoding : str, default "utf-8"
        A leading UTF-8 byte-order mark is ignored.
    header : bool, default True
        False: the file has no header row; its columns are named ``x0, x1, ...``. With True, a first
        row of numbers only is refused (it is data, not a header).
    columns, drop : list of str or None
        The feature columns to use, in this order (default: every column but the target), and
        columns to leave out.
    missing_target : {"error", "drop"}, default "error"
        Rows whose target is missing (empty, NA, N/A, NaN, ?, null): refused with their line
        numbers, or dropped (their lines are kept in ``Dataset.dropped_lines``).
    has_target : bool, default True
        False: every chosen column is a feature and ``y`` is None.

    Returns
    -------
    Dataset
        ``X`` float64 of shape (n, d) with every column but the target, in file order; ``y`` of
        shape (n,): int64 if every target value is a whole number, float64 if any is not, and
        int64 class indices if any is not a number (then ``class_names`` holds the sorted labels).

    Raises
    ------
    DataError
        With ``file:line:column`` for: a non-numeric, empty, NaN or infinite feature cell; a
        missing target; a row with a different number of fields than the header; an empty file or
        one with a header only; a header of numbers; a missing target column (the columns present
        are listed); duplicate or empty column names; bytes that cannot be decoded with
        ``encoding`` (byte offset and line given).

    Notes
    -----
    Blank lines are skipped. The stdlib ``csv`` module splits the fields (quotes included) and NumPy
    converts a column at a time; a 1797 x 65 file takes a few tens of milliseconds.
    """
    _check_options(target, header, columns, drop, missing_target, delimiter)
    text = _decode(existing_file(path).read_bytes(), encoding, path)
    delimiter = _sniff_delimiter(text) if delimiter is None else delimiter
    names = None
    try:
        names, header_line, rows, lines = _split_rows(text, delimiter, path, header)
        return _dataset(names, header_line, rows, lines, path, target, columns, drop, has_target,
                        missing_target)
    except DataError as exc:
        raise _with_hint(exc, names, text, delimiter) from None


def _with_hint(exc, names, text, delimiter):
    """``exc``, with a hint added if the column names suggest another delimiter."""
    if names is None:  # the header itself was refused: look at its first line
        names = next((line for line in text.splitlines() if line.strip()), "").split(delimiter)
    hint = delimiter_hint(names, delimiter)
    return DataError(f"{exc}{hint}") if hint else exc


def _dataset(names, header_line, rows, lines, path, target, columns, drop, has_target, missing_target):
    if not rows:
        raise DataError(f"{path}: only a header (line {header_line}), no data rows")
    t_cols, feature_cols = _choose_columns(names, target, columns, drop, has_target, path)
    rows, lines, dropped = _missing_targets(rows, lines, t_cols, names, path, missing_target)
    columns_ = list(zip(*rows))  # transpose once: NumPy converts a whole column per call
    X = np.empty((len(rows), len(feature_cols)), dtype=np.float64)
    try:
        for k, j in enumerate(feature_cols):
            X[:, k] = np.array(columns_[j], dtype=np.float64)
    except ValueError:
        _first_bad_cell(rows, lines, feature_cols, names, path)
    _check_finite(X, lines, feature_cols, names, path)
    y, class_names = (None, None) if not t_cols else _parse_targets(columns_, t_cols, lines, names, path)
    return Dataset(X=X, y=y, feature_names=[names[j] for j in feature_cols],
                   target_name=",".join(names[j] for j in t_cols) or None, class_names=class_names,
                   dropped_lines=dropped)


TEXT_EXTENSIONS = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: guess from the header


def text_delimiter(text_path, ext):
    """``,`` for a .csv file, unless its first line holds more ``;`` than ``,`` (as many European
    spreadsheets write CSV): then ``;``."""
    if ext != ".csv":
        return TEXT_EXTENSIONS[ext]
    with open(text_path, "rb") as f:
        first = f.readline(65536)
    return ";" if first.count(b";") > first.count(b",") else ","


def column_names(path, delimiter=None, encoding="utf-8"):
    """The header of a text data file (as :func:`load_data` reads it), without reading the rows.

    Returns None for array files (``.npz``, ``.npy``), which have no column names.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in TEXT_EXTENSIONS:
        return None
    existing_file(path)
    if delimiter is None:
        delimiter = text_delimiter(path, ext)
    with open(path, "rb") as f:
        head = f.read(1 << 20)  # a header longer than 1 MiB is no header
    text = _decode(head[: head.rfind(b"\n") + 1] or head, encoding, path)
    if delimiter is None:
        delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    for row in reader:
        if row and not (len(row) == 1 and not row[0].strip()):
            _check_header(row, reader.line_num, path)
            return [name.strip() for name in row]
    return []
