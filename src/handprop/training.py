"""The training loop: forward, loss, backward, update, for every (mini-)batch and epoch.

``fit`` is blog 000's loop made general::

    for epoch in range(epochs):
        pred = model.forward(X)                 # forward pass
        value = loss.forward(pred, y)           # how wrong we are
        model.backward(loss.backward())         # chain rule, layer by layer: dW, db
        optimizer.step(model.parameters())      # W -= lr * dW, ...

Around it: validation and metrics after every epoch, callbacks (``handprop.callbacks``), a clean
stop on Ctrl-C, resuming from a checkpoint. Inside, the four lines run as written
(``handprop._engine.train_step``): the layers', loss's and optimizer's own methods, for handprop's
classes and yours alike; while ``fit`` steps, layers compute into arrays made once per batch shape
(``Layer.workspace``).
"""

import functools
import math

import numpy as np

from . import _arguments, _safety, clipping, initializers, losses, optimizers
from . import metrics as _metrics
from ._engine import runner as _runner, train_step  # noqa: F401  (public: training.train_step)
from ._gather import iter_batches, memory_mapped  # noqa: F401  (public: handprop.training.iter_batches)
from ._safety import InterruptGuard as _InterruptGuard
from .blas import blas_threads, fit_batch_size
from .errors import DataError, HandpropTypeError, HandpropValueError, ShapeError
from .history import History
from .model import TEXT_LABELS, Sequential


class TrainState:
    """What a training run is made of, handed to every callback hook.

    ``epoch`` is the epoch running (0-based) and ``epochs_done`` how many are complete; a callback
    sets ``stop_training = True`` (and says why in ``stop_reason``) to end the run after this epoch.
    """

    def __init__(self, model, loss, optimizer, rng, history, epochs, batch_size, shuffle, callbacks):
        self.model, self.loss, self.optimizer, self.rng = model, loss, optimizer, rng
        self.history, self.epochs = history, epochs
        self.batch_size, self.shuffle = batch_size, shuffle
        self.callbacks = callbacks
        self.clip = None  # fit's gradient clipping (handprop.clipping.clipper), between backward and update
        self.epoch = 0
        self.epochs_done = 0
        self.stop_training = False
        self.stop_reason = None


class ResumeState:
    """Where a saved run stopped: built by ``handprop.io.load_checkpoint``, passed to ``fit(resume=)``.

    The model and optimizer come back through their own objects; this holds the rest: epochs done,
    the shuffling rng's exact state, the history and the callbacks' states.
    """

    def __init__(self, epochs_done, rng_state, history, callback_states=None, batch_size=None,
                 shuffle=True, stop_reason=None):
        self.epochs_done, self.rng_state = int(epochs_done), rng_state
        self.history, self.callback_states = history, dict(callback_states or {})
        self.batch_size, self.shuffle, self.stop_reason = batch_size, shuffle, stop_reason


def callback_key(index, callback):
    """How a callback's saved state is found again: its position and class, ``"1:EarlyStopping"``."""
    return f"{index}:{type(callback).__name__}"


def _prediction_kind(loss):
    """Whether a one-column output is a logit (threshold 0) or a probability (threshold 0.5)."""
    return isinstance(loss, losses.CrossEntropy) or bool(getattr(loss, "from_logits", False))


