"""Reading an ``.npz`` file that may be hostile: every size is checked before memory is taken.

``np.load(allow_pickle=False)`` already refuses pickles, but it trusts the rest of the file: a
``.npy`` header inside the zip may declare 10**12 elements, and NumPy would try to allocate them
(a MemoryError, or swapping) before finding out that the bytes are not there. A zip member may also
be a "bomb": a few kilobytes that inflate to gigabytes. So we read the zip ourselves, in three steps
that :mod:`handprop.io` drives:

1. ``NpzArchive(where)`` reads the zip's directory only: at most ``MAX_MEMBERS`` entries, each named
   ``<key>.npy``, no name twice. Nothing is inflated.
2. ``archive.header(key)`` inflates a member's ``.npy`` header alone (format 1.0 or 2.0, at most
   ``files.NPY_HEADER_MAX`` bytes, parsed by NumPy's own ``read_array_header_*`` functions, which evaluate
   nothing): its dtype must be plain numbers (no objects, hence no pickles) and its declared size
   must equal the bytes the zip says the member holds. The caller checks the declared shape against
   the model's config, and the total against the memory it may take, before going on.
3. ``archive.read(key, header)`` inflates the data into a buffer of exactly the declared size, never
   more, once it has checked that a compressed member does not inflate more than ``MAX_RATIO`` times
   (handprop writes members uncompressed, and trained weights do not compress that well); zipfile
   checks each member's CRC at its end, so flipped bytes are found too.

Any failure is a ``FileFormatError`` naming the file and the member.
"""

import math
import os
import struct
import zipfile
import zlib

import numpy as np

from .errors import FileFormatError
from .files import read_npy_header

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 2 * 1024**3  # far above any model handprop trains; far below a zip bomb
# A compressed member may inflate at most this many times (members under SMALL_MEMBER are exempt).
MAX_RATIO = 50
SMALL_MEMBER = 1024**2
# What a corrupt zip or .npy member can raise from zipfile, zlib, struct and NumPy's header parser.
_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, struct.error, OverflowError,
           NotImplementedError, RuntimeError, KeyError, UnicodeDecodeError, SyntaxError, TypeError,
           RecursionError, OSError)


def _check_directory_size(where):
    """Refuse a zip whose directory claims more than ``MAX_MEMBERS`` entries (or more bytes than
    they could need) before zipfile reads it: zipfile makes an object for every entry it lists."""
    with open(where, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 22 - 65535))  # the end record, then at most a 64 KiB comment
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # not a zip: zipfile says so
    entries, cd_size = struct.unpack("<HL", tail[at + 10:at + 16])
    locator = tail.rfind(b"PK\x06\x07", 0, at)
    if locator >= 0 and at - locator == 20:  # ZIP64: the counts are in a record further back
        f_offset = struct.unpack("<Q", tail[locator + 8:locator + 16])[0]
        with open(where, "rb") as f:
            f.seek(f_offset)
            record = f.read(48)
        if len(record) == 48 and record[:4] == b"PK\x06\x06":
            entries, cd_size = struct.unpack("<QQ", record[32:48])
    if entries > MAX_MEMBERS or cd_size > MAX_MEMBERS * (46 + 1024):
        raise FileFormatError(f"{where}: its zip directory lists {entries} entries in {cd_size} bytes; a "
                              f"handprop file has far fewer (at most {MAX_MEMBERS} are read)")


class Header:
    """What a member's ``.npy`` header declares: ``shape``, ``dtype``, ``fortran``, ``nbytes``."""

    def __init__(self, key, shape, dtype, fortran, offset):
        self.key, self.shape, self.dtype, self.fortran, self.offset = key, shape, dtype, fortran, offset
        self.count = math.prod(shape)  # Python ints: no overflow, however large the claim
        self.nbytes = self.count * dtype.itemsize


