"""Sequential: layers applied one after another, and backpropagation through them.

``forward`` runs the layers left to right; ``backward`` hands the loss gradient right to left, each
layer applying its chain-rule factor (``delta``) and storing its parameter gradients.
"""

import inspect

import numpy as np

from . import activations
from .initializers import as_rng
from ._safety import check_finite
from .errors import HandpropValueError, ShapeError
from .layers import Dense, Layer


_TAKES_NEED_INPUT_GRAD = {}


def backward_takes_need_input_grad(layer):
    """Whether ``layer.backward`` accepts ``need_input_grad=`` (handprop's layers do; a layer written
    as ``def backward(self, grad)`` does not, and is called with the gradient alone)."""
    cls = type(layer)
    if cls not in _TAKES_NEED_INPUT_GRAD:
        try:
            params = inspect.signature(layer.backward).parameters.values()
        except (TypeError, ValueError):
            params = ()
        _TAKES_NEED_INPUT_GRAD[cls] = any(p.name == "need_input_grad" or p.kind is p.VAR_KEYWORD for p in params)
    return _TAKES_NEED_INPUT_GRAD[cls]


class Sequential:
    """A stack of layers.

    >>> model = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()])
    >>> out = model(X)                  # forward
    >>> model.backward(loss_grad)       # sets every layer's dW, db

    ``model.fit(...)`` and ``model.save(path)`` are conveniences that ``handprop.training`` and
    ``handprop.io`` attach when imported (``import handprop`` imports both): the model imports neither.
    """

    def __init__(self, layers):
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise HandpropValueError(
                    f"Sequential: item {i} is {type(layer).__name__}, not a Layer (Dense, Sigmoid, ...)"
                )
        self.layers = layers
        self._check_sizes()

    # -- structure ---------------------------------------------------------------------------
    def _check_sizes(self):
        n = None
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                if n is not None and layer.n_in != n:
                    raise ShapeError(
                        f"Sequential: layer {i} {layer!r} takes {layer.n_in} inputs, "
                        f"but the layer before it gives {n}"
                    )
                n = layer.n_out

    @property
    def n_inputs(self):
        """Number of input features (from the first Dense layer), or None."""
        for layer in self.layers:
            if isinstance(layer, Dense):
                return layer.n_in
        return None

    @property
    def n_outputs(self):
        n = self.n_inputs
        for layer in self.layers:
            n = layer.output_size(n) if n is not None else None
        return n

    @property
    def dtype(self):
        for layer in self.layers:
            for name in layer.param_names:
                return getattr(layer, name).dtype
        return np.dtype(np.float64)

    def astype(self, dtype):
        """Cast every parameter to ``dtype`` in place (float32 trains in float32); returns self."""
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def parameters(self):
        """Every trainable parameter, in layer order (W1, b1, W2, b2, ...)."""
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def n_params(self):
        return sum(layer.n_params for layer in self.layers)

    # -- computation -------------------------------------------------------------------------
    def check_input(self, X):
        """``X`` as a 2-D array of the model's dtype, or a ShapeError saying what is wrong."""
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise HandpropValueError(f"X must be numeric, got dtype {X.dtype}")
        if X.ndim != 2:
            fix = " (one sample? use X.reshape(1, -1))" if X.ndim == 1 else ""
            raise ShapeError(f"X must be 2-D (samples, features), got shape {X.shape}{fix}")
        n_in = self.n_inputs
        if n_in is not None and X.shape[1] != n_in:
            raise ShapeError(
                f"X has {X.shape[1]} features (shape {X.shape}) but the first layer "
                f"{self.layers[0]!r} expects {n_in}"
            )
        return X.astype(self.dtype, copy=False)

    def forward(self, X):
        """Output of the network for the rows of ``X`` (samples × features)."""
        out = self.check_input(X)
        for layer in self.layers:
            out = layer.forward(out)
        return out

    __call__ = forward

    def backward(self, grad, need_input_grad=True):
        """Backpropagate ``grad = dL/d(output)``; returns ``dL/dX`` (None if not needed).

        Every layer's parameter gradients (``dW``, ``db``) are set on the way. Training passes
        ``need_input_grad=False``: the gradient with respect to the data itself is never used there.
        """
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        if self.layers:
            first = self.layers[0]
            if backward_takes_need_input_grad(first):
                return first.backward(grad, need_input_grad=need_input_grad)
            grad = first.backward(grad)  # a user's layer: backward(self, grad), the blogs' contract
            return grad if need_input_grad else None
        return grad

    def predict(self, X, batch_size=None):
        """The model's output for ``X``; in batches of ``batch_size`` rows to bound memory.

        Rows holding NaN or infinite values are refused (a DataError naming them): their
        predictions would be NaN, silently.
        """
        X = np.asarray(X)
        check_finite("X", X)
        if batch_size is None:
            return self.forward(X)
        return np.concatenate([self.forward(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])

    # -- description -------------------------------------------------------------------------
    def summary(self):
        """A table of layers, output shapes and parameter counts (returned as a string)."""
        rows = [("#", "Layer", "Output shape", "Params")]
        n = self.n_inputs
        for i, layer in enumerate(self.layers):
            n = layer.output_size(n) if n is not None else None
            rows.append((str(i), repr(layer), f"(batch, {n})" if n is not None else "?", f"{layer.n_params:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "-" * (sum(widths) + 6)
        fmt = lambda r: f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}"
        body = [fmt(rows[0]), line] + [fmt(r) for r in rows[1:]] + [line]
        body.append(f"Total parameters: {self.n_params:,} ({self.dtype})")
        return "\n".join(body)

    def __repr__(self):
        return "Sequential([" + ", ".join(repr(layer) for layer in self.layers) + "])"


def mlp(sizes, activation="sigmoid", output=None, init=None, rng=None, dtype=np.float64):
    """A multi-layer perceptron: Dense layers of the given ``sizes`` with activations between.

    ``mlp([2, 2, 1], "sigmoid", output="sigmoid", init="normal", rng=np.random.RandomState(42))``
    builds blog 000's network with its exact initial weights. ``output`` is the activation after
    the last Dense layer (None or "identity" for none: logits for CrossEntropy, values for
    regression). ``init`` defaults to He for ReLU-like activations and Glorot otherwise.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise HandpropValueError(f"mlp: sizes needs at least input and output sizes, got {sizes}")
    if init is None:
        init = "he_uniform" if str(activation).lower() in ("relu", "leaky_relu") else "glorot_uniform"
    rng = as_rng(rng)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(n_in, n_out, init=init, rng=rng, dtype=dtype))
        last = i == len(sizes) - 2
        act = output if last else activation
        if act is not None and str(act).lower() not in ("identity", "linear", "none"):
            layers.append(activations.get(act))
    return Sequential(layers)
