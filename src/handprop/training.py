"""The training loop: forward, loss, backward, update, for every (mini-)batch and epoch.

``fit`` is blog 000's loop made general::

    for epoch in range(epochs):
        pred = model.forward(X)                 # forward pass
        value = loss.forward(pred, y)           # how wrong we are
        model.backward(loss.backward())         # chain rule, layer by layer: dW, db
        optimizer.step(model.parameters())      # W -= lr * dW, ...
"""

import math

import numpy as np

from . import losses, optimizers
from ._gather import Rows
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .layers import Dense
from .errors import DivergenceError, HandpropValueError, ShapeError


class History:
    """Per-epoch values recorded by ``fit``: ``history.history["loss"]`` (Keras' layout), also
    ``history.loss`` and ``history["loss"]``."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def record(self, epoch, **values):
        self.epoch.append(epoch)
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)

    @property
    def loss(self):
        return self.history.get("loss", [])

    def __getitem__(self, key):
        return self.history[key]

    def __len__(self):
        return len(self.epoch)

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self)}, last={last})"


def _positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise HandpropValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def prepare_data(model, X, y):
    """Check ``X`` and ``y`` against the model and each other; float data keeps its precision.

    float32 features make the model train in float32 (its parameters are cast once); integer or
    boolean features are used as float64 (or the model's float type).
    """
    X = np.asarray(X)
    if X.dtype.kind == "f" and X.dtype != model.dtype:
        model.astype(X.dtype)
    X = model.check_input(X)
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != len(X):
        raise ShapeError(f"X has {len(X)} samples but y has {y.shape[0] if y.ndim else 0} (y shape {y.shape})")
    if len(X) == 0:
        raise HandpropValueError("the training data is empty (0 samples)")
    if y.dtype.kind in "fb":
        y = y.astype(model.dtype, copy=False)
    return X, y


def train_step(model, loss, optimizer, params, X, y):
    """One forward/backward/update on a batch; returns the batch's loss (before the update).

    This is, number for number::

        out = X
        for layer in model.layers:
            out = layer.forward(out)
        value = loss.forward(out, y)
        model.backward(loss.backward(), need_input_grad=False)
        optimizer.step(params)

    For models made of handprop's own layers and losses it runs the engine's fast path instead: the
    same operations written into arrays reused from step to step (see ``_train_plan``).
    """
    plan = _train_plan(model, loss)
    if plan is None or X.dtype.kind != "f":
        out = X
        for layer in model.layers:
            out = layer.forward(out)
        value = loss.forward(out, y)
        model.backward(loss.backward(), need_input_grad=False)
    else:
        forward, backward, value_and_grad = plan[2:]
        out = X
        for layer_forward, inplace in forward:
            out = layer_forward(out, inplace)
        if value_and_grad is None:
            value = loss.forward(out, y)
            grad = loss.backward()
        else:
            value, grad = value_and_grad(out, y)
        for layer_backward, need_input_grad in backward:
            grad = layer_backward(grad, need_input_grad)
    optimizer.step(params)
    return value


def iter_batches(X, y, batch_size, shuffle, rng):
    """Yield ``(X_batch, y_batch)`` pairs covering the data once, in shuffled order if ``shuffle``.

    ``batch_size=None`` (or >= the number of rows) yields the whole data set once: full-batch
    gradient descent, as in the blogs.

    The data set is never copied: only the order of its rows is shuffled (``rng.permutation``),
    and each batch's rows are gathered into the same two arrays, reused from batch to batch (copy
    a batch to keep it past the next one). Without shuffling, batches are views of ``X`` and ``y``.
    A memory-mapped ``X`` or ``y`` (``np.load(path, mmap_mode="r")``) is read from its file a batch
    at a time, so memory stays flat however large the file is (see ``handprop._gather``).
    """
    n = len(X)
    if batch_size is None or batch_size >= n:
        yield X, y
        return
    X_rows, y_rows = Rows(X), Rows(y)
    X_batch = np.empty((batch_size,) + X.shape[1:], X.dtype)
    y_batch = np.empty((batch_size,) + y.shape[1:], y.dtype)
    try:
        if not shuffle:
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                yield X_rows.slice(start, stop, X_batch), y_rows.slice(start, stop, y_batch)
            return
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield X_rows.take(idx, X_batch), y_rows.take(idx, y_batch)
    finally:
        X_rows.close()
        y_rows.close()


def fit(model, X, y, loss="mse", optimizer="sgd", epochs=100, batch_size=None, shuffle=True,
        seed=None, log_every=None, lr=None):
    """Train ``model`` on ``(X, y)`` with backpropagation; returns a History.

    Parameters
    ----------
    loss : str or Loss
        ``"mse"``, ``"halfsse"``, ``"bce"``, ``"ce"`` or an instance (see ``handprop.losses``).
    optimizer : str or Optimizer
        ``"sgd"`` or ``"adam"`` (with ``lr``), or an instance such as ``SGD(lr=0.1, momentum=0.9)``.
    batch_size : int or None
        None: full-batch gradient descent, one update per epoch (the blogs). Otherwise mini-batches
        of this many rows, reshuffled every epoch when ``shuffle`` (reproducibly from ``seed``).
    log_every : int or None
        Print ``Epoch {e}, Loss: {loss:.4f}`` every this many epochs, as blog 000 does.

    The loss recorded for an epoch is the mean of its batches' losses (weighted by batch size),
    each measured before that batch's update; full-batch, it is exactly blog 000's printed loss.
    """
    loss = losses.get(loss)
    optimizer = optimizers.get(optimizer, lr)
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size, allow_none=True)
    log_every = _positive_int("log_every", log_every, allow_none=True)
    losses.check_pairing(model, loss)
    X, y = prepare_data(model, X, y)
    n = len(X)
    params = model.parameters()
    rng = np.random.default_rng(seed)
    history = History()
    for epoch in range(epochs):
        total = 0.0
        for X_batch, y_batch in iter_batches(X, y, batch_size, shuffle, rng):
            total += train_step(model, loss, optimizer, params, X_batch, y_batch) * len(X_batch)
        epoch_loss = total / n
        history.record(epoch, loss=epoch_loss)
        if log_every and epoch % log_every == 0:
            print(f"Epoch {epoch}, Loss: {epoch_loss:.4f}")
        if not math.isfinite(epoch_loss):
            raise DivergenceError(
                f"training diverged at epoch {epoch}: the loss is {epoch_loss}; "
                f"try a smaller learning rate (e.g. {getattr(optimizer, 'lr', 0.1) / 10:g})"
            )
    return history


# -- the engine's fast path -------------------------------------------------------------------
_FAST_LAYERS = (Dense, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Identity)
_FUSED_LOSSES = (losses.MSE, losses.HalfSSE, losses.CrossEntropy)


def _train_plan(model, loss):
    """How ``train_step`` runs ``model`` fast, or None when it must use forward/backward.

    Only handprop's own layer and loss classes (not subclasses: they may override the math) have
    the ``_train_forward``/``_train_backward`` methods. Their arrays can be reused and overwritten
    because nothing outside the step holds them. An activation may work in place on its input when
    that input is a Dense output (Dense keeps its input, never its output); every gradient in
    backward belongs to the step, so activations multiply it in place. The plan is kept on the
    model and made again when its layers or the loss change.
    """
    plan = model.__dict__.get("_train_plan")
    if plan is not None and plan[0] == model.layers and plan[1] is loss:
        return plan
    layers = list(model.layers)
    if (not layers or any(type(layer) not in _FAST_LAYERS for layer in layers)
            or type(loss) not in _FUSED_LOSSES + (losses.BCE,)):
        model.__dict__.pop("_train_plan", None)
        return None
    forward = [(layer._train_forward, i > 0 and type(layers[i - 1]) is Dense)
               for i, layer in enumerate(layers)]
    backward = [(layer._train_backward, i > 0) for i, layer in reversed(list(enumerate(layers)))]
    value_and_grad = loss._train_value_and_grad if type(loss) in _FUSED_LOSSES else None
    plan = model.__dict__["_train_plan"] = (layers, loss, forward, backward, value_and_grad)
    return plan
