"""The Layer contract and the Dense (fully connected) layer.

A layer has two methods, exactly as in the blogs' hand-written loops:

* ``forward(x)`` computes the layer's output and keeps what ``backward`` will need;
* ``backward(grad)`` takes ``grad = dL/d(output)`` and returns ``dL/d(input)``, setting the
  gradients of its own parameters on the way (``dW``, ``db`` for Dense).

Rows are samples (blog 000's convention): ``x`` has shape ``(batch, n_in)``.
"""

import numbers

import numpy as np

from . import initializers
from ._compact import Compact
from ._safety import all_finite, as_numeric, cast, check_finite, check_memory, fmt_bytes
from .errors import DataError, HandpropError, HandpropValueError, ShapeError, TooLargeError
from .parameters import FlatParameters, Parameter  # noqa: F401  (handprop.layers.FlatParameters, as before)


# A weight beyond this is a diverged run's, not a trained network's (those stay within about 1e3):
# an output that overflows with such weights blames them, not the inputs.
HUGE_WEIGHT = 1e10
DIVERGED_WEIGHTS = "training diverged toward huge weights; retrain with a smaller learning rate"


def blamed_weights(parameters, inputs_reach):
    """The largest weight's size when an output's overflow is the weights' doing (finite, but beyond
    ``HUGE_WEIGHT`` and beyond what the inputs reach), else None: then the inputs are to blame."""
    huge = max((float(np.max(np.abs(p.value))) for p in parameters if p.value.size), default=0.0)
    return huge if huge > max(inputs_reach, HUGE_WEIGHT) else None


class Workspace:
    """A layer's arrays for one batch shape and float type (``dtype``), made once while ``fit``
    steps: ``Layer.workspace``. ``Workspace(dtype, z=array, ...)``: each array is an attribute
    (Dense's also holds the product function it computes with: ``matmul``)."""

    def __init__(self, dtype, **arrays):
        self.dtype = dtype
        for name, array in arrays.items():
            setattr(self, name, array)


class Layer(Compact):
    """Base class: subclasses implement ``forward`` and ``backward``.

    ``param_names`` lists the trainable attributes; the gradient of ``name`` lives in ``"d" + name``.
    A ``Sequential`` puts them into one flat array (``FlatParameters``): the attributes are replaced by
    views holding the same values, so read them through the attribute (``self.W``) at every call,
    never through another reference kept from ``__init__``. ``backward`` may write the gradients in
    place or assign new arrays; both reach the optimizer.
    """

    param_names = ()

    # While ``fit`` steps (``StepRunner.buffered``): {input shape: Workspace}, the arrays the layer
    # computes into, made once per batch shape and overwritten at the next step. None (the default,
    # and after ``fit``): every forward/backward returns fresh arrays, so an output you keep stays.
    buffers = None
    ws = None  # the workspace of the last forward (None: fresh arrays), for backward

    def workspace(self, x):
        """While ``fit`` steps: this layer's ``Workspace`` for inputs of ``x``'s shape and float type,
        made by ``make_workspace(x)`` at the first such batch; else None. The layers write
        ``out=ws and ws.a``: into the workspace's array, or (no workspace) into a fresh one."""
        spaces = self.buffers
        if spaces is None:
            return None
        ws = spaces.get(x.shape)
        if ws is None or ws.dtype is not x.dtype:  # (``is``: NumPy's float types are one object each)
            ws = self.make_workspace(x)
            if ws is not None:  # (None: fresh arrays for such inputs; asked again at the next one)
                spaces[x.shape] = ws
        return ws

    def make_workspace(self, x):
        """The arrays to compute into for inputs like ``x`` (see ``workspace``), or None for fresh
        arrays; here a workspace holding none."""
        return Workspace(dtype=x.dtype)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad, need_input_grad=True):
        raise NotImplementedError

    def __call__(self, x):
        """``forward(x)``, for ``x`` checked to hold finite numbers (integers are computed as float64);
        an output that overflowed is refused in words, not returned as inf or NaN."""
        name = f"{self!r}: x"
        x = as_numeric(name, x)
        x = x if x.dtype.kind == "f" else x.astype(np.float64)
        n_in = getattr(self, "n_in", None)
        if x.ndim < 2 or (n_in is not None and (x.ndim != 2 or x.shape[1] != n_in)):
            raise ShapeError(f"{name} must have shape (samples, {n_in or 'features'}), got {x.shape}")
        if x.size == 0:
            raise ShapeError(f"{name} is empty (shape {x.shape}): give at least one sample with one feature")
        check_finite(name, x)
        with np.errstate(all="ignore"):
            out = self.forward(x)
            if all_finite([out]):
                return out
        big = float(np.max(np.abs(x)))
        huge = blamed_weights(self.parameters(), big)
        if huge is not None:
            raise DataError(f"{self!r}: the output overflowed (not finite) for inputs up to {big:.3g}, because "
                            f"its weights reach {huge:.3g}: {DIVERGED_WEIGHTS}")
        raise DataError(f"{self!r}: the output overflowed (not finite) for inputs up to {big:.3g}; scale the "
                        f"inputs down")

    def parameters(self):
        return [Parameter(self, name) for name in self.param_names]

    @property
    def n_params(self):
        return sum(getattr(self, name).size for name in self.param_names)

    def output_size(self, n_in):
        """Number of output features given ``n_in`` input features (activations keep it)."""
        return n_in

    def astype(self, dtype):
        """Cast parameters (and their gradients) to ``dtype`` in place; returns self."""
        dtype = float_dtype(dtype, f"{self!r}.astype")
        for name in self.param_names:
            setattr(self, name, getattr(self, name).astype(dtype))
            grad = getattr(self, "d" + name, None)
            if grad is not None:
                setattr(self, "d" + name, grad.astype(dtype))
        return self

    def get_config(self):
        """The constructor arguments that rebuild this layer (without its weights)."""
        return {}

    def _missing_forward(self):
        return HandpropError(
            f"{type(self).__name__}.backward was called before forward: run forward(x) first, "
            "it keeps the values the chain rule needs"
        )

    def __repr__(self):
        return f"{type(self).__name__}()"


