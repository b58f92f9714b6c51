"""Arguments of the public API, checked before anything runs: each check names the argument, the
value it got and what would work. (Arrays are checked in ``_safety``; hyperparameters of an
optimizer or a layer by their own classes.)"""

import numpy as np

from .errors import HandpropTypeError, HandpropValueError

# The hooks ``fit`` calls on every callback (see ``handprop.callbacks.Callback``).
HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "after_epoch", "on_train_end")


def positive_int(name, value, allow_none=False):
    """``value`` as an int >= 1 (or None where ``allow_none``); 2.0, "5", True are refused."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise HandpropValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def flag(name, value):
    """``value`` as a bool: True/False (or 0/1), never a string such as "no", which is truthy."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise HandpropValueError(f"{name} must be True or False, got {value!r}")


def callbacks(value):
    """``fit``'s callbacks as a list, each an object with the Callback hooks (an instance)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise HandpropTypeError(
            f"callbacks must be a list of callbacks, got {type(value).__name__} {value!r}; "
            f"put it in a list: callbacks=[{type(value).__name__}(...)]")
    for i, cb in enumerate(value):
        if isinstance(cb, type):
            raise HandpropTypeError(f"callbacks[{i}] is the class {cb.__name__}, not a callback: "
                                    f"pass an instance, {cb.__name__}(...)")
        missing = [hook for hook in HOOKS if not callable(getattr(cb, hook, None))]
        if missing:
            raise HandpropTypeError(
                f"callbacks[{i}] is {type(cb).__name__} {cb!r}, not a callback (it has no {', '.join(missing)}): "
                "subclass handprop.callbacks.Callback and override the hooks you need")
    return list(value)


def names(name, value):
    """A list of names (metrics): None is none; one bare string is refused (it is not a list)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise HandpropTypeError(f"{name} must be a list of names, got {value!r}; e.g. {name}=[{value!r}]")
    return list(value)


def model(name, value):
    """``value`` if it is a model (a Sequential: ``layers``, ``check_input``), else an error."""
    if not (hasattr(value, "layers") and callable(getattr(value, "check_input", None))):
        raise HandpropTypeError(f"{name}: the model must be a Sequential (e.g. handprop.mlp([2, 3, 1])), "
                                f"got {type(value).__name__} {value!r:.60}")
    return value
