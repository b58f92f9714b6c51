"""Activation layers: ``a = f(z)`` elementwise (Softmax: per row).

Each backward multiplies the incoming gradient ``dL/da`` by the local factor ``da/dz``, the
chain-rule step the blogs write as ``d_z = d_a * sigmoid_derivative(a)``. Where the derivative
can be written with the output alone (sigmoid, tanh), the layer keeps only ``a``, as blog 000 does.
"""

import numbers

import numpy as np

from .errors import HandpropValueError
from .layers import Layer

# exp(x) overflows above ~709 in float64 and ~88 in float32. Clipping the argument there changes no
# result (sigmoid is already 0 or 1 to machine precision) and keeps NumPy from warning.
_EXP_LIMIT = {np.dtype(np.float64): 700.0, np.dtype(np.float32): 87.0, np.dtype(np.float16): 11.0}


def _exp_limit(dtype):
    return _EXP_LIMIT.get(np.dtype(dtype), 700.0)


def sigmoid(z):
    """σ(z) = 1 / (1 + e^(-z)), the blogs' formula, safe for any z."""
    return 1.0 / (1.0 + np.exp(-np.maximum(z, -_exp_limit(z.dtype))))


class Sigmoid(Layer):
    """``a = σ(z) = 1 / (1 + e^(-z))``; backward: ``dL/dz = dL/da · a(1 − a)``."""

    def forward(self, z):
        self.a = sigmoid(z)
        return self.a

    def backward(self, grad, need_input_grad=True):
        a = getattr(self, "a", None)
        if a is None:
            raise self._missing_forward()
        return grad * (a * (1.0 - a))


class Tanh(Layer):
    """``a = tanh(z)``; backward: ``dL/dz = dL/da · (1 − a²)``."""

    def forward(self, z):
        self.a = np.tanh(z)
        return self.a

    def backward(self, grad, need_input_grad=True):
        a = getattr(self, "a", None)
        if a is None:
            raise self._missing_forward()
        return grad * (1.0 - a * a)


class ReLU(Layer):
    """``a = max(0, z)``; backward: ``dL/dz = dL/da · [z > 0]`` (0 at the kink z = 0, as PyTorch)."""

    def forward(self, z):
        self.mask = z > 0
        return z * self.mask

    def backward(self, grad, need_input_grad=True):
        mask = getattr(self, "mask", None)
        if mask is None:
            raise self._missing_forward()
        return grad * mask


class LeakyReLU(Layer):
    """``a = z if z > 0 else α·z``; backward: ``dL/dz = dL/da · (1 if z > 0 else α)``."""

    def __init__(self, alpha=0.01):
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= float(alpha) < 1.0:
            raise HandpropValueError(f"LeakyReLU: alpha must be in [0, 1), got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, z):
        self.slope = np.where(z > 0, 1.0, self.alpha).astype(z.dtype, copy=False)
        return z * self.slope

    def backward(self, grad, need_input_grad=True):
        slope = getattr(self, "slope", None)
        if slope is None:
            raise self._missing_forward()
        return grad * slope


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

    def forward(self, z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        self.a = e / e.sum(axis=-1, keepdims=True)
        return self.a

    def backward(self, grad, need_input_grad=True):
        a = getattr(self, "a", None)
        if a is None:
            raise self._missing_forward()
        return a * (grad - (grad * a).sum(axis=-1, keepdims=True))


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
