"""Saving and loading models and checkpoints: one ``.npz`` file, JSON inside, never a pickle.

A file holds plain arrays (the weights ``layers.0.W``, ``layers.0.b``, ...) and one more array,
``__config__``: the UTF-8 bytes of a JSON document describing everything else::

    {"format": "handprop.model", "format_version": 1, "handprop_version": "0.1.0",
     "dtype": "float64",
     "layers": [{"class": "Dense", "config": {"n_in": 64, "n_out": 32},
                 "params": {"W": "layers.0.W", "b": "layers.0.b"}},
                {"class": "ReLU", "config": {}}, ...],
     "loss": {"class": "CrossEntropy", "config": {}},
     "info": {"task": "classification", "preprocessing": {"x": {...StandardScaler...}, ...},
              "feature_names": [...], "target_name": "digit",
              "training": {"version": 1, "command": "train", "settings": {...}, "typed": [...]}},
     "optimizer_state": {"class": "Adam", "config": {...}, "state": {"t": 96, "m": [...], "v": [...]}},
     "checkpoint": null}

``info.training`` (``handprop train``'s settings, for the doctor's commands) and ``optimizer_state``
(the training optimizer's state, for ``explain``; its arrays ``opt.<n>``) are optional: files
without them load as before.

A checkpoint is the same file with ``"checkpoint"`` filled in: epochs done, the optimizer (class,
hyperparameters, state), the shuffling rng's exact state, the history and the callbacks' states.
Arrays inside that state are stored as ``ckpt.<n>`` entries and referenced as ``{"__array__": key}``.

Why not pickle: unpickling a file runs whatever code its author put in it. ``np.load`` is called with
``allow_pickle=False``; a file that needs pickling is refused with a message saying so. Every part of
the config is validated before a model is built, and every array's declared shape before it is
inflated (``_npzread``, ``_modelconfig``). Before a file is written, what it holds is read back in
memory exactly as ``load`` would read it: a file that could not be loaded never replaces a good one.
Files are written atomically (``handprop.files``). ``docs/limits.md`` lists the sizes a file may declare.
"""

import json
import os

import numpy as np

from . import __version__, _npzread
from . import _modelconfig as mc
from .files import atomic_write, check_path_argument
from .callbacks import ModelCheckpoint
from .errors import FileFormatError, HandpropValueError, MissingFileError
from .limits import available_memory, fmt_bytes
from .model import Sequential
from .modelinfo import ModelInfo
from .training import callback_key

FORMAT = "handprop.model"
FORMAT_VERSION = 1
CONFIG_KEY = "__config__"
# A config is a few kilobytes: the history of a checkpoint is kept in arrays, not in the JSON.
MAX_CONFIG_BYTES = 10 * 1024**2
HISTORY_PREFIX = "hist"  # the arrays of a checkpoint's history: NaN allowed (a diverged epoch's loss)

# What interpreting a hostile config can raise besides our own checks: a config is data from a
# file, so any of these is the file's fault, reported as such rather than as a crash.
_CONFIG_ERRORS = (mc.Invalid, HandpropValueError, TypeError, ValueError, KeyError, AttributeError,
                  IndexError, OverflowError, RecursionError, StopIteration)


# ----------------------------------------------------------------------------------- write
def _check_savable(path, config, arrays):
    """Refuse, before any file is opened, what could not be loaded back (``load``'s own checks)."""
    for key, arr in arrays.items():
        if arr.dtype.kind not in "biuf":
            raise HandpropValueError(f"cannot save array {key!r} of dtype {arr.dtype}: numbers only")
        # A file of NaN weights is worth nothing and would replace a good one: refuse before writing.
        if arr.dtype.kind == "f" and not key.startswith(HISTORY_PREFIX + ".") and not np.isfinite(arr).all():
            raise HandpropValueError(
                f"refusing to save {path}: array {key!r} holds NaN or infinite values (did training "
                "diverge?); the existing file, if any, is left as it was")
    payload = json.dumps(config, allow_nan=True).encode("utf-8")
    try:
        if len(payload) > MAX_CONFIG_BYTES:
            raise mc.Invalid(f"its config would take {len(payload)} bytes, more than the {MAX_CONFIG_BYTES} "
                             "a file may hold")
        _interpret(mc.parse_json(payload), arrays)
    except _CONFIG_ERRORS as exc:
        raise HandpropValueError(f"refusing to save {path}: the file could not be loaded back: "
                                 f"{str(exc)[:500]}; the existing file, if any, is left as it was") from None
    return payload


