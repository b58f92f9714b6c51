"""The engine's kernels: each layer and loss of handprop as closures over arrays made once.

A layer kernel is ``make(layer, a, tmp, const) -> (forward(x) -> out, backward(grad) -> grad)``:
``a`` is the array its output goes to (the Dense output before it, worked on in place, or its own),
``tmp`` a scratch array of the same shape, ``const(v)`` a 0-d array of the model's dtype (NumPy
converts a Python float at every call, a 0-d array it takes as it is). Dense has its own maker,
``dense``, over views of the engine's flat weight and gradient arrays.

A loss kernel is ``make(shape, dtype, scale) -> (value_and_grad(pred, y), factor)``: it returns the
loss and ``scale · (its gradient without the factor)``; the engine sets the 0-d ``scale`` to
``lr · factor`` for plain SGD (the learning rate folded into the gradient) or to ``factor``.

The formulas are the layers' and losses' own (see their docstrings); the comments say how each is
computed in place.
"""

import numpy as np

from . import losses
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh

dot, add, subtract, multiply, exp = np.dot, np.add, np.subtract, np.multiply, np.exp


# -- layers ------------------------------------------------------------------------------------------

def dense(W, b, dW, db, z, dx, ones):
    """``z = x @ W + b``; backward ``dW = x.T @ delta``, ``db = 1ᵀ delta``, ``dx = delta @ W.T``."""
    W_T = W.T  # a view: BLAS reads it transposed, nothing is copied
    x_in = None

    def forward(x):
        nonlocal x_in
        x_in = x
        dot(x, W, z)
        add(z, b, z)
        return z

    def backward(delta):
        dot(x_in.T, delta, dW)
        dot(ones, delta, db)
        if dx is not None:
            return dot(delta, W_T, dx)
        return None
    return forward, backward


def _sigmoid(layer, a, tmp, const):
    one = const(1.0)

    def forward(z):        # a = 1 / (1 + e^(-z))  (an overflowing e^(-z) = inf gives a = 0)
        np.negative(z, a)
        exp(a, a)
        add(a, one, a)
        return np.reciprocal(a, a)

    def backward(grad):    # grad · a (1 − a)
        subtract(one, a, tmp)
        multiply(tmp, a, tmp)
        return multiply(grad, tmp, grad)
    return forward, backward


def _tanh(layer, a, tmp, const):
    one = const(1.0)

    def forward(z):
        return np.tanh(z, a)

    def backward(grad):    # grad · (1 − a²)
        multiply(a, a, tmp)
        subtract(one, tmp, tmp)
        return multiply(grad, tmp, grad)
    return forward, backward


def _relu(layer, a, mask, const):
    zero = const(0.0)

    def forward(z):        # z · [z > 0], as ReLU.forward computes it
        np.greater(z, zero, mask)   # the mask as 0.0/1.0 floats: multiplying by bools costs a cast
        return multiply(z, mask, a)

    def backward(grad):
        return multiply(grad, mask, grad)
    return forward, backward


def _leaky_relu(layer, a, slope, const):
    alpha, one = const(layer.alpha), const(1.0)
    mask = np.empty(a.shape, np.bool_)

    def forward(z):        # slope = 1 where z > 0, else alpha
        np.greater(z, 0, mask)
        slope.fill(alpha)
        np.copyto(slope, one, where=mask)
        return multiply(z, slope, a)

    def backward(grad):
        return multiply(grad, slope, grad)
    return forward, backward


def _softmax(layer, a, tmp, const):
    rows, width = a.shape
    col = np.empty((rows, 1), a.dtype)
    ones = np.ones(width, a.dtype)
    col_1d = col.reshape(rows)

    def forward(z):        # e^(z − max z) / Σ e^(z − max z), per row
        np.maximum.reduce(z, 1, None, col, True)
        subtract(z, col, a)
        exp(a, a)
        dot(a, ones, col_1d)
        return np.divide(a, col, a)

    def backward(grad):    # a ⊙ (g − Σ_j g_j a_j)
        multiply(grad, a, tmp)
        dot(tmp, ones, col_1d)
        subtract(grad, col, grad)
        return multiply(a, grad, grad)
    return forward, backward


def _identity(layer, a, tmp, const):
    return (lambda z: z), (lambda grad: grad)


LAYERS = {Sigmoid: _sigmoid, Tanh: _tanh, ReLU: _relu, LeakyReLU: _leaky_relu, Softmax: _softmax,
            Identity: _identity}


# -- losses ------------------------------------------------------------------------------------------

