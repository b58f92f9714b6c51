"""One-dimensional convolution and pooling on ``(N, C, L)`` inputs (samples, channels, length).

Every layer here looks at windows of the input. Window ``l`` of a layer with kernel size ``K``,
stride ``s`` and dilation ``d`` reads positions ``l·s + k·d`` for ``k = 0 .. K−1``, so a padded length
``Lp`` gives ``L_out = ⌊(Lp − d·(K−1) − 1) / s⌋ + 1`` windows (PyTorch's formula).

``windows(x, K, s, d)`` gathers them into ``(N, C, K, L_out)`` ("im2col"); ``add_windows`` is its
adjoint: it adds each window's gradient back at the positions it was read from ("col2im"). A
position read by two windows (kernel wider than the stride) receives both gradients.
"""

import numpy as np

from . import initializers
from ._arguments import positive_int
from ._safety import check_memory
from .errors import HandpropValueError, ShapeError
from .layers import Layer, float_dtype
from .shape import check_batch, sample_shape


def out_length(length, kernel_size, stride, dilation=1):
    """Number of windows: ``⌊(length − d·(K−1) − 1) / s⌋ + 1`` (0 or less: the input is too short)."""
    return (length - dilation * (kernel_size - 1) - 1) // stride + 1


def windows(x, kernel_size, stride, dilation=1):
    """``cols[n, c, k, l] = x[n, c, l·s + k·d]``, shape (N, C, K, L_out): the windows side by side."""
    n_out = out_length(x.shape[-1], kernel_size, stride, dilation)
    index = np.arange(kernel_size)[:, None] * dilation + np.arange(n_out)[None, :] * stride
    return x[:, :, index]


def add_windows(cols, length, stride, dilation=1):
    """The adjoint of ``windows``: ``dx[n, c, l·s + k·d] += cols[n, c, k, l]``, dx of ``length``."""
    N, C, K, n_out = cols.shape
    dx = np.zeros((N, C, length), dtype=cols.dtype)
    span = stride * (n_out - 1) + 1
    for k in range(K):  # each kernel offset reads a strided slice: add the gradients back to it
        dx[:, :, k * dilation:k * dilation + span:stride] += cols[:, :, k, :]
    return dx


def _channels_length(layer, n_in):
    """``(C, L)`` from the sample shape before a layer, or a ShapeError saying what is needed."""
    shape = sample_shape(n_in)
    if len(shape) != 2:
        raise ShapeError(f"{layer!r} takes samples shaped (channels, length), but the layer before it gives "
                         f"{shape}; put Reshape((channels, length)) before it")
    return shape


