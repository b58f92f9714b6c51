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
              "feature_names": [...], "target_name": "digit"},
     "checkpoint": null}

A checkpoint is the same file with ``"checkpoint"`` filled in: epochs done, the optimizer (class,
hyperparameters, state), the shuffling rng's exact state, the history and the callbacks' states.
Arrays inside that state are stored as ``ckpt.<n>`` entries and referenced as ``{"__array__": key}``.

Why not pickle: unpickling a file runs whatever code its author put in it. ``np.load`` is called with
``allow_pickle=False``; a file that needs pickling is refused with a message saying so. Every part of
the config is validated before a model is built. Files are written atomically (``_files``).
"""

import inspect
import json
import os

import numpy as np

from . import __version__, activations, layers, losses, optimizers
from ._files import atomic_write
from ._npzread import read_npz
from .errors import FileFormatError, HandpropValueError, MissingFileError
from .model import Sequential
from .modelinfo import ModelInfo
from .training import History, ResumeState, callback_key

FORMAT = "handprop.model"
FORMAT_VERSION = 1
CONFIG_KEY = "__config__"
# A config is a few kilobytes (a checkpoint's history adds about 20 bytes per value per epoch).
MAX_CONFIG_BYTES = 64 * 1024**2

_LAYERS = {cls.__name__: cls for cls in set(activations.ACTIVATIONS.values()) | {layers.Dense}}
_LOSSES = {cls.__name__: cls for cls in (losses.MSE, losses.HalfSSE, losses.BCE, losses.CrossEntropy)}
_OPTIMIZERS = {cls.__name__: cls for cls in (optimizers.SGD, optimizers.Adam)}


# ----------------------------------------------------------------------------------- helpers
class _Invalid(Exception):
    """A config check failed; turned into FileFormatError naming the file."""


def _expect(ok, message):
    if not ok:
        raise _Invalid(message)


def _pack(tree, arrays, prefix):
    """Replace the arrays in a nested dict/list by ``{"__array__": key}``, collecting them."""
    if isinstance(tree, np.ndarray):
        key = f"{prefix}.{len(arrays)}"
        arrays[key] = tree
        return {"__array__": key}
    if isinstance(tree, dict):
        return {str(k): _pack(v, arrays, prefix) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_pack(v, arrays, prefix) for v in tree]
    if isinstance(tree, np.generic):
        return tree.item()
    return tree


def _unpack(tree, arrays):
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            key = tree["__array__"]
            _expect(key in arrays, f"array {key!r} is referenced but missing from the file")
            return arrays[key]
        return {k: _unpack(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_unpack(v, arrays) for v in tree]
    return tree


def _constructor_config(obj):
    """The constructor arguments of an optimizer, read back from its attributes."""
    names = [n for n in inspect.signature(type(obj).__init__).parameters if n != "self"]
    return {n: (list(v) if isinstance(v, tuple) else v)
            for n in names if (v := getattr(obj, n, None)) is not None}


def _write(path, config, arrays):
    payload = json.dumps(config, allow_nan=True).encode("utf-8")
    entries = {CONFIG_KEY: np.frombuffer(payload, dtype=np.uint8)}
    for key, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biuf":
            raise HandpropValueError(f"cannot save array {key!r} of dtype {arr.dtype}: numbers only")
        # A file of NaN weights is worth nothing and would replace a good one: refuse before writing.
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise HandpropValueError(
                f"refusing to save {path}: array {key!r} holds NaN or infinite values (did training "
                "diverge?); the existing file, if any, is left as it was")
        entries[key] = arr
    # np.savez on a file object: the name is ours, and no ".npz" is appended behind our back.
    atomic_write(path, lambda f: np.savez(f, **entries))


def _model_config(model, info, loss, arrays):
    layer_cfgs = []
    for i, layer in enumerate(model.layers):
        name = type(layer).__name__
        if name not in _LAYERS or type(layer) is not _LAYERS[name]:
            raise HandpropValueError(f"cannot save layer {i} ({layer!r}): only handprop's own layers are saved")
        params = {}
        for p in layer.param_names:
            key = f"layers.{i}.{p}"
            arrays[key] = getattr(layer, p)
            params[p] = key
        layer_cfgs.append({"class": name, "config": layer.get_config(), "params": params})
    if loss is None and info is not None:
        loss = info.loss
    loss = None if loss is None else losses.get(loss)
    if loss is not None and _LOSSES.get(type(loss).__name__) is not type(loss):
        raise HandpropValueError(f"cannot save the loss {loss!r}: only handprop's own losses are saved "
                                 f"({', '.join(_LOSSES)}); a file naming another could not be loaded")
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "handprop_version": __version__,
            "dtype": str(model.dtype), "layers": layer_cfgs,
            "loss": None if loss is None else {"class": type(loss).__name__, "config": loss.get_config()},
            "info": None if info is None else info.to_config(), "checkpoint": None}


# ----------------------------------------------------------------------------------- save
def save(model, path, info=None, **info_fields):
    """Save ``model`` (layers, weights, and ``info``: loss, preprocessing, names) to one ``.npz``.

    ``info`` defaults to ``model.info`` (set by ``load`` and by ``handprop train``); keyword
    arguments build one instead: ``save(model, "m.npz", loss="ce", x_scaler=scaler)``. The write is
    atomic: an existing file is replaced only once the new one is complete.
    """
    if info_fields:
        if info is not None:
            raise HandpropValueError("give info or its fields (loss=, x_scaler=, ...), not both")
        info = ModelInfo(**info_fields)
    if info is None:
        info = getattr(model, "info", None)
    if not isinstance(model, Sequential):
        raise HandpropValueError(f"save: model must be a Sequential, got {type(model).__name__}")
    arrays = {}
    config = _model_config(model, info, None, arrays)
    _write(path, config, arrays)
    return os.fspath(path)


def save_checkpoint(path, state, info=None, settings=None):
    """Save a resumable checkpoint of a training run (``state``: the ``fit`` TrainState).

    Holds the model as ``save`` does, plus the optimizer (hyperparameters and state), the rng
    state, the history, the callbacks' states and ``settings`` (a JSON-able dict the caller wants
    back, such as the CLI's flags).
    """
    if info is None:
        info = getattr(state.model, "info", None)
    arrays = {}
    config = _model_config(state.model, info, state.loss, arrays)
    opt = getattr(state.optimizer, "inner", state.optimizer)  # a wrapper (GradientRecorder): what it wraps
    if _OPTIMIZERS.get(type(opt).__name__) is not type(opt):
        raise HandpropValueError(f"cannot save the optimizer {type(opt).__name__} in a checkpoint: only "
                                 f"handprop's own optimizers are saved ({', '.join(_OPTIMIZERS)})")
    cb_states = {}
    for i, cb in enumerate(state.callbacks):
        d = cb.state_dict()
        if d:
            cb_states[callback_key(i, cb)] = d
    ckpt = {"epochs_done": state.epochs_done, "epochs": state.epochs,
            "batch_size": state.batch_size, "shuffle": state.shuffle,
            "stop_reason": state.stop_reason, "rng_state": state.rng.bit_generator.state,
            "history": state.history.to_dict(),
            "optimizer": {"class": type(opt).__name__, "config": _constructor_config(opt),
                          "state": opt.state_dict()},
            "callbacks": cb_states, "settings": settings}
    config["checkpoint"] = _pack(ckpt, arrays, "ckpt")
    _write(path, config, arrays)
    return os.fspath(path)


# ----------------------------------------------------------------------------------- load
def _read(path):
    """``(config, arrays)`` from a file, refusing pickles and anything that is not ours."""
    where = os.fspath(path)
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
    arrays = read_npz(where)  # sizes, dtypes and CRCs checked before any data is taken in
    if CONFIG_KEY not in arrays:
        raise FileFormatError(f"{where}: not a handprop model file (no {CONFIG_KEY} entry); "
                              f"entries: {', '.join(list(arrays)[:10])}")
    raw = arrays.pop(CONFIG_KEY)
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"dtype {raw.dtype}, shape {raw.shape}")
        if raw.size > MAX_CONFIG_BYTES:
            raise ValueError(f"{raw.size} bytes, more than the {MAX_CONFIG_BYTES} a handprop config may have")
        config = json.loads(raw.tobytes().decode("utf-8"))
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
    return config, arrays


def _build_model(config, arrays):
    dtype = config.get("dtype", "float64")
    _expect(dtype in ("float64", "float32", "float16"), f"dtype {dtype!r} is not a float type")
    layer_cfgs = config.get("layers")
    _expect(isinstance(layer_cfgs, list) and layer_cfgs, "layers must be a non-empty list")
    built = []
    for i, lc in enumerate(layer_cfgs):
        _expect(isinstance(lc, dict), f"layers[{i}] must be an object")
        name, cfg = lc.get("class"), lc.get("config") or {}
        _expect(name in _LAYERS, f"layers[{i}]: unknown layer class {name!r} (known: {', '.join(sorted(_LAYERS))})")
        _expect(isinstance(cfg, dict), f"layers[{i}].config must be an object")
        cls = _LAYERS[name]
        params = lc.get("params") or {}
        _expect(set(params) == set(cls.param_names),
                f"layers[{i}] ({name}) must list parameters {list(cls.param_names)}, got {sorted(params)}")
        values = {}
        for p, key in params.items():
            _expect(isinstance(key, str) and key in arrays, f"layers[{i}].{p}: array {key!r} is missing")
            arr = arrays[key]
            _expect(arr.dtype.kind == "f", f"layers[{i}].{p} has dtype {arr.dtype}, not float")
            _expect(bool(np.all(np.isfinite(arr))), f"layers[{i}].{p} holds NaN or infinite values")
            values[p] = arr
        try:
            if cls is layers.Dense:
                extra = set(cfg) - {"n_in", "n_out"}
                _expect(not extra, f"layers[{i}]: unknown Dense settings {sorted(extra)}")
                layer = layers.Dense(cfg.get("n_in"), cfg.get("n_out"), weight=values["W"],
                                     bias=values["b"], dtype=dtype)
            else:
                layer = cls(**cfg)
        except (HandpropValueError, TypeError) as exc:
            raise _Invalid(f"layers[{i}] ({name}): {exc}") from None
        built.append(layer)
    try:
        return Sequential(built)
    except HandpropValueError as exc:
        raise _Invalid(str(exc)) from None


def _build_loss(d):
    if d is None:
        return None
    _expect(isinstance(d, dict) and d.get("class") in _LOSSES,
            f"loss must name one of {', '.join(_LOSSES)}, got {str(d)[:80]}")
    try:
        return _LOSSES[d["class"]](**(d.get("config") or {}))
    except TypeError as exc:
        raise _Invalid(f"loss: {exc}") from None


def _referenced(tree, keys):
    """The array keys a config refers to: ``{"__array__": key}`` anywhere in a checkpoint."""
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            keys.add(tree["__array__"])
        for v in tree.values():
            _referenced(v, keys)
    elif isinstance(tree, list):
        for v in tree:
            _referenced(v, keys)
    return keys


# What interpreting a hostile config can raise besides our own checks: a config is data from a
# file, so any of these is the file's fault, reported as such rather than as a crash.
_CONFIG_ERRORS = (_Invalid, HandpropValueError, TypeError, ValueError, KeyError, AttributeError,
                  IndexError, OverflowError, RecursionError)


def _load(path):
    config, arrays = _read(path)
    try:
        used = _referenced(config.get("checkpoint"), set())
        for lc in config.get("layers") or []:
            used.update(k for k in ((lc.get("params") or {}).values() if isinstance(lc, dict) else ())
                        if isinstance(k, str))
        model = _build_model(config, arrays)  # first: its messages say more than "unexpected"
        extra = sorted(set(arrays) - used)
        _expect(not extra, f"unexpected array(s) {', '.join(map(repr, extra[:8]))}: not part of the model "
                "(was the file altered?)")
        loss = _build_loss(config.get("loss"))
        info_cfg = config.get("info")
        model.info = (ModelInfo.from_config(info_cfg, loss=loss, version=config.get("handprop_version"))
                      if info_cfg is not None else ModelInfo(loss=loss, handprop_version=config.get("handprop_version")))
        return config, arrays, model
    except _CONFIG_ERRORS as exc:
        raise FileFormatError(f"{os.fspath(path)}: {str(exc)[:500]}") from None


def load(path):
    """Load a model saved by ``save`` (or a checkpoint) and return it; ``model.info`` holds its loss,
    preprocessing and names (see ``ModelInfo``). Never unpickles; validates everything it reads."""
    return _load(path)[2]


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
    config, arrays, model = _load(path)
    where = os.fspath(path)
    if config.get("checkpoint") is None:
        raise FileFormatError(f"{where}: a saved model, not a checkpoint (no optimizer or rng state to "
                              "resume from); write checkpoints with ModelCheckpoint or train --checkpoint")
    try:
        ck = _unpack(config["checkpoint"], arrays)
        _expect(isinstance(ck, dict), "checkpoint must be an object")
        od = ck.get("optimizer") or {}
        _expect(od.get("class") in _OPTIMIZERS, f"checkpoint.optimizer: unknown class {od.get('class')!r}")
        try:
            cfg = dict(od.get("config") or {})
            if "betas" in cfg:
                cfg["betas"] = tuple(cfg["betas"])
            optimizer = _OPTIMIZERS[od["class"]](**cfg)
            optimizer.load_state_dict(od.get("state") or {})
        except (TypeError, KeyError, HandpropValueError) as exc:
            raise _Invalid(f"checkpoint.optimizer: {exc!r}") from None
        n = len(model.parameters())
        _expect(optimizer.n_params in (None, n),
                f"checkpoint.optimizer has state for {optimizer.n_params} parameters, the model has {n}")
        rng_state = ck.get("rng_state")
        try:
            np.random.default_rng().bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError) as exc:
            raise _Invalid(f"checkpoint.rng_state is not a PCG64 state ({exc})") from None
        epochs_done = ck.get("epochs_done")
        _expect(isinstance(epochs_done, int) and epochs_done >= 0, f"checkpoint.epochs_done: bad value {epochs_done!r}")
        history = ck.get("history") or {}
        _expect(isinstance(history, dict), "checkpoint.history must be an object")
        History.from_dict(history)  # checks that it converts
        resume = ResumeState(epochs_done, rng_state, history, ck.get("callbacks") or {},
                             batch_size=ck.get("batch_size"), shuffle=ck.get("shuffle", True),
                             stop_reason=ck.get("stop_reason"))
    except _Invalid as exc:
        raise FileFormatError(f"{where}: {exc}") from None
    except _CONFIG_ERRORS as exc:
        raise FileFormatError(f"{where}: malformed checkpoint ({type(exc).__name__}: {str(exc)[:300]})") from None
    return Checkpoint(model, model.info.loss, optimizer, resume, ck.get("settings"), ck.get("epochs"))


__all__ = ["save", "load", "save_checkpoint", "load_checkpoint", "ModelInfo", "Checkpoint"]