def float_dtype(dtype, where):
    """``dtype`` as a NumPy float dtype (parameters are trained in it), or an error naming it."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise HandpropValueError(f"{where}: dtype must be a float type (np.float64 or np.float32), got {dtype!r}")
    return dt


def _given(name, value, dtype, layer):
    """A weight or bias given by the user, copied as ``dtype``: numbers, all finite."""
    where = f"Dense({layer.n_in}, {layer.n_out}): {name}"
    a = np.array(cast(where, as_numeric(where, value), dtype, fix="give dtype=np.float64"), dtype=dtype)
    if not np.isfinite(a).all():
        raise DataError(f"{where} holds NaN or infinite values; every initial value must be a finite number")
    return a


def _drawn(init, shape, rng, dtype, name, layer):
    """What an initializer returned, checked as given weights are: numbers of ``dtype`` and ``shape``
    (a function of the user's own may return anything)."""
    where = f"Dense({layer.n_in}, {layer.n_out}): {name}"
    a = as_numeric(f"{where}'s result", init(shape, rng, dtype))
    if a.shape != shape:
        raise ShapeError(f"{where} returned shape {a.shape}, expected {shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        if not all_finite([a]):
            raise DataError(f"{where} returned NaN or infinite values")
    return a.astype(dtype, copy=False)


# np.dot clears its output before the BLAS call writes it, a pass over memory that np.matmul does
# not make; on tiny arrays np.dot is the quicker call (about half a microsecond), and quicker still
# as the array's own method, ``np.ndarray.dot(x, W)``: the same product without np.dot's look for
# another array library to hand the call to (0.1 µs, which XOR's seven products a step feel). So a
# layer whose largest output (z, dW or dx) has this many numbers or more computes them all with
# np.matmul (see ``product``).
MATMUL_FROM = 16384


def product(W, rows):
    """The matrix product a Dense layer of weights ``W`` computes with, for batches of ``rows`` rows:
    np.matmul for a stack (K, n_in, n_out) or for large outputs (``MATMUL_FROM``), else ``np.ndarray.dot``
    (np.dot as a method: its first argument is an array)."""
    n_in, n_out = W.shape[-2:]
    return np.matmul if W.ndim > 2 or max(rows * n_out, n_in * n_out, rows * n_in) >= MATMUL_FROM else np.ndarray.dot


def _ones_row(rows, bias_ndim, dtype):
    """A row of ``rows`` ones, with as many axes as the bias: (rows,) for b (n_out,), (1, 1, rows)
    for a stack's b (K, 1, n_out); ``ones @ delta`` sums delta's rows."""
    return np.ones((1,) * (bias_ndim - 1) + (rows,), dtype)


class Dense(Layer):
    """Fully connected layer: ``z = x @ W + b``.

    Shapes: ``x`` (batch, n_in), ``W`` (n_in, n_out), ``b`` (n_out,), ``z`` (batch, n_out); a stack of K
    networks (``handprop.train_many``) adds a leading axis: ``W`` (K, n_in, n_out), ``b`` (K, 1, n_out).

    Backward, with ``delta = dL/dz`` (batch, n_out)::

        dW = x.T @ delta          # (n_in, n_out): each weight's share of the error
        db = delta.sum(axis=0)    # (n_out,): the bias sees every sample
        dx = delta @ W.T          # (batch, n_in): the error handed to the previous layer

    Parameters
    ----------
    n_in, n_out : int
        Number of input and output features.
    weight, bias : array_like, optional
        Initial values (copied). Given as in the blogs: ``Dense(2, 2, weight=W1, bias=b1)``;
        ``bias`` may have shape (n_out,) or (1, n_out).
    init, bias_init : str or callable
        Initializers (see ``handprop.initializers``) used when ``weight``/``bias`` are not given.
        ``init="normal"`` draws like the blogs' ``np.random.randn(n_in, n_out)``.
    rng : Generator, RandomState, int or None
        Where random initial values are drawn from. ``W`` is drawn before ``b``.
    dtype : numpy float dtype, default float64
    l1, l2 : float, default 0
        Penalties on the weights (not the bias), Keras' convention: ``penalty = l1·Σ|W| + l2·ΣW²``,
        added to the loss ``fit`` records; ``backward`` adds its gradient ``l1·sign(W) + 2·l2·W`` to
        ``dW``. (An optimizer's ``weight_decay`` is PyTorch's, applied by the update instead.)
    """

    param_names = ("W", "b")

    def __init__(self, n_in, n_out, weight=None, bias=None, init="glorot_uniform",
                 bias_init="zeros", rng=None, dtype=np.float64, l1=0.0, l2=0.0):
        for arg, value in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise HandpropValueError(f"Dense: {arg} must be a positive integer, got {value!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.init, self.bias_init = init, bias_init
        for arg, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < np.inf:
                raise HandpropValueError(f"Dense({n_in}, {n_out}): {arg} must be a number >= 0, got {value!r}")
        self.l1, self.l2 = float(l1), float(l2)
        dtype = float_dtype(dtype, f"Dense({n_in}, {n_out})")
        needs_rng = weight is None or (bias is None and bias_init != "zeros")
        rng = initializers.as_rng(rng) if needs_rng else None
        size = f"{self.n_in:,} × {self.n_out:,} {dtype}"
        # W and dW, and the float64 draws an initializer makes on the way: refused before allocating
        need = self.n_in * self.n_out * (2 * dtype.itemsize + (16 if weight is None else 0))
        fix = f"use fewer units (n_in × n_out is {self.n_in * self.n_out:,})"
        check_memory(f"Dense({n_in}, {n_out}) (its weights and their gradients: 2 arrays of {size})", need, fix)
        try:
            if weight is None:
                W = _drawn(initializers.get(init), (self.n_in, self.n_out), rng, dtype, "init", self)
            else:
                W = _given("weight", weight, dtype, self)
            if W.shape != (self.n_in, self.n_out):
                raise ShapeError(f"Dense({n_in}, {n_out}): weight has shape {W.shape}, expected {(self.n_in, self.n_out)}")
            if bias is None:
                b = _drawn(initializers.get(bias_init), (1, self.n_out), rng, dtype, "bias_init", self).reshape(-1)
            else:
                b = _given("bias", bias, dtype, self)
                if b.shape in ((1, self.n_out), (self.n_out, 1)):
                    b = b.reshape(self.n_out)
            if b.shape != (self.n_out,):
                raise ShapeError(f"Dense({n_in}, {n_out}): bias has shape {b.shape}, expected ({self.n_out},)")
            dW, db = np.zeros_like(W), np.zeros_like(b)
        except MemoryError:  # the estimate fitted, the allocation did not (other programs, no swap)
            raise TooLargeError(f"Dense({n_in}, {n_out}): out of memory allocating 2 arrays of {size} "
                                f"({fmt_bytes(need)}); {fix}") from None
        self.W, self.b = W, b
        self.dW, self.db = dW, db
        self.x = None

    out_shape = None  # the shape of the last forward's output: the gradient backward takes

    def make_workspace(self, x):
        if x.dtype is not self.W.dtype:  # x of another float type than the weights: fresh arrays
            return None
        rows = x.shape[-2]
        # dx: made at the first backward that needs it (the first layer's never does while fit steps)
        return Workspace(x.dtype, z=np.empty(self.W.shape[:-2] + (rows, self.n_out), x.dtype),
                         ones=_ones_row(rows, self.b.ndim, x.dtype), dx=None, matmul=product(self.W, rows))

    def forward(self, x):
        W, ws = self.W, self.workspace(x)
        self.x, self.ws = x, ws
        # ``@``: np.dot or np.matmul, whichever is quicker for these sizes (see ``product``)
        matmul = ws.matmul if ws is not None else product(W, x.shape[-2])
        # z = x @ W + b
        z = matmul(x, W, out=ws and ws.z)
        z += self.b
        self.out_shape = z.shape
        return z

    def backward(self, delta, need_input_grad=True):
        x, W, ws = self.x, self.W, self.ws
        if x is None:
            raise self._missing_forward()
        if type(delta) is not np.ndarray:  # (a list, an array subclass): as an array, as np.dot would
            delta = np.asarray(delta)
        if delta.shape != self.out_shape:
            raise ShapeError(f"{self!r}.backward: the gradient has shape {delta.shape}, but the "
                             f"layer's output for the last forward had shape {self.out_shape}")
        if ws is not None and delta.dtype is not ws.dtype:  # another float type: fresh arrays
            ws = None
        # (see forward; ``.mT`` is ``.T`` of each network's)
        matmul = ws.matmul if ws is not None else product(W, x.shape[-2])
        # dW = x.T @ delta, in place into dW while fit steps
        self.dW = matmul(x.mT, delta, out=ws and self.dW)
        # db = delta.sum(axis=0), written 1ᵀ delta (one BLAS call, faster than a sum over rows)
        ones = ws.ones if ws is not None else _ones_row(x.shape[-2], self.b.ndim, delta.dtype)
        self.db = matmul(ones, delta, out=ws and self.db)
        if self.l1 or self.l2:  # the penalty's share (see penalty), on W alone
            # dW += l1·sign(W) + 2·l2·W
            self.dW += self.l1 * np.sign(W) + 2 * self.l2 * W
        if not need_input_grad:
            return None
        if ws is not None and ws.dx is None:
            ws.dx = np.empty(delta.shape[:-1] + (self.n_in,), ws.dtype)
        # dx = delta @ W.T
        return matmul(delta, W.mT, out=ws and ws.dx)

    def output_size(self, n_in):
        return self.n_out

    penalized = property(lambda self: bool(self.l1 or self.l2), doc="Whether ``penalty`` can be other than 0.")

    def penalty(self):
        """``l1·Σ|W| + l2·ΣW²``: what the weights add to the loss (0 without l1 and l2)."""
        if not (self.l1 or self.l2):
            return 0.0
        W = self.W.reshape(self.W.shape[:-2] + (-1,))  # a row of weights; (K, n_in·n_out) for a stack
        value = self.l1 * np.sum(np.abs(W), axis=-1) + self.l2 * np.sum(np.square(W), axis=-1)
        return float(value) if value.ndim == 0 else value  # one per network for a stack

    def get_config(self):
        penalties = {k: v for k, v in (("l1", self.l1), ("l2", self.l2)) if v}
        return {"n_in": self.n_in, "n_out": self.n_out, **penalties}

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out})"
