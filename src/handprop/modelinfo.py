"""What a saved model knows besides its layers: its loss, task, preprocessing and names.

A network maps standardised features to logits; a user has raw rows and wants labels. ``ModelInfo``
is the bridge, saved in the model file as JSON (``handprop.io``)::

    X_net = (X − mean) / scale                        # x_scaler, fitted on the training rows
    p     = softmax(model(X_net))                     # CrossEntropy: the model outputs logits
    label = classes[argmax p]                         # label_encoder
    value = model(X_net) · y_scale + y_mean           # regression: y_scaler undone
"""

import numpy as np

from . import __version__, activations, losses
from .errors import HandpropValueError

_PREPROCESSORS = ("StandardScaler", "LabelEncoder")


class ModelInfo:
    """What a saved model knows besides its layers: loss, task, preprocessing, names.

    ``x_scaler`` standardises inputs (fitted on the training rows), ``y_scaler`` the regression
    target, ``label_encoder`` maps class labels to output indices; each is a fitted
    ``handprop.data.preprocessing`` object, stored as its ``to_config()`` dict.
    """

    def __init__(self, loss=None, task=None, x_scaler=None, y_scaler=None, label_encoder=None,
                 feature_names=None, target_name=None, handprop_version=None, optimizer=None, training=None):
        self.loss = None if loss is None else losses.get(loss)
        if task is None and self.loss is not None:  # the loss says what the outputs are
            task = "classification" if isinstance(self.loss, (losses.CrossEntropy, losses.BCE)) else "regression"
        if task not in (None, "classification", "regression"):
            raise HandpropValueError(f"task must be 'classification', 'regression' or None, got {task!r}")
        self.task, self.x_scaler, self.y_scaler = task, x_scaler, y_scaler
        self.label_encoder = label_encoder
        self.feature_names = None if feature_names is None else [str(f) for f in feature_names]
        self.target_name = target_name
        self.handprop_version = handprop_version or __version__
        self.optimizer = _optimizer_record(optimizer)  # {"class", "config"} of the training optimizer, or None
        self.training = training_record(training)  # what `handprop train` ran with, or None
        # The training optimizer with the state of its last step (Adam's m, v, t), when the file keeps it
        # (``save(..., optimizer_state=opt)``; arrays, so ``handprop.io`` stores it beside the info).
        self.optimizer_state = None

    @property
    def class_names(self):
        """The class labels as strings, in output order (None for regression)."""
        enc = self.label_encoder
        return None if enc is None else [str(c) for c in enc.classes_.tolist()]

    def to_config(self):
        """A JSON-able dict; refuses scaler statistics that a saved file could not be read back with."""
        for name, scaler in (("x_scaler", self.x_scaler), ("y_scaler", self.y_scaler)):
            self._check_scaler(name, scaler)
        pre = {k: v.to_config() for k, v in (("x", self.x_scaler), ("y", self.y_scaler),
                                             ("labels", self.label_encoder)) if v is not None}
        cfg = {"task": self.task, "preprocessing": pre, "feature_names": self.feature_names,
               "target_name": self.target_name}
        cfg = cfg if self.optimizer is None else {**cfg, "optimizer": self.optimizer}
        return cfg if self.training is None else {**cfg, "training": self.training}

    def _check_scaler(self, name, scaler):
        """Finite means and finite, positive scales, or an error naming the first bad column."""
        mean, scale = getattr(scaler, "mean_", None), getattr(scaler, "scale_", None)
        if mean is None or scale is None:
            return
        mean, scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(scale) & (scale > 0)))
        if bad.size:
            j = int(bad[0])
            names = self.feature_names if name == "x_scaler" else None
            col = f"column {j}" + (f" ({names[j]!r})" if names and j < len(names) else "")
            raise HandpropValueError(
                f"{name}: {col} has mean {float(mean[j])!r} and scale {float(scale[j])!r} ({bad.size} of "
                f"{mean.size} columns are so); a model file needs finite statistics and a scale > 0, and "
                "values near 1e200 overflow the standard deviation")

    @classmethod
    def from_config(cls, d, loss=None, version=None):
        if not isinstance(d, dict) or not isinstance(d.get("preprocessing") or {}, dict):
            raise HandpropValueError(f"info must be an object with a preprocessing object, got {str(d)[:80]}")
        pre = d.get("preprocessing") or {}
        objs = {}
        for key in ("x", "y", "labels"):
            if pre.get(key) is not None:
                objs[key] = _preprocessor(pre[key], f"info.preprocessing.{key}")
        return cls(loss=loss, task=d.get("task"), x_scaler=objs.get("x"), y_scaler=objs.get("y"),
                   label_encoder=objs.get("labels"), feature_names=d.get("feature_names"),
                   target_name=d.get("target_name"), handprop_version=version, optimizer=d.get("optimizer"),
                   training=d.get("training"))

    def prepare(self, X):
        """Raw features as the network saw them in training (standardised if it was)."""
        X = np.asarray(X)
        return self.x_scaler.transform(X) if self.x_scaler is not None else X

    def probabilities(self, output):
        """Class probabilities from the network's output: softmax of logits (CE), sigmoid of one
        logit (BCE from logits, given as two columns P(0), P(1)), or the output itself."""
        out = np.asarray(output, dtype=np.float64)
        if isinstance(self.loss, losses.CrossEntropy):
            e = np.exp(out - out.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        with np.errstate(over="ignore"):  # σ of a logit below −709 is 0 (see activations.sigmoid)
            p = activations.sigmoid(out) if getattr(self.loss, "from_logits", False) else out
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    def predict(self, model, X, proba=False, batch_size=8192):
        """Predictions for raw ``X``: class labels (or probabilities) or regression values."""
        from .metrics import output_to_labels

        out = model.predict(self.prepare(X), batch_size=batch_size)
        if self.task == "classification":
            if proba:
                return self.probabilities(out)
            from_logits = isinstance(self.loss, losses.CrossEntropy) or getattr(self.loss, "from_logits", False)
            idx = output_to_labels(out, from_logits=bool(from_logits))
            return self.label_encoder.inverse_transform(idx) if self.label_encoder is not None else idx
        return self.y_scaler.inverse_transform(out) if self.y_scaler is not None else out


def _optimizer_record(opt):
    """``{"class": "Adam", "config": {"lr": ...}}`` from an optimizer or such a dict (checked), or None."""
    if opt is None or isinstance(opt, dict):
        ok = opt is None or (opt.get("class") in ("SGD", "Adam") and isinstance(opt.get("config"), dict) and all(
            isinstance(v, (int, float, bool, list)) for v in opt["config"].values()))
        if not ok:
            raise HandpropValueError(f"info.optimizer must be {{'class': 'SGD' or 'Adam', 'config': {{...}}}}, "
                                     f"got {str(opt)[:80]}")
        return opt
    keys = ("lr", "momentum", "nesterov", "weight_decay", "betas", "eps")
    return _optimizer_record({"class": type(opt).__name__, "config": {
        k: list(v) if isinstance(v, tuple) else v for k in keys if isinstance(v := getattr(opt, k, None), (int, float, tuple))}})


# A training record is a few hundred bytes; these bounds keep a hostile one small.
MAX_RECORD_KEYS, MAX_RECORD_TEXT = 64, 4096


def training_record(record):
    """The record of the command that trained a model, checked (None stays None)::

        {"version": 1, "command": "train", "settings": {"data": "/abs/moons.csv", "lr": 5.0, ...},
         "typed": ["lr", "optimizer", ...] or None}

    ``settings`` maps names to a number, text, true/false or null; ``typed`` lists the settings typed
    on the command line (null: not known, as for a resumed run). What each setting may hold is
    ``handprop train``'s to check (``handprop.cli.settings.check_saved_settings``)."""
    if record is None:
        return None
    where = "info.training"
    if not isinstance(record, dict) or record.get("version") != 1 or record.get("command") != "train":
        raise HandpropValueError(f"{where} must be {{'version': 1, 'command': 'train', 'settings': {{...}}, "
                                 f"'typed': [...]}}, got {str(record)[:80]}")
    settings, typed = record.get("settings"), record.get("typed")
    if not isinstance(settings, dict) or len(settings) > MAX_RECORD_KEYS:
        raise HandpropValueError(f"{where}.settings must be an object of at most {MAX_RECORD_KEYS} settings")
    for key, value in settings.items():
        if not (isinstance(key, str) and len(key) <= 64 and (value is None or isinstance(value, (bool, int, float))
                or (isinstance(value, str) and len(value) <= MAX_RECORD_TEXT))):
            raise HandpropValueError(f"{where}.settings: {str(key)[:64]!r} holds {str(value)[:80]!r}; a setting "
                                     f"is a number, true/false, null or a text of at most {MAX_RECORD_TEXT} characters")
    if typed is not None and not (isinstance(typed, list) and all(isinstance(k, str) and k in settings for k in typed)):
        raise HandpropValueError(f"{where}.typed must be null or a list of names of its settings, got {str(typed)[:80]}")
    extra = sorted(set(record) - {"version", "command", "settings", "typed"})
    if extra:
        raise HandpropValueError(f"{where}: unknown entries {extra[:5]}")
    return {"version": 1, "command": "train", "settings": dict(settings), "typed": None if typed is None else list(typed)}


def _preprocessor(d, where):
    if not (isinstance(d, dict) and d.get("class") in _PREPROCESSORS):
        raise HandpropValueError(f"{where} must be one of {', '.join(_PREPROCESSORS)}, got {str(d)[:80]}")
    from .data import preprocessing  # data preprocessing is needed only for models that use it

    try:
        return getattr(preprocessing, d["class"]).from_config(d)
    except HandpropValueError as exc:
        raise HandpropValueError(f"{where}: {exc}") from None
