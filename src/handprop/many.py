"""``train_many``: many networks of one shape, trained at once in one set of stacked arrays.

Whether a small network learns depends on its initial weights: blog 000's 2-2-1 network does not
solve XOR from seed 42. To ask "how often does it?", train hundreds of copies. One ``fit`` per copy
spends most of its time in Python; stacked, the K networks' weights are arrays with a leading axis
(``W`` of shape (K, n_in, n_out), ``b`` of shape (K, 1, n_out)) and every step is one call per layer
for all of them: the same layers' ``forward``/``backward``, the same loss and the same optimizer
update as ``fit``'s, written for one network or a stack (``z = x @ W + b`` is a batched product).
"""

import copy

import numpy as np

from . import _arguments, _safety, initializers, losses, optimizers
from ._engine import train_step
from ._gather import iter_batches
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .blas import blas_threads
from .errors import HandpropTypeError, HandpropValueError, ShapeError
from .history import History
from .layers import Dense
from .model import Sequential

# The layers a stack is made of; any other (Conv1D, pools, BatchNorm1d, Dropout, Flatten, Reshape,
# a layer of your own) is refused by name.
STACKABLE = (Dense, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Identity)
_LOSSES = (losses.MSE, losses.HalfSSE, losses.BCE, losses.CrossEntropy)
_OPTIMIZERS = (optimizers.SGD, optimizers.Adam)
_ONE_BY_ONE = "train it with model.fit instead"


def train_many(models, X, y, loss="mse", optimizer="sgd", epochs=100, batch_size=None, shuffle=True,
               seed=None, lr=None):
    """Train every model of ``models`` on ``(X, y)`` at once; returns one History per model.

    Each model ends where its own ``model.fit(X, y, loss=loss, optimizer=optimizer, epochs=epochs,
    batch_size=batch_size, shuffle=shuffle, seed=seed, lr=lr)`` would (to rounding: a relative
    difference below 1e-9 in float64), with the same history of losses, and with its trained
    weights written back into its own layers (``dW``, ``db`` hold its last gradients).

    Parameters
    ----------
    models : list of Sequential
        Models of the same layers and shapes (their weights differ), each a separate object. They
        may hold Dense (with or without ``l1``/``l2``: equal in every model) and the activations
        Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Identity. Conv1D, MaxPool1D, AvgPool1D,
        BatchNorm1d, Dropout, Flatten, Reshape and layers of your own are refused (HandpropValueError
        naming the model and the layer): train those with ``model.fit``.
    loss : str or Loss
        As ``fit``'s: ``"mse"``, ``"halfsse"``, ``"bce"``, ``"ce"`` or an instance of MSE, HalfSSE,
        BCE or CrossEntropy (not a loss class of your own: it would give one value for all models).
    optimizer : str or Optimizer
        ``"sgd"`` or ``"adam"`` (with ``lr``), or an SGD or Adam instance, taken as a template: every
        model trains as with its own fresh copy of it; the instance itself is not stepped.
    epochs, batch_size, shuffle, seed, lr
        As ``fit``'s. Every model sees the same batches in the same order: those ``fit`` draws from
        ``seed`` (with ``seed=None``, a random order, but one order for all the models).

    A model whose loss becomes NaN or infinite is frozen at the weights of its last step whose loss
    was finite (the weights ``fit`` restores before it raises ``DivergenceError``); the others go
    on. Its History says so: ``history.diverged`` is True, ``history.divergence`` is the
    ``DivergenceError`` that ``fit`` would have raised (epoch, step, cause), ``history.stop_reason``
    its message, and its last recorded loss is the non-finite one: what ``fit`` with a
    ``StopOnNonFinite`` callback returns. (An update that overflows the weights while the loss is
    still finite is seen at the next step, when the loss is, as ``fit`` without callbacks sees it; at
    the last epoch, by a look at the weights.) For the others ``diverged`` is False and
    ``divergence`` None. Ctrl-C stops every model after the current batch (as ``fit``).

    Memory: the stack holds each model's weights about eight times (weights, gradients, the two
    copies that freezing restores from, the optimizer's state) and its outputs for one batch, and
    the losses of every epoch: it grows linearly with the number of models, and is checked before
    anything is allocated.
    """
    models = _check_models(models)
    loss, optimizer = losses.get(loss), optimizers.get(optimizer, lr)
    epochs, shuffle = _arguments.positive_int("epochs", epochs), _arguments.flag("shuffle", shuffle)
    batch_size = _arguments.positive_int("batch_size", batch_size, allow_none=True)
    _check_loss_and_optimizer(models[0], loss, optimizer)
    X, y = _data(models, X, y)
    _safety.warn_big_batch(batch_size, len(X))
    rng = initializers.generator("seed", seed)
    rows = min(batch_size or len(X), len(X))
    _check_memory(models, rows, epochs, X.dtype)
    stack = Stack(_train_in(models, X.dtype), loss, optimizer, epochs)  # (every check has passed)
    errstate = np.errstate(over="ignore", invalid="ignore", divide="ignore")  # a divergence is said once
    with blas_threads(stack.model, rows), errstate, _safety.InterruptGuard() as guard:
        try:
            stack.run(X, y, batch_size, shuffle, rng, guard)
        finally:
            stack.write_back()
    return stack.histories()


