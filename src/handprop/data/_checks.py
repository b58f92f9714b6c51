"""Argument checks shared by the data modules.

Each check names the argument and the value it got, so that a message reads as a fix rather than as a
traceback. They raise :class:`~handprop.errors.HandpropValueError` (never ``assert``, which vanishes
under ``python -O``).
"""

from __future__ import annotations

import math
import numbers
import stat
from pathlib import Path

import numpy as np

from ..errors import HandpropValueError, MissingFileError


def check_positive_int(value, name):
    """Return ``value`` as an ``int`` if it is an integer > 0, else raise naming ``name``."""
    # bool is an int subclass; `n=True` is almost certainly a mistake, so refuse it.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise HandpropValueError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise HandpropValueError(f"{name} must be > 0, got {value!r}")
    return int(value)


def check_nonnegative_float(value, name):
    """Return ``value`` as a ``float`` if it is finite and >= 0, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise HandpropValueError(f"{name} must be a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise HandpropValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_fraction(value, name):
    """Return ``value`` as a ``float`` if it lies strictly between 0 and 1, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise HandpropValueError(f"{name} must be a fraction in (0, 1), got {value!r}")
    if not 0.0 < value < 1.0:  # NaN fails this comparison too
        raise HandpropValueError(f"{name} must be a fraction in (0, 1), got {value!r}")
    return float(value)


def make_rng(seed):
    """Return a :class:`numpy.random.Generator` for ``seed``.

    ``seed`` may be None (fresh entropy), an int, a ``SeedSequence`` or an existing ``Generator``
    (used as is, so a caller can thread one rng through several calls). The global NumPy RNG is
    never touched.
    """
    if isinstance(seed, bool):
        raise HandpropValueError(f"seed must be None, an int or a numpy Generator, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise HandpropValueError(
            f"seed must be None, a non-negative int or a numpy Generator, got {seed!r}"
        ) from exc


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))


def existing_file(path):
    """``path`` as a Path if it names a regular file; else a MissingFileError saying what it is.

    A directory, a device (``/dev/zero`` never ends) or a pipe is refused before a byte is read.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise MissingFileError(f"{path}: no such file") from None
    except OSError as exc:  # a loop of links, a name too long, no permission to look
        raise MissingFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise MissingFileError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise MissingFileError(f"{path}: is {kind}, not a regular file; data must be read from a file "
                               "(save the stream to one first)")
    return path
