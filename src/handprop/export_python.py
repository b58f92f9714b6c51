"""A handprop script out: ``export_python(model, "net.py")`` writes a program that rebuilds the model.

The script spells the network out layer by layer (``Dense(4, 16, weight=..., bias=...)``, ``ReLU()``,
...), rebuilds its ``ModelInfo`` (loss, scaler, labels, names) and predicts as handprop's
``predict`` does: a model you can read, edit and retrain. ``python_script(model)`` is the one writer;
both exports use it and differ only in where the weights live:

* ``handprop export MODEL --to python OUT.py`` (``export_python``): in ``OUT.npz`` beside the script
  (read with ``allow_pickle=False``), for models of any size;
* the playground's "Python script" (``playground_run.py``): written out in the script itself
  (``np.array([...])``, every float's digits), so that one downloaded file is the whole model.

Run as ``python SCRIPT ROWS.csv [OUT.npz]``: the predictions for the CSV's rows (numbers only, or a
header row naming the columns: the model's feature columns are then picked by name, others such as the
target left out), one per line; with ``OUT.npz`` the rebuilt model is also saved there.
"""

import os

import numpy as np

from .errors import HandpropValueError
from .exporting import check_suffix, layer_steps, npz_bytes, weights_beside, write_all

__all__ = ["export_python", "python_script"]

_TEMPLATE = '''"""A handprop model, rebuilt: {summary}.

Written by {origin}. {where} Run `python {script} ROWS.csv` to print the predictions for a CSV of raw
feature rows (numbers only, or with a header row naming the columns), and `python {script} ROWS.csv
OUT.npz` to save the rebuilt model too.
"""
import csv
import sys
from pathlib import Path

import numpy as np

from handprop import {names}
from handprop.data.preprocessing import LabelEncoder, StandardScaler
from handprop.io import ModelInfo

DTYPE = np.{dtype}
{arrays}

def build_model():
    """The network, layer by layer, with its trained weights and what it knows about its data."""
    model = Sequential([
{layers}
    ])
{info}
    return model


MODEL = build_model()


def predict(X, proba=False):
    """Predictions for raw rows X, as handprop's predict gives them (labels, probabilities or values)."""
    return MODEL.info.predict(MODEL, X, proba=proba)


def read_rows(path):
    """The raw feature rows of a CSV file: numbers only, or under a header row naming the columns (the
    model's feature columns are then taken by name; the others, such as the target, are left out)."""
    with open(path, newline="", encoding="utf-8") as f:
        first = next(csv.reader(f), [])
    try:
        [float(cell) for cell in first]
    except ValueError:  # a header row
        names = MODEL.info.feature_names or first
        missing = [name for name in names if name not in first]
        if missing:
            sys.exit(f"{{path}}: no column(s) {{missing}}; the model reads the columns {{names}}")
        return np.loadtxt(path, delimiter=",", ndmin=2, dtype=DTYPE, skiprows=1,
                          usecols=[first.index(name) for name in names])
    return np.loadtxt(path, delimiter=",", ndmin=2, dtype=DTYPE)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(f"usage: python {{sys.argv[0]}} ROWS.csv [OUT.npz]")
    for value in predict(read_rows(sys.argv[1])):
        print(",".join(str(v) for v in np.atleast_1d(value).tolist()))
    if len(sys.argv) == 3:
        MODEL.save(sys.argv[2])
        print(f"saved {{sys.argv[2]}}")
'''

_FROM_NPZ = '''WEIGHTS = Path(__file__).with_name({npz!r})

with np.load(WEIGHTS, allow_pickle=False) as _npz:
    ARRAYS = {{key: _npz[key] for key in _npz.files}}
'''


def _layers(steps, arrays):
    lines, names = [], {"Sequential"}
    for i, kind, layer in steps:
        names.add(type(layer).__name__)
        if kind == "dense":
            arrays[f"layers.{i}.W"], arrays[f"layers.{i}.b"] = layer.W, layer.b
            penalties = "".join(f", {k}={v!r}" for k, v in (("l1", layer.l1), ("l2", layer.l2)) if v)
            code = (f'Dense({layer.n_in}, {layer.n_out}, weight=ARRAYS["layers.{i}.W"], '
                    f'bias=ARRAYS["layers.{i}.b"], dtype=DTYPE{penalties})')
        else:
            code = repr(layer)
        lines.append(f"        {code},")
    return "\n".join(lines), names