def _check_models(models):
    """``models`` as a list of separate Sequentials of one structure, or an error naming the culprit."""
    if isinstance(models, (str, bytes, dict)) or not isinstance(models, (list, tuple)):
        raise HandpropTypeError(f"train_many: models must be a list of Sequential models, got "
                                f"{type(models).__name__} {models!r:.60}; e.g. [handprop.mlp([2, 2, 1], rng=s) "
                                "for s in range(100)]")
    if not models:
        raise HandpropValueError("train_many: models is empty; give a list of at least one Sequential model")
    models = [_arguments.model(f"train_many: models[{k}]", m) for k, m in enumerate(models)]
    first, seen = models[0], {}
    for i, layer in enumerate(first.layers):
        if type(layer) not in STACKABLE:
            raise HandpropValueError(
                f"train_many: models[0] layer {i} {layer!r} cannot be stacked (train_many stacks Dense, "
                f"Sigmoid, Tanh, ReLU, LeakyReLU, Softmax and Identity); {_ONE_BY_ONE}")
    if not first.parameters():
        raise HandpropValueError(f"train_many: models[0] {first!r} has no weights to train")
    for k, model in enumerate(models):
        for other in (model, *model.layers):
            if id(other) in seen:
                j = seen[id(other)]
                raise HandpropValueError(
                    f"train_many: models[{k}] shares {other!r} with models[{j}]: each model must be its own "
                    f"object with its own layers (make copies: copy.deepcopy(models[{j}]))")
            seen[id(other)] = k
        if k:
            _check_same(first, model, k)
    return models


def _check_same(first, model, k):
    """Refuse ``model`` (``models[k]``) unless its layers are ``first``'s: types, settings, shapes."""
    if len(model.layers) != len(first.layers):
        raise ShapeError(f"train_many: models[{k}] has {len(model.layers)} layers ({model!r}), models[0] has "
                         f"{len(first.layers)} ({first!r}); stacked models must have the same layers")
    for i, (a, b) in enumerate(zip(first.layers, model.layers)):
        shapes_a = [getattr(a, n).shape for n in a.param_names]
        shapes_b = [getattr(b, n).shape for n in b.param_names]
        if type(a) is not type(b) or a.get_config() != b.get_config() or shapes_a != shapes_b:
            raise ShapeError(f"train_many: models[{k}] layer {i} is {b!r} {b.get_config()}, but models[0] "
                             f"layer {i} is {a!r} {a.get_config()}; stacked models must have the same layers "
                             "with the same shapes and settings")


def _check_loss_and_optimizer(first, loss, optimizer):
    if type(loss) not in _LOSSES:
        raise HandpropValueError(
            f"train_many: the loss {loss!r} is not one of handprop's MSE, HalfSSE, BCE, CrossEntropy "
            f"(a loss of your own gives one value for all the stacked models); {_ONE_BY_ONE}")
    if type(optimizer) not in _OPTIMIZERS:
        raise HandpropValueError(
            f"train_many: the optimizer {optimizer!r} is not handprop's SGD or Adam (their updates are "
            f"elementwise, so one update serves every stacked model); {_ONE_BY_ONE}")
    if optimizer.n_params is not None:
        raise HandpropValueError(
            f"train_many: the optimizer {optimizer!r} has already stepped a model: its state is that model's; "
            f"pass a fresh one, e.g. optimizer={type(optimizer).__name__}(lr={optimizer.lr!r})")
    losses.check_pairing(first, loss)


