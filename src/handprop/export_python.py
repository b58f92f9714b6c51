"""A handprop script out: ``export_python(model, "net.py")`` writes a program that rebuilds the model.

The script spells the network out layer by layer (``Dense(4, 16, weight=..., bias=...)``, ``ReLU()``,
...), rebuilds its ``ModelInfo`` (loss, scaler, labels, names) and predicts as handprop's
``predict`` does: a model you can read, edit and retrain. The weights go to an ``.npz`` beside it
(read with ``allow_pickle=False``).
"""

import os

from .exporting import check_suffix, layer_steps, npz_bytes, weights_beside, write_all

__all__ = ["export_python"]

_TEMPLATE = '''"""A handprop model, rebuilt: {summary}.

Written by `handprop export MODEL --to python OUT.py`. The weights are read from {npz} beside this file. Run
`python {script} ROWS.csv` to print the predictions for a CSV of raw feature rows (numbers only,
no header).
"""
from pathlib import Path

import numpy as np

from handprop import {names}
from handprop.data.preprocessing import LabelEncoder, StandardScaler
from handprop.io import ModelInfo

WEIGHTS = Path(__file__).with_name({npz!r})
DTYPE = np.{dtype}

with np.load(WEIGHTS, allow_pickle=False) as _npz:
    ARRAYS = {{key: _npz[key] for key in _npz.files}}


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


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit(f"usage: python {{sys.argv[0]}} ROWS.csv")
    rows = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2, dtype=DTYPE)
    for value in predict(rows):
        print(",".join(str(v) for v in np.atleast_1d(value).tolist()))
'''


def _layers(steps, arrays):
    lines, names = [], {"Sequential"}
    for i, kind, layer in steps:
        names.add(type(layer).__name__)
        if kind == "dense":
            arrays[f"layers.{i}.W"], arrays[f"layers.{i}.b"] = layer.W, layer.b
            code = (f'Dense({layer.n_in}, {layer.n_out}, weight=ARRAYS["layers.{i}.W"], '
                    f'bias=ARRAYS["layers.{i}.b"], dtype=DTYPE)')
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


def export_python(model, path):
    """Write ``path`` (a ``.py`` handprop script that rebuilds ``model``) and the ``.npz`` of its
    weights beside it; returns both paths. Its ``predict(X)`` equals ``model.info.predict``."""
    script = check_suffix(path, ".py", "export_python: the script")
    steps = layer_steps(model, "a handprop script")
    arrays = {}
    layers, names = _layers(steps, arrays)
    info = _info(model, arrays, names)
    npz = weights_beside(script)
    text = _TEMPLATE.format(summary=repr(model), npz=os.path.basename(npz), script=os.path.basename(script),
                            names=", ".join(sorted(names)), dtype=str(model.dtype), layers=layers, info=info)
    write_all({npz: npz_bytes(arrays), script: text.encode("utf-8")})
    return script, npz
