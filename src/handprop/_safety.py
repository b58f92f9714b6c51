"""What ``fit`` does to keep a user's work when training or data go wrong.

The guards live here, apart from the loop itself so that the loop stays readable:

* ``as_numeric``, ``cast``: data that are not numbers (text, ragged rows, objects) and values
  beyond the float type the model computes in are refused, naming them, not converted in silence.
* ``check_finite``: NaN or infinite values in features or targets are refused at the door, naming
  the rows, because one NaN row turns every weight into NaN after a single update.
* ``check_memory``: a size this machine's memory cannot hold is refused before it is allocated,
  with the estimate and the memory available.
* ``Rollback``: a learning rate that is too large makes the loss grow until it overflows to inf
  or NaN; the update computed from that loss turns every weight into NaN. Nothing can undo such an
  update (NaN - x is NaN), so we keep copies of the weights from before the last two steps, in
  two preallocated buffers (no allocation per step: one copy per parameter). When a step's
  loss is not finite we put back the weights of the step before it, the last ones whose loss was
  finite.
* ``InterruptGuard``: Ctrl-C stops training between batches, never inside an update.
"""

import math
import signal
import threading
import warnings

import numpy as np

from . import limits
from ._gather import Rows
from .limits import available_memory, fmt_bytes  # noqa: F401  (one home for the memory figures)
from .errors import DataError, DivergenceError, HandpropWarning


def _rows(bad, limit=5):
    """``"rows 3, 7, 12 (and 4 more)"`` for a boolean mask over rows."""
    return _row_list(np.flatnonzero(bad), limit)


def _row_list(idx, limit=5):
    shown = ", ".join(str(int(i)) for i in idx[:limit])
    more = f" (and {len(idx) - limit} more)" if len(idx) > limit else ""
    return f"row{'s' if len(idx) > 1 else ''} {shown}{more}"


_KINDS = {"U": "text", "S": "bytes", "O": "Python objects: None, mixed types, integers beyond int64 or rows of different lengths",
          "c": "complex numbers", "M": "dates", "m": "time spans", "V": "records"}


def as_numeric(name, a, fix=""):
    """``a`` as an array of numbers (bool, int or float), or a DataError naming ``name`` and what
    it holds instead: rows of different lengths, text, objects. ``fix`` ends the message."""
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError):  # NumPy refuses rows of different lengths
        raise DataError(f"{name} is not a table of numbers: its rows have different lengths; give every "
                        "row the same number of values") from None
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric, got dtype {arr.dtype} "
                        f"({_KINDS.get(arr.dtype.kind, arr.dtype.kind)}){fix}")
    return arr


def cast(name, a, dtype, fix="compute in float64: model.astype(np.float64)"):
    """``a`` as the float ``dtype`` (no copy if it is one already); values beyond that type's range
    are refused, naming them and ``fix``, rather than made infinite (1e300 as float32 is inf)."""
    dtype = np.dtype(dtype)
    if a.dtype == dtype:
        return a
    with np.errstate(over="ignore", invalid="ignore"):
        out = a.astype(dtype)
        overflowed = dtype.kind == "f" and not all_finite([out]) and all_finite([a])
    if overflowed:
        top = float(np.max(np.abs(a.astype(np.float64))))
        raise DataError(f"{name} holds values up to {top:.3g}, beyond the range of {dtype} (±{np.finfo(dtype).max:.3g}) "
                        f"that the model computes in; scale {name} down, or {fix}")
    return out


def check_memory(what, nbytes, fix):
    """Refuse (TooLargeError) before allocating ``nbytes`` for ``what`` if this machine has less
    memory available; the message gives the estimate, the memory available and ``fix``. Below 16 MiB
    the machine is not asked (reading its memory figures costs more than a small forward pass)."""
    if nbytes < 16 * 2**20:
        return
    limits.check_memory(what, nbytes, fix, available_memory())


def check_finite(name, a):
    """Raise DataError naming the rows of ``a`` that hold NaN or infinite values."""
    if a.dtype.kind not in "fc" or a.size == 0:
        return  # integers and booleans cannot be NaN
    a = a.reshape(1) if a.ndim == 0 else a  # (a single number is one row)
    # NaN and inf propagate through a sum, which needs no array of booleans as big as the data;
    # only if the sum is not finite (or large finite data overflowed it) do we look row by row.
    # Chunk by chunk, so that a memory-mapped file is read through, never made resident whole.
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(sum(float(np.sum(chunk)) for chunk in Rows(a).chunks())):
            return
    bad, kinds, offset = [], set(), 0
    for chunk in Rows(a).chunks():
        finite = np.isfinite(chunk)
        if not finite.all():
            rows = ~finite.reshape(len(chunk), -1).all(axis=1) if chunk.ndim > 1 else ~finite
            bad.extend((np.flatnonzero(rows) + offset).tolist())
            kinds.update(k for k, m in (("NaN", np.isnan(chunk).any()), ("infinite", np.isinf(chunk).any())) if m)
        offset += len(chunk)
    if not bad:
        return
    kinds = " and ".join(k for k in ("NaN", "infinite") if k in kinds)
    raise DataError(f"{name} holds {kinds} values in {_row_list(bad)} (0-based); remove or impute those "
                    "rows first (e.g. X = X[np.isfinite(X).all(axis=1)])")


