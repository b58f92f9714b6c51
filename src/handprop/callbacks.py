"""Callbacks: code that ``fit`` runs at fixed points of training, to watch it or steer it.

Each hook receives the :class:`~handprop.training.TrainState` (model, optimizer, rng, history,
``stop_training``...)::

    on_train_begin(state)
    on_epoch_begin(state)            # state.epoch is the epoch about to run (0-based)
    on_epoch_end(state, logs)        # logs: {"loss": ..., "val_loss": ..., "accuracy": ...}
    after_epoch(state, logs)         # after every callback's on_epoch_end (checkpoints live here)
    on_train_end(state)              # also after Ctrl-C and after an early stop
    on_step(state)                   # optional: after every update (GradientRecorder, in doctor)

A callback with state that matters for resuming (early stopping's best value, a plateau counter)
returns it from ``state_dict()`` and takes it back in ``load_state_dict()``, so that a checkpoint
resumes the very same run.
"""

import csv
import io as _io
import json
import math
import sys

import numpy as np

from .files import atomic_write_text, check_path_argument
from .errors import HandpropValueError


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, state):
        pass

    def on_epoch_begin(self, state):
        pass

    def on_epoch_end(self, state, logs):
        pass

    def after_epoch(self, state, logs):
        pass

    def on_train_end(self, state):
        pass

    def state_dict(self):
        """What a checkpoint must keep to resume this callback exactly (arrays allowed)."""
        return {}

    def load_state_dict(self, d):
        for key, value in d.items():
            setattr(self, key, value)


