"""Loading NumPy's ``.npy`` and ``.npz`` files safely: ``allow_pickle=False``, always.

A pickle can run arbitrary code when loaded, so object arrays and pickles are refused with a
:class:`~handprop.errors.FileFormatError` that says why, rather than NumPy's bare ``ValueError``.
The first bytes are checked against the extension, so a CSV or pickle renamed to ``.npy`` is named
for what it is.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from ._checks import existing_file
from ..errors import DataError, FileFormatError, HandpropValueError, ShapeError

__all__ = ["load_array", "load_xy"]


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip
_PICKLE_REFUSED = ("holds pickled Python objects (an object array or a pickle); handprop loads "
                   "plain numeric arrays only and never unpickles, since unpickling can run code. "
                   "Re-save the data with a numeric dtype")


def _check_magic(path, ext):
    """Refuse a file whose first bytes do not match its extension, with a message saying what it is."""
    with open(path, "rb") as f:
        head = f.read(6)
    if ext == ".npy" and head.startswith(_NPY_MAGIC):
        return
    if ext == ".npz" and head[:4] in _ZIP_MAGICS:
        return
    if head[:1] == b"\x80":  # pickle protocol 2+ opcode
        raise FileFormatError(f"{path}: {_PICKLE_REFUSED}")
    expected = "a .npy file (magic \\x93NUMPY)" if ext == ".npy" else "a .npz (zip) archive"
    raise FileFormatError(f"{path}: not {expected}; the file starts with {head!r}")


def _refuse(path, exc):
    """Turn NumPy's load errors into a FileFormatError that says what is wrong with the file."""
    # NumPy says "Object arrays cannot be loaded...", "Python objects in dtype" (mmap) or
    # "Cannot load file containing pickled data": all three mean a pickle we will not run.
    message = str(exc).lower()
    if "pickle" in message or "object" in message:
        return FileFormatError(f"{path}: {_PICKLE_REFUSED}")
    return FileFormatError(f"{path}: cannot read the array ({type(exc).__name__}: {exc})")


@contextlib.contextmanager
def _open_npz(path):
    """``np.load`` of a ``.npz`` as a context manager that also closes the file on a corrupt zip.

    Given a path, NumPy leaves the file open when the zip directory cannot be read; opening it
    ourselves guarantees it is closed.
    """
    with open(path, "rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - zipfile.BadZipFile, OSError, ValueError...
            raise _refuse(path, exc) from exc
        with archive:
            yield archive


def _npz_member(archive, key, path):
    if key not in archive.files:
        raise DataError(
            f"{path}: no array '{key}' in the archive; it holds: {', '.join(archive.files) or 'nothing'}")
    try:
        return archive[key]
    except Exception as exc:  # noqa: BLE001 - zip, zlib and format errors all mean a bad file
        raise _refuse(path, exc) from exc


def load_array(path, key=None, mmap=True):
    """Load one array from a ``.npy`` or ``.npz`` file, never unpickling.

    Parameters
    ----------
    path : str or os.PathLike
    key : str or None, default None
        For ``.npz``: the array to return. None returns the only array of a one-array archive, or
        the array ``"X"`` (see :func:`load_xy`). Not allowed for ``.npy``.
    mmap : bool, default True
        ``.npy`` only: memory-map the file read-only, so a large array costs no memory until rows
        are used. Arrays inside a ``.npz`` are always read into memory.

    Returns
    -------
    ndarray (``numpy.memmap`` for a memory-mapped ``.npy``)

    Raises
    ------
    FileFormatError
        Object arrays or pickles (always refused), a file whose content does not match its
        extension, or a truncated file.
    DataError
        ``key`` is not in the archive (the message lists what is).
    HandpropValueError
        Any other extension.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".npy", ".npz"):
        raise HandpropValueError(f"{path}: load_array reads .npy or .npz files, not '{ext}'")
    existing_file(path)
    _check_magic(path, ext)
    if ext == ".npy":
        if key is not None:
            raise HandpropValueError(f"{path}: key={key!r} applies to .npz archives only")
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise _refuse(path, exc) from exc
    with _open_npz(path) as archive:
        if key is None:
            key = archive.files[0] if len(archive.files) == 1 else "X"
        return _npz_member(archive, key, path)


def load_xy(path, x_key="X", y_key="y"):
    """Load features and targets saved with ``np.savez(path, X=X, y=y)``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` archive.
    x_key, y_key : str, default "X", "y"
        Names of the two arrays in the archive.

    Returns
    -------
    X : ndarray, shape (n, ...)
    y : ndarray, shape (n, ...)

    Raises
    ------
    DataError
        An array is missing (the message lists those present).
    ShapeError
        ``X`` and ``y`` have different numbers of rows.
    FileFormatError
        As :func:`load_array`.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise HandpropValueError(f"{path}: load_xy reads .npz archives, not '{path.suffix}'")
    _check_magic(path, ".npz")
    with _open_npz(path) as archive:
        X = _npz_member(archive, x_key, path)
        y = _npz_member(archive, y_key, path)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ShapeError(
            f"{path}: '{x_key}' has shape {X.shape} but '{y_key}' has shape {y.shape}; "
            f"they need the same number of rows")
    return X, y
