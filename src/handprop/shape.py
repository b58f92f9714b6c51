"""Layers that only rearrange values: Flatten and Reshape (no arithmetic, no parameters).

A sample's shape is everything after the batch axis: rows of a CSV file are ``(N, 40)``, one sample
shaped ``(40,)``; ``Reshape((1, 40))`` makes them ``(N, 1, 40)``, one channel of length 40 for a
``Conv1D``; ``Flatten()`` turns ``(N, C, L)`` back into rows ``(N, C·L)`` for a ``Dense``.

Backward of a pure rearrangement is the inverse rearrangement: every output value is one input value,
so ``dL/dx`` is ``dL/dy`` put back into the input's shape.

``output_size`` takes and returns a sample's shape: an int for rows, a tuple for anything else.
"""

import numpy as np

from ._arguments import positive_int
from .errors import HandpropValueError, ShapeError
from .layers import Layer


def sample_shape(n):
    """A sample's shape as a tuple: ``40`` -> ``(40,)``, ``(1, 40)`` -> ``(1, 40)``."""
    return tuple(int(v) for v in n) if isinstance(n, (tuple, list)) else (int(n),)


def as_size(shape):
    """A sample shape as ``output_size`` reports it: an int for rows (one axis), else a tuple."""
    shape = tuple(shape)
    return shape[0] if len(shape) == 1 else shape


def check_batch(layer, x, ndim, what):
    """``x`` with ``ndim`` axes, or a ShapeError naming the layer and what it expects."""
    if np.ndim(x) != ndim:
        raise ShapeError(f"{layer!r}: expects {what}, got an array of shape {np.shape(x)}")


class _Rearrange(Layer):
    """A layer that only rearranges each sample's values: backward puts the gradient back in the
    input's shape, ``dL/dx = (dL/dy).reshape(x.shape)``."""

    def backward(self, grad, need_input_grad=True):
        shape = getattr(self, "in_shape", None)
        if shape is None:
            raise self._missing_forward()
        return grad.reshape(shape) if need_input_grad else None


class Flatten(_Rearrange):
    """``y = x.reshape(N, -1)``: (N, C, L) -> (N, C·L), in C order (as ``torch.nn.Flatten``).

    Backward: ``dL/dx = (dL/dy).reshape(x.shape)``.
    """

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(len(x), -1)

    def output_size(self, n_in):
        return int(np.prod(sample_shape(n_in)))


class Reshape(_Rearrange):
    """``y = x.reshape((N,) + shape)``: each sample rearranged to ``shape`` (the batch axis is kept, as
    in Keras: ``Reshape((1, 40))`` turns rows (N, 40) into (N, 1, 40)).

    Backward: ``dL/dx = (dL/dy).reshape(x.shape)``.

    Parameters
    ----------
    shape : tuple of positive ints
        One sample's shape after the layer; its size must equal the sample's size before it.
    """

    def __init__(self, shape):
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not shape:
            raise HandpropValueError(f"Reshape: shape must be a tuple of positive integers such as (1, 40), "
                                     f"got {shape!r}")
        self.shape = tuple(positive_int(f"Reshape: shape[{i}]", v) for i, v in enumerate(shape))
        self.n_in = int(np.prod(self.shape))  # rows of this many features are what it takes

    def forward(self, x):
        size = int(np.prod(x.shape[1:]))
        if size != self.n_in:
            raise ShapeError(f"{self!r}: each sample must hold {self.n_in} values, got an array of shape "
                             f"{x.shape} ({size} per sample)")
        self.in_shape = x.shape
        return x.reshape((len(x),) + self.shape)

    def output_size(self, n_in):
        size = int(np.prod(sample_shape(n_in)))
        if size != self.n_in:
            raise ShapeError(f"{self!r} takes samples of {self.n_in} values, but the layer before it gives "
                             f"{as_size(sample_shape(n_in))} ({size} values)")
        return as_size(self.shape)

    def get_config(self):
        return {"shape": list(self.shape)}

    def __repr__(self):
        return f"Reshape({self.shape})"
