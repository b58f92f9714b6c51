"""The doctor's fixes for a saved model, as ``handprop train`` command lines that run as printed.

``handprop train`` records in the model file what it ran with (``ModelInfo.training``): the resolved
settings (data source and how it was read, network, optimizer, epochs, ...; never an output path)
and which of them were typed. ``handprop doctor MODEL --data D`` rebuilds that command line from
the record, sets each fix's flags, and gives it a new ``--out`` (``MODEL-fix1.npz``, ...), so that
running a fix never overwrites the model being diagnosed. A model file without the record (saved
from Python, or by a handprop before 0.2) gets one line saying why no command can be printed.
"""

import os

from ..errors import HandpropError
from .common import command_line, fresh_path
from .settings import OUTPUT_SETTINGS, SKLEARN_SETS, check_saved_settings, is_network_spec

RECORD_VERSION = 1
# The flags rebuilt from the record, in the order `handprop train --help` lists them (the data first).
_ORDER = ("dataset", "target", "delimiter", "no_header", "drop_missing_target", "columns", "drop", "n", "noise",
          "task", "layers", "activation", "loss", "optimizer", "lr", "momentum", "weight_decay", "l1", "l2",
          "epochs", "batch_size", "val", "test", "patience", "scale", "seed")
_SWITCHES = ("no_header", "drop_missing_target")  # flags without a value (store_const True)
_FILE_ONLY = ("target", "delimiter", "no_header", "drop_missing_target", "columns", "drop")


def training_record(settings, typed=None):
    """The record ``handprop train`` saves in a model's info: its settings without output paths, and
    ``typed``, the settings typed on the command line (None: unknown, as for a resumed run)."""
    from ..modelinfo import training_record as checked

    stored = {k: v for k, v in settings.items() if k not in OUTPUT_SETTINGS}
    kept = None if typed is None else sorted(k for k in typed if k in stored)
    return checked({"version": RECORD_VERSION, "command": "train", "settings": stored, "typed": kept})


def _text(value):
    """A number as the shortest text that reads back as the same number."""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def _relevant(key, s):
    """Whether ``--key`` may be typed for these settings (train refuses flags that do nothing)."""
    generated = s["dataset"] is not None and s["dataset"] not in SKLEARN_SETS
    if key in _FILE_ONLY:
        return s["data"] is not None
    if key in ("n", "noise"):
        return generated
    if key == "patience":
        return bool(s["val"])
    if key == "activation":
        return not is_network_spec(s["layers"])
    if key == "momentum":
        return s["optimizer"] == "sgd"
    return True


def train_argv(s, typed=None):
    """``["train", DATA or --dataset NAME, flags...]`` that runs the settings ``s`` again: the typed
    flags (every flag that matters when ``typed`` is None), never an output path."""
    argv = ["train", s["data"]] if s["data"] is not None else ["train"]
    for key in _ORDER:
        value = s.get(key)
        if (typed is not None and key not in typed and key != "dataset") or not _relevant(key, s) or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if key == "scale":
            argv += [] if value else ["--no-scale"]
        elif key in _SWITCHES:
            argv += [flag] if value else []
        else:
            argv += [flag, _text(value)]
    return argv


def check_record(path, record):
    """The settings of a model file's training record, checked as a checkpoint's are; or a
    HandpropError saying in one line why no command can be rebuilt from it."""
    if record is None:
        raise HandpropError(f"{path} does not record the settings it was trained with (saved from Python, or "
                            "by an older handprop); train it again with `handprop train` to get the fixes "
                            "as commands")
    settings = dict(record["settings"])
    try:
        check_saved_settings(path, settings, what="the model file's training settings")
    except HandpropError as exc:
        raise HandpropError(f"{exc}; no command can be rebuilt from them") from None
    return settings


def mark_inits(model, record):
    """Set each Dense layer's ``init`` to the initialiser ``handprop train`` drew it with (a file keeps
    weights, not how they were drawn), so that the doctor never advises the init that ran: He for
    ReLU-like hidden layers, Glorot otherwise and in a written-out network (``--layers dense:...``)."""
    from ..layers import Dense

    s = (record or {}).get("settings") or {}
    layers, activation = str(s.get("layers", "")), s.get("activation")
    if not layers or activation is None:
        return
    relu = not is_network_spec(layers) and activation in ("relu", "leaky_relu")
    for layer in model.layers:
        if isinstance(layer, Dense):
            layer.init = "he_uniform" if relu else "glorot_uniform"


def saved_model_commands(model_path, record, suggestions, data_path=None):
    """The fixes ``suggestions`` (the doctor's settings dicts) as ``handprop train`` command lines
    rebuilt from the model's ``record``; raises HandpropError (one line) when there is no record.

    ``data_path``: the data the doctor was given, used when the training file no longer exists.
    """
    import argparse
    import shlex

    s = check_record(model_path, record)
    if s["data"] is not None and not os.path.exists(s["data"]) and data_path is not None:
        s["data"] = os.path.abspath(data_path)
    typed = record.get("typed")
    args = argparse.Namespace(command="train", argv=train_argv(s, typed), **s)
    lines, outs = [], []
    for fix in suggestions:
        if is_network_spec(s["layers"]) and ("hidden" in fix or "activation" in fix):
            continue  # a written-out network: widen or change it in --layers itself
        line = command_line(args, fix)
        if line and not any(line == done.rsplit(" --out ", 1)[0] for done in lines):
            outs.append(fresh_path(model_path, len(outs) + 1, outs))
            lines.append(f"{line} --out {shlex.quote(outs[-1])}")
    return lines


def print_saved_model_advice(model_path, record, diagnosis, data_path=None):
    """Print the diagnosis' fixes as commands to run (``try:``), or one line saying why there are none."""
    suggestions = [s for f in diagnosis for s in f.suggest]
    try:
        lines = saved_model_commands(model_path, record, suggestions, data_path)
    except HandpropError as exc:
        print(f"no command to print: {exc}")
        return
    if lines:
        print("\n".join(["try (each writes a new model file):"] + [f"  {line}" for line in lines]))
