"""What the exporters (ONNX, PyTorch, a handprop script) share: a model read as plain steps.

An exporter needs three things from a model, and each is read here once:

* ``layer_steps(model, target)``: the layers as ``(index, kind, layer)`` with ``kind`` one of
  ``KINDS``' values; a layer of any other class is refused with an error naming it (a subclass too:
  it may change the math);
* ``Postprocessing.of(model)``: what turns raw rows into the network's input (the saved
  ``StandardScaler``) and its output into what a user wants (probabilities, labels, values), the
  same rules as ``ModelInfo.predict``;
* ``write_all(files)``: every file checked writable before any is written, each written atomically.
"""

import os
import zipfile

import numpy as np

from . import activations, losses
from .files import atomic_write, check_writable
from .errors import HandpropValueError
from .layers import Dense
from .model import Sequential
from .modelinfo import ModelInfo

KINDS = {Dense: "dense", activations.Sigmoid: "sigmoid", activations.Tanh: "tanh",
         activations.ReLU: "relu", activations.LeakyReLU: "leaky_relu",
         activations.Softmax: "softmax", activations.Identity: "identity"}
SUPPORTED = "Dense, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax and Identity"


def layer_steps(model, target):
    """``[(index, kind, layer), ...]`` for ``model``, or a HandpropValueError naming the first layer
    that ``target`` (e.g. ``"ONNX"``) cannot be written for."""
    if not isinstance(model, Sequential):
        raise HandpropValueError(f"{target} export: model must be a handprop Sequential, got {type(model).__name__}")
    steps = []
    for i, layer in enumerate(model.layers):
        kind = KINDS.get(type(layer))
        if kind is None:
            cls = type(layer)
            raise HandpropValueError(
                f"cannot export layer {i} ({layer!r}, class {cls.__module__}.{cls.__qualname__}) to {target}: "
                f"the exporter writes handprop's own {SUPPORTED} layers only")
        steps.append((i, kind, layer))
    if model.n_inputs is None:
        raise HandpropValueError(f"{target} export: the model has no Dense layer, so its input width is unknown")
    return steps


class Postprocessing:
    """How raw rows become the network's input, and its output what the user asked for.

    Attributes: ``x_mean``/``x_scale`` (None without a saved scaler), ``task`` ("classification",
    "regression" or None), ``proba`` ("softmax", "sigmoid" or "identity": how probabilities come
    from the output), ``two_columns`` (one output column is P(1): give [1 − p, p]), ``threshold``
    (one column: label 1 when output > 0 (logits) or >= 0.5 (probabilities); None: argmax),
    ``classes`` (labels in output order, or None: the indices), ``y_mean``/``y_scale``.
    """

    def __init__(self, info, n_outputs, dtype):
        as_dtype = lambda a: None if a is None else np.asarray(a, dtype=dtype)
        xs, ys = info.x_scaler, info.y_scaler
        self.x_mean, self.x_scale = as_dtype(getattr(xs, "mean_", None)), as_dtype(getattr(xs, "scale_", None))
        self.task = info.task
        self.y_mean = as_dtype(getattr(ys, "mean_", None)) if self.task == "regression" else None
        self.y_scale = as_dtype(getattr(ys, "scale_", None)) if self.task == "regression" else None
        loss = info.loss
        from_logits = isinstance(loss, losses.CrossEntropy) or bool(getattr(loss, "from_logits", False))
        self.proba = ("softmax" if isinstance(loss, losses.CrossEntropy)
                      else "sigmoid" if from_logits else "identity")
        self.two_columns = n_outputs == 1
        self.threshold = (0.0 if from_logits else 0.5) if n_outputs == 1 else None
        enc = info.label_encoder
        self.classes = None if enc is None else enc.classes_.tolist()
        if self.task == "classification" and self.classes is not None:
            n_classes = 2 if n_outputs == 1 else n_outputs
            if len(self.classes) != n_classes:
                raise HandpropValueError(f"the model's label encoder has {len(self.classes)} classes but its "
                                         f"output gives {n_classes}: the file's info does not fit its layers")

    @classmethod
    def of(cls, model):
        info = getattr(model, "info", None) or ModelInfo()
        post = cls(info, model.n_outputs, model.dtype)
        if post.x_mean is not None and len(post.x_mean) != model.n_inputs:
            raise HandpropValueError(f"the saved x scaler has {len(post.x_mean)} features but the model "
                                     f"takes {model.n_inputs}")
        return post

    @property
    def classes_are_text(self):
        return self.classes is not None and any(isinstance(c, str) for c in self.classes)


def check_suffix(path, suffix, what):
    """``path`` as a str ending in ``suffix``, or an error saying how to name it."""
    path = os.fspath(path)
    if not path.endswith(suffix):
        raise HandpropValueError(f"{what} must be written to a {suffix} file, got {path!r}; "
                                 f"e.g. {os.path.splitext(path)[0] or 'model'}{suffix}")
    return path


def weights_beside(script):
    """The ``.npz`` that a script ``OUT.py`` reads its weights from: ``OUT.npz``, refused if that
    file is a saved handprop model (``handprop export model.npz --to torch model.py`` must not
    replace the model it reads with bare weights)."""
    npz = os.path.splitext(script)[0] + ".npz"
    if os.path.isfile(npz):
        try:
            with zipfile.ZipFile(npz) as z:
                is_model = "__config__.npy" in z.namelist()
        except (OSError, zipfile.BadZipFile):
            is_model = False
        if is_model:
            base = os.path.splitext(script)[0]
            raise HandpropValueError(
                f"{script}: its weights would go to {npz}, which holds a saved handprop model; "
                f"refusing to replace it. Name the script differently, e.g. {base}_export.py")
    return npz


def write_all(files):
    """Write ``{path: bytes}``: every path is checked writable first, then each is written atomically."""
    for path in files:
        check_writable(path)
    for path, data in files.items():
        atomic_write(path, lambda f, data=data: f.write(data))
    return list(files)


def npz_bytes(arrays):
    """The bytes of an ``.npz`` file holding ``arrays`` (plain numbers: no pickles)."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    return buffer.getvalue()
