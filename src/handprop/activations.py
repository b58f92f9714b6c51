"""Activation layers: ``a = f(z)`` elementwise (Softmax: per row).

Each backward multiplies the incoming gradient ``dL/da`` by the local factor ``da/dz``, the
chain-rule step the blogs write as ``d_z = d_a * sigmoid_derivative(a)``. Where the derivative
can be written with the output alone (sigmoid, tanh), the layer keeps only ``a``, as blog 000 does.
"""

import numbers

import numpy as np

from .errors import HandpropValueError
from .layers import Layer, Workspace


class Scalar(dict):
    """A number as a 0-d array of each dtype it is used with, made once: ``ONE = Scalar(1.0)``,
    then ``np.add(a, ONE[a.dtype], out=a)`` is ``a + 1.0`` to the last bit (the number in ``a``'s
    float type, float64 for integers, as NumPy converts a Python float), without NumPy converting
    the Python number at every call: on a small array that conversion costs more than the sum."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def __missing__(self, dtype):
        dtype = np.dtype(dtype)
        a = self[dtype] = np.array(self.value, dtype if dtype.kind == "f" else np.float64)
        return a


ONE = Scalar(1.0)  # 1 as 0-d arrays of each type (see ``Scalar``: no Python number converted at every call)


def sigmoid(z, out=None):
    """σ(z) = 1 / (1 + e^(-z)), the blogs' formula to the last bit (into ``out`` if given).

    Below z ≈ −709 (−88 in float32) e^(−z) is beyond the float's range: it is inf, and σ is 0, its
    limit, which is right; NumPy warns of the overflow unless the caller silences it
    (``np.errstate(over="ignore")``), as ``Sigmoid.forward`` does (and ``fit``, around its steps)."""
    # a = 1 / (1 + e^(−z))
    a = np.negative(z, out=out)
    np.exp(a, out=a)
    np.add(a, ONE[a.dtype], out=a)
    return np.reciprocal(a, out=a)


def _grad_out(ws, grad, like):
    """Where ``backward`` writes ``dL/dz``: over ``grad`` itself while training (``ws``, the layer's
    workspace; nothing else reads it: it is the next layer's buffer or the loss's) if it is of
    ``like``'s float type, a fresh array otherwise."""
    return grad if ws is not None and type(grad) is np.ndarray and grad.dtype is like.dtype else None


def _like(z, *names):
    """A ``Workspace`` of arrays shaped like ``z``, one per name (``make_workspace`` of an activation)."""
    return Workspace(dtype=z.dtype, **{name: np.empty_like(z) for name in names})


class Sigmoid(Layer):
    """``a = σ(z) = 1 / (1 + e^(-z))``; backward: ``dL/dz = dL/da · a(1 − a)``."""

    a = None  # the output of the last forward

    def make_workspace(self, z):
        return _like(z, "a", "dz")

    def forward(self, z):
        ws = self.ws = self.workspace(z)
        if ws is not None:  # fit steps: its np.errstate is in force
            self.a = sigmoid(z, out=ws.a)
            return self.a
        with np.errstate(over="ignore"):  # e^(−z) beyond the float's range: inf, and σ = 0 (see sigmoid)
            self.a = sigmoid(z)
        return self.a

    def backward(self, grad, need_input_grad=True):
        a, ws = self.a, self.ws
        if a is None:
            raise self._missing_forward()
        # da/dz = a (1 − a), in a's float type
        dz = np.subtract(ONE[a.dtype], a, out=ws and ws.dz)
        dz *= a
        # dL/dz = dL/da · da/dz
        dz *= grad
        return dz


class Tanh(Layer):
    """``a = tanh(z)``; backward: ``dL/dz = dL/da · (1 − a²)``."""

    a = None  # the output of the last forward

    def make_workspace(self, z):
        return _like(z, "a", "dz")

    def forward(self, z):
        ws = self.ws = self.workspace(z)
        self.a = np.tanh(z, out=ws and ws.a)
        return self.a

    def backward(self, grad, need_input_grad=True):
        a, ws = self.a, self.ws
        if a is None:
            raise self._missing_forward()
        # da/dz = 1 − a², in a's float type
        dz = np.multiply(a, a, out=ws and ws.dz)
        np.subtract(ONE[a.dtype], dz, out=dz)
        # dL/dz = dL/da · da/dz
        dz *= grad
        return dz


