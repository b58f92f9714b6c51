"""Helpers that build damaged and hostile model files from a real one, for the robustness tests."""

import functools
import io
import json
import struct
import zipfile
import zlib

import numpy as np

import handprop as hp


def saved_model(path, checkpoint=False):
    """A small real model (or checkpoint) file at ``path``; returns its bytes."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    model = hp.mlp([2, 3, 2], "tanh", rng=0)
    if checkpoint:
        model.fit(X, y, loss="ce", optimizer="adam", epochs=2, seed=0,
                  callbacks=[hp.callbacks.ModelCheckpoint(path)])
    else:
        model.fit(X, y, loss="ce", epochs=2)
        hp.io.save(model, path, loss="ce")
    return path.read_bytes()


def members(data):
    """``{name: bytes}`` of the zip ``data``, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rezip(entries, compress=False):
    """Bytes of a zip holding ``entries`` ({name: bytes})."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    return buf.getvalue()


def npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_header(shape, descr="<f8", version=(1, 0), fortran=False):
    """A .npy header alone: it may declare any shape, whatever data follows."""
    buf = io.BytesIO()
    d = {"descr": descr, "fortran_order": fortran, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buf, d)
    else:
        np.lib.format.write_array_header_2_0(buf, d)
    return buf.getvalue()


def config_of(entries):
    return json.loads(np.load(io.BytesIO(entries["__config__.npy"])).tobytes())


def with_config(entries, config):
    raw = config if isinstance(config, bytes) else json.dumps(config).encode()
    out = dict(entries)
    out["__config__.npy"] = npy(np.frombuffer(raw, dtype=np.uint8))
    return out


# ----------------------------------------------------------------------------------- zip bombs
_CHUNK = 1 << 20


@functools.cache
def _zeros_crc(header, n):
    crc = zlib.crc32(header)
    zeros = bytes(_CHUNK)
    for _ in range(n // _CHUNK):
        crc = zlib.crc32(zeros, crc)
    return zlib.crc32(bytes(n % _CHUNK), crc)


def deflated_zeros(header, n):
    """A deflated zip member: ``header`` then ``n`` zero bytes, as ``(compressed, crc, size)``.

    Each MiB of zeros is compressed once after a full flush, so its ~1 KB of output repeats: a
    2 GB member costs a few milliseconds to build (and its CRC about a second)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(_CHUNK)) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(bytes(n % _CHUNK)) + c.flush(zlib.Z_FINISH)
    return head + block * (n // _CHUNK) + tail, _zeros_crc(header, n), len(header) + n


def raw_zip(entries):
    """Bytes of a zip whose members are given as ``{name: bytes}`` (stored) or
    ``{name: (compressed, crc, size)}`` (deflated, from ``deflated_zeros``). Sizes under 4 GiB."""
    out, central = bytearray(), bytearray()
    for name, member in entries.items():
        if isinstance(member, tuple):
            data, crc, size, method = *member, 8
        else:
            data, crc, size, method = member, zlib.crc32(member), len(member), 0
        raw_name = name.encode("utf-8")
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size,
                           len(raw_name), 0) + raw_name + data
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc,
                               len(data), size, len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + end)