def _data(models, X, y):
    """``X``, ``y`` checked as ``fit`` checks them, in the float type the stack will train in: X's
    own if it has one (every model is then cast to it, as ``fit`` casts a model), else the models'
    one type. Nothing is written: ``train_many`` casts the models after every check."""
    X = _safety.as_numeric("X", X)
    if X.dtype.kind != "f":
        for k, model in enumerate(models):
            if model.dtype != models[0].dtype:
                raise HandpropValueError(
                    f"train_many: models[{k}] is {model.dtype} but models[0] is {models[0].dtype}; stacked models "
                    f"share one float type: models[{k}].astype(np.{models[0].dtype})")
    return models[0].check_data(X, y)


def _train_in(models, dtype):
    """``models``, each cast to ``dtype``, the data's float type (as ``fit`` casts a model)."""
    for model in models:
        if model.dtype != dtype:
            model.astype(dtype)
    return models


def _check_memory(models, rows, epochs, dtype):
    """Refuse (TooLargeError) a stack this machine cannot hold, before anything is allocated."""
    first, K, size = models[0], len(models), dtype.itemsize
    per_model = (8 * first.n_params * size + 3 * first.forward_bytes(rows) // first.dtype.itemsize * size
                 + 8 * epochs)
    _safety.check_memory(
        f"train_many: {K:,} models of {first.n_params:,} weights, batches of {rows:,} rows and "
        f"{epochs:,} epochs' losses", K * per_model,
        "train fewer models at once: split the list, e.g. train_many(models[:100], ...), then the rest")


def _stacked_layer(layers):
    """One layer for all: ``layers[k]`` is a layer of model k; a Dense gets the stacked weights."""
    first = layers[0]
    if not isinstance(first, Dense):
        return type(first)(**first.get_config())
    dtype = first.W.dtype
    dense = Dense(first.n_in, first.n_out, weight=np.zeros((first.n_in, first.n_out), dtype), dtype=dtype,
                  l1=first.l1, l2=first.l2)
    dense.W = np.stack([layer.W for layer in layers])                         # (K, n_in, n_out)
    dense.b = np.stack([layer.b.reshape(1, first.n_out) for layer in layers])  # (K, 1, n_out)
    dense.dW, dense.db = np.zeros_like(dense.W), np.zeros_like(dense.b)
    return dense


class _Member:
    """One model of the stack, as ``_safety.diverged`` sees an engine: the steps, the restore."""

    def __init__(self, stack, k):
        self.stack, self.k, self.steps = stack, k, stack.steps

    def restore_last_good(self, what):
        return self.stack.restore(self.k, what)


