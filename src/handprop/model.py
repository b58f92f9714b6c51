"""Sequential: layers applied one after another, and backpropagation through them.

``forward`` runs the layers left to right; ``backward`` hands the loss gradient right to left, each
layer applying its chain-rule factor (``delta``) and storing its parameter gradients.
"""

import inspect

import numpy as np

from . import activations
from ._arguments import positive_int
from ._compact import Compact
from .initializers import as_rng
from ._safety import all_finite, as_numeric, cast, check_finite, check_memory
from .errors import DataError, HandpropTypeError, HandpropValueError, ShapeError
from .layers import DIVERGED_WEIGHTS, Dense, Layer, blamed_weights
from .parameters import FlatParameters


_TAKES_NEED_INPUT_GRAD = {}

TEXT_LABELS = ("; text labels become class indices with handprop.data.LabelEncoder: "
               "y = LabelEncoder().fit_transform(y)")


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


class Sequential(Compact):
    """A stack of layers.

    >>> model = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()])
    >>> out = model(X)                  # forward
    >>> model.backward(loss_grad)       # sets every layer's dW, db

    ``model.fit(...)`` and ``model.save(path)`` are conveniences that ``handprop.training`` and
    ``handprop.io`` attach when imported (``import handprop`` imports both): the model imports neither.
    """

    _flat = None  # the FlatParameters of the last flat_parameters()

    def __init__(self, layers):
        if isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__iter__"):
            raise HandpropTypeError(f"Sequential takes a list of layers, got {type(layers).__name__} {layers!r}; "
                                    "e.g. Sequential([Dense(2, 3), Tanh(), Dense(3, 1)])")
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise HandpropValueError(
                    f"Sequential: item {i} is {type(layer).__name__}, not a Layer (Dense, Sigmoid, ...)"
                )
        self.layers = layers
        self._check_sizes()
        self.flat_parameters()  # the weights in one array from the start: ``layer.W`` stays that array

    # -- structure ---------------------------------------------------------------------------
    def _check_sizes(self):
        """Follow a sample's shape through the layers (an int for rows, a tuple such as (C, L) after a
        Reshape): a layer that declares its input size (Dense, Reshape) starts it; a layer that changes
        shapes but declares none (Conv1D, pools, Flatten) needs a declared one before it."""
        n = None
        for i, layer in enumerate(self.layers):
            declared = getattr(layer, "n_in", None)
            if isinstance(layer, Dense) and n is not None and layer.n_in != n:
                raise ShapeError(
                    f"Sequential: layer {i} {layer!r} takes {layer.n_in} inputs, "
                    f"but the layer before it gives {n}"
                )
            if n is None and declared is None:
                if type(layer).output_size is not Layer.output_size:
                    raise ShapeError(
                        f"Sequential: layer {i} {layer!r} needs to know the shape of its input, but no layer "
                        "before it declares one; start the model with Reshape, e.g. Reshape((1, 40)) turns "
                        "rows of 40 features into one channel of length 40 (a layer of your own that changes "
                        "sizes declares the features it takes as its n_in attribute)")
                continue
            try:
                n = layer.output_size(declared if n is None else n)
            except ShapeError as exc:
                raise ShapeError(f"Sequential: layer {i}: {exc}") from None

    @property
    def n_inputs(self):
        """Number of input features: the input size of the first layer that declares one (a Dense's
        ``n_in``, a Reshape's sample size), or None."""
        for layer in self.layers:
            n = getattr(layer, "n_in", None)
            if n is not None:
                return n
        return None

    @property
    def n_outputs(self):
        """Number of output features (a shape tuple if the model ends before a Flatten), or None."""
        n = self.n_inputs
        for layer in self.layers:
            n = layer.output_size(n) if n is not None else None
        return n

    def train(self):
        """Training mode for every layer that has one (Dropout drops, BatchNorm uses the batch's
        statistics); returns self."""
        for layer in self.layers:
            if hasattr(layer, "training"):
                layer.training = True
        return self

    def eval(self):
        """Evaluation mode for every layer that has one (Dropout is the identity, BatchNorm uses its
        running statistics); returns self."""
        for layer in self.layers:
            if hasattr(layer, "training"):
                layer.training = False
        return self

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
        self.flat_parameters()
        return self

    def flat_parameters(self):
        """The parameters as one flat array that the layers' ``W``, ``b`` are views of (``FlatParameters``;
        made again, keeping the values, if a layer was given a new array), or None where they cannot
        share one (several dtypes, tied weights): optimizers then update them one by one."""
        flat = self._flat
        if flat is None or not flat.held():
            flat = self._flat = FlatParameters.of(self.parameters())
        return flat

    def parameters(self):
        """Every trainable parameter, in layer order (W1, b1, W2, b2, ...)."""
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def n_params(self):
        return sum(layer.n_params for layer in self.layers)

    def penalty(self):
        """What the layers' weight penalties add to the loss (``Dense(l1=, l2=)``); 0 without any."""
        return sum(layer.penalty() for layer in self.layers if hasattr(layer, "penalty"))

    def penalized(self):
        """Whether ``penalty`` can be other than 0: a Dense with ``l1`` or ``l2`` (its ``penalized``),
        or a layer of your own with a ``penalty`` method. ``fit`` asks once per epoch, not every step."""
        return any(getattr(layer, "penalized", True) for layer in self.layers if hasattr(layer, "penalty"))

    def forward_bytes(self, rows, n_in=None):
        """Bytes that the layers' outputs for ``rows`` rows take (one array per layer)."""
        n, total = self.n_inputs or n_in or 1, 0
        for layer in self.layers:
            n = layer.output_size(n)
            total += int(np.prod(n))  # a sample's shape (C, L) after a Reshape holds C·L values
        return rows * total * self.dtype.itemsize

    def check_memory(self, rows, what, copies=1, n_in=None, extra=0):
        """Refuse (TooLargeError) a pass over ``rows`` rows (of ``n_in`` features, for a model without
        Dense layers) whose ``copies`` of the layers' outputs (and ``extra`` bytes) this machine's
        memory cannot hold, before anything is allocated."""
        check_memory(f"{what} of {rows:,} rows through {self!r}", copies * self.forward_bytes(rows, n_in) + extra,
                     "give a smaller batch_size")

    # -- computation -------------------------------------------------------------------------
    def check_input(self, X, dtype=None):
        """``X`` as a 2-D array of the model's dtype (or ``dtype``), or a ShapeError saying what is wrong."""
        X = as_numeric("X", X)
        if X.ndim != 2:
            fix = " (one sample? use X.reshape(1, -1))" if X.ndim == 1 else ""
            raise ShapeError(f"X must be 2-D (samples, features), got shape {X.shape}{fix}")
        n_in = self.n_inputs
        if n_in is not None and X.shape[1] != n_in:
            raise ShapeError(
                f"X has {X.shape[1]} features (shape {X.shape}) but the first layer "
                f"{self.layers[0]!r} expects {n_in}"
            )
        return cast("X", X, self.dtype if dtype is None else dtype)

    def check_data(self, X, y, dtype=None):
        """``X`` and ``y`` checked against the model and each other, as arrays of the float ``dtype``
        training computes in; the model is not touched.

        ``dtype`` None: X's own float type if it has one (float32 features train in float32: ``fit``
        casts the model once, after every check has passed), else the model's; integer or boolean
        features are used as the model's float type.
        """
        X = as_numeric("X", X)
        if dtype is None:
            dtype = X.dtype if X.dtype.kind == "f" else self.dtype
        X = self.check_input(X, dtype)
        y = as_numeric("y", y, TEXT_LABELS)
        if y.ndim == 0 or len(y) != len(X):
            raise ShapeError(f"X has {len(X)} samples but y has {y.shape[0] if y.ndim else 0} (y shape {y.shape})")
        if len(X) == 0:
            raise HandpropValueError("the training data is empty (0 samples)")
        check_finite("X", X)
        check_finite("y", y)
        return X, (cast("y", y, dtype) if y.dtype.kind in "fb" else y)

    def forward(self, X):
        """Output of the network for the rows of ``X`` (samples × features).

        Rows holding NaN or infinite values are refused (a DataError naming them), and so is an
        output that is not finite: it says whether the weights or the inputs are to blame.
        """
        X = self.check_input(X)
        check_finite("X", X)
        self.check_memory(len(X), "the forward pass", n_in=X.shape[1])
        return self.outputs(X)

    __call__ = forward

    def backward(self, grad, need_input_grad=True):
        """Backpropagate ``grad = dL/d(output)``; returns ``dL/dX`` (None if not needed).

        Every layer's parameter gradients (``dW``, ``db``) are set on the way. Training passes
        ``need_input_grad=False``: the gradient with respect to the data itself is never used there.
        """
        layers = self.layers
        for layer in layers[:0:-1]:  # the last layer down to the second
            grad = layer.backward(grad)
        if not layers:
            return grad
        first = layers[0]
        if _TAKES_NEED_INPUT_GRAD.get(type(first)) or backward_takes_need_input_grad(first):
            return first.backward(grad, need_input_grad=need_input_grad)
        grad = first.backward(grad)  # a user's layer: backward(self, grad), the blogs' contract
        return grad if need_input_grad else None

    def predict(self, X, batch_size=None):
        """The model's output for ``X``; in batches of ``batch_size`` rows to bound memory. Made in
        evaluation mode: Dropout drops nothing, BatchNorm1d uses its running statistics.

        Rows holding NaN or infinite values are refused (a DataError naming them): their
        predictions would be NaN, silently; so is an output that is not finite (it overflowed).
        """
        X = self.check_input(X)
        batch_size = positive_int("batch_size", batch_size, allow_none=True)
        if len(X) == 0:
            raise DataError(f"X has no rows (shape {X.shape}): there is nothing to predict")
        check_finite("X", X)
        self.check_memory(min(len(X), batch_size or len(X)), "prediction", n_in=X.shape[1])
        return self.outputs(X, batch_size, evaluating=True)

    def outputs(self, X, batch_size=None, evaluating=False):
        """``predict`` for an ``X`` already checked (``fit`` measures its checked data every epoch):
        the layers' forwards, in batches; an output that is not finite is refused, in words.
        ``evaluating``: in evaluation mode (Dropout passes everything, BatchNorm1d uses its running
        statistics) whatever the mode, as predictions and measurements are; the modes stay as they were."""
        modes = [(layer, layer.training) for layer in self.layers if hasattr(layer, "training")]
        try:
            if evaluating:
                self.eval()
            with np.errstate(all="ignore"):  # an overflow on the way is reported once, below
                if batch_size is None or batch_size >= len(X):
                    out = self._layers(X)
                else:
                    out = np.concatenate([self._layers(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
        finally:
            for layer, training in modes:
                layer.training = training
        if all_finite([out]):
            return out
        self._not_finite(X, out)

    def _layers(self, X):
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def _not_finite(self, X, out):
        """A DataError saying why ``out`` is not finite: weights that are not, or are finite but huge
        (training diverged), or inputs too large for these weights (values overflowed through the layers)."""
        bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        rows = ", ".join(str(i) for i in np.flatnonzero(bad)[:5]) + (" ..." if bad.sum() > 5 else "")
        if not all_finite([p.value for p in self.parameters()]):
            raise DataError(f"the model's weights hold NaN or infinite values, so its output does too "
                            f"(rows {rows}): training diverged; retrain with a smaller learning rate")
        big = float(np.max(np.abs(X[bad]))) if X.size else 0.0
        huge = blamed_weights(self.parameters(), big)
        if huge is not None:
            raise DataError(f"the model's output overflowed (not finite) for X's rows {rows}, whose values reach "
                            f"{big:.3g}, because its weights reach {huge:.3g}: {DIVERGED_WEIGHTS}")
        raise DataError(f"the model's output overflowed (not finite) for X's rows {rows}, whose values reach "
                        f"{big:.3g}: scale X as the training data was scaled (e.g. the same StandardScaler)")

    # -- description -------------------------------------------------------------------------
    def summary(self):
        """A table of layers, output shapes and parameter counts (returned as a string)."""
        rows = [("#", "Layer", "Output shape", "Params")]
        n = self.n_inputs
        for i, layer in enumerate(self.layers):
            n = layer.output_size(n) if n is not None else None
            shape = ", ".join(map(str, n)) if isinstance(n, tuple) else n
            rows.append((str(i), repr(layer), f"(batch, {shape})" if n is not None else "?", f"{layer.n_params:,}"))
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
    if not isinstance(sizes, (list, tuple, range, np.ndarray)):
        raise HandpropTypeError(f"mlp: sizes must be a list of layer sizes, got {type(sizes).__name__} {sizes!r}; "
                                "e.g. mlp([2, 3, 1])")
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