def evaluate(model, X, y, loss=None, metrics=("accuracy",), batch_size=8192, include_loss=True):
    """Loss and metrics of ``model`` on ``(X, y)``: ``{"loss": ..., "accuracy": ...}``.

    The output is computed in batches of ``batch_size`` rows (memory stays bounded for a
    memory-mapped ``X``); class metrics compare ``metrics.output_to_labels`` of it with ``y``
    (a one-column output is a logit, thresholded at 0, when ``loss`` works on logits: CrossEntropy
    or BCE(from_logits=True); otherwise a probability, thresholded at 0.5). The loss is reported
    when ``loss`` is given and ``include_loss``.
    """
    X = _arguments.model("evaluate", model).check_input(X)
    batch_size = _arguments.positive_int("batch_size", batch_size)
    if len(X) == 0:
        raise DataError(f"X has no rows (shape {X.shape}): there is nothing to evaluate")
    _safety.check_finite("X", X)
    model.check_memory(min(len(X), batch_size), "evaluation", n_in=X.shape[1])
    y = _safety.as_numeric("y", y, TEXT_LABELS)
    _safety.check_finite("y", y)
    if y.ndim == 0 or len(y) != len(X):
        raise ShapeError(f"X has {len(X)} samples but y has {len(y) if y.ndim else 0} (y shape {y.shape})")
    metrics = _arguments.names("metrics", metrics)
    if any(_metrics.get(m)[2] == "class" for m in metrics):
        _safety.check_labels(y, model.n_outputs)
    with np.errstate(over="ignore", invalid="ignore"):  # a loss that overflows is inf, said once
        return _measure(model, X, y, loss, metrics, batch_size, include_loss)


def _measure(model, X, y, loss, metrics, batch_size=8192, include_loss=True):
    """``evaluate`` without its checks: ``fit`` checked its data once, before the first epoch."""
    out = model.outputs(X, batch_size=batch_size, evaluating=True)  # X was checked: by fit once, or by evaluate
    result = {}
    if loss is not None:
        loss = losses.get(loss)
        if include_loss:
            result["loss"] = float(loss.forward(out, y))
    labels = None
    for name in metrics or ():
        key, fn, kind = _metrics.get(name)
        if kind == "class":
            if labels is None:
                labels = _metrics.output_to_labels(out, from_logits=_prediction_kind(loss))
            result[key] = fn(y, labels)
        else:
            result[key] = fn(y, out)
    return result


def _training_data(model, X, y, validation_data, validation_split):
    """``X``, ``y`` checked (``Sequential.check_data``; nothing written) and the validation pair, from
    ``validation_data`` or the last ``validation_split`` of the rows."""
    X, y = model.check_data(X, y)
    if validation_data is not None and validation_split:
        raise HandpropValueError("give validation_data or validation_split, not both")
    if validation_data is not None:
        try:
            Xv, yv = validation_data
        except (TypeError, ValueError):
            raise HandpropValueError("validation_data must be a pair (X_val, y_val)") from None
        Xv, yv = model.check_data(Xv, yv, X.dtype)  # in the training data's float type
        return X, y, Xv, yv
    if validation_split:
        frac = validation_split if isinstance(validation_split, (float, int, np.number)) else -1
        if isinstance(validation_split, bool) or not 0 < frac < 1:
            raise HandpropValueError(f"validation_split must be in (0, 1), got {validation_split!r}")
        n_val = int(round(frac * len(X)))
        if n_val < 1 or n_val >= len(X):
            raise HandpropValueError(
                f"validation_split={validation_split} of {len(X)} rows leaves no validation or no training rows")
        # The last rows, as Keras does: deterministic, so a resumed run validates on the same rows.
        # Shuffle (or use handprop.data.train_test_split) first if the rows are ordered.
        return X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:]
    return X, y, None, None


def _apply_resume(state, resume):
    """Continue ``resume``'s run in ``state``; returns whether that run had already ended."""
    rng, callbacks, batch_size, shuffle = state.rng, state.callbacks, state.batch_size, state.shuffle
    if not isinstance(resume, ResumeState):
        raise HandpropTypeError(f"resume must be what handprop.io.load_checkpoint(path).resume gives, got "
                                f"{type(resume).__name__} {resume!r:.60}")
    for name, mine, theirs in (("batch_size", batch_size, resume.batch_size), ("shuffle", shuffle, resume.shuffle)):
        if theirs is not None and mine != theirs:
            raise HandpropValueError(
                f"resume: the checkpoint was trained with {name}={theirs!r}, this call has {name}={mine!r}; "
                "a resumed run must keep the settings to continue the same run")
    rng.bit_generator.state = resume.rng_state
    keys = {callback_key(i, cb): cb for i, cb in enumerate(callbacks)}
    for key, d in resume.callback_states.items():
        if key not in keys:
            have = ", ".join(keys) or "none"
            raise HandpropValueError(
                f"resume: the checkpoint holds the state of callback {key}, but this run's callbacks are: {have}")
        keys[key].load_state_dict(d)
    state.history = History.from_dict(resume.history)
    state.epoch = state.epochs_done = resume.epochs_done
    if resume.stop_reason:
        state.history.stop_reason = f"the checkpointed run had already ended: {resume.stop_reason}"
    return bool(resume.stop_reason)