def _squared_error(half):
    def make(shape, dtype, scale):
        diff = np.empty(shape, dtype)
        size = diff.size

        def value_and_grad(pred, y):
            subtract(pred, y, diff)
            sse = float(np.vdot(diff, diff))                   # Σ (pred − y)²
            multiply(diff, scale, diff)                         # lr · dL/dpred
            return (0.5 * sse if half else sse / size), diff
        # MSE: dL/dpred = 2 (pred − y) / n;  HalfSSE: dL/dpred = pred − y
        return value_and_grad, (1.0 if half else 2.0 / size)
    return make


def _cross_entropy(shape, dtype, scale):
    rows, k = shape
    log_p, p, onehot = np.empty(shape, dtype), np.empty(shape, dtype), np.empty(shape, dtype)
    col = np.empty((rows, 1), dtype)
    col_1d, ones = col.reshape(rows), np.ones(k, dtype)
    every_row, z_T = np.arange(rows), np.empty((k, rows), dtype)

    def value_and_grad(z, y):
        if y.ndim == 1:            # class labels (checked once, in ``targets``): one-hot rows
            onehot.fill(0)
            onehot[every_row, y if y.dtype.kind in "iu" else y.astype(np.intp)] = 1
            y = onehot
        np.copyto(z_T, z.T)        # max over each row, as a max over the rows of z.T: 5× faster
        np.maximum.reduce(z_T, 0, None, col_1d)
        subtract(z, col, log_p)                                 # z − max z
        exp(log_p, p)
        dot(p, ones, col_1d)
        np.log(col, col)
        subtract(log_p, col, log_p)                             # log p = shifted − log Σ e
        value = -float(np.vdot(y, log_p)) / rows                # −mean Σ y log p
        exp(log_p, p)
        subtract(p, y, p)
        return value, multiply(p, scale, p)                     # lr · (p − y) / n
    return value_and_grad, 1.0 / rows


def _binary_cross_entropy(shape, dtype, scale):
    """On probabilities: L = −mean(y log p + (1 − y) log(1 − p)), logs clamped at −100;
    dL/dp = (p − y) / max(p (1 − p), 1e-12) / n (as ``BCE``, and PyTorch's ``BCELoss``)."""
    log_p, log_q, q, work = (np.empty(shape, dtype) for _ in range(4))
    one, floor, tiny = (np.array(v, dtype) for v in (1.0, -100.0, 1e-12))
    size = log_p.size

    def value_and_grad(p, y):
        np.maximum(np.log(p, log_p), floor, out=log_p)             # log p (log 0 = −inf, clamped)
        subtract(one, p, q)
        np.maximum(np.log(q, log_q), floor, out=log_q)             # log(1 − p)
        subtract(one, y, work)
        value = -(float(np.vdot(y, log_p)) + float(np.vdot(work, log_q))) / size
        multiply(p, q, q)
        np.maximum(q, tiny, out=q)                                  # p (1 − p), at least 1e-12
        subtract(p, y, work)
        np.divide(work, q, work)
        return value, multiply(work, scale, work)
    return value_and_grad, 1.0 / size


def _binary_cross_entropy_logits(shape, dtype, scale):
    """On logits: L = mean(max(z, 0) − z y + log(1 + e^(−|z|))); dL/dz = (σ(z) − y) / n."""
    soft, grad = np.empty(shape, dtype), np.empty(shape, dtype)
    one, zero = np.array(1.0, dtype), np.array(0.0, dtype)
    size = soft.size

    def value_and_grad(z, y):
        np.abs(z, soft)
        np.negative(soft, soft)
        np.log1p(exp(soft, soft), soft)                         # log(1 + e^(−|z|))
        add(np.maximum(z, zero, out=grad), soft, soft)              # max(z, 0) + log(1 + e^(−|z|))
        value = (float(np.add.reduce(soft, None)) - float(np.vdot(z, y))) / size
        np.negative(z, grad)
        exp(grad, grad)
        add(grad, one, grad)
        np.reciprocal(grad, grad)                               # σ(z)
        subtract(grad, y, grad)
        return value, multiply(grad, scale, grad)
    return value_and_grad, 1.0 / size


def loss_kernel(loss):
    """The kernel maker for ``loss`` (one of ``LOSSES``)."""
    if type(loss) is losses.BCE:
        return _binary_cross_entropy_logits if loss.from_logits else _binary_cross_entropy
    return LOSSES[type(loss)]


LOSSES = {losses.MSE: _squared_error(half=False), losses.HalfSSE: _squared_error(half=True),
          losses.CrossEntropy: _cross_entropy, losses.BCE: None}  # BCE: one of two, see loss_kernel