def check_labels(y, n_outputs):
    """Class labels ``y`` (n,) must be indices the model can predict: 0..k-1 (0/1 for one output)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iub" or y.size == 0:
        return  # one-hot rows or scores: compared by argmax, nothing to check
    if n_outputs is None:  # a model without Dense layers: its width follows the input
        return
    k = max(n_outputs, 2)
    bad = (y < 0) | (y >= k)
    if bad.any():
        unseen = ", ".join(str(v) for v in np.unique(y[bad])[:5])
        raise DataError(f"y holds class label(s) {unseen} in {_rows(bad)}, but the model predicts "
                        f"{k} classes (labels 0..{k - 1}); was it trained on other classes?")


def warn_big_batch(batch_size, n):
    if batch_size is not None and batch_size > n:
        warnings.warn(f"batch_size={batch_size} is larger than the {n} training rows: every epoch is one "
                      "full batch (batch_size=None says so)", HandpropWarning, stacklevel=4)


def all_finite(arrays):
    # The sum of an array is finite only if every entry is (NaN and inf propagate). Cheaper than
    # np.isfinite (no boolean array); only a sum that is not finite (large finite weights may
    # overflow it) is looked at entry by entry, so that huge but finite weights are not "NaN".
    # (Called where overflow warnings are off: fit's loop, Sequential.outputs.)
    return all(math.isfinite(float(np.sum(a))) or bool(np.isfinite(a).all()) for a in arrays)


class Rollback:
    """Copies of the weights before the last two steps; ``restore`` puts back the last good ones."""

    def __init__(self, params, step=0):
        self.params = params
        self.buffers = [[np.empty_like(p.value) for p in params] for _ in range(2)]
        self.step = self.start = step  # steps taken in this fit call; copies are made from ``start`` on
        # Looked up once: optimizers update parameters in place, so the arrays stay the same ones.
        self._pairs = [list(zip(bufs, [p.value for p in params])) for bufs in self.buffers]

    def before_step(self):
        for buf, a in self._pairs[self.step % 2]:
            buf[...] = a  # cheaper than np.copyto for the small arrays of a small network
        self.step += 1

    def weights_finite(self):
        return all_finite(p.value for p in self.params)

    def restore(self, back):
        """Put back the weights from before the step ``back`` steps ago (1: the last step taken)."""
        back = min(back, self.step - self.start)
        if back == 0:  # no copy was made yet: the weights are as they are
            return all_finite(p.value for p in self.params)
        for buf, p in zip(self.buffers[(self.step - back) % 2], self.params):
            p.value[...] = buf
        return all_finite(p.value for p in self.params)

    def restore_last_good(self, what):
        """``what`` is "loss" (the step's loss was not finite: the weights it was computed on
        already overflowed, so we go two steps back) or "weights" (the loss was finite but its
        update was not: one step back). Returns whether the restored weights are finite."""
        ok = self.restore(2 if what == "loss" else 1)
        if not ok:  # only if a finite loss came from non-finite weights: keep the newer copy
            ok = self.restore(1)
        return ok


def diverged(runner, optimizer, epoch, step, value, what):
    """Restore the last good weights and build the DivergenceError that says what happened.

    ``runner`` is the engine running the steps (``handprop._engine.StepRunner``);
    ``what`` is "loss" (a step's loss was not finite) or "weights" (an update made them non-finite).
    """
    ok = runner.restore_last_good(what)
    # The optimizer's state (momentum, Adam's moments) took the same non-finite gradient: start it
    # afresh, so that training can go on from the restored weights with a smaller learning rate.
    optimizer.reset()
    lr = getattr(optimizer, "lr", None)
    first = runner.steps <= 1 and what == "loss"
    if first:
        cause = ("the loss is not finite for the weights training started from: the inputs or "
                 "targets are probably too large (standardise them, e.g. with handprop.data.StandardScaler)")
    else:
        cause = (f"the learning rate{f' {lr:g}' if lr is not None else ''} is probably too large: each "
                 "update overshoots and the weights grow until they overflow (unscaled inputs or "
                 "targets make this worse)")
    # A tenth of the rate, capped at a usual starting rate (0.1 for SGD, 0.01 for Adam).
    suggested = min(lr / 10, 0.01 if type(optimizer).__name__ == "Adam" else 0.1) if lr and not first else None
    fix = f"; try lr={suggested:g}" if suggested else ""
    kept = ("the weights of the last step whose loss was finite were restored" if ok
            else "no finite weights were left to restore")
    err = DivergenceError(
        f"training diverged at epoch {epoch}, step {step} (batch {step + 1} of the epoch): the "
        f"{'loss became ' + str(value) if what == 'loss' else 'update made the weights non-finite'}. "
        f"Likely cause: {cause}{fix}; {kept}")
    err.epoch, err.step, err.loss_value = epoch, step, value
    err.suggested_lr = suggested
    return err


class InterruptGuard:
    """Turns the first Ctrl-C into a request to stop after the current batch.

    Stopping between batches (never inside an optimizer step) leaves every weight consistent. A
    second Ctrl-C interrupts at once. Only the main thread can own signal handlers; elsewhere
    Ctrl-C arrives as KeyboardInterrupt, which ``fit`` also catches.
    """

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._old)

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False