def fit(model, X, y, loss="mse", optimizer="sgd", epochs=100, batch_size=None, shuffle=True,
        seed=None, log_every=None, lr=None, validation_data=None, validation_split=None,
        metrics=None, callbacks=None, progress=False, resume=None, clip_norm=None, clip_value=None):
    """Train ``model`` on ``(X, y)`` with backpropagation; returns a History. float32 ``X`` trains
    the model in float32 (cast once every argument has been checked: a refused call changes nothing).

    Parameters
    ----------
    loss : str or Loss
        ``"mse"``, ``"halfsse"``, ``"bce"``, ``"ce"`` or an instance (see ``handprop.losses``).
    optimizer : str or Optimizer
        ``"sgd"`` or ``"adam"`` (with ``lr``), or an instance such as ``SGD(lr=0.1, momentum=0.9)``.
    batch_size : int or None
        None: full-batch gradient descent, one update per epoch (the blogs). Otherwise mini-batches
        of this many rows, reshuffled every epoch when ``shuffle`` (reproducibly from ``seed``).
    log_every : int or None: print ``Epoch {e}, Loss: {loss:.4f}`` every this many epochs (blog 000).
    validation_data : (X_val, y_val), optional
        Measured after every epoch: ``val_loss`` and ``val_<metric>`` in the history.
    validation_split : float, optional
        Hold out the last fraction of the rows for validation instead (they are not trained on).
    metrics : list of str, optional
        ``"accuracy"``, ``"mse"``, ``"mae"``, ``"r2"``; measured on the training rows after every
        epoch (and on the validation rows). Class labels come from ``metrics.output_to_labels``.
    callbacks : list of Callback, optional
        See ``handprop.callbacks``: EarlyStopping, StepLR, CosineLR, ReduceLROnPlateau,
        ModelCheckpoint, CSVLogger, JSONLogger, StopOnNonFinite, ProgressBar.
    progress : bool: show a progress bar (tqdm if installed) on a terminal.
    clip_norm, clip_value : float, optional
        Before each update, scale the gradients to a total 2-norm of at most ``clip_norm`` (as
        ``torch.nn.utils.clip_grad_norm_``), then clip each into ``[-clip_value, clip_value]``.
    resume : ResumeState, optional
        From ``handprop.io.load_checkpoint``: continue that run from its next epoch. With the same
        data and settings the result is bit-identical to a run that was never interrupted.

    An epoch's loss is the mean of its batches' losses (weighted by batch size), each measured
    before that batch's update (full-batch: blog 000's printed loss); metrics and validation values
    come after the epoch's last update. Ctrl-C stops after the current batch and returns normally
    (``history.stop_reason`` says so). A NaN or infinite loss raises ``DivergenceError`` unless a
    ``StopOnNonFinite`` callback is given; either way the model keeps the weights of the last step
    whose loss was finite (the optimizer's state is reset), so nothing it learned is lost.
    """
    model, loss, optimizer = _arguments.model("fit", model), losses.get(loss), optimizers.get(optimizer, lr)
    epochs, shuffle = _arguments.positive_int("epochs", epochs), _arguments.flag("shuffle", shuffle)
    batch_size = _arguments.positive_int("batch_size", batch_size, allow_none=True)
    log_every = _arguments.positive_int("log_every", log_every, allow_none=True)
    metric_names = [_metrics.get(m)[0] for m in _arguments.names("metrics", metrics)]
    callbacks, progress = _arguments.callbacks(callbacks), _arguments.flag("progress", progress)
    losses.check_pairing(model, loss)
    X, y, X_val, y_val = _training_data(model, X, y, validation_data, validation_split)
    _safety.warn_big_batch(batch_size, len(X))
    rng = initializers.generator("seed", seed)
    state = TrainState(model, loss, optimizer, rng, History(), epochs, batch_size, shuffle, callbacks)
    state.clip = clipping.clipper(model.parameters(), clip_norm, clip_value)
    if _start(state, X.dtype, resume, progress):  # every check has passed
        return state.history
    _train(state, X, y, X_val, y_val, metric_names, log_every)
    return state.history