def _write(path, config, arrays):
    path = check_path_argument(path, "path")
    arrays = {key: np.asarray(arr) for key, arr in arrays.items()}
    payload = _check_savable(path, config, arrays)
    entries = {CONFIG_KEY: np.frombuffer(payload, dtype=np.uint8), **arrays}
    # np.savez on a file object: the name is ours, and no ".npz" is appended behind our back.
    atomic_write(path, lambda f: np.savez(f, **entries))


def _refusing(path, build):
    """``build()``, its refusals said to be of ``path``'s write (which has not begun)."""
    try:
        return build()
    except HandpropValueError as exc:
        raise HandpropValueError(f"refusing to save {path}: {exc}; the existing file, if any, is left "
                                 "as it was") from None


def _model_config(model, info, loss, arrays):
    return mc.model_config(model, info, loss, arrays, __version__, (FORMAT, FORMAT_VERSION))


# ----------------------------------------------------------------------------------- save
def save(model, path, info=None, optimizer_state=None, **info_fields):
    """Save ``model`` (layers, weights, and ``info``: loss, preprocessing, names) to one ``.npz``.

    ``info`` defaults to ``model.info`` (set by ``load`` and by ``handprop train``); keyword
    arguments build one instead: ``save(model, "m.npz", loss="ce", x_scaler=scaler)``. Everything
    is checked as ``load`` would check it before the file is opened, and the write is atomic: an
    existing file is replaced only once the new one is complete.

    ``optimizer_state``: the optimizer that trained ``model`` (after at least one step); its state
    (Adam's ``m``, ``v`` and step count ``t``, SGD's velocity: arrays shaped as the weights) is kept
    in the file, and ``load`` gives it back as ``model.info.optimizer_state``, so that ``explain``
    shows the actual next update. Without it, a file holds no optimizer state.
    """
    path = check_path_argument(path, "path")
    if info_fields:
        if info is not None:
            raise HandpropValueError("give info or its fields (loss=, x_scaler=, ...), not both")
        info = ModelInfo(**info_fields)
    if info is None:
        info = getattr(model, "info", None)
    if not isinstance(model, Sequential):
        raise HandpropValueError(f"save: model must be a Sequential, got {type(model).__name__}")
    arrays = {}
    config = _refusing(path, lambda: _model_config(model, info, None, arrays))
    if optimizer_state is not None:
        config["optimizer_state"] = _refusing(path, lambda: _optimizer_entry(optimizer_state, model, arrays))
    _write(path, config, arrays)
    return path


def state_is_finite(optimizer):
    """Whether every array of ``optimizer``'s state is finite (a run whose squared gradients overflowed
    leaves an Adam ``v`` of inf: such a state cannot be kept in a file, the model still can)."""
    lists = [getattr(optimizer, name, None) or [] for name in getattr(optimizer, "state_names", ())]
    return all(a is None or bool(np.all(np.isfinite(a))) for arrays in lists for a in arrays)


def _optimizer_entry(opt, model, arrays):
    """``{"class", "config", "state"}`` of an optimizer that has stepped ``model``'s parameters."""
    if mc.OPTIMIZERS.get(type(opt).__name__) is not type(opt):
        raise HandpropValueError(f"optimizer_state must be one of handprop's optimizers ({', '.join(mc.OPTIMIZERS)}), "
                                 f"got {type(opt).__name__}")
    if opt.n_params != len(model.parameters()):
        raise HandpropValueError(f"optimizer_state: {opt!r} has state for {opt.n_params} parameters, the model has "
                                 f"{len(model.parameters())} (pass the optimizer that trained this model)")
    return {"class": type(opt).__name__, "config": mc.constructor_config(opt),
            "state": mc.pack(opt.state_dict(), arrays, "opt")}


def save_checkpoint(path, state, info=None, settings=None):
    """Save a resumable checkpoint of a training run (``state``: the ``fit`` TrainState).

    Holds the model as ``save`` does, plus the optimizer (hyperparameters and state), the rng
    state, the history (as arrays), the callbacks' states and ``settings`` (a JSON-able dict the
    caller wants back, such as the CLI's flags).
    """
    path = check_path_argument(path, "path")
    if info is None:
        info = getattr(state.model, "info", None)
    arrays = {}
    config = _refusing(path, lambda: _model_config(state.model, info, state.loss, arrays))
    opt = state.optimizer
    if mc.OPTIMIZERS.get(type(opt).__name__) is not type(opt):
        raise HandpropValueError(f"cannot save the optimizer {type(opt).__name__} in a checkpoint: only "
                                 f"handprop's own optimizers are saved ({', '.join(mc.OPTIMIZERS)})")
    cb_states = {}
    for i, cb in enumerate(state.callbacks):
        d = cb.state_dict()
        if d:
            cb_states[callback_key(i, cb)] = d
    history = {k: np.asarray(v, dtype=np.int64 if k == "epoch" else np.float64)
               for k, v in state.history.to_dict().items()}
    ckpt = {"epochs_done": state.epochs_done, "epochs": state.epochs,
            "batch_size": state.batch_size, "shuffle": state.shuffle,
            "stop_reason": state.stop_reason, "rng_state": state.rng.bit_generator.state,
            "history": mc.pack(history, arrays, HISTORY_PREFIX),
            "optimizer": {"class": type(opt).__name__, "config": mc.constructor_config(opt),
                          "state": opt.state_dict()},
            "callbacks": cb_states, "settings": settings}
    config["checkpoint"] = mc.pack(ckpt, arrays, "ckpt")
    _write(path, config, arrays)
    return path


