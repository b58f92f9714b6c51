"""A data set read from a file (:class:`Dataset`), and small rules about table cells shared by the
readers and the command line.

* :func:`printable`: text from a file (a column name, a label) as it may reach a terminal: control
  characters written as escapes (``\\x1b``, ``\\n``), so that a header cannot move the cursor or
  recolour the screen.
* :func:`spreadsheet_safe`: a text cell as it may be written to a CSV file that a spreadsheet opens:
  a cell starting with ``=``, ``+``, ``-`` or ``@`` that is not a number would run as a formula, so
  it gets a leading ``'`` (the spreadsheets' own mark for "text").
* :func:`is_missing`: the spellings of a missing value (``NA``, ``?``, an empty cell...).
* :func:`looks_like_data`: a first row whose every cell is a number is data, not a header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "printable", "spreadsheet_safe", "is_missing", "looks_like_data", "MISSING_MARKERS",
           "is_number", "decimal_comma_hint", "delimiter_hint"]

# Compared after strip() and lower(): how spreadsheets, R, pandas and UCI files write "no value".
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "?", "null"})

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def printable(text):
    """``text`` with each non-printable character replaced by its Python escape (``\\x1b``)."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def is_number(text):
    """True if ``float(text)`` reads ``text`` as a finite or infinite number (not NaN spelled out)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return False
    return not math.isnan(value)


def spreadsheet_safe(cell):
    """A text cell for a CSV file: escaped like :func:`printable`, and prefixed with ``'`` if a
    spreadsheet would run it as a formula. Numbers (``-1.5``) are left as they are."""
    text = str(cell)
    if text.startswith(_FORMULA_STARTS) and not is_number(text):
        text = "'" + text
    return printable(text)


def is_missing(cell):
    """True for the usual spellings of a missing value: empty, NA, N/A, NaN, ? and null."""
    return cell.strip().lower() in MISSING_MARKERS


def looks_like_data(row):
    """True if ``row`` reads as data rather than column names: every cell is a number, or some cell
    is a number written with a fraction or an exponent (``2.04``, ``1e-3``), which no header holds.
    Whole numbers alone (``2019``) may be names."""
    numbers = [cell.strip() for cell in row if is_number(cell)]
    if not row or not numbers:
        return False
    return len(numbers) == len(row) or any(not cell.lstrip("+-").isdigit() for cell in numbers)


def decimal_comma_hint(cell):
    """A hint if ``cell`` reads as a number once its comma becomes a point ('1,5'), else ''."""
    if cell.count(",") == 1 and is_number(cell.replace(",", ".")):
        return (f" ({cell.strip()!r} looks like a decimal comma: numbers need a decimal point, "
                f"{cell.strip().replace(',', '.')!r})")
    return ""


def delimiter_hint(names, delimiter):
    """A hint if a column name holds another common delimiter (the file was split on the wrong one)."""
    for other, flag in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
        if other != delimiter and any(other in name for name in names):
            return (f"; a column name holds {flag} characters: the file may be delimited by {other!r}; "
                    f"read it with --delimiter {flag} (Python: delimiter={other!r})")
    return ""


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
        Name of the target column (several targets: their names joined by commas).
    class_names : list of str or None
        Set when the targets were labels mapped to indices: ``class_names[y[i]]`` is row ``i``'s.
    dropped_lines : list of int
        Line numbers of rows left out because their target was missing (``missing_target="drop"``).
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target_name: str | None = None
    class_names: list[str] | None = None
    dropped_lines: list[int] = field(default_factory=list)