def _start(state, dtype, resume, progress):
    """What ``fit`` changes once every check has passed: the model cast to the data's float type,
    ``resume``'s run taken back, the progress bar added. Returns whether that run had already ended."""
    if state.model.dtype != dtype:
        state.model.astype(dtype)
    if resume is not None and _apply_resume(state, resume):
        return True
    if progress:
        from .callbacks import ProgressBar  # callbacks sit beside training; imported when used
        state.callbacks.append(ProgressBar())
    return False


def _fit_target(loss, model, y):
    """``y`` as ``loss`` reads it (``Loss.fit_target``), converted once for all the batches; a
    memory-mapped ``y`` is left as it is (it is read a batch at a time, never all at once)."""
    return y if memory_mapped(y) else loss.fit_target(y, model.n_outputs, model.dtype)


def _train(state, X, y, X_val, y_val, metric_names, log_every):
    """``fit``'s run, from the callbacks' ``on_train_begin`` to their ``close``."""
    callbacks, rows = state.callbacks, min(state.batch_size or len(X), len(X))
    y_fit = _fit_target(state.loss, state.model, y)  # what the steps train on; metrics read y
    hooks = [functools.partial(cb.on_step, state) for cb in callbacks if hasattr(cb, "on_step")]
    engine = _runner(state.model, state.loss, state.optimizer, rows, hooks, state.clip)  # see handprop._engine
    state.model.train()  # Dropout drops, BatchNorm1d normalizes by the batch (predictions switch to eval)
    for layer in state.model.layers:  # masks drawn from fit's generator: seeded, and resumed bit for bit
        if hasattr(layer, "set_rng"):
            layer.set_rng(state.rng)
    # overflow on the way to a non-finite loss is reported once, as a DivergenceError, not as warnings
    errstate = np.errstate(over="ignore", invalid="ignore", divide="ignore")
    try:
        with _InterruptGuard() as guard, errstate:
            for cb in callbacks:
                cb.on_train_begin(state)
            _epochs(state, engine, guard, (X, y, y_fit), X_val, y_val, metric_names, log_every)
            for cb in callbacks:
                cb.on_train_end(state)
    finally:
        engine.finish()  # outputs are fresh arrays again, the weights in their first arrays
        for cb in callbacks:
            getattr(cb, "close", lambda: None)()
    state.history.stop_reason = state.stop_reason


def _steps(state, engine, guard, batches):
    """One epoch's ``batches``: ``(loss sum, last batch's loss, last step, DivergenceError or None)``."""
    total, value, step, diverged = 0.0, float("nan"), 0, None
    engine.buffered(True)  # the layers compute into arrays made once per batch shape
    try:
        for step, (X_batch, y_batch) in enumerate(batches):
            value = engine.step(X_batch, y_batch)
            if not math.isfinite(value):
                diverged = _safety.diverged(engine, state.optimizer, state.epoch, step, value, "loss")
                break
            total += value * len(X_batch)
            if guard.requested:
                break
    except KeyboardInterrupt:  # no handler of ours (not the main thread)
        guard.requested = True
    return total, value, step, diverged


def _divergence(state, diverged):
    """Record a diverged epoch; hand it (the full story) to ``on_nonfinite`` handlers, or raise it."""
    state.history.record(state.epoch, loss=diverged.loss_value)
    state.divergence = diverged
    handlers = [cb for cb in state.callbacks if hasattr(cb, "on_nonfinite")]
    if not handlers:
        raise diverged
    for cb in handlers:
        cb.on_nonfinite(state, diverged.loss_value)


