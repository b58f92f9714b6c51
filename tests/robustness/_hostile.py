"""Helpers that build damaged and hostile model files from a real one, for the robustness tests."""

import io
import json
import zipfile

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