def _scaler(info, key, arrays):
    scaler = getattr(info, f"{key}_scaler")
    if scaler is None:
        return None
    arrays[f"{key}_mean"], arrays[f"{key}_scale"] = scaler.mean_, scaler.scale_
    return (f'StandardScaler.from_config({{"class": "StandardScaler", "mean": ARRAYS["{key}_mean"], '
            f'"scale": ARRAYS["{key}_scale"]}})')


def _info(model, arrays, names):
    info = getattr(model, "info", None)
    if info is None:
        return "    model.info = ModelInfo()  # saved without a loss, preprocessing or names"
    fields = {"loss": None if info.loss is None else repr(info.loss), "task": repr(info.task),
              "x_scaler": _scaler(info, "x", arrays), "y_scaler": _scaler(info, "y", arrays)}
    if info.loss is not None:
        names.add(type(info.loss).__name__)
    if info.label_encoder is not None:
        fields["label_encoder"] = ('LabelEncoder.from_config({"class": "LabelEncoder", "classes": '
                                   f'{info.label_encoder.classes_.tolist()!r}}})')
    fields["feature_names"] = repr(info.feature_names) if info.feature_names else None
    fields["target_name"] = repr(info.target_name) if info.target_name is not None else None
    body = "".join(f"        {k}={v},\n" for k, v in fields.items() if v is not None)
    return f"    model.info = ModelInfo(\n{body}    )"


def _inline(arrays):
    """``ARRAYS = {...}``: each array written out with every digit of its floats (they read back exact)."""
    bad = [key for key, arr in arrays.items() if arr.dtype.kind == "f" and not np.all(np.isfinite(arr))]
    if bad:
        raise HandpropValueError(f"cannot write the script: {bad[0]} holds NaN or infinite values (did training "
                                 "diverge?); lower the learning rate and train again")
    lines = [f"    {key!r}: np.array({arr.tolist()!r}, dtype={'DTYPE' if arr.dtype.kind == 'f' else repr(str(arr.dtype))}),"
             for key, arr in arrays.items()]
    return "ARRAYS = {  # the trained weights and the scalers' statistics\n" + "\n".join(lines) + "\n}\n"


def python_script(model, script_name, npz_name=None, origin="`handprop export MODEL --to python OUT.py`"):
    """``(text, arrays)``: the handprop script that rebuilds ``model`` (named ``script_name`` in its usage
    line), and the arrays it reads. With ``npz_name`` the script loads them from that file beside it
    (write ``arrays`` there); without, they are written out in the script. ``origin`` says who wrote it."""
    steps = layer_steps(model, "a handprop script")
    arrays = {}
    layers, names = _layers(steps, arrays)
    info = _info(model, arrays, names)
    where = (f"The weights are read from {npz_name} beside this file." if npz_name else
             "The weights are written out below, every digit of them.")
    text = _TEMPLATE.format(summary=repr(model), origin=origin, where=where, script=script_name,
                            names=", ".join(sorted(names)), dtype=str(model.dtype), layers=layers, info=info,
                            arrays=_FROM_NPZ.format(npz=npz_name) if npz_name else _inline(arrays))
    return text, arrays


def export_python(model, path):
    """Write ``path`` (a ``.py`` handprop script that rebuilds ``model``) and the ``.npz`` of its
    weights beside it; returns both paths. Its ``predict(X)`` equals ``model.info.predict``."""
    script = check_suffix(path, ".py", "export_python: the script")
    npz = weights_beside(script)
    text, arrays = python_script(model, os.path.basename(script), npz_name=os.path.basename(npz))
    write_all({npz: npz_bytes(arrays), script: text.encode("utf-8")})
    return script, npz
