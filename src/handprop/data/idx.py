"""Reader for the IDX format of MNIST (and Fashion-MNIST, EMNIST, KMNIST...).

An IDX file is::

    offset  bytes        meaning
    0       2            zero
    2       1            dtype code (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double)
    3       1            ndim
    4       4 * ndim     size of each dimension, big-endian uint32
    ...     prod(sizes) * itemsize   the data, big-endian, C order

Files are often gzipped; we look at the first two bytes (``1f 8b``), not at the extension, because
the files are renamed by hand as often as not.

The header is checked against the file length *before* the data are read: a truncated download or a
corrupt header gives a :class:`~handprop.errors.FileFormatError` naming the file and the byte counts,
never a ``MemoryError`` from allocating a size the header merely claims.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ._checks import existing_file
from ..errors import DataError, FileFormatError, HandpropValueError, MissingFileError

__all__ = ["read_idx", "load_mnist", "IDX_DTYPES"]

# IDX dtype code -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # read gzip streams 1 MiB at a time, so memory follows the real size


def _read_upto(stream, size):
    """Read at most ``size`` bytes from ``stream``, in chunks; fewer if the stream ends first.

    Reading in chunks matters for gzip streams: their decompressed length is unknown in advance and
    ``read(size)`` would allocate ``size`` bytes at once, however absurd ``size`` is.
    """
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(min(_CHUNK, size - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _count_rest(stream):
    """Number of bytes left in ``stream`` (read and dropped chunk by chunk)."""
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
    return total


def _parse_header(head, path):
    """Check the 4 magic bytes; return (big-endian dtype, ndim)."""
    if head[0] != 0 or head[1] != 0:
        raise FileFormatError(
            f"{path}: not an IDX file: the first two bytes are {head[:2].hex(' ')}, expected 00 00 "
            f"(and not gzip either, whose magic is 1f 8b)")
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise FileFormatError(f"{path}: unknown IDX dtype code 0x{code:02X}; known codes: {known}")
    if ndim == 0:
        raise FileFormatError(f"{path}: IDX header declares 0 dimensions; expected at least 1")
    return IDX_DTYPES[code], ndim


def read_idx(path):
    """Read an IDX file, raw or gzip-compressed.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ndarray
        Shape as declared in the header, native byte order; dtype uint8, int8, int16, int32,
        float32 or float64 according to the dtype code.

    Raises
    ------
    FileFormatError
        Bad magic bytes, unknown dtype code, zero dimensions, a file shorter or longer than its
        header declares (the message gives expected and actual byte counts), or a corrupt gzip
        stream.
    """
    path = existing_file(path)
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if is_gzip:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
            try:
                return _read_stream(stream, path, file_size=None)
            except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
                raise FileFormatError(f"{path}: corrupt gzip stream: {exc}") from exc
        return _read_stream(raw, path, file_size=os.fstat(raw.fileno()).st_size)


def _read_stream(stream, path, file_size):
    """Read header and data from an open binary stream.

    ``file_size`` is the total length when known (raw files): the declared size is checked against
    it before anything is allocated. For gzip it is None: the data are read in chunks, at most as
    many bytes as declared, and the byte count is checked afterwards.
    """
    what = "file" if file_size is not None else "decompressed file"
    head = _read_upto(stream, 4)
    if len(head) < 4:
        raise FileFormatError(
            f"{path}: truncated IDX file: the header needs 4 bytes but the {what} has {len(head)}")
    dtype, ndim = _parse_header(head, path)
    header_size = 4 + 4 * ndim
    dims_bytes = _read_upto(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise FileFormatError(
            f"{path}: truncated IDX file: a {ndim}-d header needs {header_size} bytes but the "
            f"{what} has {4 + len(dims_bytes)}")
    shape = tuple(int(s) for s in np.frombuffer(dims_bytes, dtype=">u4"))
    # Python ints: the product of the uint32 sizes cannot overflow.
    n_items = 1
    for s in shape:
        n_items *= s
    expected = header_size + n_items * dtype.itemsize

    def mismatch(actual):
        return FileFormatError(
            f"{path}: IDX header declares shape {shape} of {dtype.name}, i.e. {expected} bytes "
            f"with the header, but the {what} has {actual} bytes"
            + (" (truncated?)" if actual < expected else " (trailing data)"))

    if file_size is not None and file_size != expected:
        raise mismatch(file_size)  # before reading (and allocating) anything
    data = _read_upto(stream, expected - header_size)
    if len(data) < expected - header_size:
        raise mismatch(header_size + len(data))
    if file_size is None:
        extra = _count_rest(stream)
        if extra:
            raise mismatch(expected + extra)
    # Convert from big-endian once, so that later arithmetic runs at native speed.
    return np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _find(directory, stems):
    """First existing file among ``stems`` with or without ``.gz``; None if none exists."""
    for stem in stems:
        for name in (stem, stem + ".gz"):
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def load_mnist(directory, kind="train"):
    """Load MNIST (or a drop-in like Fashion-MNIST) from the four standard IDX files.

    Looks in ``directory`` for ``{prefix}-images-idx3-ubyte`` and ``{prefix}-labels-idx1-ubyte``,
    each possibly gzipped (``.gz``), where ``prefix`` is ``train`` or ``t10k``. The spelling with a
    dot (``train-images.idx3-ubyte``), common in re-uploads, is accepted too.

    Parameters
    ----------
    directory : str or os.PathLike
    kind : {"train", "test"}, default "train"
        ``"test"`` (or ``"t10k"``) reads the ``t10k-`` files.

    Returns
    -------
    X : ndarray of float32, shape (n, rows * cols)
        Pixels scaled from 0..255 to [0, 1]; (n, 784) for MNIST.
    y : ndarray of int64, shape (n,)

    Raises
    ------
    HandpropValueError
        An unknown ``kind``.
    MissingFileError
        When a file is missing (the message lists the names tried).
    FileFormatError
        When a file is not a valid IDX file, or the images are not 3-d uint8.
    DataError
        When the number of labels differs from the number of images.
    """
    prefixes = {"train": "train", "test": "t10k", "t10k": "t10k"}
    if kind not in prefixes:
        raise HandpropValueError(f"kind must be 'train' or 'test', got {kind!r}")
    prefix = prefixes[kind]
    directory = Path(directory)
    paths = {}
    for part, idx in (("images", "idx3"), ("labels", "idx1")):
        stems = [f"{prefix}-{part}-{idx}-ubyte", f"{prefix}-{part}.{idx}-ubyte"]
        found = _find(directory, stems)
        if found is None:
            tried = ", ".join(s + ext for s in stems for ext in ("", ".gz"))
            raise MissingFileError(f"no MNIST {part} file in {directory}; looked for: {tried}")
        paths[part] = found
    images = read_idx(paths["images"])
    labels = read_idx(paths["labels"])
    if images.dtype != np.uint8 or images.ndim != 3:
        raise FileFormatError(
            f"{paths['images']}: MNIST images must be 3-d unsigned bytes (n, rows, cols), "
            f"got {images.ndim}-d {images.dtype}")
    if labels.ndim != 1:
        raise FileFormatError(f"{paths['labels']}: MNIST labels must be 1-d, got {labels.ndim}-d")
    if len(labels) != len(images):
        raise DataError(
            f"{len(images)} images in {paths['images']} but {len(labels)} labels in "
            f"{paths['labels']}")
    # Scale in float32 directly: no float64 copy of the whole set (it would be 376 MB for MNIST).
    X = np.multiply(images.reshape(len(images), -1), np.float32(1 / 255), dtype=np.float32)
    return X, labels.astype(np.int64)