class Conv1D(Layer):
    """1-D convolution (cross-correlation, as ``torch.nn.Conv1d``) written as im2col + one GEMM.

    Shapes: ``x`` (N, C, L), ``W`` (O, C, K), ``b`` (O,), ``y`` (N, O, L_out)::

        y[n, o, l] = b[o] + Σ_c Σ_k W[o, c, k] · xp[n, c, l·s + k·d]

    where ``xp`` is ``x`` with ``padding`` zeros at both ends. Gathering the windows as rows,
    ``X = cols`` of shape (N·L_out, C·K), and ``W2 = W.reshape(O, C·K)``, it is one matrix product::

        Y = X @ W2.T + b            # (N·L_out, O), then back to (N, O, L_out)

    Backward, with ``D = dL/dY`` (N·L_out, O), exactly Dense's three lines on the windows::

        dW = (D.T @ X).reshape(O, C, K)
        db = D.sum(axis=0)
        dX = D @ W2                 # each window's gradient, added back where it was read (col2im)

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int
    stride, dilation : int, default 1
    padding : int, default 0 (zeros on both sides)
    weight, bias : array_like, optional
        Initial values shaped (out_channels, in_channels, kernel_size) and (out_channels,). Otherwise
        both are drawn from U(−1/√(C·K), 1/√(C·K)), PyTorch's default, from ``rng``.
    """

    param_names = ("W", "b")

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 weight=None, bias=None, rng=None, dtype=np.float64):
        self.in_channels = positive_int("Conv1D: in_channels", in_channels)
        self.out_channels = positive_int("Conv1D: out_channels", out_channels)
        self.kernel_size = positive_int("Conv1D: kernel_size", kernel_size)
        self.stride = positive_int("Conv1D: stride", stride)
        self.dilation = positive_int("Conv1D: dilation", dilation)
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise HandpropValueError(f"Conv1D: padding must be an integer >= 0, got {padding!r}")
        self.padding = int(padding)
        dtype = float_dtype(dtype, repr(self))
        shape = (self.out_channels, self.in_channels, self.kernel_size)
        size = int(np.prod(shape))  # W and dW, and the float64 draws on the way: refused before allocating
        check_memory(f"{self!r} (its weights and their gradients: 2 arrays of {size:,} {dtype})",
                     size * (2 * dtype.itemsize + 8), "use fewer channels or a smaller kernel")
        bound = 1.0 / np.sqrt(self.in_channels * self.kernel_size)
        rng = initializers.as_rng(rng) if weight is None or bias is None else None
        self.W = self._initial("weight", weight, shape, rng, bound, dtype)
        self.b = self._initial("bias", bias, (self.out_channels,), rng, bound, dtype)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        self.cols = None

    def _initial(self, name, value, shape, rng, bound, dtype):
        if value is None:
            return rng.uniform(-bound, bound, size=shape).astype(dtype)
        a = np.array(value, dtype=dtype)
        if a.shape != shape:
            raise ShapeError(f"{self!r}: {name} has shape {a.shape}, expected {shape}")
        if not np.isfinite(a).all():
            raise HandpropValueError(f"{self!r}: {name} holds NaN or infinite values")
        return a

    def forward(self, x):
        check_batch(self, x, 3, f"(samples, {self.in_channels} channels, length)")
        if x.shape[1] != self.in_channels:
            raise ShapeError(f"{self!r}: x has {x.shape[1]} channels (shape {x.shape}), expected {self.in_channels}")
        self.output_size(x.shape[1:])  # refuses an input shorter than the kernel's reach
        p = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (p, p))) if p else x
        cols = windows(xp, self.kernel_size, self.stride, self.dilation)       # (N, C, K, L_out)
        N, L_out = len(x), cols.shape[-1]
        self.x_shape = x.shape
        self.cols = cols.transpose(0, 3, 1, 2).reshape(N * L_out, -1)          # X: (N·L_out, C·K)
        Y = self.cols @ self.W.reshape(self.out_channels, -1).T + self.b      # (N·L_out, O)
        return np.ascontiguousarray(Y.reshape(N, L_out, self.out_channels).transpose(0, 2, 1))

    def backward(self, delta, need_input_grad=True):
        if self.cols is None:
            raise self._missing_forward()
        N, C, L = self.x_shape
        L_out = len(self.cols) // N
        if np.shape(delta) != (N, self.out_channels, L_out):
            raise ShapeError(f"{self!r}.backward: the gradient has shape {np.shape(delta)}, but the layer's "
                             f"output for the last forward had shape {(N, self.out_channels, L_out)}")
        D = delta.transpose(0, 2, 1).reshape(N * L_out, self.out_channels)    # (N·L_out, O)
        self.dW = (D.T @ self.cols).reshape(self.W.shape)
        self.db = D.sum(axis=0)
        if not need_input_grad:
            return None
        dcols = (D @ self.W.reshape(self.out_channels, -1)).reshape(N, L_out, C, self.kernel_size)
        p = self.padding
        dxp = add_windows(dcols.transpose(0, 2, 3, 1), L + 2 * p, self.stride, self.dilation)
        return dxp[:, :, p:p + L]

    def output_size(self, n_in):
        C, L = _channels_length(self, n_in)
        if C != self.in_channels:
            raise ShapeError(f"{self!r} takes {self.in_channels} channels, but the layer before it gives {C} "
                             f"(samples shaped {(C, L)})")
        n = out_length(L + 2 * self.padding, self.kernel_size, self.stride, self.dilation)
        if n < 1:
            raise ShapeError(f"{self!r}: a length of {L} is too short for a kernel reaching "
                             f"{self.dilation * (self.kernel_size - 1) + 1} positions; pad it or use a smaller kernel")
        return (self.out_channels, n)

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation}

    def param_shapes(self):
        """``{"W": (O, C, K), "b": (O,)}``: what a model file must hold for this layer."""
        return {"W": (self.out_channels, self.in_channels, self.kernel_size), "b": (self.out_channels,)}

    def __repr__(self):
        extra = "".join(f", {k}={v}" for k, v, d in (("stride", getattr(self, "stride", 1), 1),
                                                     ("padding", getattr(self, "padding", 0), 0),
                                                     ("dilation", getattr(self, "dilation", 1), 1)) if v != d)
        return f"Conv1D({self.in_channels}, {self.out_channels}, {self.kernel_size}{extra})"


