"""The engines that run ``fit``'s steps, and ``train_step``'s fast path.

``runner(model, loss, optimizer)`` picks the engine for a ``fit`` call: ``Fused`` (``_fused``)
when it can compile the model, otherwise ``StepRunner``: ``train_step`` on every batch, with a
``Rollback`` guard that copies the weights before each step.

Each of handprop's own layers has ``_train_forward(x, inplace)`` and ``_train_backward(grad,
need_input_grad)`` beside its readable ``forward``/``backward``: the same operations, into arrays
reused from step to step; the fused losses have ``_train_value_and_grad(pred, target)``.
"""

from . import _fused, losses
from ._safety import Rollback
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .layers import Dense


_FAST_LAYERS = (Dense, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Identity)
_FUSED_LOSSES = (losses.MSE, losses.HalfSSE, losses.CrossEntropy)


def train_plan(model, loss):
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
    plan = train_plan(model, loss)
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


class StepRunner:
    """``train_step`` for every batch; the weights live in the layers (``sync``/``load`` do nothing)
    and a ``Rollback`` keeps copies of them from before the last two steps."""

    def __init__(self, model, loss, optimizer):
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.params = model.parameters()
        self.rollback = Rollback(self.params)

    @property
    def steps(self):
        return self.rollback.step

    def targets(self, y):
        return y

    def step(self, x, y):
        self.rollback.before_step()
        return train_step(self.model, self.loss, self.optimizer, self.params, x, y)

    def sync(self):
        pass

    def load(self):
        pass

    def restore_last_good(self, what):
        return self.rollback.restore_last_good(what)

    def weights_finite(self):
        return self.rollback.weights_finite()


def runner(model, loss, optimizer):
    """The engine for ``fit``: ``Fused`` where it applies, else ``StepRunner``."""
    if _fused.supports(model, loss, optimizer):
        return _fused.Fused(model, loss, optimizer)
    return StepRunner(model, loss, optimizer)
