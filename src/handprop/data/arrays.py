"""Loading NumPy's ``.npy`` and ``.npz`` files safely: never unpickling, never trusting a size.

A pickle can run arbitrary code when loaded, so object arrays and pickles are refused with a
:class:`~handprop.errors.FileFormatError` that says why. The first bytes are checked against the
extension, so a CSV or pickle renamed to ``.npy`` is named for what it is.

A ``.npy`` header (alone, or inside an ``.npz`` zip) declares a shape; that is a claim. Before any
data is read, each header is parsed by NumPy's own header reader (which evaluates nothing), its
declared size is checked against the bytes the file (or the zip entry) really holds, and the shape
against what the caller needs (``n_features`` columns). Only then are the data read: memory-mapped
for a ``.npy`` file and for an ``.npz`` entry stored without compression (so a large array costs no
memory until its rows are used), read into a buffer of exactly the declared size for a compressed
entry, after checking that the machine has that much memory free.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._checks import existing_file
from ..errors import DataError, FileFormatError, HandpropValueError, ShapeError
from ..files import read_npy_header

__all__ = ["load_array", "load_xy"]


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip
_PICKLE_REFUSED = ("holds pickled Python objects (an object array or a pickle); handprop loads "
                   "plain numeric arrays only and never unpickles, since unpickling can run code. "
                   "Re-save the data with a numeric dtype")
_MAX_ENTRIES = 10_000
# What a damaged zip or .npy header can raise from zipfile, zlib, struct and NumPy's header parser.
_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, struct.error, OverflowError,
           NotImplementedError, KeyError, UnicodeDecodeError, SyntaxError, TypeError, OSError)


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


class _Header:
    """What a ``.npy`` header declares: shape, order, dtype, and where the data start."""

    def __init__(self, f, where):
        try:
            shape, fortran, dtype = read_npy_header(f, where, kinds="biufcUS", plain="plain numbers (or text labels)")
        except FileFormatError:
            raise
        except _BROKEN as exc:
            raise FileFormatError(f"{where}: cannot read the array header ({type(exc).__name__}: "
                                  f"{str(exc)[:200]})") from None
        self.shape, self.fortran, self.dtype = shape, fortran, dtype
        self.count = math.prod(shape)  # Python ints: no overflow, however large the claim
        self.nbytes = self.count * dtype.itemsize
        self.offset = f.tell()

    def check_size(self, held, where):
        """The declared data must be exactly the bytes the file holds after the header."""
        if self.offset + self.nbytes != held:
            raise FileFormatError(
                f"{where}: cannot read the array: its header declares shape {self.shape} "
                f"({self.nbytes:,} bytes of data) but the file holds {held - self.offset:,}; it is "
                f"truncated, or was not written by NumPy")

    def memmap(self, path, offset):
        if self.count == 0:  # nothing to map
            return np.zeros(self.shape, dtype=self.dtype)
        return np.memmap(path, dtype=self.dtype, mode="r", offset=offset, shape=self.shape,
                         order="F" if self.fortran else "C")

    def from_stream(self, f, where):
        """Read exactly the declared bytes from ``f`` (positioned at the data) into a new array."""
        _check_free_memory(self.nbytes, where)
        buf = bytearray(self.nbytes)
        if f.readinto(buf) != self.nbytes or f.read(1):  # the extra read makes zipfile check the CRC
            raise FileFormatError(f"{where}: cannot read the array: it is truncated")
        arr = np.frombuffer(buf, dtype=self.dtype, count=self.count)
        return arr.reshape(self.shape, order="F" if self.fortran else "C")


def _check_free_memory(nbytes, where):
    """Refuse to allocate more than the memory the machine has free (a compressed zip bomb)."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this system: nothing to compare with
        return
    if nbytes > free:
        raise FileFormatError(f"{where}: declares {nbytes:,} bytes of data, more than the {free:,} bytes of "
                              f"memory free; save it without compression (np.savez) to have it memory-mapped")


def _check_columns(path, key, header, n_features):
    """The features' shape from the header, before any data is read."""
    if n_features is None:
        return
    shape = header.shape
    if len(shape) != 2:
        raise ShapeError(f"{path}: '{key}' has shape {shape}; features need a 2-d table of rows and "
                         f"{n_features} column(s)" + ("; one feature per row: save X.reshape(-1, 1)"
                                                      if len(shape) == 1 else ""))
    if shape[1] != n_features:
        raise ShapeError(f"{path}: '{key}' has shape {shape}: {shape[1]} feature columns, but "
                         f"{n_features} are expected")


def _load_npy(path, mmap, n_features):
    held = os.stat(path).st_size
    with open(path, "rb") as f:
        header = _Header(f, path)
        _check_columns(path, "X", header, n_features)
        header.check_size(held, path)
        if mmap:
            return header.memmap(path, header.offset)
        return header.from_stream(f, path)


