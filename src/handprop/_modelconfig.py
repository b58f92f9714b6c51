"""A model file's JSON config and arrays, turned into objects and back (used by ``handprop.io``).

Everything read here is a claim from a file: every value is checked before it is used, and the
arrays the config names are listed with their shapes (``expected_members``) before any array is
inflated. Errors are raised as ``Invalid`` with a message; ``io`` adds the file's name.
"""

import inspect
import json

import numpy as np

from . import activations, conv, dropout, layers, losses, norm, optimizers, shape
from .errors import HandpropValueError
from .limits import HISTORY_BYTES_PER_EPOCH, check_memory
from .model import Sequential
from .modelinfo import ModelInfo
from .training import History, ResumeState

LAYERS = {cls.__name__: cls for cls in set(activations.ACTIVATIONS.values()) | {
    layers.Dense, conv.Conv1D, conv.MaxPool1D, conv.AvgPool1D, shape.Flatten, shape.Reshape,
    dropout.Dropout, norm.BatchNorm1d}}
LOSSES = {cls.__name__: cls for cls in (losses.MSE, losses.HalfSSE, losses.BCE, losses.CrossEntropy)}
OPTIMIZERS = {cls.__name__: cls for cls in (optimizers.SGD, optimizers.Adam)}
# Parsing JSON takes far more memory than its bytes: a list "[[],[],...]" 22 times as much, a list
# of floats 9 times. A config is refused when the estimate (``parse_cost``) is above this.
PARSE_BUDGET = 40 * 1024**2


class Invalid(Exception):
    """A config check failed; ``io`` turns it into a FileFormatError naming the file."""


def expect(ok, message):
    if not ok:
        raise Invalid(message)


# ----------------------------------------------------------------------------------- JSON
def parse_cost(raw):
    """An upper estimate of the bytes ``json.loads`` takes for ``raw``: the text (and its copies),
    about 72 bytes per container, 36 per element (a float and its slot) and 30 per string."""
    containers = raw.count(b"[") + raw.count(b"{")
    elements = raw.count(b",") + raw.count(b":") + 1
    return 4 * len(raw) + 72 * containers + 36 * elements + 30 * raw.count(b'"')


def parse_json(raw):
    """The config from its UTF-8 bytes, refusing text whose parse would take over ``PARSE_BUDGET``."""
    cost = parse_cost(raw)
    if cost > PARSE_BUDGET:
        raise ValueError(f"{len(raw)} bytes whose parsing would take about {cost} bytes of memory, more "
                         f"than the {PARSE_BUDGET} a handprop config may take")
    return json.loads(raw.decode("utf-8"))


