"""Dropout: during training, each value is kept with probability 1 − p and scaled by 1/(1 − p).

"Inverted" dropout, as ``torch.nn.Dropout``: the scaling happens while training, so that the expected
output equals the input and evaluation is the plain identity (nothing to rescale at prediction).
"""

import numbers

import numpy as np

from . import initializers
from .errors import HandpropValueError
from .layers import Layer


class Dropout(Layer):
    """``y = x · m``, with ``m = [u ≥ p] / (1 − p)`` for ``u`` uniform on [0, 1), drawn anew at every
    training forward; backward: ``dL/dx = dL/dy · m`` (a dropped value passes no gradient).

    In evaluation mode (``training = False``; ``model.eval()``) ``y = x`` and ``dL/dx = dL/dy``.
    ``p = 1`` drops everything (``m = 0``), as PyTorch.

    Parameters
    ----------
    p : float in [0, 1]
        The probability of dropping each value.
    rng : Generator, RandomState, int or None
        Where the masks are drawn from; ``set_rng`` replaces it (``fit`` gives each run its own, so
        that runs are reproducible).
    """

    def __init__(self, p=0.5, rng=None):
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
            raise HandpropValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = initializers.as_rng(rng)
        self.training = True
        self.mask = None

    def set_rng(self, rng):
        """Draw the masks from ``rng`` from now on (a Generator, RandomState, int seed or None)."""
        self.rng = initializers.as_rng(rng)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self.mask = 1.0
            return x
        if self.p == 1.0:
            self.mask = np.zeros_like(x)
        else:
            keep = self.rng.random(x.shape) >= self.p
            self.mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self.mask

    def backward(self, grad, need_input_grad=True):
        if self.mask is None:
            raise self._missing_forward()
        return grad * self.mask if need_input_grad else None

    def get_config(self):
        return {"p": self.p}

    def __repr__(self):
        return f"Dropout({self.p:g})"
