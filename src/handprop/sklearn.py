"""scikit-learn estimators over handprop's engine: ``HandpropClassifier`` and ``HandpropRegressor``.

They follow scikit-learn's conventions (and pass its ``check_estimator`` suite), so they work in a
``Pipeline``, ``GridSearchCV`` and ``cross_val_score``::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from handprop.sklearn import HandpropClassifier

    clf = make_pipeline(StandardScaler(), HandpropClassifier(hidden_layer_sizes=(32,), random_state=0))
    clf.fit(X_train, y_train).score(X_test, y_test)

The network is a handprop ``Sequential`` (``model_``): Dense layers of ``hidden_layer_sizes`` with
``activation`` between them, trained by ``handprop.fit``. A classifier ends in one logit per class
and trains with ``CrossEntropy`` (``predict_proba`` is their softmax); a regressor ends in one linear
output per target and trains with ``MSE``. ``model_`` carries its loss and class labels in
``model_.info``, so ``model_.save(path)``, ``handprop.export_onnx(model_, path)`` and
``handprop.export_torch(model_, path)`` take it anywhere.

This module imports scikit-learn; ``import handprop`` never imports this module.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from .callbacks import EarlyStopping
from .data.preprocessing import LabelEncoder
from .errors import HandpropValueError
from .losses import MSE, CrossEntropy
from .model import mlp
from .modelinfo import ModelInfo
from .optimizers import SGD, Adam
from .training import fit as _train  # a name of our own: ``fit`` is the estimator's method

__all__ = ["HandpropClassifier", "HandpropRegressor"]

_FLOATS = (np.float64, np.float32)  # float32 data trains in float32; anything else in float64
_HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise HandpropValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_float(name, value, low, high=None):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < low or (high is not None and value >= high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise HandpropValueError(f"{name} must be a number {bound}, got {value!r}")
    return float(value)


class _HandpropEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, network, training loop."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", optimizer="adam",
                 learning_rate=0.001, momentum=0.9, weight_decay=0.0, batch_size="auto", epochs=200,
                 shuffle=True, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 tol=1e-4, random_state=None, warm_start=False, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # -- checks (in fit, not __init__: scikit-learn's set_params and clone must never raise) ---
    def _check_params(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        sizes = [_check_int("hidden_layer_sizes[]", s, 1) for s in sizes]
        if self.activation not in _HIDDEN_ACTIVATIONS:
            raise HandpropValueError(f"activation must be one of {', '.join(_HIDDEN_ACTIVATIONS)}, "
                                     f"got {self.activation!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise HandpropValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        _check_float("learning_rate", self.learning_rate, 0.0)
        _check_float("momentum", self.momentum, 0.0, 1.0)
        _check_float("weight_decay", self.weight_decay, 0.0)
        if self.batch_size != "auto":
            _check_int("batch_size", self.batch_size, 1)
        _check_int("epochs", self.epochs, 1)
        _check_float("validation_fraction", self.validation_fraction, 0.0, 1.0)
        _check_int("n_iter_no_change", self.n_iter_no_change, 1)
        _check_float("tol", self.tol, 0.0)
        return sizes

    def _make_optimizer(self):
        if self.optimizer == "adam":
            return Adam(lr=self.learning_rate, weight_decay=self.weight_decay)
        return SGD(lr=self.learning_rate, momentum=self.momentum, weight_decay=self.weight_decay)

    # -- training ------------------------------------------------------------------------------
    def _start(self, sizes, n_features, n_outputs, dtype):
        """A fresh network, optimizer and record (the first fit, or any fit without warm_start)."""
        self._rng = check_random_state(self.random_state)
        init_rng = np.random.default_rng(self._rng.randint(np.iinfo(np.int32).max))
        self.model_ = mlp([n_features, *sizes, n_outputs], activation=self.activation, output=None,
                          rng=init_rng, dtype=dtype)
        self._optimizer = self._make_optimizer()
        self.loss_curve_ = []
        self.n_iter_ = 0
        if self.early_stopping:
            self.validation_loss_curve_ = []

    def _run(self, X, y, epochs):
        """``epochs`` epochs of handprop's ``fit`` on ``(X, y)`` (targets as the loss reads them)."""
        n = len(X)
        batch = min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)
        seed = int(self._rng.randint(np.iinfo(np.int32).max))
        validation, callbacks = None, []
        if self.early_stopping and epochs > 1:
            stratify = y if isinstance(self._loss, CrossEntropy) else None
            try:
                X, X_val, y, y_val = train_test_split(X, y, test_size=self.validation_fraction,
                                                      random_state=seed, stratify=stratify)
            except ValueError as exc:
                raise HandpropValueError(
                    f"early_stopping: cannot hold out validation_fraction={self.validation_fraction} of "
                    f"{n} rows ({exc}); give more rows, a larger validation_fraction, or "
                    "early_stopping=False") from None
            validation = (X_val, y_val)
            callbacks = [EarlyStopping("val_loss", patience=self.n_iter_no_change, min_delta=self.tol)]
            batch = min(batch, len(X))
        history = _train(self.model_, X, y, loss=self._loss, optimizer=self._optimizer, epochs=epochs,
                         batch_size=batch, shuffle=self.shuffle, seed=seed, validation_data=validation,
                         callbacks=callbacks, log_every=1 if self.verbose else None)
        self.loss_curve_.extend(float(v) for v in history.loss)
        if validation is not None:
            self.validation_loss_curve_.extend(float(v) for v in history["val_loss"])
        self.n_iter_ += len(history)
        self.model_.info = self._info()
        return self

    def _fit(self, X, y, incremental, classes=None):
        sizes = self._check_params()
        fresh = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = validate_data(self, X, y, reset=fresh, dtype=_FLOATS, **self._y_options())
        y = self._targets(y, fresh, classes)
        if fresh:
            self._start(sizes, X.shape[1], self._n_model_outputs(), X.dtype)
        return self._run(X, y, 1 if incremental else self.epochs)

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and ``y`` for ``epochs`` epochs; returns self.

        With ``warm_start=True`` a fitted estimator continues from its weights (and its
        optimizer's state) instead of starting afresh.
        """
        return self._fit(X, y, incremental=False)

    def _output(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        return self.model_.predict(X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")


class HandpropClassifier(ClassifierMixin, _HandpropEstimator):
    """A multi-layer perceptron classifier trained by handprop (CrossEntropy on one logit per class).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Units of each hidden Dense layer.
    activation : {"relu", "leaky_relu", "tanh", "sigmoid", "identity"}, default "relu"
    optimizer : {"adam", "sgd"}, default "adam"
    learning_rate : float, default 0.001
    momentum : float, default 0.9
        SGD only.
    weight_decay : float, default 0.0
        L2 penalty added to the gradients (``torch.optim``'s ``weight_decay``).
    batch_size : int or "auto", default "auto"
        "auto" is ``min(200, n_samples)``.
    epochs : int, default 200
        Passes over the data in ``fit`` (``partial_fit`` runs one).
    shuffle : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (stratified) and stop when the validation loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs; the best weights are kept.
    random_state : int, RandomState or None
        Initial weights, shuffling and the validation split.
    warm_start : bool, default False
    verbose : bool, default False
        Print the loss after every epoch.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_ (for data frames), n_outputs_, model_ (the handprop
    ``Sequential``), loss_curve_ (mean training loss per epoch), n_iter_ (epochs run),
    validation_loss_curve_ (with early_stopping).
    """

    def _y_options(self):
        return {}

    def _n_model_outputs(self):
        return len(self.classes_)

    def _targets(self, y, fresh, classes):
        check_classification_targets(y)
        if fresh:
            labels = unique_labels(y) if classes is None else unique_labels(np.asarray(classes))
            if len(labels) < 2:
                raise HandpropValueError(
                    f"{type(self).__name__} needs at least 2 classes in y, got 1 class ({labels[0]!r})")
            self.classes_ = labels
            self._loss = CrossEntropy()
            self.n_outputs_ = len(labels)
        elif classes is not None and not np.array_equal(unique_labels(np.asarray(classes)), self.classes_):
            raise HandpropValueError(f"classes={list(classes)!r} differ from the classes of the first "
                                     f"partial_fit, {self.classes_.tolist()!r}")
        known = np.isin(y, self.classes_)
        if not known.all():
            i = int(np.flatnonzero(~known)[0])
            raise HandpropValueError(f"y[{i}] = {y[i].tolist()!r} is not one of the classes {self.classes_.tolist()!r}; "
                                     "fit afresh (warm_start=False) to learn new classes")
        return np.searchsorted(self.classes_, y)

    def _info(self):
        return ModelInfo(loss=self._loss, label_encoder=LabelEncoder().fit(self.classes_),
                         feature_names=getattr(self, "feature_names_in_", None))

    def partial_fit(self, X, y, classes=None):
        """One epoch on ``(X, y)``; ``classes`` (every label) is required on the first call."""
        if not hasattr(self, "model_") and classes is None:
            raise HandpropValueError("the first partial_fit needs classes=, every class label "
                                     "(e.g. classes=np.unique(y_all))")
        return self._fit(X, y, incremental=True, classes=classes)

    def predict(self, X):
        """The class label of each row (the class with the largest logit)."""
        out = self._output(X)  # first: it refuses an unfitted estimator
        return self.classes_[out.argmax(axis=1)]

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes): the softmax of the logits, in ``classes_`` order."""
        out = self._output(X)  # first: it refuses an unfitted estimator
        return self.model_.info.probabilities(out)


class HandpropRegressor(RegressorMixin, _HandpropEstimator):
    """A multi-layer perceptron regressor trained by handprop (MSE on linear outputs).

    Parameters are those of ``HandpropClassifier``. ``y`` may be (n_samples,) or
    (n_samples, n_targets); ``predict`` returns the same number of columns ((n_samples,) for one).

    Attributes
    ----------
    n_features_in_, feature_names_in_ (for data frames), n_outputs_, model_, loss_curve_, n_iter_,
    validation_loss_curve_ (with early_stopping).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _y_options(self):
        return {"multi_output": True, "y_numeric": True}

    def _n_model_outputs(self):
        return self.n_outputs_

    def _targets(self, y, fresh, classes):
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if fresh:
            self._loss = MSE()
            self.n_outputs_ = y.shape[1]
        elif y.shape[1] != self.n_outputs_:
            raise HandpropValueError(f"y has {y.shape[1]} target column(s) but {type(self).__name__} "
                                     f"was fitted on {self.n_outputs_}")
        return y.astype(np.float64, copy=False)

    def _info(self):
        return ModelInfo(loss=self._loss, feature_names=getattr(self, "feature_names_in_", None))

    def partial_fit(self, X, y):
        """One epoch on ``(X, y)``, continuing from the current weights."""
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted values: (n_samples,) for one target, (n_samples, n_targets) for several."""
        out = self._output(X)
        return out.ravel() if self.n_outputs_ == 1 else out