class NpzArchive:
    """An ``.npz`` file opened for careful reading (see the module docstring); use it in ``with``."""

    def __init__(self, where):
        self.where = where
        try:
            _check_directory_size(where)
            self._zf = zipfile.ZipFile(where)
        except _BROKEN as exc:
            raise self._broken(exc) from None
        try:
            self._infos = self._directory()
        except BaseException:
            self._zf.close()
            raise

    def _directory(self):
        infos = self._zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise FileFormatError(f"{self.where}: {len(infos)} entries; a handprop file has far fewer "
                                  f"(at most {MAX_MEMBERS} are read)")
        found = {}
        for info in infos:
            if not info.filename.endswith(".npy") or info.is_dir():
                raise FileFormatError(f"{self.where}: unexpected entry {info.filename!r} (an .npz file "
                                      "holds only .npy arrays)")
            if info.filename[:-4] in found:
                raise FileFormatError(f"{self.where}: entry {info.filename!r} appears twice")
            found[info.filename[:-4]] = info
        return found

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zf.close()

    @property
    def keys(self):
        """The member names without ``.npy``, in the zip's order."""
        return list(self._infos)

    def _broken(self, exc):
        if isinstance(exc, FileFormatError):
            return exc
        if isinstance(exc, MemoryError):
            return FileFormatError(f"{self.where}: too large to load into memory")
        if isinstance(exc, OSError) and not os.path.isfile(self.where):
            return exc
        return FileFormatError(f"{self.where}: not a readable .npz file ({type(exc).__name__}: "
                               f"{str(exc)[:200]})")

    def header(self, key):
        """The member's declared shape and dtype, checked; only the header bytes are inflated."""
        try:
            with self._zf.open(self._infos[key]) as f:
                return self._parse_header(key, f)
        except (FileFormatError, MemoryError) + _BROKEN as exc:
            raise self._broken(exc) from None

    def _parse_header(self, key, f):
        where, info = self.where, self._infos[key]
        shape, fortran, dtype = read_npy_header(f, f"{where}: entry {key!r}")
        h = Header(key, shape, dtype, fortran, f.tell())
        if h.offset + h.nbytes != info.file_size:
            raise FileFormatError(
                f"{where}: entry {key!r} declares shape {shape} ({h.nbytes} bytes of data) but holds "
                f"{info.file_size - h.offset}; the file is damaged or was not written by NumPy")
        return h

    def check_inflation(self, keys):
        """Refuse compressed members ``keys`` that together inflate more than ``MAX_RATIO`` times
        (many small members, each under ``SMALL_MEMBER``, could otherwise add up to gigabytes)."""
        infos = [self._infos[k] for k in keys if self._infos[k].compress_type != zipfile.ZIP_STORED]
        inflated, compressed = sum(i.file_size for i in infos), sum(i.compress_size for i in infos)
        if inflated > max(SMALL_MEMBER, MAX_RATIO * compressed):
            raise FileFormatError(
                f"{self.where}: its {len(infos)} compressed entries would inflate from {compressed} to {inflated} "
                f"bytes, more than {MAX_RATIO} times (a zip bomb?); handprop writes its arrays uncompressed")

    def read(self, key, header):
        """The member's array: exactly ``header.nbytes`` bytes are inflated, and its CRC checked."""
        info = self._infos[key]
        if info.file_size > max(SMALL_MEMBER, MAX_RATIO * info.compress_size):
            raise FileFormatError(
                f"{self.where}: entry {key!r} would inflate from {info.compress_size} to {info.file_size} "
                f"bytes, more than {MAX_RATIO} times (a zip bomb?); handprop writes its arrays uncompressed")
        try:
            with self._zf.open(info) as f:
                f.read(header.offset)  # the header, already checked
                buf = bytearray(header.nbytes)
                # The second read also makes zipfile check the CRC at the member's end.
                if f.readinto(buf) != header.nbytes or f.read(1):
                    raise FileFormatError(f"{self.where}: entry {key!r} is truncated")
        except (FileFormatError, MemoryError) + _BROKEN as exc:
            raise self._broken(exc) from None
        arr = np.frombuffer(buf, dtype=header.dtype, count=header.count)
        return arr.reshape(header.shape, order="F" if header.fortran else "C")


def read_npz(where, max_bytes=MAX_TOTAL_BYTES):
    """``{key: array}`` of every member of ``where``, each checked as ``NpzArchive`` does, with at
    most ``max_bytes`` of data in all (checked before any data is inflated)."""
    with NpzArchive(where) as archive:
        headers = [archive.header(key) for key in archive.keys]
        total = sum(h.nbytes for h in headers)
        if total > max_bytes:
            raise FileFormatError(f"{where}: its entries declare {total} bytes, more than the "
                                  f"{max_bytes} bytes a handprop file may hold")
        return {h.key: archive.read(h.key, h) for h in headers}