class _Pool1D(Layer):
    """Shared settings of the pools: windows of ``kernel_size``, ``stride`` (default: the kernel size)."""

    def __init__(self, kernel_size, stride=None):
        name = type(self).__name__
        self.kernel_size = positive_int(f"{name}: kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else positive_int(f"{name}: stride", stride)
        self.x_shape = None

    def _windows(self, x):
        check_batch(self, x, 3, "(samples, channels, length)")
        self.output_size(x.shape[1:])
        self.x_shape = x.shape
        return windows(x, self.kernel_size, self.stride)                       # (N, C, K, L_out)

    def _check_grad(self, delta):
        if self.x_shape is None:
            raise self._missing_forward()
        N, C, L = self.x_shape
        want = (N, C, out_length(L, self.kernel_size, self.stride))
        if np.shape(delta) != want:
            raise ShapeError(f"{self!r}.backward: the gradient has shape {np.shape(delta)}, but the layer's "
                             f"output for the last forward had shape {want}")

    def output_size(self, n_in):
        C, L = _channels_length(self, n_in)
        n = out_length(L, self.kernel_size, self.stride)
        if n < 1:
            raise ShapeError(f"{self!r}: a length of {L} is shorter than the kernel ({self.kernel_size})")
        return (C, n)

    def get_config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    def __repr__(self):
        stride = "" if self.stride == self.kernel_size else f", stride={self.stride}"
        return f"{type(self).__name__}({self.kernel_size}{stride})"


class MaxPool1D(_Pool1D):
    """``y[n, c, l] = max_k x[n, c, l·s + k]`` (as ``torch.nn.MaxPool1d``, no padding).

    Backward: the whole gradient of a window goes to the position that held its maximum (the first
    one on ties); a position that is the maximum of two windows receives both.
    """

    def forward(self, x):
        cols = self._windows(x)
        self.argmax = cols.argmax(axis=2)                                      # (N, C, L_out)
        return np.ascontiguousarray(cols.max(axis=2))

    def backward(self, delta, need_input_grad=True):
        self._check_grad(delta)
        if not need_input_grad:
            return None
        K = self.kernel_size
        dcols = (np.arange(K)[None, None, :, None] == self.argmax[:, :, None, :]) * delta[:, :, None, :]
        return add_windows(dcols, self.x_shape[-1], self.stride)


class AvgPool1D(_Pool1D):
    """``y[n, c, l] = (1/K) Σ_k x[n, c, l·s + k]`` (as ``torch.nn.AvgPool1d``, no padding).

    Backward: each position of a window receives ``dL/dy[n, c, l] / K``.
    """

    def forward(self, x):
        return np.ascontiguousarray(self._windows(x).mean(axis=2))

    def backward(self, delta, need_input_grad=True):
        self._check_grad(delta)
        if not need_input_grad:
            return None
        dcols = np.repeat(delta[:, :, None, :] / self.kernel_size, self.kernel_size, axis=2)
        return add_windows(dcols, self.x_shape[-1], self.stride)
