"""PyTorch out: ``export_torch(model, "net.py")`` writes a standalone PyTorch script and ``net.npz``.

The script needs only NumPy and PyTorch (not handprop) and reads like this::

    def build_model():
        model = nn.Sequential(
            nn.Linear(4, 16),      # handprop layer 0: Dense(4, 16)
            nn.ReLU(),             # handprop layer 1: ReLU()
            nn.Linear(16, 3),      # handprop layer 2: Dense(16, 3)
        ).to(DTYPE)
        model.load_state_dict({key: ARRAYS[key] for key in model.state_dict()})
        return model

plus ``preprocess(X)`` (the saved StandardScaler), ``predict(X)`` (labels or values, as handprop's
``predict``), ``predict_proba(X)`` for classifiers, and ``loss_fn``, the PyTorch form of the model's
loss, so that training can go on in PyTorch: one ``torch.optim.SGD`` step from a batch gives the same
weights as handprop's step. Torch's ``Linear.weight`` is handprop's ``W`` transposed: ``(out, in)``.

The weights go to an ``.npz`` beside the script (read with ``allow_pickle=False``), never a pickle.
Writing this file needs no PyTorch; running it does.
"""

import os

from .exporting import Postprocessing, check_suffix, layer_steps, npz_bytes, weights_beside, write_all

__all__ = ["export_torch"]

_MODULES = {"dense": "nn.Linear({n_in}, {n_out})", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()",
            "relu": "nn.ReLU()", "leaky_relu": "nn.LeakyReLU(negative_slope={alpha!r})",
            "softmax": "nn.Softmax(dim=-1)", "identity": "nn.Identity()"}

_LOSSES = {"MSE": "loss_fn = nn.MSELoss()  # mean((pred - y)^2), handprop's MSE",
           "BCE": "loss_fn = nn.BCELoss()  # on probabilities, handprop's BCE()",
           "BCE_logits": "loss_fn = nn.BCEWithLogitsLoss()  # on logits, handprop's BCE(from_logits=True)",
           "CrossEntropy": "loss_fn = nn.CrossEntropyLoss()  # softmax cross-entropy from logits, int labels",
           "HalfSSE": ("def loss_fn(pred, target):\n"
                       "    \"\"\"Half the sum of squared errors, handprop's HalfSSE (PyTorch has no such loss).\"\"\"\n"
                       "    return 0.5 * ((pred - target.reshape(pred.shape)) ** 2).sum()")}


def _loss_code(model):
    loss = getattr(getattr(model, "info", None), "loss", None)
    if loss is None:
        return "loss_fn = None  # the model was saved without a loss"
    name = type(loss).__name__ + ("_logits" if getattr(loss, "from_logits", False) else "")
    return _LOSSES[name]


def _network(steps):
    lines, arrays = [], {}
    for i, kind, layer in steps:
        if kind == "dense":
            arrays[f"{i}.weight"] = layer.W.T  # torch's (out, in)
            arrays[f"{i}.bias"] = layer.b
            code = _MODULES[kind].format(n_in=layer.n_in, n_out=layer.n_out)
        else:
            code = _MODULES[kind].format(alpha=getattr(layer, "alpha", None))
        lines.append(f"        {code + ',':<40}# handprop layer {i}: {layer!r}")
    return "\n".join(lines), arrays


def _pre_code(post, arrays):
    if post.x_mean is None:
        return ('def preprocess(X):\n    """Raw rows as the network takes them (it was trained on raw rows)."""\n'
                "    return torch.as_tensor(X, dtype=DTYPE)\n")
    arrays["x_mean"], arrays["x_scale"] = post.x_mean, post.x_scale
    return ('def preprocess(X):\n    """Raw rows as the network saw them in training: (X - mean) / scale, '
            'the saved StandardScaler."""\n'
            '    return (torch.as_tensor(X, dtype=DTYPE) - ARRAYS["x_mean"]) / ARRAYS["x_scale"]\n')