def _mode(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise HandpropValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if monitor.endswith(("accuracy", "acc", "r2")) else "min"
    return mode


def _monitored(logs, monitor, who):
    if monitor not in logs:
        hint = " (pass validation data, or monitor='loss')" if monitor.startswith("val_") else ""
        raise HandpropValueError(
            f"{who} monitors {monitor!r}, but this training run only reports {', '.join(logs)}{hint}")
    return logs[monitor]


class _Monitor(Callback):
    """Shared bookkeeping: is the monitored value the best so far (by at least ``min_delta``)?"""

    def __init__(self, monitor, mode, min_delta):
        self.monitor = str(monitor)
        self.mode = _mode(self.monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = None
        self.wait = 0

    def _improved(self, value):
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs in a row (by more than
    ``min_delta``); keep the best weights.

    With ``restore_best_weights`` (the default) the model ends with the weights of its best epoch,
    whether training stopped early, ran to the end, or was interrupted: a later, worse epoch (the
    network starting to overfit) is undone.
    """

    def __init__(self, monitor="val_loss", patience=10, min_delta=0.0, mode="auto",
                 restore_best_weights=True):
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise HandpropValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.best_epoch = None
        self.best_weights = None
        self.stopped_epoch = None

    def on_epoch_end(self, state, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self._improved(value):
            self.best, self.best_epoch, self.wait = float(value), state.epoch, 0
            if self.restore_best_weights:
                self.best_weights = [p.value.copy() for p in state.model.parameters()]
            return
        self.wait += 1
        if self.wait >= self.patience:
            state.stop_training = True
            self.stopped_epoch = state.epoch
            state.stop_reason = (f"early stopping: {self.monitor} has not improved for {self.wait} "
                                 f"epochs (best {self.best:.6g} at epoch {self.best_epoch})")

    def on_train_end(self, state):
        if self.restore_best_weights and self.best_weights is not None:
            for p, w in zip(state.model.parameters(), self.best_weights):
                p.value[...] = w  # in place: optimizers hold these very arrays

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_weights": self.best_weights}


class LearningRateSchedule(Callback):
    """Sets ``optimizer.lr = schedule(epoch, base_lr)`` before each epoch; logs it as ``lr``.

    ``base_lr`` is the optimizer's learning rate when training starts.
    """

    def __init__(self):
        self.base_lr = None

    def schedule(self, epoch, base_lr):
        raise NotImplementedError

    def on_train_begin(self, state):
        if self.base_lr is None:  # a resumed run keeps the original base
            self.base_lr = state.optimizer.lr

    def on_epoch_begin(self, state):
        state.optimizer.lr = float(self.schedule(state.epoch, self.base_lr))

    def on_epoch_end(self, state, logs):
        logs["lr"] = state.optimizer.lr

    def state_dict(self):
        return {"base_lr": self.base_lr}


class StepLR(LearningRateSchedule):
    """``lr = base_lr · gamma^(epoch // step_size)``: divide by 1/gamma every ``step_size`` epochs."""

    def __init__(self, step_size, gamma=0.1):
        super().__init__()
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise HandpropValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        if not 0 < gamma <= 1:
            raise HandpropValueError(f"StepLR: gamma must be in (0, 1], got {gamma!r}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def schedule(self, epoch, base_lr):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(LearningRateSchedule):
    """Cosine annealing from ``base_lr`` down to ``min_lr`` over ``epochs`` epochs::

        lr = min_lr + (base_lr − min_lr) · (1 + cos(π · epoch / epochs)) / 2

    (``epoch`` is capped at ``epochs``: after that the rate stays at ``min_lr``).
    """

    def __init__(self, epochs, min_lr=0.0):
        super().__init__()
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise HandpropValueError(f"CosineLR: epochs must be a positive integer, got {epochs!r}")
        if min_lr < 0:
            raise HandpropValueError(f"CosineLR: min_lr must be >= 0, got {min_lr!r}")
        self.epochs, self.min_lr = int(epochs), float(min_lr)

    def schedule(self, epoch, base_lr):
        t = min(epoch, self.epochs) / self.epochs
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * t)) / 2


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience``
    epochs (never below ``min_lr``), then wait ``cooldown`` epochs before counting again."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=5, min_delta=1e-4, mode="auto",
                 min_lr=0.0, cooldown=0):
        super().__init__(monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise HandpropValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        self.factor, self.patience = float(factor), int(patience)
        self.min_lr, self.cooldown = float(min_lr), int(cooldown)
        self.cooldown_left = 0

    def on_epoch_end(self, state, logs):
        value = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        logs["lr"] = state.optimizer.lr  # the rate this epoch was trained with
        in_cooldown = self.cooldown_left > 0
        if in_cooldown:
            self.cooldown_left -= 1
        if self._improved(value):
            self.best, self.wait = float(value), 0
            return
        if in_cooldown:  # epochs right after a reduction do not count against the new rate
            return
        self.wait += 1
        if self.wait >= self.patience:
            state.optimizer.lr = max(state.optimizer.lr * self.factor, self.min_lr)
            self.cooldown_left, self.wait = self.cooldown, 0

    def state_dict(self):
        return {"best": self.best, "wait": self.wait, "cooldown_left": self.cooldown_left}


class ModelCheckpoint(Callback):
    """Save a resumable checkpoint (weights, optimizer state, rng state, history) to ``path``.

    Every ``every`` epochs and after the last one, or, with ``save_best_only``, whenever ``monitor``
    reaches a new best.
    The file is rewritten atomically, so a kill during the save leaves the previous checkpoint.
    ``info`` (a ``handprop.io.ModelInfo``: preprocessing, class names) and ``settings`` (a JSON-able
    dict) are stored with it; see ``handprop.io.save_checkpoint``.
    """

    # How a checkpoint is written: ``handprop.io.save_checkpoint``, set by ``handprop.io`` when it is
    # imported (``import handprop`` imports it). Files build on training: this module imports none.
    write = None

    def __init__(self, path, every=1, save_best_only=False, monitor="val_loss", mode="auto",
                 info=None, settings=None):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise HandpropValueError(f"ModelCheckpoint: every must be a positive integer, got {every!r}")
        self.path = check_path_argument(path, "ModelCheckpoint: path")
        self.every, self.save_best_only = int(every), bool(save_best_only)
        self._best = _Monitor(monitor, mode, 0.0)
        self.info, self.settings = info, settings

    def after_epoch(self, state, logs):
        if self.save_best_only:
            value = _monitored(logs, self._best.monitor, "ModelCheckpoint")
            if not self._best._improved(value):
                return
            self._best.best = float(value)
        elif (state.epoch + 1) % self.every and not state.stop_training and state.epoch + 1 < state.epochs:
            return  # not a multiple of `every`, and not the last epoch either
        self.write(self.path, state, info=self.info, settings=self.settings)

    def state_dict(self):
        return {"best": self._best.best}

    def load_state_dict(self, d):
        self._best.best = d.get("best")


class StopOnNonFinite(Callback):
    """Stop cleanly when the loss becomes NaN or infinite, instead of raising ``DivergenceError``.

    ``fit`` has already put back the weights of the last step whose loss was finite (it keeps a
    copy of them for that); this callback turns the error into ``history.stop_reason``, so that the
    rest of the run (checkpoints, logs, the returned history) ends normally. (Keras calls this
    ``TerminateOnNaN``.)
    """

    def on_nonfinite(self, state, loss_value):
        state.stop_training = True
        error = getattr(state, "divergence", None)  # set by fit: epoch, step, cause, suggested lr
        state.stop_reason = str(error) if error is not None else (
            f"the loss became {loss_value} at epoch {state.epoch}")


TerminateOnNaN = StopOnNonFinite


class CSVLogger(Callback):
    """Write the history (one row per epoch) to a CSV file after every epoch, atomically."""

    def __init__(self, path):
        self.path = check_path_argument(path, "CSVLogger: path")

    def after_epoch(self, state, logs):
        h = state.history
        keys = list(h.history)
        buf = _io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["epoch"] + keys)
        for i, epoch in enumerate(h.epoch):
            writer.writerow([epoch] + [repr(float(h.history[k][i])) if i < len(h.history[k]) else ""
                                       for k in keys])
        atomic_write_text(self.path, buf.getvalue())


class JSONLogger(Callback):
    """Write the history as JSON ``{"epoch": [...], "loss": [...], ...}`` after every epoch."""

    def __init__(self, path):
        self.path = check_path_argument(path, "JSONLogger: path")

    def after_epoch(self, state, logs):
        d = {"epoch": list(state.history.epoch)}
        d.update({k: [float(v) for v in vals] for k, vals in state.history.history.items()})
        body = ",\n".join(f" {json.dumps(k)}: {json.dumps(v, allow_nan=True)}" for k, v in d.items())
        atomic_write_text(self.path, "{\n" + body + "\n}\n")  # one line per series


def _fmt_logs(logs):
    return ", ".join(f"{k}={v:.4g}" for k, v in logs.items())


class ProgressBar(Callback):
    """A progress bar over the epochs, showing the latest loss and metrics.

    Uses tqdm when it is installed, else a one-line counter rewritten in place. Silent when
    ``stream`` (default stderr) is not a terminal, so logs and pipes stay clean.
    """

    def __init__(self, stream=None, force=False):
        self.stream = stream
        self.force = force
        self._bar = None
        self._total = None

    def _active(self, stream):
        return self.force or (hasattr(stream, "isatty") and stream.isatty())

    def on_train_begin(self, state):
        stream = self.stream if self.stream is not None else sys.stderr
        self._stream = stream
        self._on = self._active(stream)
        if not self._on:
            return
        self._total = state.epochs
        try:
            from tqdm import tqdm  # optional: the fallback below needs nothing
        except ImportError:
            self._bar = None
            return
        self._bar = tqdm(total=state.epochs, initial=state.epoch, file=stream, unit="epoch",
                         dynamic_ncols=True, leave=True)

    def after_epoch(self, state, logs):
        if not self._on:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(_fmt_logs(logs), refresh=False)
            self._bar.update(1)
        else:
            self._stream.write(f"\repoch {state.epoch + 1}/{self._total}  {_fmt_logs(logs)}")
            self._stream.flush()

    def close(self):
        if getattr(self, "_on", False):
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            else:
                self._stream.write("\n")
                self._stream.flush()
            self._on = False

    def on_train_end(self, state):
        self.close()

