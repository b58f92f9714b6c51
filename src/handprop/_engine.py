"""The engines that run ``fit``'s steps.

``runner(model, loss, optimizer, rows)`` picks the engine for a ``fit`` call: ``Fused`` (``_fused``)
when it can compile the model (handprop's own layers, losses and optimizers), otherwise
``StepRunner``: ``train_step`` on every batch, with a ``Rollback`` guard that copies the weights
before each step.
"""

from . import _fused
from ._safety import Rollback


def train_step(model, loss, optimizer, params, X, y):
    """One forward/backward/update on a batch, with the public methods, exactly as the blogs' loop
    does it; returns the batch's loss (before the update). ``fit`` runs this for models it cannot
    compile (layers, losses or optimizers of your own)."""
    out = X
    for layer in model.layers:
        out = layer.forward(out)
    value = loss.forward(out, y)
    model.backward(loss.backward(), need_input_grad=False)
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


def runner(model, loss, optimizer, rows=None):
    """The engine for ``fit``: ``Fused`` where it applies, else ``StepRunner``. Before anything runs,
    the optimizer is bound to the model (one that stepped another model is refused) and the memory
    that batches of ``rows`` rows take (outputs, gradients, scratch: 3 arrays per layer; and up to
    6 arrays the size of the weights: two copies, gradient, scratch, Adam's moments) is checked."""
    _fused.unwrap(optimizer)[0].bind(model.parameters())  # the optimizer itself, not a wrapper
    if rows is not None:
        model.check_memory(rows, "training on batches", copies=3, extra=6 * model.n_params * model.dtype.itemsize)
    if _fused.supports(model, loss, optimizer):
        return _fused.Fused(model, loss, optimizer)
    return StepRunner(model, loss, optimizer)
