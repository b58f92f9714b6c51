"""Batch normalization over (N, C) and (N, C, L) inputs, as ``torch.nn.BatchNorm1d``."""

import numbers

import numpy as np

from ._arguments import positive_int
from .errors import HandpropValueError, ShapeError
from .layers import Layer, float_dtype
from .shape import sample_shape


class BatchNorm1d(Layer):
    """Normalize each channel ``c`` over the batch (and the length), then scale and shift::

        μ_c = mean of x[:, c(, :)]        σ²_c = its biased variance (over M = N or N·L values)
        x̂ = (x − μ) / √(σ² + ε)           y = γ · x̂ + β

    Training uses the batch's ``μ, σ²`` and moves the running statistics towards them::

        running_mean ← (1 − momentum) · running_mean + momentum · μ
        running_var  ← (1 − momentum) · running_var  + momentum · σ² · M / (M − 1)   (unbiased)

    Evaluation (``training = False``) uses ``running_mean, running_var`` in place of ``μ, σ²``.

    Backward, with ``g = dL/dy`` and sums over the M values of each channel::

        dγ = Σ g · x̂        dβ = Σ g        ĝ = g · γ
        training:   dx = (M·ĝ − Σ ĝ − x̂ · Σ ĝ·x̂) / (M · √(σ² + ε))   (μ, σ² depend on x too)
        evaluation: dx = ĝ / √(running_var + ε)

    ``gamma``, ``beta`` are trained; ``running_mean``, ``running_var`` are saved with the model.
    """

    param_names = ("gamma", "beta")
    state_names = ("running_mean", "running_var")

    def __init__(self, n, momentum=0.1, eps=1e-5, dtype=np.float64):
        self.n = positive_int("BatchNorm1d: n", n)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise HandpropValueError(f"BatchNorm1d: momentum must be a number in [0, 1], got {momentum!r}")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < np.inf:
            raise HandpropValueError(f"BatchNorm1d: eps must be a positive number (it keeps a constant channel "
                                     f"from dividing by zero), got {eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)
        self.n_in = self.n  # as the first layer, it takes rows of n features
        dtype = float_dtype(dtype, f"BatchNorm1d({n})")
        self.gamma, self.beta = np.ones(self.n, dtype), np.zeros(self.n, dtype)
        self.dgamma, self.dbeta = np.zeros(self.n, dtype), np.zeros(self.n, dtype)
        self.running_mean, self.running_var = np.zeros(self.n, dtype), np.ones(self.n, dtype)
        self.training = True
        self.xhat = None

    def _axes(self, x):
        """The axes a channel's statistics run over: (0,) for (N, C), (0, 2) for (N, C, L)."""
        if x.ndim not in (2, 3) or x.shape[1] != self.n:
            raise ShapeError(f"{self!r}: expects (samples, {self.n}) or (samples, {self.n}, length), "
                             f"got an array of shape {x.shape}")
        return (0,) if x.ndim == 2 else (0, 2)

    def _per_channel(self, v, x):
        """A (C,) vector shaped to broadcast against ``x``: (1, C) or (1, C, 1)."""
        return v.reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, x):
        axes = self._axes(x)
        M = x.size // self.n
        if self.training:
            if M < 2:
                raise ShapeError(f"{self!r}: training needs more than 1 value per channel to estimate a "
                                 f"variance, got an input of shape {x.shape}; use a batch of 2 or more")
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * (M / (M - 1))
        else:
            mean, var = self.running_mean, self.running_var
        self.inv_std = self._per_channel(1.0 / np.sqrt(var + self.eps), x)
        self.xhat = (x - self._per_channel(mean, x)) * self.inv_std
        self.batch_stats = self.training  # backward follows the statistics forward used
        return self._per_channel(self.gamma, x) * self.xhat + self._per_channel(self.beta, x)

    def backward(self, g, need_input_grad=True):
        if self.xhat is None:
            raise self._missing_forward()
        if np.shape(g) != self.xhat.shape:
            raise ShapeError(f"{self!r}.backward: the gradient has shape {np.shape(g)}, but the layer's "
                             f"output for the last forward had shape {self.xhat.shape}")
        axes = (0,) if g.ndim == 2 else (0, 2)
        self.dgamma = (g * self.xhat).sum(axis=axes)
        self.dbeta = g.sum(axis=axes)
        if not need_input_grad:
            return None
        ghat = g * self._per_channel(self.gamma, g)
        if not self.batch_stats:
            return ghat * self.inv_std
        M = g.size // self.n
        sum_g = ghat.sum(axis=axes, keepdims=True)
        sum_gx = (ghat * self.xhat).sum(axis=axes, keepdims=True)
        return (M * ghat - sum_g - self.xhat * sum_gx) * (self.inv_std / M)

    def astype(self, dtype):
        super().astype(dtype)
        self.running_mean = self.running_mean.astype(dtype)
        self.running_var = self.running_var.astype(dtype)
        return self

    def output_size(self, n_in):
        shape = sample_shape(n_in)
        if len(shape) > 2 or shape[0] != self.n:
            raise ShapeError(f"{self!r} takes {self.n} features or channels, but the layer before it gives "
                             f"samples shaped {shape}")
        return n_in

    def get_config(self):
        return {"n": self.n, "momentum": self.momentum, "eps": self.eps}

    def __repr__(self):
        return f"BatchNorm1d({self.n})"