class ReLU(Layer):
    """``a = max(0, z)``; backward: ``dL/dz = dL/da · [z > 0]`` (0 at the kink z = 0, as PyTorch)."""

    mask = None  # [z > 0] of the last forward

    def make_workspace(self, z):
        return _like(z, "mask", "a")

    def forward(self, z):
        ws = self.ws = self.workspace(z)
        # [z > 0] as 0.0/1.0 numbers of z's type (multiplying by booleans would cost a cast)
        self.mask = np.greater(z, 0, out=ws and ws.mask)
        if self.mask.dtype == np.bool_:
            self.mask = self.mask.astype(z.dtype) if z.dtype.kind == "f" else self.mask
        # a = z · [z > 0]
        return np.multiply(z, self.mask, out=ws and ws.a)

    def backward(self, grad, need_input_grad=True):
        mask = self.mask
        if mask is None:
            raise self._missing_forward()
        # dL/dz = dL/da · [z > 0]
        return np.multiply(grad, mask, out=_grad_out(self.ws, grad, mask))


class LeakyReLU(Layer):
    """``a = z if z > 0 else α·z``; backward: ``dL/dz = dL/da · (1 if z > 0 else α)``."""

    def __init__(self, alpha=0.01):
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= float(alpha) < 1.0:
            raise HandpropValueError(f"LeakyReLU: alpha must be in [0, 1), got {alpha!r}")
        self.alpha = float(alpha)

    slope = None  # the last forward's slopes

    def make_workspace(self, z):
        return _like(z, "a")

    def forward(self, z):
        ws = self.ws = self.workspace(z)
        # slope = 1 where z > 0, else α
        self.slope = np.where(z > 0, 1.0, self.alpha).astype(z.dtype, copy=False)
        # a = z · slope
        return np.multiply(z, self.slope, out=ws and ws.a)

    def backward(self, grad, need_input_grad=True):
        slope = self.slope
        if slope is None:
            raise self._missing_forward()
        # dL/dz = dL/da · slope
        return np.multiply(grad, slope, out=_grad_out(self.ws, grad, slope))

    def get_config(self):
        return {"alpha": self.alpha}

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Softmax(Layer):
    """``a_i = e^(z_i) / Σ_j e^(z_j)`` over each row (computed as e^(z − max z), which is the same
    number without overflow).

    Backward (the Jacobian ``diag(a) − a aᵀ`` applied to ``g = dL/da`` without building it)::

        dL/dz = a ⊙ (g − Σ_j g_j a_j)

    For classification, prefer ``CrossEntropy`` on the logits (no Softmax layer): it is the same
    math, fused and numerically safer.
    """

    a = None  # the output of the last forward

    def make_workspace(self, z):
        return _like(z, "a", "tmp")

    def forward(self, z):
        ws = self.ws = self.workspace(z)
        # e = e^(z − max z), per row
        e = np.subtract(z, z.max(axis=-1, keepdims=True), out=ws and ws.a)
        np.exp(e, out=e)
        # a = e / Σ e
        e /= e.sum(axis=-1, keepdims=True)
        self.a = e
        return self.a

    def backward(self, grad, need_input_grad=True):
        a, ws = self.a, self.ws
        if a is None:
            raise self._missing_forward()
        # Σ_j g_j a_j, per row
        dot = np.multiply(grad, a, out=ws and ws.tmp).sum(axis=-1, keepdims=True)
        # dL/dz = a ⊙ (g − Σ_j g_j a_j)
        g = np.subtract(grad, dot, out=_grad_out(ws, grad, a))
        g *= a
        return g


class Identity(Layer):
    """``a = z``; backward passes the gradient through unchanged (a linear output)."""

    def forward(self, z):
        return z

    def backward(self, grad, need_input_grad=True):
        return grad


ACTIVATIONS = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
    "identity": Identity,
    "linear": Identity,
}


def get(name):
    """An activation layer from its name (see ``ACTIVATIONS``) or a Layer instance."""
    if isinstance(name, Layer):
        return name
    try:
        return ACTIVATIONS[str(name).lower()]()
    except KeyError:
        raise HandpropValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
