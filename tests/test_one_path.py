"""One path: ``fit`` runs the layers' and losses' own ``forward``/``backward`` (issue 12).

A breakpoint in ``Dense.backward`` stops in ``fit``; a subclass that changes ``backward`` changes
what ``fit`` computes; outputs a user keeps are never overwritten by a later step.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from handprop import (
    MSE,
    SGD,
    Adam,
    CrossEntropy,
    Dense,
    HalfSSE,
    Identity,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from handprop.callbacks import Callback

ACTIVATIONS = [Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Identity]
OPTIMIZERS = [lambda: SGD(lr=0.01), lambda: SGD(lr=0.01, momentum=0.9), lambda: SGD(lr=0.01, momentum=0.9, nesterov=True),
              lambda: SGD(lr=0.01, weight_decay=0.01), lambda: Adam(lr=0.01), lambda: Adam(lr=0.01, weight_decay=0.1)]


def counting(monkeypatch, cls, name, counts):
    """Wrap ``cls.name`` so that each call on an instance of exactly ``cls`` is counted."""
    original = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        if type(self) is cls:
            counts[cls.__name__] = counts.get(cls.__name__, 0) + 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, wrapper)


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda f: repr(f()))
@pytest.mark.parametrize("batch_size", [None, 1, 4, 7])
@pytest.mark.parametrize("loss", [MSE, HalfSSE, CrossEntropy])
def test_fit_calls_every_backward_once_per_step(monkeypatch, optimizer, batch_size, loss):
    counts = {}
    for cls in [Dense, *ACTIVATIONS, loss]:
        counting(monkeypatch, cls, "backward", counts)
    rng = np.random.default_rng(0)
    layers = [Dense(3, 4, rng=rng)]
    for act in ACTIVATIONS:  # every activation once, each behind a Dense
        layers += [act(), Dense(4, 4, rng=rng)]
    model = Sequential(layers)
    n, epochs = 10, 3
    X = rng.standard_normal((n, 3))
    y = rng.integers(0, 4, n) if loss is CrossEntropy else rng.standard_normal((n, 4))
    model.fit(X, y, loss=loss(), optimizer=optimizer(), epochs=epochs, batch_size=batch_size, seed=0)
    steps = epochs * (1 if batch_size is None else math.ceil(n / batch_size))
    expected = {"Dense": steps * 7, loss.__name__: steps}
    expected.update({act.__name__: steps for act in ACTIVATIONS})
    assert counts == expected


class HalfGradientDense(Dense):
    """A Dense whose backward halves its weight gradient (as if its learning rate were halved)."""

    def backward(self, delta, need_input_grad=True):
        dx = super().backward(delta, need_input_grad)
        self.dW = self.dW * 0.5
        return dx


class ZeroBiasGradientDense(Dense):
    """A Dense written the blogs' way, in its own words: backward(self, grad) only, no bias update."""

    def backward(self, delta):
        self.dW = self.x.T @ delta
        self.db = np.zeros_like(self.b)
        return delta @ self.W.T


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda f: repr(f()))
def test_a_dense_subclass_with_its_own_backward_is_what_fit_runs(optimizer):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    W1, W2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    b1, b2 = rng.standard_normal(4), rng.standard_normal(2)
    model = Sequential([HalfGradientDense(3, 4, weight=W1, bias=b1), Tanh(),
                        ZeroBiasGradientDense(4, 2, weight=W2, bias=b2)])
    model.fit(X, y, optimizer=optimizer(), epochs=4, batch_size=3, shuffle=False)
    # the same run written out by hand: the gradients as the two subclasses define them
    opt, W1, W2, b1, b2 = optimizer(), W1.copy(), W2.copy(), b1.copy(), b2.copy()
    params = [Handle(w) for w in (W1, b1, W2, b2)]
    for _ in range(4):
        for i in range(0, 9, 3):
            x, t = X[i:i + 3], y[i:i + 3]
            h = np.tanh(x @ W1 + b1)
            out = h @ W2 + b2
            delta2 = 2.0 * (out - t) / out.size
            dW2, db2 = h.T @ delta2, np.zeros(2)
            delta1 = (delta2 @ W2.T) * (1 - h * h)
            dW1, db1 = 0.5 * (x.T @ delta1), delta1.sum(axis=0)
            for param, g in zip(params, [dW1, db1, dW2, db2]):
                param.grad = g
            opt.step(params)  # the update rule itself is tested against torch.optim elsewhere
    for layer_value, mine in zip([model.layers[0].W, model.layers[0].b, model.layers[2].W, model.layers[2].b],
                                 [W1, b1, W2, b2]):
        np.testing.assert_allclose(layer_value, mine, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(model.layers[2].b, b2)  # its gradient was zero: plain SGD left it


class Handle:
    """A parameter as optimizers read it: ``value`` updated in place, ``grad`` set by the test."""

    def __init__(self, value):
        self.value, self.grad = value, None


class KeepPredictions(Callback):
    """Keeps the model's predictions after every epoch."""

    def __init__(self, X):
        self.X, self.kept = X, []

    def on_epoch_end(self, state, logs):
        self.kept.append((state.model.predict(self.X), state.model.predict(self.X).copy()))


def test_outputs_a_user_keeps_are_never_overwritten():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    model = Sequential([Dense(3, 5, rng=rng), Sigmoid(), Dense(5, 5, rng=rng), ReLU(), Dense(5, 2, rng=rng), Softmax()])
    # outside fit, every forward and backward returns fresh arrays
    z = model.layers[0].forward(X)
    first, first_copy = model.forward(X), model.forward(X).copy()
    grad, grad_copy = model.backward(np.ones((8, 2))), model.backward(np.ones((8, 2))).copy()
    keep = KeepPredictions(X)
    model.fit(X, y, optimizer=SGD(lr=0.5), epochs=3, batch_size=4, callbacks=[keep])
    model.forward(X * 2)
    model.backward(np.full((8, 2), 3.0))
    for kept, copy in [(first, first_copy), (grad, grad_copy)] + keep.kept:
        np.testing.assert_array_equal(kept, copy)
    assert not np.array_equal(keep.kept[0][1], keep.kept[-1][1])  # training moved the predictions
    assert z is not model.layers[0].forward(X)
    assert all(layer.buffers is None for layer in model.layers)  # fit hands the layers back unbuffered
    # (a parameter's gradient, ``dW``, is the layer's own array: fit writes it in place, as
    # optimizers write ``W``; read it after backward, copy it to keep it)


def test_each_layer_makes_its_workspace_once_per_batch_shape(monkeypatch):
    """10 rows in batches of 4 are batches of 4, 4 and 2 rows: two shapes, so each layer makes two
    workspaces over the whole run (not one per step), and none outside fit."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    model = Sequential([Dense(3, 4, rng=rng), Tanh(), Dense(4, 4, rng=rng), ReLU(), Dense(4, 2, rng=rng), Sigmoid()])
    made = []
    for cls in (Dense, Tanh, ReLU, Sigmoid):
        original = cls.make_workspace
        monkeypatch.setattr(cls, "make_workspace",
                            lambda self, x, original=original: made.append((self, x.shape)) or original(self, x))
    model.fit(X, y, optimizer=SGD(lr=0.1), epochs=5, batch_size=4, seed=0)
    for layer in model.layers:
        shapes = sorted(shape for owner, shape in made if owner is layer)
        n_in = layer.n_in if isinstance(layer, Dense) else shapes[0][1]
        assert shapes == [(2, n_in), (4, n_in)], layer
    made.clear()
    model.forward(X)
    model.backward(np.ones((10, 2)))
    assert made == [] and all(layer.ws is None for layer in model.layers)  # fresh arrays after fit


# -- one home for the weights: views into one flat array ---------------------------------------------

def test_the_weights_are_views_into_one_flat_array_and_sgd_updates_it_in_one_call():
    rng = np.random.default_rng(3)
    model = Sequential([Dense(3, 4, rng=rng), Tanh(), Dense(4, 2, rng=rng)])
    flat = model.flat_parameters()
    params = model.parameters()
    assert flat.value.size == model.n_params == sum(p.value.size for p in params)
    for p in params:  # each layer's W, b (and dW, db) is a part of the flat arrays
        assert np.shares_memory(p.value, flat.value) and np.shares_memory(p.grad, flat.grad)
    X, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    twin = Sequential([Dense(3, 4, weight=model.layers[0].W, bias=model.layers[0].b), Tanh(),
                       Dense(4, 2, weight=model.layers[2].W, bias=model.layers[2].b)])
    for m in (model, twin):
        loss = MSE()
        loss.forward(m.forward(X), y)
        m.backward(loss.backward())
    before = [p.value.copy() for p in params]
    SGD(lr=0.3).step(flat)                      # one call over the flat arrays
    SGD(lr=0.3).step(twin.parameters())         # parameter by parameter
    for p, q, w in zip(params, twin.parameters(), before):
        np.testing.assert_array_equal(p.value, q.value)
        np.testing.assert_array_equal(p.value, w - 0.3 * p.grad)  # W −= lr · dW


def test_a_layer_given_a_new_array_trains_with_it():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    model = Sequential([Dense(3, 2, rng=rng)])
    new_W = np.full((3, 2), 0.5)
    model.layers[0].W = new_W                   # the user's own array replaces the view
    twin = Sequential([Dense(3, 2, weight=new_W, bias=model.layers[0].b)])
    model.fit(X, y, optimizer=SGD(lr=0.1), epochs=3)
    twin.fit(X, y, optimizer=SGD(lr=0.1), epochs=3)
    np.testing.assert_array_equal(model.layers[0].W, twin.layers[0].W)
    assert np.shares_memory(model.layers[0].W, model.flat_parameters().value)


def test_tied_weights_stay_tied():
    rng = np.random.default_rng(5)
    first, second = Dense(3, 3, rng=rng), Dense(3, 3, rng=rng)
    second.W = first.W                           # one array in two layers
    model = Sequential([first, Tanh(), second])
    assert model.flat_parameters() is None       # they cannot be two parts of one flat array
    model.fit(rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), optimizer=SGD(lr=0.1), epochs=2)
    assert model.layers[0].W is model.layers[2].W


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda f: repr(f()))
def test_every_optimizer_updates_the_flat_array_as_it_updates_each_parameter(optimizer):
    """``step(model.flat_parameters())``: one update over the flat arrays, the same numbers as
    ``step(model.parameters())``, and a state whose per-parameter lists (what checkpoints keep) agree."""
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    a = Sequential([Dense(3, 4, rng=np.random.default_rng(0)), Tanh(), Dense(4, 2, rng=np.random.default_rng(1))])
    b = Sequential([Dense(3, 4, rng=np.random.default_rng(0)), Tanh(), Dense(4, 2, rng=np.random.default_rng(1))])
    opt_a, opt_b = optimizer(), optimizer()
    for step in range(4):
        for model, opt, params in ((a, opt_a, a.flat_parameters()), (b, opt_b, b.parameters())):
            loss = MSE()
            loss.forward(model.forward(X), y)
            model.backward(loss.backward())
            opt.step(params)
        if step == 1:  # a checkpoint's state taken back in the middle: the flat state follows it
            opt_a.load_state_dict(opt_b.state_dict())
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    assert opt_a.t == opt_b.t == 4
    for name in opt_a.state_names:
        for x, z in zip(getattr(opt_a, name), getattr(opt_b, name)):
            np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("optimizer,copies", [(lambda: SGD(lr=0.05), 1), (lambda: SGD(lr=0.05, momentum=0.9), 12),
                                              (lambda: Adam(lr=0.01), 12)], ids=["sgd", "momentum", "adam"])
def test_plain_sgd_keeps_the_last_weights_without_copying_them(monkeypatch, optimizer, copies):
    """The divergence guard: plain SGD writes each update into a spare array, so the weights before it
    stay there (one copy for the whole run, before its first step); other optimizers update in place
    and the rollback copies the weights before every step. Afterwards, ``layer.W`` is the array it was."""
    from handprop import _safety

    made = []
    original = _safety.Rollback.before_step
    monkeypatch.setattr(_safety.Rollback, "before_step", lambda self: made.append(1) or original(self))
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    model = Sequential([Dense(3, 4, rng=rng), Tanh(), Dense(4, 2, rng=rng)])
    arrays = [p.value for p in model.parameters()]
    twin = Sequential([Dense(3, 4, weight=model.layers[0].W, bias=model.layers[0].b), Tanh(),
                       Dense(4, 2, weight=model.layers[2].W, bias=model.layers[2].b)])
    model.fit(X, y, optimizer=optimizer(), epochs=3, batch_size=3, seed=0)  # 12 steps, an even and an odd count
    assert len(made) == copies
    assert all(p.value is a for p, a in zip(model.parameters(), arrays))
    model.fit(X, y, optimizer=SGD(lr=0.05), epochs=1, batch_size=5, seed=1)  # 3 steps: ends in the spare array
    assert all(p.value is a for p, a in zip(model.parameters(), arrays))
    twin.fit(X, y, optimizer=optimizer(), epochs=3, batch_size=3, seed=0, callbacks=[Callback()])  # epoch-end work
    twin.fit(X, y, optimizer=SGD(lr=0.05), epochs=1, batch_size=5, seed=1)
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


# Run in a fresh interpreter, so that it starts as a session does. A class's shared attribute layout has
# less room with each object made; the probe makes 50 of each kind first, as a notebook or a sweep would.
_NO_DICT_PROBE = """
import gc, sys
import numpy as np
from handprop import MSE, SGD, Adam, Dense, Sequential, Sigmoid

def built_dict(obj, attribute):  # CPython built obj.__dict__: the collector sees a dict holding the attribute
    return any(type(r) is dict and attribute in r for r in gc.get_referents(obj))

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = np.array([[0.0], [1.0], [1.0], [0.0]])
made = [(Dense(2, 2), Sigmoid(), MSE(), SGD(lr=0.1), SGD(lr=0.1, momentum=0.9), Adam(), Sequential([Dense(2, 1)]))
        for _ in range(50)]
found = []
for opt in [SGD(lr=0.01), SGD(lr=0.01, momentum=0.9), SGD(lr=0.01, momentum=0.9, nesterov=True),
            SGD(lr=0.01, weight_decay=0.01), Adam(lr=0.01), Adam(lr=0.01, weight_decay=0.1)]:
    model = Sequential([Dense(2, 3, rng=0), Sigmoid(), Dense(3, 1, rng=1), Sigmoid()])
    loss = MSE()
    model.fit(X, y, loss=loss, optimizer=opt, epochs=5, batch_size=2)
    watched = [(model, "layers"), (opt, "lr"), (loss, "pred")] + [(layer, "ws") for layer in model.layers]
    found += [f"{obj!r} after fit with {opt!r}" for obj, attribute in watched if built_dict(obj, attribute)]
vars(model.layers[0])  # the check itself sees a dict once one is built
assert built_dict(model.layers[0], "ws"), "the probe does not see a built __dict__"
print("\\n".join(found))
"""


@pytest.mark.skipif(sys.implementation.name != "cpython" or sys.version_info < (3, 11),
                    reason="compact attributes without a __dict__ are CPython 3.11+")
def test_fit_builds_no_attribute_dict_for_the_objects_it_steps_through():
    """Until something asks for ``__dict__`` (``vars(obj)``, ``copy.copy``) or an attribute is first set
    when the class's layout has no room left (see handprop._compact), CPython 3.11+ keeps an object's
    attributes in a compact array; once a dict is built, every ``self.W`` reads through it, about 3.5
    times slower, and a tiny network's ``fit`` feels it (docs/benchmarks.md)."""
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src"))
    run = subprocess.run([sys.executable, "-c", _NO_DICT_PROBE], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