# ----------------------------------------------------------------------------------- load
def _open(path):
    """The file ``path`` as an ``NpzArchive``, refusing pickles, single arrays and non-zips."""
    where = check_path_argument(path, "path")
    if not os.path.exists(where):
        raise MissingFileError(f"{where}: no such file")
    if not os.path.isfile(where):
        raise MissingFileError(f"{where}: is a directory, not a file")
    with open(where, "rb") as f:
        head = f.read(8)
    if head[:1] == b"\x80":  # the PROTO opcode that starts every pickle of protocol 2 or later
        raise FileFormatError(
            f"{where}: this is a pickled Python object; handprop never unpickles files, because "
            "loading a pickle can run arbitrary code. Save models with model.save(path)")
    if head.startswith(b"\x93NUMPY"):
        try:
            np.load(where, allow_pickle=False, mmap_mode="r")
        except ValueError as exc:
            if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                raise FileFormatError(f"{where}: this .npy file holds pickled Python objects; handprop "
                                      "never unpickles files, because loading a pickle can run arbitrary code") from None
        raise FileFormatError(f"{where}: a single .npy array, not a handprop model (.npz)")
    if not head.startswith(b"PK"):
        raise FileFormatError(f"{where}: not a readable .npz file (it starts with {head!r}, "
                              "not a zip archive); was it saved with model.save?")
    return where, _npzread.NpzArchive(where)


