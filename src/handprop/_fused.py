"""``fit``'s fused engine: a model's whole training step, compiled once into closures.

The math is the layers' own (``z = x @ W + b``, ``dW = x.T @ delta``, ...); what differs from
``train_step`` is where the numbers live and how many NumPy calls it takes to move them:

* **One flat array holds every weight** (each Dense's ``W`` and ``b`` are views into it) and one
  holds every gradient, so the update of the whole model is a single call: ``θ' = θ − g``. Every
  optimizer's update is elementwise, so SGD with momentum or weight decay, and Adam, run their own
  ``update`` once over the flat arrays (their state flat too) instead of once per parameter.
* **For plain SGD the learning rate is folded into the loss gradient.** Backpropagation is linear
  in the gradient it starts from, so starting it from ``lr · dL/dpred`` yields ``lr · dW`` and
  ``lr · db`` directly: the update is one pass over the weights instead of two (scale, subtract).
  The results differ from ``W −= lr · dW`` only in the last bit of some weights.
* **Two weight arrays take turns.** The update writes ``θ − g`` into the other array (plain SGD
  even backpropagates ``g`` straight into it, then subtracts in place: two arrays in the cache
  instead of three). A step whose loss is NaN or infinite computes no gradient and makes no
  update, so the weights from before the last update are always still there: for plain SGD the
  divergence guard costs no copy.
* **Closures over arrays made once per batch size** (the kernels, in ``_kernels``): no attribute
  lookups and no allocation per step, biases summed by a matrix-vector product (``ones @ delta``,
  BLAS, instead of a slower axis-0 reduction), and constants as 0-d arrays (NumPy converts a Python
  float on every call).

Only handprop's own layer, loss and optimizer classes are compiled (a subclass may change the
math); other models train through ``train_step``. The weights reach the layers' own
arrays (in place) whenever something outside the engine may look: see ``sync``.
"""

import copy
import math

import numpy as np

from . import _kernels as kernels
from . import losses
from ._safety import all_finite
from .layers import Dense
from .optimizers import SGD, Adam


def supports(model, loss, optimizer):
    """Whether ``Fused`` can train this model: handprop's own layers (at least one Dense) and loss
    (MSE, HalfSSE, BCE, CrossEntropy), one float dtype, and SGD or Adam."""
    layers = list(model.layers)
    dense = [layer for layer in layers if type(layer) is Dense]
    if not dense or any(type(layer) not in kernels.LAYERS and type(layer) is not Dense for layer in layers):
        return False
    dtypes = {a.dtype for layer in dense for a in (layer.W, layer.b)}
    optimizer, _ = unwrap(optimizer)
    return (type(loss) in kernels.LOSSES and len(dtypes) == 1 and next(iter(dtypes)).kind == "f"
            and type(optimizer) in (SGD, Adam))


def unwrap(optimizer):
    """(optimizer, observer): an optimizer that wraps another one to watch the gradients (the
    doctor's GradientRecorder: ``inner`` and ``observe(weight_grads)``) is split in two."""
    if hasattr(optimizer, "observe") and hasattr(optimizer, "inner"):
        return optimizer.inner, optimizer
    return optimizer, None


class _Flat:
    """The whole flat weight array seen as one parameter, for an optimizer's ``update``."""

    def __init__(self, value):
        self.value = value


