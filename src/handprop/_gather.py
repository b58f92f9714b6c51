"""Gathering a batch of rows into a reused array, from memory or from a memory-mapped file.

From an array in memory, ``np.take(..., out=batch)`` copies the rows straight into the batch.

From a memory-mapped ``.npy`` (``np.load(path, mmap_mode="r")``), reading through the mapping would
make every page it touches resident, and the kernel maps 64 KiB around each page fault: after one
shuffled epoch the whole file counts in the process's memory. So rows are read from the file
itself, with one ``preadv`` per row into the batch: the same bytes, and memory stays flat however
large the file is.
"""

import mmap
import os

import numpy as np


class Rows:
    """Reads rows ``idx`` (or ``start:stop``) of ``array`` into a batch array."""

    def __init__(self, array):
        self.array = array
        self.fd = None
        self.file = _file_rows(array) if hasattr(os, "preadv") else None

    def take(self, idx, out):
        """Rows ``idx`` (any order, all in range) into ``out[:len(idx)]``; returns that view."""
        out = out[:len(idx)]
        if self.file is None:
            # mode="clip" lets take() write straight into out ("raise" would buffer a copy)
            return self.array.take(idx, 0, out, "clip")
        start, stride = self.file[1], self.array.strides[0]
        rows = memoryview(out.reshape(len(idx), -1)).cast("B")
        width = rows.nbytes // max(len(idx), 1)
        for j, i in enumerate(idx.tolist()):
            self._read(rows[j * width:(j + 1) * width], start + i * stride)
        return out

    def slice(self, start, stop, out):
        """Rows ``start:stop``: a view in memory, one read from a file."""
        if self.file is None:
            return self.array[start:stop]
        out = out[:stop - start]
        self._read(memoryview(out.reshape(-1)).cast("B"), self.file[1] + start * self.array.strides[0])
        return out

    def chunks(self, rows=65536):
        """The array in slices of ``rows`` rows, for a pass over all of it (a finiteness check, a
        sum): views in memory; from a memory-mapped file, reads into one reused array, so that the
        pass does not make the whole file resident."""
        out = np.empty((min(rows, len(self.array)),) + self.array.shape[1:], self.array.dtype) \
            if self.file is not None else None
        try:
            for start in range(0, len(self.array), rows):
                yield self.slice(start, min(start + rows, len(self.array)), out)
        finally:
            self.close()

    def _read(self, buffer, offset):
        if self.fd is None:
            self.fd = os.open(self.file[0], os.O_RDONLY)
        if os.preadv(self.fd, [buffer], offset) != buffer.nbytes:
            raise OSError(f"{self.file[0]} is shorter than its array: was it truncated while training?")

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def memory_mapped(array):
    """Whether ``array`` is (a view of) a memory-mapped file (``np.load(path, mmap_mode="r")``)."""
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = getattr(array, "base", None)
    return False


def _file_rows(array):
    """(path, file offset of row 0) when ``array``'s rows can be read from the file under it."""
    base = array
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    # shared mappings only: a copy-on-write one ("c") may differ from its file
    if base is None or getattr(base, "mode", None) not in ("r", "r+", "w+") or not base.filename:
        return None
    m = getattr(base, "_mmap", None)
    if not isinstance(m, mmap.mmap) or array.ndim < 1 or not array[:1].flags.c_contiguous:
        return None
    if array.strides[0] != array[:1].nbytes:  # rows must be whole and packed
        return None
    try:
        map_address = np.frombuffer(m, np.uint8, count=1).ctypes.data
    except (TypeError, ValueError):
        return None
    map_offset = base.offset - base.offset % mmap.ALLOCATIONGRANULARITY  # where np.memmap mapped from
    return base.filename, map_offset + array.ctypes.data - map_address


def iter_batches(X, y, batch_size, shuffle, rng):
    """Yield ``(X_batch, y_batch)`` pairs covering the data once, in shuffled order if ``shuffle``.

    ``batch_size=None`` (or >= the number of rows) yields the whole data set once: full-batch
    gradient descent, as in the blogs.

    The data set is never copied: only the order of its rows is shuffled (``rng.permutation``),
    and each batch's rows are gathered into the same two arrays, reused from batch to batch (copy
    a batch to keep it past the next one). Without shuffling, batches are views of ``X`` and ``y``.
    A memory-mapped ``X`` or ``y`` (``np.load(path, mmap_mode="r")``) is read from its file a batch
    at a time, so memory stays flat however large the file is (see ``handprop._gather``).
    """
    n = len(X)
    if batch_size is None or batch_size >= n:
        yield X, y
        return
    X_rows, y_rows = Rows(X), Rows(y)
    X_batch = np.empty((batch_size,) + X.shape[1:], X.dtype)
    y_batch = np.empty((batch_size,) + y.shape[1:], y.dtype)
    try:
        if not shuffle:
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                yield X_rows.slice(start, stop, X_batch), y_rows.slice(start, stop, y_batch)
            return
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield X_rows.take(idx, X_batch), y_rows.take(idx, y_batch)
    finally:
        X_rows.close()
        y_rows.close()