def pack(tree, arrays, prefix):
    """Replace the arrays in a nested dict/list by ``{"__array__": key}``, collecting them."""
    if isinstance(tree, np.ndarray):
        key = f"{prefix}.{len(arrays)}"
        arrays[key] = tree
        return {"__array__": key}
    if isinstance(tree, dict):
        return {str(k): pack(v, arrays, prefix) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [pack(v, arrays, prefix) for v in tree]
    if isinstance(tree, np.generic):
        return tree.item()
    return tree


def unpack(tree, arrays):
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            key = tree["__array__"]
            expect(key in arrays, f"array {key!r} is referenced but missing from the file")
            return arrays[key]
        return {k: unpack(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [unpack(v, arrays) for v in tree]
    return tree


def referenced(tree, keys):
    """The array keys a config refers to: ``{"__array__": key}`` anywhere in a checkpoint."""
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            keys.add(tree["__array__"])
        for v in tree.values():
            referenced(v, keys)
    elif isinstance(tree, list):
        for v in tree:
            referenced(v, keys)
    return keys


def constructor_config(obj):
    """The constructor arguments of an optimizer, read back from its attributes."""
    names = [n for n in inspect.signature(type(obj).__init__).parameters if n != "self"]
    return {n: (list(v) if isinstance(v, tuple) else v)
            for n in names if (v := getattr(obj, n, None)) is not None}


# ----------------------------------------------------------------------------------- writing
def model_config(model, info, loss, arrays, version, fmt):
    """The config of ``model`` (its weights collected in ``arrays``), refusing what no file could
    name again; ``fmt`` is ``(format, format_version)``."""
    layer_cfgs = []
    for i, layer in enumerate(model.layers):
        name = type(layer).__name__
        if name not in LAYERS or type(layer) is not LAYERS[name]:
            raise HandpropValueError(f"cannot save layer {i} ({layer!r}): only handprop's own layers are saved")
        params = {}
        for p in saved_names(layer):
            key = f"layers.{i}.{p}"
            arrays[key] = getattr(layer, p)
            params[p] = key
        layer_cfgs.append({"class": name, "config": layer.get_config(), "params": params})
    if loss is None and info is not None:
        loss = info.loss
    loss = None if loss is None else losses.get(loss)
    if loss is not None and LOSSES.get(type(loss).__name__) is not type(loss):
        raise HandpropValueError(f"cannot save the loss {loss!r}: only handprop's own losses are saved "
                                 f"({', '.join(LOSSES)}); a file naming another could not be loaded")
    return {"format": fmt[0], "format_version": fmt[1], "handprop_version": version,
            "dtype": str(model.dtype), "layers": layer_cfgs,
            "loss": None if loss is None else {"class": type(loss).__name__, "config": loss.get_config()},
            "info": None if info is None else info.to_config(), "checkpoint": None}


# ----------------------------------------------------------------------------------- reading
def _dense_shapes(i, cfg):
    """``{"W": (n_in, n_out), "b": (n_out,)}`` from a Dense config, its sizes checked."""
    extra = set(cfg) - {"n_in", "n_out", "l1", "l2"}
    expect(not extra, f"layers[{i}]: unknown Dense settings {sorted(extra)}")
    for arg in ("l1", "l2"):
        v = cfg.get(arg, 0.0)
        expect(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < float("inf"),
               f"layers[{i}] (Dense): {arg} must be a number >= 0, got {v!r}")
    for arg in ("n_in", "n_out"):
        v = cfg.get(arg)
        expect(isinstance(v, int) and not isinstance(v, bool) and v >= 1,
               f"layers[{i}] (Dense): {arg} must be a positive integer, got {v!r}")
    return {"W": (cfg["n_in"], cfg["n_out"]), "b": (cfg["n_out"],)}


def _count(i, name, cfg, arg, least):
    v = cfg.get(arg)
    expect(isinstance(v, int) and not isinstance(v, bool) and v >= least,
           f"layers[{i}] ({name}): {arg} must be an integer >= {least}, got {v!r}")
    return v


def _conv_shapes(i, cfg):
    """``{"W": (O, C, K), "b": (O,)}`` from a Conv1D config, its settings checked."""
    sizes = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation")
    extra = set(cfg) - set(sizes)
    expect(not extra, f"layers[{i}]: unknown Conv1D settings {sorted(extra)}")
    C, O, K = (_count(i, "Conv1D", cfg, arg, 1) for arg in sizes[:3])
    for arg in sizes[3:]:
        if arg in cfg:
            _count(i, "Conv1D", cfg, arg, 0 if arg == "padding" else 1)
    return {"W": (O, C, K), "b": (O,)}


def saved_names(layer):
    """The arrays a layer's file entry holds: its parameters, then its non-trainable state
    (``state_names``: BatchNorm1d's running statistics)."""
    return tuple(layer.param_names) + tuple(getattr(layer, "state_names", ()))


def layer_shapes(i, cls, cfg):
    """``{name: shape}`` of the arrays a layer's config says its file entry holds, checked."""
    if cls is layers.Dense:
        return _dense_shapes(i, cfg)
    if cls is conv.Conv1D:
        return _conv_shapes(i, cfg)
    if cls is norm.BatchNorm1d:
        n = _count(i, "BatchNorm1d", cfg, "n", 1)
        return {name: (n,) for name in saved_names(cls)}
    return {}


def expected_members(config, present):
    """``{key: shape}`` of every array the config names (shape None: any, for a checkpoint's
    arrays), refusing names missing from ``present`` and members nothing names."""
    layer_cfgs = config.get("layers")
    expect(isinstance(layer_cfgs, list) and layer_cfgs, "layers must be a non-empty list")
    expected = {}
    for i, lc in enumerate(layer_cfgs):
        expect(isinstance(lc, dict), f"layers[{i}] must be an object")
        name, cfg, params = lc.get("class"), lc.get("config") or {}, lc.get("params") or {}
        expect(isinstance(name, str) and name in LAYERS,
               f"layers[{i}]: unknown layer class {name!r} (known: {', '.join(sorted(LAYERS))})")
        expect(isinstance(cfg, dict), f"layers[{i}].config must be an object")
        cls = LAYERS[name]
        names = saved_names(cls)
        expect(isinstance(params, dict) and set(params) == set(names),
               f"layers[{i}] ({name}) must list parameters {list(names)}, got {sorted(params)}")
        shapes = layer_shapes(i, cls, cfg)
        for p, key in params.items():
            expect(isinstance(key, str) and key in present, f"layers[{i}].{p}: array {key!r} is missing")
            expect(expected.get(key, shapes[p]) == shapes[p], f"layers[{i}].{p}: array {key!r} is used twice")
            expected[key] = shapes[p]
    for key in referenced(config.get("checkpoint"), set()) | referenced(config.get("optimizer_state"), set()):
        expect(isinstance(key, str) and key in present, f"array {key!r} is referenced but missing from the file")
        expected.setdefault(key, None)
    _check_history(config.get("checkpoint"))
    extra = [k for k in present if k not in expected]
    expect(not extra, f"unexpected array(s) {', '.join(map(repr, extra[:8]))}: not part of the model "
           "(was the file altered?)")
    return expected


def _check_history(ck):
    """A checkpoint's history: each series a list of numbers or an array, seen in the config alone."""
    history = ck.get("history") if isinstance(ck, dict) else None
    if isinstance(history, dict) and set(history) == {"__array__"}:
        return
    for k, v in (history.items() if isinstance(history, dict) else ()):
        ok = (isinstance(v, dict) and set(v) == {"__array__"}) or (
            isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v))
        expect(ok, f"malformed checkpoint: history[{k!r}] must be a list of numbers or an array, "
               f"got {str(v)[:60]}")


def _param_shapes(config):
    """The shapes of ``model.parameters()``, in order, from a config ``expected_members`` passed."""
    shapes = []
    for i, lc in enumerate(config["layers"]):
        cls = LAYERS[lc["class"]]
        declared = layer_shapes(i, cls, lc.get("config") or {})
        shapes += [declared[p] for p in cls.param_names]
    return shapes


def _ref(v):
    return v["__array__"] if isinstance(v, dict) and set(v) == {"__array__"} else None


def check_checkpoint_shapes(config, shape_of):
    """A checkpoint's arrays against the model (``shape_of[key]``: a declared or actual shape):
    optimizer state and early stopping's best weights shaped as the parameters, history series
    1-D and no longer than the epochs done. Run before any of them is inflated."""
    ck, saved = config.get("checkpoint"), config.get("optimizer_state")
    params = _param_shapes(config)
    state = saved.get("state") if isinstance(saved, dict) else None
    lists = [(f"optimizer_state.state.{k}", v) for k, v in (state.items() if isinstance(state, dict) else ())]
    if not isinstance(ck, dict):
        _check_state_lists(lists, params, shape_of)
        return
    state = (ck.get("optimizer") or {}).get("state") if isinstance(ck.get("optimizer"), dict) else None
    lists += [(f"checkpoint.optimizer.state.{k}", v) for k, v in (state.items() if isinstance(state, dict) else ())]
    cbs = ck.get("callbacks")
    lists += [(f"checkpoint.callbacks.{name}.best_weights", d.get("best_weights"))
              for name, d in (cbs.items() if isinstance(cbs, dict) else ()) if isinstance(d, dict)]
    _check_state_lists(lists, params, shape_of)
    history, done = ck.get("history"), ck.get("epochs_done")
    expect(isinstance(done, int) and not isinstance(done, bool) and done >= 0,
           f"checkpoint.epochs_done: bad value {done!r}")
    for name, v in (history.items() if isinstance(history, dict) and _ref(history) is None else ()):
        key = _ref(v)
        if key is not None:
            n = tuple(shape_of[key])
            expect(len(n) == 1 and n[0] <= done,
                   f"checkpoint.history[{name!r}] has shape {n}, not one value per epoch done ({done!r})")


def _check_state_lists(lists, params, shape_of):
    """Per-parameter state (``[(where, [{"__array__": key} or None, ...]), ...]``): one entry per
    parameter, each shaped as its parameter."""
    for where, values in lists:
        keys = [_ref(v) for v in values] if isinstance(values, list) else []
        if any(k is not None for k in keys):
            expect(len(keys) == len(params), f"{where} has {len(keys)} arrays, the model {len(params)} parameters")
            for i, key in enumerate(keys):
                expect(key is None or tuple(shape_of[key]) == params[i],
                       f"{where}[{i}] has shape {tuple(shape_of[key]) if key else None}, its parameter {params[i]}")


def check_declared(key, shape, dtype, expected, layer_cfgs):
    """A member's declared ``shape`` and ``dtype`` against what the config says it must be."""
    want = expected[key]
    if want is None:
        return
    i, p = next((i, p) for i, lc in enumerate(layer_cfgs) for p, k in lc["params"].items() if k == key)
    expect(dtype.kind == "f", f"layers[{i}].{p} has dtype {dtype}, not float")
    name = layer_cfgs[i]["class"]
    if name != "Dense":
        expect(shape == want, f"layers[{i}] ({name}).{p} has shape {shape}, expected {want}")
        return
    ok = shape == want or (p == "b" and shape in ((1,) + want, want + (1,)))
    what = "weight" if p == "W" else "bias"
    n_in, n_out = (want[0], want[1]) if p == "W" else (layer_cfgs[i]["config"]["n_in"], want[0])
    expect(ok, f"layers[{i}] (Dense): Dense({n_in}, {n_out}): {what} has shape {shape}, expected {want}")


def build_model(config, arrays):
    """The Sequential a config describes, with ``info`` (loss, preprocessing) and its pairing checked."""
    dtype = config.get("dtype", "float64")
    expect(dtype in ("float64", "float32", "float16"), f"dtype {dtype!r} is not a float type")
    built = []
    for i, lc in enumerate(config["layers"]):
        name, cfg, cls = lc["class"], lc.get("config") or {}, LAYERS[lc["class"]]
        values = {p: arrays[key] for p, key in (lc.get("params") or {}).items()}
        for p, arr in values.items():
            expect(arr.dtype.kind == "f", f"layers[{i}].{p} has dtype {arr.dtype}, not float")
            expect(bool(np.all(np.isfinite(arr))), f"layers[{i}].{p} holds NaN or infinite values")
        try:
            if cls is layers.Dense:
                _dense_shapes(i, cfg)
                layer = layers.Dense(cfg["n_in"], cfg["n_out"], weight=values["W"], bias=values["b"], dtype=dtype,
                                     l1=cfg.get("l1", 0.0), l2=cfg.get("l2", 0.0))
            elif cls is conv.Conv1D:
                _conv_shapes(i, cfg)
                layer = cls(**cfg, weight=values["W"], bias=values["b"], dtype=dtype)
            else:
                layer = cls(**cfg, dtype=dtype) if cls is norm.BatchNorm1d else cls(**cfg)
                for p, arr in values.items():  # shapes checked against the config before inflating
                    setattr(layer, p, arr.astype(dtype))
        except (HandpropValueError, TypeError) as exc:
            raise Invalid(f"layers[{i}] ({name}): {exc}") from None
        built.append(layer)
    model = Sequential(built)
    loss = build_loss(config.get("loss"))
    if loss is not None:
        try:
            losses.check_pairing(model, loss)
        except HandpropValueError as exc:
            raise Invalid(f"saved with the loss {loss!r}, which does not fit its last layer: {exc}") from None
    info_cfg, version = config.get("info"), config.get("handprop_version")
    model.info = (ModelInfo.from_config(info_cfg, loss=loss, version=version) if info_cfg is not None
                  else ModelInfo(loss=loss, handprop_version=version))
    return model


def build_loss(d):
    if d is None:
        return None
    expect(isinstance(d, dict) and d.get("class") in LOSSES,
           f"loss must name one of {', '.join(LOSSES)}, got {str(d)[:80]}")
    try:
        return LOSSES[d["class"]](**(d.get("config") or {}))
    except TypeError as exc:
        raise Invalid(f"loss: {exc}") from None


def build_optimizer(od, n_params):
    expect(isinstance(od, dict) and od.get("class") in OPTIMIZERS,
           f"checkpoint.optimizer: unknown class {od.get('class') if isinstance(od, dict) else od!r}")
    try:
        cfg = dict(od.get("config") or {})
        if "betas" in cfg:
            cfg["betas"] = tuple(cfg["betas"])
        optimizer = OPTIMIZERS[od["class"]](**cfg)
        optimizer.load_state_dict(od.get("state") or {})
    except (TypeError, KeyError, HandpropValueError) as exc:
        raise Invalid(f"checkpoint.optimizer: {exc!r}") from None
    expect(optimizer.n_params in (None, n_params),
           f"checkpoint.optimizer has state for {optimizer.n_params} parameters, the model has {n_params}")
    return optimizer


def build_resume(ck):
    """The ``ResumeState`` of an unpacked checkpoint dict, each part checked."""
    rng_state = ck.get("rng_state")
    try:
        np.random.default_rng().bit_generator.state = rng_state
    except (TypeError, ValueError, KeyError) as exc:
        raise Invalid(f"checkpoint.rng_state is not a PCG64 state ({exc})") from None
    epochs_done = ck.get("epochs_done")
    expect(isinstance(epochs_done, int) and epochs_done >= 0, f"checkpoint.epochs_done: bad value {epochs_done!r}")
    epochs = ck.get("epochs")
    expect(epochs is None or (isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1),
           f"checkpoint.epochs: bad value {epochs!r}")
    if epochs is not None:  # resuming it would keep a history of that many epochs
        try:
            check_memory(f"checkpoint.epochs: a run of {epochs} epochs", epochs * HISTORY_BYTES_PER_EPOCH,
                         "the file was altered or damaged")
        except HandpropValueError as exc:
            raise Invalid(str(exc)) from None
    history = ck.get("history") or {}
    expect(isinstance(history, dict), "checkpoint.history must be an object")
    history = History.from_dict(history).to_dict()  # checks that it converts; plain lists
    return ResumeState(epochs_done, rng_state, history, ck.get("callbacks") or {},
                       batch_size=ck.get("batch_size"), shuffle=ck.get("shuffle", True),
                       stop_reason=ck.get("stop_reason"))