class Fused:
    """Trains ``model``, one ``step(x, y)`` per batch (see the module docstring).

    The engine's weights (and optimizer state) are the truth while ``fit`` runs; ``sync()`` copies
    them into the layers' arrays (in place) and the optimizer's lists, ``load()`` takes the
    layers' values back (a callback may have changed them). The learning rate is read at every
    step (schedules change it); the optimizer's other settings when the engine is made.
    """

    def __init__(self, model, loss, optimizer):
        optimizer, self.observer = unwrap(optimizer)
        self.layers, self.loss, self.optimizer = list(model.layers), loss, optimizer
        self.n_outputs = model.n_outputs
        self.dense = [layer for layer in self.layers if type(layer) is Dense]
        self.dtype = self.dense[0].W.dtype
        # (an observer wants the true gradients: lr is then applied by the update, not folded in)
        self.plain = (type(optimizer) is SGD and not optimizer.momentum and not optimizer.weight_decay
                      and self.observer is None)
        size = sum(layer.W.size + layer.b.size for layer in self.dense)
        self.theta = [np.empty(size, self.dtype), np.empty(size, self.dtype)]
        self.views = [self._views(flat) for flat in self.theta]
        # plain SGD backpropagates into the other weight array; the other optimizers need ∇θ apart
        self.grad = None if self.plain else np.empty(size, self.dtype)
        self.grad_views = None if self.plain else self._views(self.grad)
        self.cur = 0              # which of the two arrays holds the current weights
        self.steps = 0            # steps taken (updates made, or refused for a non-finite loss)
        self.updates = 0          # updates made
        self._counted = 0         # steps already added to the optimizer's counter ``t``
        self.lr = None
        self.programs, self.arrays = {}, {}
        self._scales = []         # (0-d array, factor): the loss gradients' lr · factor
        self.flat_opt = None if self.plain else self._flat_optimizer()
        self.optimizer_detached = False
        self.load()
        self.theta[1][...] = self.theta[0]

    def _flat_optimizer(self):
        """A copy of the optimizer that updates the flat array as its one parameter, starting from
        the optimizer's state (a resumed run has some)."""
        opt = self.optimizer
        flat = copy.copy(opt)
        flat.n_params = None
        flat._count_step([_Flat(self.theta[0])])   # makes the state (zeros / None) and sets t = 1
        flat.t = getattr(opt, "t", 0)
        params = self._params()
        if opt.n_params == len(params):
            for name in opt.state_names:
                mine, theirs = getattr(flat, name), getattr(opt, name, None)
                if theirs is not None and all(a is not None for a in theirs):
                    mine[0] = np.concatenate([np.ravel(a) for a in theirs]).astype(self.dtype)
        return flat

    def _params(self):
        return [p for layer in self.dense for p in layer.parameters()]

    def _views(self, flat):
        views, at = [], 0
        for layer in self.dense:
            W = flat[at:at + layer.W.size].reshape(layer.W.shape)
            at += layer.W.size
            views.append((W, flat[at:at + layer.b.size]))
            at += layer.b.size
        return views

    def load(self):
        """The layers' weights into the engine (before training, and after callbacks ran)."""
        for (W, b), layer in zip(self.views[self.cur], self.dense):
            W[...] = layer.W
            b[...] = layer.b

    def sync(self):
        """The engine's weights into the layers' own arrays, in place (whoever holds ``layer.W``
        sees them); the optimizer's step counter and state catch up."""
        for (W, b), layer in zip(self.views[self.cur], self.dense):
            layer.W[...] = W
            layer.b[...] = b
        if self.optimizer_detached:
            return
        opt = self.optimizer
        if opt.n_params is None:
            opt.n_params = 2 * len(self.dense)
            opt._init_state(self._params())
        opt.t += self.steps - self._counted
        self._counted = self.steps
        if self.flat_opt is not None:  # its state, cut back into one array per parameter
            for name in opt.state_names:
                state = getattr(self.flat_opt, name)[0]
                setattr(opt, name, [None] * opt.n_params if state is None
                        else [a.copy() for pair in self._views(state) for a in pair])

    def targets(self, y):
        """``y`` as the loss kernels read it, checked once for the whole run (by the losses' own
        checks): class labels as they are (or one-hot rows) for cross-entropy, float rows shaped
        like the output otherwise."""
        width = self.n_outputs
        if type(self.loss) is losses.CrossEntropy:
            # labels stay as they are (no copy of a large y; whole-number floats become indices a
            # batch at a time); (n, 1) labels become (n,)
            return y if self.loss._labels(y, len(y), width) is None else y.reshape(len(y))
        output = np.broadcast_to(np.zeros((), self.dtype), (len(y), width))  # its shape, no memory
        _, y = losses._same_shape_target(output, y, type(self.loss).__name__)
        if type(self.loss) is losses.BCE:
            self.loss._check_targets(y)
        return y

    def step(self, x, y):
        """One forward/backward/update on a batch; returns its loss (before the update)."""
        program = self.programs.get((x.shape[0], self.cur))
        if program is None:
            program = self._compile(x)
        if self.optimizer.lr != self.lr:
            self._set_lr()
        value = program(x, y)
        self.steps += 1
        if math.isfinite(value):  # else: no update, the last good weights stay where they are
            if self.observer is not None:
                self.observer.observe([dW for dW, _ in self.grad_views])
            cur = self.cur
            if self.plain:  # the step wrote lr · ∇θ into the other array: θ' = θ − lr · ∇θ there
                np.subtract(self.theta[cur], self.theta[1 - cur], self.theta[1 - cur])
            else:
                self._update(self.theta[cur], self.theta[1 - cur])
            self.cur = 1 - cur
            self.updates += 1
        return value

    def _update(self, theta, theta_next):
        """The optimizer's own update formula, once over the flat arrays (into the other array)."""
        flat = self.flat_opt
        flat.lr = self.optimizer.lr
        flat.t += 1
        np.copyto(theta_next, theta)
        flat.update(0, theta_next, self.grad)

    def restore_last_good(self, what):
        """After a non-finite loss (no update was made) or non-finite weights after an update: the
        weights before the last update are in the other array. Returns whether they are finite."""
        del what  # either way, the other array holds the last weights whose loss was finite
        if self.updates and all_finite([self.theta[1 - self.cur]]):
            self.cur = 1 - self.cur
        self.optimizer_detached = True  # the caller resets the optimizer: its state stays fresh
        self.sync()
        return self.weights_finite()

    def weights_finite(self):
        return all_finite([self.theta[self.cur]])

    def _set_lr(self):
        self.lr = self.optimizer.lr
        for scale, factor in self._scales:
            self._scale(scale, factor)

    def _scale(self, scale, factor):
        """The loss gradient's factor: lr · factor for plain SGD (lr folded in), else factor."""
        scale[...] = (self.lr if self.plain else 1.0) * factor

    def _array(self, key, shape, dtype=None):
        """An array shared by the two weight parities' programs for this batch size."""
        arr = self.arrays.get(key)
        if arr is None:
            arr = self.arrays[key] = np.empty(shape, dtype or self.dtype)
        return arr

    def _compile(self, x):
        """The step for batches of ``x``'s shape, reading the current weight array."""
        rows, parity = x.shape[0], self.cur
        forwards, backwards = [], []
        first_dense = self.layers.index(self.dense[0])
        width, prev_dense, j = x.shape[1], False, 0
        for i, layer in enumerate(self.layers):
            if type(layer) is Dense:
                # plain SGD: lr · ∇θ goes straight into the array the update will turn into θ'
                # (two arrays in the cache instead of three); otherwise into ``grad``
                grads = self.views[1 - parity] if self.plain else self.grad_views
                (W, b), (dW, db) = self.views[parity][j], grads[j]
                j += 1
                z = self._array(("z", rows, i), (rows, layer.n_out))
                dx = self._array(("dx", rows, i), (rows, layer.n_in)) if i > first_dense else None
                ones = self._array(("ones", rows), (rows,))
                ones.fill(1)
                fwd, bwd = kernels.dense(W, b, dW, db, z, dx, ones)
                width = layer.n_out
            else:
                # in place on a Dense output (Dense keeps its input, never its output)
                a = self.arrays[("z", rows, i - 1)] if prev_dense else self._array(("a", rows, i), (rows, width))
                tmp = self._array(("tmp", rows, i), (rows, width))
                fwd, bwd = kernels.LAYERS[type(layer)](layer, a, tmp, self._const)
            prev_dense = type(layer) is Dense
            forwards.append(fwd)
            if i >= first_dense:  # layers before the first Dense need no gradient
                backwards.append(bwd)
        backwards.reverse()
        scale = self._const(0.0)
        value_and_grad, factor = kernels.loss_kernel(self.loss)((rows, width), self.dtype, scale)
        self._scales.append((scale, factor))
        if self.lr is not None:
            self._scale(scale, factor)

        def program(x, y):
            out = x
            for forward in forwards:
                out = forward(out)
            value, grad = value_and_grad(out, y)
            if math.isfinite(value):  # else no gradient, no update: the other array keeps the good weights
                for backward in backwards:
                    grad = backward(grad)
            return value

        self.programs[(rows, parity)] = program
        return program

    def _const(self, value):
        """A 0-d array: NumPy takes it as it is, where a Python float is converted at every call."""
        return np.array(value, self.dtype)