def _post_code(post, arrays):
    """``predict`` (and ``predict_proba``) as handprop's ModelInfo.predict computes them."""
    head = 'def predict(X):\n    """{doc}"""\n    with torch.no_grad():\n        out = MODEL(preprocess(X))\n'
    if post.task == "regression":
        body = "    return out.numpy()\n"
        if post.y_mean is not None:
            arrays["y_mean"], arrays["y_scale"] = post.y_mean, post.y_scale
            body = '    return (out * ARRAYS["y_scale"] + ARRAYS["y_mean"]).numpy()  # the target scaling undone\n'
        return head.format(doc="Predicted values for raw rows X.") + body
    if post.task != "classification":
        return head.format(doc="The network's output for raw rows X.") + "    return out.numpy()\n"
    proba = {"softmax": "torch.softmax(out, dim=1)", "sigmoid": "torch.sigmoid(out)", "identity": "out"}[post.proba]
    two = "\n    p = torch.cat([1 - p, p], dim=1)  # P(0), P(1)" if post.two_columns else ""
    if post.threshold is None:
        idx = "out.argmax(dim=1)"
    else:
        idx = f"(out[:, 0] {'>' if post.threshold == 0.0 else '>='} {post.threshold}).long()"
    labels = "CLASSES[idx.numpy()]" if post.classes is not None else "idx.numpy()"
    return (f'def predict_proba(X):\n    """Class probabilities for raw rows X, one column per class."""\n'
            f"    with torch.no_grad():\n        out = MODEL(preprocess(X))\n    p = {proba}{two}\n"
            f"    return p.numpy()\n\n\n" + head.format(doc="The class label of each raw row of X.")
            + f"    idx = {idx}\n    return {labels}\n")


_TEMPLATE = '''"""A handprop model as PyTorch: {summary}.

Written by handprop.export_torch. Standalone: it needs NumPy and PyTorch, not handprop. The weights
are read from {npz} beside this file. Run `python {script} ROWS.csv` to print the predictions for a
CSV of raw feature rows (numbers only, no header).
"""
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS = Path(__file__).with_name({npz!r})
DTYPE = torch.{dtype}
CLASSES = {classes}

with np.load(WEIGHTS, allow_pickle=False) as _npz:
    ARRAYS = {{key: torch.from_numpy(_npz[key]) for key in _npz.files}}


def build_model():
    """The network as an nn.Sequential, with its trained weights (Linear.weight is W transposed)."""
    model = nn.Sequential(
{network}
    ).to(DTYPE)
    model.load_state_dict({{key: ARRAYS[key] for key in model.state_dict()}})
    return model


MODEL = build_model()
{loss}


{pre}

{post}

if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit(f"usage: python {{sys.argv[0]}} ROWS.csv")
    rows = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2, dtype=np.{np_dtype})
    for value in predict(rows):
        print(",".join(str(v) for v in np.atleast_1d(value).tolist()))
'''


def export_torch(model, path):
    """Write ``path`` (a ``.py`` script) and the ``.npz`` of weights beside it; returns both paths.

    The script rebuilds ``model`` as a ``torch.nn.Sequential`` with the saved preprocessing
    (``model.info``) as functions; see the module docstring. A layer PyTorch has no counterpart
    for here is refused by name before anything is written.
    """
    script = check_suffix(path, ".py", "export_torch: the script")
    steps = layer_steps(model, "PyTorch")
    post = Postprocessing.of(model)
    network, arrays = _network(steps)
    pre, post_code = _pre_code(post, arrays), _post_code(post, arrays)
    npz = weights_beside(script)
    dtype = str(model.dtype)
    classes = "None" if post.classes is None else f"np.array({post.classes!r})"
    text = _TEMPLATE.format(summary=repr(model), npz=os.path.basename(npz), script=os.path.basename(script),
                            dtype=dtype, classes=classes, network=network, loss=_loss_code(model),
                            pre=pre, post=post_code, np_dtype=dtype)
    write_all({npz: npz_bytes(arrays), script: text.encode("utf-8")})
    return script, npz
