"""Reading an ``.npz`` file that may be hostile: every size is checked before memory is taken.

``np.load(allow_pickle=False)`` already refuses pickles, but it trusts the rest of the file: a
``.npy`` header inside the zip may declare 10**12 elements, and NumPy would try to allocate them
(a MemoryError, or swapping) before finding out that the bytes are not there. So we read the zip
ourselves, member by member:

1. the zip's directory (at most ``MAX_MEMBERS`` entries, each named ``<key>.npy``);
2. each member's ``.npy`` header (format 1.0 or 2.0, at most 10 000 bytes, parsed by NumPy's own
   ``read_array_header_*`` functions, which evaluate nothing): its dtype must be plain numbers
   (no objects, hence no pickles) and its declared size must equal the bytes the zip says the
   member holds, and the members together at most ``MAX_TOTAL_BYTES``;
3. only then the data, into a buffer of exactly that size; zipfile checks each member's CRC at
   its end, so flipped bytes are found too.

Any failure is a ``FileFormatError`` naming the file and the member.
"""

import math
import os
import struct
import zipfile
import zlib

import numpy as np

from .errors import FileFormatError

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 2 * 1024**3  # far above any model handprop trains; far below a zip bomb
_HEADER_MAX = 10_000
# What a corrupt zip or .npy member can raise from zipfile, zlib, struct and NumPy's header parser.
_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, struct.error, OverflowError,
           NotImplementedError, RuntimeError, KeyError, UnicodeDecodeError, SyntaxError, TypeError,
           RecursionError)


def _member(zf, info, where, budget):
    name = info.filename
    key = name[:-4]
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=_HEADER_MAX)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=_HEADER_MAX)
        else:
            raise FileFormatError(f"{where}: entry {key!r} is in .npy format {version}, not 1.0 or 2.0")
        if dtype.hasobject:
            raise FileFormatError(f"{where}: entry {key!r} holds pickled Python objects; handprop never "
                                  "unpickles files, because loading a pickle can run arbitrary code")
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            raise FileFormatError(f"{where}: entry {key!r} has dtype {dtype}, not plain numbers")
        count = math.prod(shape)  # Python ints: no overflow, however large the claim
        nbytes = count * dtype.itemsize
        header = f.tell()
        if header + nbytes != info.file_size:
            raise FileFormatError(
                f"{where}: entry {key!r} declares shape {shape} ({nbytes} bytes of data) but holds "
                f"{info.file_size - header}; the file is damaged or was not written by NumPy")
        if nbytes > budget:
            raise FileFormatError(f"{where}: entry {key!r} declares {nbytes} bytes, more than the "
                                  f"{MAX_TOTAL_BYTES} bytes a handprop file may hold")
        buf = bytearray(nbytes)
        if f.readinto(buf) != nbytes or f.read(1):  # the second read also makes zipfile check the CRC
            raise FileFormatError(f"{where}: entry {key!r} is truncated")
    arr = np.frombuffer(buf, dtype=dtype, count=count)
    return key, arr.reshape(shape, order="F" if fortran else "C"), nbytes


def read_npz(where):
    """``{key: array}`` from the ``.npz`` file ``where``, or a FileFormatError saying what is wrong."""
    try:
        with zipfile.ZipFile(where) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise FileFormatError(f"{where}: {len(infos)} entries; a handprop file has far fewer "
                                      f"(at most {MAX_MEMBERS} are read)")
            arrays, budget = {}, MAX_TOTAL_BYTES
            for info in infos:
                if not info.filename.endswith(".npy") or info.is_dir():
                    raise FileFormatError(f"{where}: unexpected entry {info.filename!r} (an .npz file "
                                          "holds only .npy arrays)")
                if info.filename[:-4] in arrays:
                    raise FileFormatError(f"{where}: entry {info.filename!r} appears twice")
                key, arr, nbytes = _member(zf, info, where, budget)
                arrays[key] = arr
                budget -= nbytes
            return arrays
    except FileFormatError:
        raise
    except MemoryError:
        raise FileFormatError(f"{where}: too large to load into memory") from None
    except _BROKEN + (OSError,) as exc:
        if isinstance(exc, OSError) and not os.path.isfile(where):
            raise
        raise FileFormatError(f"{where}: not a readable .npz file ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from None