def _epochs(state, engine, guard, data, X_val, y_val, metric_names, log_every):
    """``fit``'s loop over epochs; returns when training ends. ``data``: ``(X, y, y_fit)``, the
    training rows, their targets as given (for metrics) and as the loss reads them (for the steps)."""
    callbacks, epochs, (X, y, y_fit), n = state.callbacks, state.epochs, data, len(data[0])
    after = (X, y, X_val, y_val, metric_names, log_every, bool(callbacks or metric_names or X_val is not None))
    size = state.batch_size
    whole = ((X, y_fit),) if size is None or size >= n else None  # full batch: the same one every epoch
    first = state.epoch
    if whole is not None and not after[-1]:  # nothing runs between the epochs: the short way
        first, result = engine.plain_epochs(state, guard, X, y_fit, log_every)  # see there
        if result is not None:  # that epoch stepped, and what follows its step is the loop's below
            if _end_epoch(state, engine, guard, first, result, after):
                return
            first += 1
    for epoch in range(first, epochs):
        state.epoch = epoch
        for cb in callbacks:
            cb.on_epoch_begin(state)
        batches = whole or iter_batches(X, y_fit, size, state.shuffle, state.rng)
        if _end_epoch(state, engine, guard, epoch, _steps(state, engine, guard, batches), after):
            return


def _end_epoch(state, engine, guard, epoch, result, after):
    """After an epoch's steps (``result``: what ``_steps`` returns): the checks, the record, the
    callbacks. ``after``: ``(X, y, X_val, y_val, metric_names, log_every, epoch_end_work)``.
    Returns whether training ends."""
    (X, y, X_val, y_val, metric_names, log_every, epoch_end_work), n = after, len(after[0])
    total, value, step, diverged = result
    # Every loss was finite, but was the last update? The next step's loss would tell; we look
    # now only if something reads the weights after this epoch (it costs a tiny network's step).
    if (diverged is None and not guard.requested and (epoch_end_work or epoch == state.epochs - 1)
            and not engine.weights_finite()):
        diverged = _safety.diverged(engine, state.optimizer, epoch, step, float("nan"), "weights")
    if guard.requested and diverged is None:  # the unfinished epoch is not recorded
        state.stop_training = True
        state.stop_reason = f"interrupted (Ctrl-C) during epoch {epoch}; the model keeps its weights"
        return True
    if diverged is not None:
        _divergence(state, diverged)
        return True
    # one full batch: its loss as measured (value·n/n could move the last bit)
    logs = {"loss": value if step == 0 else total / n}
    if epoch_end_work:
        engine.buffered(False)  # callbacks and metrics get outputs of their own
        _epoch_end(state, X, y, X_val, y_val, metric_names, logs)
    else:
        state.history.record(epoch, **logs)
    state.epochs_done = epoch + 1
    if log_every and epoch % log_every == 0:
        print(f"Epoch {epoch}, Loss: {logs['loss']:.4f}")
    for cb in state.callbacks:
        cb.after_epoch(state, logs)
    return state.stop_training


def _epoch_end(state, X, y, X_val, y_val, metric_names, logs):
    """Metrics, validation values and the callbacks' ``on_epoch_end``, recorded in the history."""
    if metric_names:
        logs.update(_measure(state.model, X, y, state.loss, metric_names, include_loss=False))
    if X_val is not None:
        val = _measure(state.model, X_val, y_val, state.loss, metric_names)
        logs.update({"val_" + k: v for k, v in val.items()})
    for cb in state.callbacks:
        cb.on_epoch_end(state, logs)
    state.history.record(state.epoch, **logs)


# ``model.fit(...)``: attached here, so that the model never imports its training loop.
def _fit_method(self, X, y, loss="mse", optimizer="sgd", epochs=100, batch_size=None, shuffle=True,
                seed=None, log_every=None, **kwargs):
    """Train with backpropagation; returns a History. See ``handprop.training.fit``."""
    with blas_threads(self, fit_batch_size(batch_size, X)):  # one BLAS thread for a small model
        return fit(self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                   shuffle=shuffle, seed=seed, log_every=log_every, **kwargs)


_fit_method.__name__, _fit_method.__qualname__ = "fit", "Sequential.fit"
Sequential.fit = _fit_method