class _Npz:
    """An open ``.npz`` archive whose entries are read only after their headers are checked."""

    def __init__(self, path):
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
        except _BROKEN as exc:
            raise FileFormatError(f"{path}: cannot read the array: not a readable zip archive "
                                  f"({type(exc).__name__}: {str(exc)[:200]})") from None
        infos = self.zf.infolist()
        if len(infos) > _MAX_ENTRIES:
            self.zf.close()
            raise FileFormatError(f"{path}: {len(infos)} entries; a data file holds a few arrays")
        self.entries = {i.filename[:-4]: i for i in infos if i.filename.endswith(".npy")}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zf.close()

    @property
    def files(self):
        return list(self.entries)

    def header(self, key):
        if key not in self.entries:
            raise DataError(f"{self.path}: no array '{key}' in the archive; it holds: "
                            f"{', '.join(self.entries) or 'nothing'}")
        info = self.entries[key]
        where = f"{self.path}: entry '{key}'"
        try:
            with self.zf.open(info) as f:
                header = _Header(f, where)
        except FileFormatError:
            raise
        except _BROKEN as exc:
            raise FileFormatError(f"{where}: cannot read the array ({type(exc).__name__}: {str(exc)[:200]})") from None
        header.check_size(info.file_size, where)
        return header

    def read(self, key, header):
        """The entry's data: memory-mapped if stored, else decompressed into a buffer of its size."""
        info = self.entries[key]
        where = f"{self.path}: entry '{key}'"
        try:
            if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
                with open(self.path, "rb") as f:  # the local header: 30 bytes, then name and extra
                    f.seek(info.header_offset)
                    local = f.read(30)
                if local[:4] != b"PK\x03\x04":
                    raise FileFormatError(f"{where}: cannot read the array: damaged zip entry")
                n, m = struct.unpack("<HH", local[26:30])
                return header.memmap(self.path, info.header_offset + 30 + n + m + header.offset)
            with self.zf.open(info) as f:
                f.read(header.offset)
                return header.from_stream(f, where)
        except FileFormatError:
            raise
        except _BROKEN as exc:
            raise FileFormatError(f"{where}: cannot read the array ({type(exc).__name__}: {str(exc)[:200]})") from None


def _open_npz(path):
    path = Path(path)
    existing_file(path)
    _check_magic(path, ".npz")
    return _Npz(path)


def load_array(path, key=None, mmap=True, n_features=None):
    """Load one array from a ``.npy`` or ``.npz`` file, never unpickling.

    Parameters
    ----------
    path : str or os.PathLike
    key : str or None, default None
        For ``.npz``: the array to return. None returns the only array of a one-array archive, or
        the array ``"X"`` (see :func:`load_xy`). Not allowed for ``.npy``.
    mmap : bool, default True
        ``.npy`` only: memory-map the file read-only, so a large array costs no memory until rows
        are used. In a ``.npz`` archive, entries stored without compression are always mapped.
    n_features : int or None
        If given, the array must be 2-d with this many columns; checked from the header, before
        any data is read.

    Returns
    -------
    ndarray (``numpy.memmap`` when memory-mapped)

    Raises
    ------
    FileFormatError
        Object arrays or pickles (always refused), a file whose content does not match its
        extension, a header declaring more data than the file holds, or a truncated file.
    DataError
        ``key`` is not in the archive (the message lists what is).
    ShapeError
        The shape does not have ``n_features`` columns.
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
        return _load_npy(path, mmap, n_features)
    with _Npz(path) as archive:
        if key is None:
            key = archive.files[0] if len(archive.files) == 1 else "X"
        header = archive.header(key)
        _check_columns(path, key, header, n_features)
        return archive.read(key, header)


def load_xy(path, x_key="X", y_key="y", n_features=None):
    """Load features and targets saved with ``np.savez(path, X=X, y=y)``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` archive.
    x_key, y_key : str, default "X", "y"
        Names of the two arrays in the archive.
    n_features : int or None
        If given, ``X`` must be 2-d with this many columns (checked before any data is read).

    Returns
    -------
    X : ndarray, shape (n, ...)
    y : ndarray, shape (n, ...)

    Raises
    ------
    DataError
        An array is missing (the message lists those present).
    ShapeError
        ``X`` and ``y`` have different numbers of rows, or ``X`` not ``n_features`` columns.
    FileFormatError
        As :func:`load_array`.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise HandpropValueError(f"{path}: load_xy reads .npz archives, not '{path.suffix}'")
    with _open_npz(path) as archive:
        hx, hy = archive.header(x_key), archive.header(y_key)
        _check_columns(path, x_key, hx, n_features)
        if not hx.shape or not hy.shape or hx.shape[0] != hy.shape[0]:
            raise ShapeError(
                f"{path}: '{x_key}' has shape {hx.shape} but '{y_key}' has shape {hy.shape}; "
                f"they need the same number of rows")
        return archive.read(x_key, hx), archive.read(y_key, hy)