class Stack:
    """The models of ``train_many`` as one stacked Sequential, its loss, optimizer and run.

    ``model`` holds layers of the models' classes whose arrays have a leading model axis (its
    weights one flat array, ``model.flat_parameters()``); ``loss`` is a copy of the loss with
    ``stacked = True``; ``optimizer`` a fresh copy of the template. Before each step the weights are
    copied (two copies kept, as ``fit``'s rollback keeps), so that a model whose loss is not finite
    is put back to its last good weights and frozen: it is written back to its own model then, and
    the stack's numbers for it are ignored from there on.
    """

    def __init__(self, models, loss, optimizer, epochs):
        self.models, self.K = models, len(models)
        self.model = Sequential([_stacked_layer(layers) for layers in zip(*(m.layers for m in models))])
        self.loss = copy.copy(loss)
        # one value per network; and train_many's np.errstate is in force while it steps (Loss.quiet)
        self.loss.stacked, self.loss.quiet = True, True
        self.template, self.optimizer = optimizer, copy.deepcopy(optimizer)
        self.flat = self.model.flat_parameters()
        self.copies = [np.empty_like(self.flat.value) for _ in range(2)]
        self.steps = 0
        self.active = np.ones(self.K, bool)
        self.losses = np.full((epochs, self.K), np.nan, self.model.dtype)  # losses[epoch, k]
        self.done = np.zeros(self.K, np.int64)  # epochs recorded, per model
        self.divergence = [None] * self.K
        self.stop_reason = None
        for layer in self.model.layers:
            layer.buffers = {}  # outputs in arrays made once per batch shape: nothing else reads them

    def step(self, x, y):
        """One step of every model: their weights are kept first (``copies``), for ``restore``."""
        self.copies[self.steps % 2][...] = self.flat.value
        self.steps += 1
        return train_step(self.model, self.loss, self.optimizer, self.flat, x, y)

    def run(self, X, y, batch_size, shuffle, rng, guard):
        """``fit``'s epochs for every model (see ``handprop.training``): the same batches, losses."""
        n, epochs = len(X), len(self.losses)
        for epoch in range(epochs):
            total, value, step = 0.0, None, 0
            batches = ((X, y),) if batch_size is None or batch_size >= n else iter_batches(
                X, y, batch_size, shuffle, rng)
            for step, (X_batch, y_batch) in enumerate(batches):
                value = self.step(X_batch, y_batch)
                finite = np.isfinite(value)
                if not finite.all():
                    self.freeze(np.flatnonzero(self.active & ~finite), epoch, step, value, "loss")
                total = total + value * len(X_batch)
                if guard.requested:
                    break
            if guard.requested:  # the unfinished epoch is not recorded
                self.stop_reason = f"interrupted (Ctrl-C) during epoch {epoch}; the model keeps its weights"
                return
            # one full batch: its loss as measured (value·n/n could move the last bit)
            np.copyto(self.losses[epoch], value if step == 0 else total / n, where=self.active)
            if epoch == epochs - 1:  # was the last update finite? (fit looks at the end of its run)
                self.freeze(np.flatnonzero(self.active & ~self.weights_finite()), epoch, step, np.nan, "weights")
            self.done[self.active] = epoch + 1
            if not self.active.any():
                return

    def weights_finite(self):
        """Per model: whether all its weights are finite."""
        ok = np.ones(self.K, bool)
        for p in self.model.parameters():
            ok &= np.isfinite(p.value.reshape(self.K, -1)).all(axis=1)
        return ok

    def freeze(self, ks, epoch, step, value, what):
        """Models ``ks`` diverged at this step: back to their last good weights, written to their own
        models; their last loss and ``fit``'s DivergenceError (built by the same function) recorded."""
        for k in ks:
            k = int(k)
            loss_k = float(np.asarray(value).reshape(-1)[k if np.ndim(value) else 0])
            error = _safety.diverged(_Member(self, k), copy.deepcopy(self.template), epoch, step, loss_k, what)
            self.active[k] = False
            self.write_model(k, self.model.layers, k)
            self.losses[epoch, k] = loss_k
            self.done[k] = epoch + 1
            self.divergence[k] = error

    def restore(self, k, what):
        """Model ``k``'s weights from before the step two steps ago ("loss": the loss of the last
        step was not finite) or one ("weights"); if those are not finite, the newer copy (as
        ``Rollback.restore_last_good``). Returns whether the weights put back are finite."""
        ok = self._restore(k, 2 if what == "loss" else 1)
        return ok or self._restore(k, 1)

    def _restore(self, k, back):
        back = min(back, self.steps)
        source = self.flat.cut(self.copies[(self.steps - back) % 2])
        ok = True
        for target, saved in zip(self.flat.weight_views, source):
            target[k] = saved[k]
            ok = ok and bool(np.isfinite(saved[k]).all())
        return ok

    def write_model(self, k, stacked_layers, index, grads=False):
        """Model ``k``'s layers get the stack's weights ``index`` (and gradients, with ``grads``)."""
        for mine, stacked in zip(self.models[k].layers, stacked_layers):
            for name in mine.param_names:
                names = (name, "d" + name) if grads else (name,)
                for attr in names:
                    target = getattr(mine, attr)
                    target[...] = getattr(stacked, attr)[index].reshape(target.shape)

    def write_back(self):
        """Every model still training gets its weights and last gradients (frozen ones have theirs)."""
        if self.flat is not None:
            self.flat.settle()
        for layer in self.model.layers:
            layer.buffers = None
        for k in np.flatnonzero(self.active):
            self.write_model(int(k), self.model.layers, int(k), grads=self.steps > 0)

    def histories(self):
        """One History per model, as ``fit`` (with ``StopOnNonFinite``) would have recorded it."""
        out, epochs = [], list(range(len(self.losses)))  # one set of int objects for all the histories
        for k in range(self.K):
            h = History()
            n = int(self.done[k])
            h.epoch = epochs[:n]
            h.history = {"loss": self.losses[:n, k].tolist()}
            error = self.divergence[k]
            h.diverged, h.divergence = error is not None, error
            h.stop_reason = str(error) if error is not None else self.stop_reason
            out.append(h)
        return out
