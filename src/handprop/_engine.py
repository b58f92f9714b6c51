"""The engine that runs ``fit``'s steps: the layers', loss's and optimizer's own methods.

``runner(model, loss, optimizer, rows)`` binds the optimizer to the model, checks the memory that
batches of ``rows`` rows take and returns a ``StepRunner``: ``train_step`` on every batch (the
blogs' four lines), with a ``Rollback`` guard that keeps the weights from before the last two
steps. While it runs, the layers compute into workspaces made once per batch shape (``Layer.workspace``):
the same formulas, without allocating at every step.
"""

import math

import numpy as np

from ._safety import Rollback, diverged


def train_step(model, loss, optimizer, params, X, y, before_update=None, penalized=True):
    """One forward/backward/update on a batch, with the public methods, exactly as the blogs' loop
    does it; returns the batch's loss (before the update). A batch whose loss is not finite makes
    no update (its gradient would carry NaN into the weights). ``params``: ``model.parameters()``,
    or ``model.flat_parameters()`` (one update over one array). ``before_update``: run between the
    backward pass and the update (``fit``'s gradient clipping). ``penalized=False``: the model has
    no L1/L2 penalty (``model.penalized()``, which ``fit`` asks once per epoch), so none is added."""
    out = X
    for layer in model.layers:
        out = layer.forward(out)
    value = loss.forward(out, y)
    if penalized:  # any L1/L2 penalty of the weights
        value = value + model.penalty()
    # A stack of networks (handprop.train_many) has one value per network, and always updates: a
    # network whose value is not finite is then put back and frozen by train_many, the others go on.
    if isinstance(value, np.ndarray) or math.isfinite(value):
        model.backward(loss.backward(), need_input_grad=False)
        if before_update is not None:
            before_update()
        optimizer.step(params)
    return value


class StepRunner:
    """``train_step`` for every batch; the weights live in the layers. To restore the last good
    weights after a diverged step: with plain SGD over flat weights, the spare array the update
    wrote from (no copy); otherwise a ``Rollback``'s copies from before the last two steps."""

    def __init__(self, model, loss, optimizer, after_step=(), before_update=None):
        self.model, self.loss, self.optimizer, self.after_step = model, loss, optimizer, list(after_step)
        self.before_update = before_update
        self.params = model.parameters()
        self.flat, self.rollback, self.steps = None, None, 0
        self._weights()
        self.buffers = [{} for _ in model.layers]  # each layer's, kept between epochs
        self.on, self.penalized = False, True

    def _weights(self):
        """The model's weights as one flat array if they can be (one update, one rollback copy),
        else the parameters one by one; the rollback copies whichever it is."""
        flat = self.model.flat_parameters()
        if flat is not self.flat or self.rollback is None:
            self.flat = flat
            self.rollback = Rollback([flat] if flat is not None else self.params, self.steps)

    def buffered(self, on):
        """Let the layers compute into arrays made once per batch shape (``on``: the steps), or
        return fresh arrays (off: callbacks, metrics, and after ``fit``). See ``Layer.workspace``."""
        if on == self.on:
            return
        if on:  # a callback may have given a layer a new array or a penalty: both are looked up again
            self.loss.quiet = True  # fit's np.errstate is in force (see Loss.quiet)
            self._weights()
            if self.flat is not None:
                self.flat.double_buffered = True
            self.penalized = self.model.penalized()
        self.on = on
        for layer, buffers in zip(self.model.layers, self.buffers):
            if on:
                layer.buffers = buffers
            else:
                # (None, as the class says; not ``__dict__.pop``: see parameters._holds_another_view)
                layer.buffers = layer.ws = None  # and the last step's workspace: backward after fit gets fresh arrays

    def finish(self):
        """After the run: fresh outputs again, and the weights back in the layers' first arrays
        (while ``fit`` steps they may be in the spare one: read them as ``layer.W``, not through a
        reference kept from before)."""
        self.buffered(False)
        self.loss.quiet = False
        if self.flat is not None:
            self.flat.settle()
            self.flat.double_buffered = False

    def step(self, x, y):
        if self.flat is None or not self.flat.swapped:  # else the spare array keeps the last weights
            self.rollback.before_step()
        self.steps += 1
        value = train_step(self.model, self.loss, self.optimizer, self.flat or self.params, x, y, self.before_update,
                           self.penalized)
        if self.after_step and math.isfinite(value):  # an update was made
            for hook in self.after_step:
                hook()
        return value

    def plain_epochs(self, state, guard, X, y_fit, log_every):
        """``fit``'s full-batch epochs when nothing runs between them (no callbacks, metrics or
        validation): each is one ``step`` and its loss recorded, without the rest of an epoch's
        bookkeeping (a tenth of a tiny network's epoch). Stops at the first epoch whose step needs
        more (a loss not finite, Ctrl-C) and returns it with what ``training._steps`` returns for it;
        or before the last epoch (it checks the weights), returning ``(last epoch, None)``."""
        step, isfinite, last, epoch = self.step, math.isfinite, state.epochs - 1, state.epoch
        record_epoch, record_loss = state.history.epoch.append, state.history.column("loss").append
        self.buffered(True)  # the layers compute into arrays made once per batch shape
        try:
            for epoch in range(state.epoch, last):
                state.epoch = epoch
                value = step(X, y_fit)
                if not isfinite(value):
                    return epoch, (0.0, value, 0, diverged(self, state.optimizer, epoch, 0, value, "loss"))
                if guard.requested:
                    return epoch, (value * len(X), value, 0, None)
                record_epoch(epoch)  # history.record(epoch, loss=value)
                record_loss(value)
                state.epochs_done = epoch + 1
                if log_every and epoch % log_every == 0:
                    print(f"Epoch {epoch}, Loss: {value:.4f}")
        except KeyboardInterrupt:  # no handler of ours (not the main thread)
            guard.requested = True
            return epoch, (0.0, float("nan"), 0, None)
        return max(last, state.epoch), None

    def restore_last_good(self, what):
        """The weights before the last update (``what``: see ``Rollback.restore_last_good``)."""
        if self.flat is not None and self.flat.swapped:  # they are in the spare array: no copy was made
            self.flat.swap()
            self.flat.swapped = False
            return self.weights_finite()
        return self.rollback.restore_last_good(what)

    def weights_finite(self):
        return self.rollback.weights_finite()


def runner(model, loss, optimizer, rows=None, after_step=(), before_update=None):
    """The engine for ``fit``. Before anything runs, the optimizer is bound to the model (one that
    stepped another model is refused) and the memory that batches of ``rows`` rows take (outputs,
    gradients, scratch: 3 arrays per layer; and up to 6 arrays the size of the weights: two copies,
    gradient, scratch, Adam's moments) is checked. ``after_step`` functions run after every update,
    ``before_update`` before it (gradient clipping)."""
    optimizer.bind(model.parameters())
    if rows is not None:
        model.check_memory(rows, "training on batches", copies=3, extra=6 * model.n_params * model.dtype.itemsize)
    return StepRunner(model, loss, optimizer, after_step, before_update)