def _read_config(where, archive):
    """The config member, read first: at most ``MAX_CONFIG_BYTES``, and parsed within a budget."""
    if CONFIG_KEY not in archive.keys:
        raise FileFormatError(f"{where}: not a handprop model file (no {CONFIG_KEY} entry); "
                              f"entries: {', '.join(archive.keys[:10])}")
    h = archive.header(CONFIG_KEY)
    try:
        if h.dtype != np.uint8 or len(h.shape) != 1:
            raise ValueError(f"dtype {h.dtype}, shape {h.shape}")
        if h.nbytes > MAX_CONFIG_BYTES:
            raise ValueError(f"{h.nbytes} bytes, more than the {MAX_CONFIG_BYTES} a handprop config may have")
        config = mc.parse_json(archive.read(CONFIG_KEY, h).tobytes())
    except FileFormatError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[...]]]]
        raise FileFormatError(f"{where}: the {CONFIG_KEY} entry is not UTF-8 JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        raise FileFormatError(f"{where}: not a handprop model file (format {found!r})")
    version = config.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise FileFormatError(f"{where}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{where}: written by handprop {config.get('handprop_version')} in format version {version}; "
            f"this handprop ({__version__}) reads up to version {FORMAT_VERSION}: upgrade handprop")
    return config


def _read_arrays(where, archive, config):
    """The arrays the config names: every header checked against the config, and the total against
    the memory this machine has, before any data is inflated."""
    present = [k for k in archive.keys if k != CONFIG_KEY]
    expected = mc.expected_members(config, present)
    headers = [archive.header(key) for key in expected]
    total = sum(h.nbytes for h in headers)
    if total > _npzread.MAX_TOTAL_BYTES:
        raise FileFormatError(f"{where}: its entries declare {total} bytes, more than the "
                              f"{_npzread.MAX_TOTAL_BYTES} bytes a handprop file may hold")
    free = available_memory()
    if free is not None and total > free:
        raise FileFormatError(f"{where}: its entries declare {fmt_bytes(total)}, more than the "
                              f"{fmt_bytes(free)} of memory available on this machine")
    for h in headers:
        mc.check_declared(h.key, h.shape, h.dtype, expected, config["layers"])
    mc.check_checkpoint_shapes(config, {h.key: h.shape for h in headers})
    archive.check_inflation(list(expected))
    return {h.key: archive.read(h.key, h) for h in headers}


def _interpret(config, arrays):
    """``(model, checkpoint parts or None)`` from a config and its arrays: every check of ``load``."""
    mc.expected_members(config, list(arrays))
    mc.check_checkpoint_shapes(config, {key: arr.shape for key, arr in arrays.items()})
    model = mc.build_model(config, arrays)
    model.info.optimizer_state = _saved_optimizer_state(config, arrays, len(model.parameters()))
    if config.get("checkpoint") is None:
        return model, None
    try:
        ck = mc.unpack(config["checkpoint"], arrays)
        mc.expect(isinstance(ck, dict), "checkpoint must be an object")
        optimizer = mc.build_optimizer(ck.get("optimizer") or {}, len(model.parameters()))
        resume = mc.build_resume(ck)
    except mc.Invalid:
        raise
    except _CONFIG_ERRORS as exc:
        raise mc.Invalid(f"malformed checkpoint ({type(exc).__name__}: {str(exc)[:300]})") from None
    return model, (optimizer, resume, ck.get("settings"), ck.get("epochs"))


def _saved_optimizer_state(config, arrays, n_params):
    """The optimizer a model file keeps with its state (``"optimizer_state"``, written by ``save(...,
    optimizer_state=opt)``), built and checked, or None: its state is that of a real run (steps taken,
    one finite float array per parameter for each of its lists)."""
    od = config.get("optimizer_state")
    if od is None:
        return None
    mc.expect(isinstance(od, dict) and set(od) == {"class", "config", "state"},
           "optimizer_state must be an object with class, config and state")
    state = mc.unpack(od["state"], arrays)
    mc.expect(isinstance(state, dict), "optimizer_state.state must be an object")
    optimizer = mc.build_optimizer({**od, "state": state}, n_params)
    t = getattr(optimizer, "t", 0)
    mc.expect(isinstance(t, int) and 1 <= t < 2**53 and optimizer.n_params == n_params,
           f"optimizer_state: {t!r} steps for {optimizer.n_params} parameters; a saved state has steps >= 1 for "
           f"the model's {n_params}")
    for name in optimizer.state_names:
        for i, a in enumerate(getattr(optimizer, name) or []):
            mc.expect(a is None or (a.dtype.kind == "f" and bool(np.all(np.isfinite(a)))),
                   f"optimizer_state.state.{name}[{i}] is not an array of finite floats")
    return optimizer


def _load(path):
    where, archive = _open(path)
    with archive:
        config = _read_config(where, archive)
        try:
            arrays = _read_arrays(where, archive, config)
            model, ck = _interpret(config, arrays)
        except FileFormatError:
            raise
        except mc.Invalid as exc:
            raise FileFormatError(f"{where}: {str(exc)[:500]}") from None
        except _CONFIG_ERRORS as exc:
            raise FileFormatError(f"{where}: malformed file ({type(exc).__name__}: {str(exc)[:300]})") from None
    return config, model, ck


def load(path):
    """Load a model saved by ``save`` (or a checkpoint) and return it; ``model.info`` holds its loss,
    preprocessing and names (see ``ModelInfo``). Never unpickles; validates everything it reads."""
    return _load(path)[1]


def describe(path):
    """``(config, model)`` of a model file: its JSON config (format, version, checkpoint) and model."""
    config, model, _ = _load(path)
    return config, model


class Checkpoint:
    """A loaded checkpoint: ``model``, ``loss``, ``optimizer`` (with its state), ``resume`` (for
    ``fit(resume=...)``), ``settings`` and ``epochs`` (the run's planned number of epochs)."""

    def __init__(self, model, loss, optimizer, resume, settings, epochs):
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.resume, self.settings, self.epochs = resume, settings, epochs

    @property
    def epochs_done(self):
        return self.resume.epochs_done


def load_checkpoint(path):
    """Load a checkpoint written by ``save_checkpoint`` (``ModelCheckpoint``, ``handprop train
    --checkpoint``): everything needed to continue the run bit for bit."""
    _, model, ck = _load(path)
    if ck is None:
        raise FileFormatError(f"{os.fspath(path)}: a saved model, not a checkpoint (no optimizer or rng state to "
                              "resume from); write checkpoints with ModelCheckpoint or train --checkpoint")
    optimizer, resume, settings, epochs = ck
    return Checkpoint(model, model.info.loss, optimizer, resume, settings, epochs)



# ``model.save(path)`` and ModelCheckpoint's writer: attached here, so that neither the model nor the
# callbacks import a file format (files build on the model and on training, not the other way round).
def _save_method(self, path, **info):
    """Save to one ``.npz`` file (JSON config + arrays, no pickle); see ``handprop.io.save``.

    ``handprop.load(path)`` gives the model back with identical predictions.
    """
    return save(self, path, **info)


_save_method.__name__, _save_method.__qualname__ = "save", "Sequential.save"
Sequential.save = _save_method
ModelCheckpoint.write = staticmethod(save_checkpoint)

__all__ = ["Checkpoint", "ModelInfo", "describe", "load", "load_checkpoint", "save", "save_checkpoint",
           "state_is_finite"]
