"""Losses: ``forward(pred, target) -> float`` and ``backward() -> dL/dpred``.

Which output layer each loss expects:

=================  ===============================  =============================================
loss               model's last layer               target
=================  ===============================  =============================================
MSE                anything (Sigmoid in blog 000)   same shape as pred (or (n,) for one output)
HalfSSE            anything (blogs 001 and 002)     same shape as pred (or (n,) for one output)
BCE                Sigmoid (probabilities)          0/1 (or in [0, 1]), same shape as pred
BCE(from_logits)   no squashing (Dense/Identity)    0/1 (or in [0, 1]), same shape as pred
CrossEntropy       no Softmax: it takes logits      int class labels (n,), or one-hot (n, k)
=================  ===============================  =============================================

``check_pairing(model, loss)`` (called by ``fit``) refuses the pairings that train silently wrong,
such as a Softmax layer in front of CrossEntropy, which would apply softmax twice.
"""

import contextlib
import math
import warnings

import numpy as np

from ._arguments import flag
from ._compact import Compact
from ._safety import cast
from ._targets import class_labels, fit_same_shape_target, numbers, same_shape_target
from .activations import Scalar, Sigmoid, Softmax, sigmoid
from .errors import HandpropError, HandpropValueError, HandpropWarning, ShapeError


class Loss(Compact):
    """Base class. ``forward`` keeps what ``backward`` needs, like a layer: so one loss object
    serves one run at a time; runs in parallel threads each need their own (``MSE()`` per thread)."""

    name = "loss"

    # False: ``pred`` is one network's output, ``forward`` returns a float. True (``handprop.train_many``
    # sets it on its copy of the loss): ``pred`` is a stack of K networks' outputs (K, n, ...) for one
    # target (n, ...); every mean is per network, ``forward`` returns the K values, and ``backward``
    # gives each network the gradient of its own loss.
    stacked = False
    pred = target = None  # the last forward's prediction and target (None: no forward yet)

    # True while ``fit`` runs this loss inside its own ``np.errstate`` (its engine sets it for the run):
    # ``forward`` then opens none of its own, which costs a tiny network a thirtieth of its step.
    quiet = False

    def __init__(self):
        # the three above as the instance's own (read at every step: quicker than the class's)
        self.stacked, self.pred, self.quiet = False, None, False

    def errors_ignored(self):
        """A context in which overflow is not warned about (``np.errstate``), unless ``fit``'s
        already is in force (``quiet``)."""
        return _NOTHING if self.quiet else np.errstate(all="ignore")

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def forward(self, pred, target):
        raise NotImplementedError

    def backward(self):
        raise NotImplementedError

    def check_output_layer(self, layer):
        """Raise HandpropValueError if ``layer`` cannot feed this loss correctly."""

    def total(self, values):
        """Σ of ``values`` over one network's elements: a float, or one per network (K,) when stacked."""
        if self.stacked:
            return np.add.reduce(values.reshape(len(values), -1), axis=1)
        return float(np.add.reduce(values, axis=None))

    def sum_of_squares(self, values):
        """Σ values² over one network's elements: a float, or one per network (K,) when stacked.
        Dot products: no array of squares is made, and BLAS warns of no overflow (past 1e154 the
        sum is inf, which is the honest loss)."""
        if self.stacked:
            rows = values.reshape(len(values), -1)
            return np.einsum("ki,ki->k", rows, rows)
        return float(np.vdot(values, values))

    def count(self, pred):
        """Elements of one network's output (``pred.size``; a stack holds K of them)."""
        return pred[0].size if self.stacked else pred.size

    def _cached(self):
        if getattr(self, "pred", None) is None:
            raise HandpropError(f"{type(self).__name__}.backward was called before forward(pred, target)")
        return self.pred, self.target

    def get_config(self):
        return {}

    def fit_target(self, target, n_outputs, dtype):
        """A whole training set's targets as ``forward`` reads them for outputs of ``n_outputs``
        columns in ``dtype``: ``fit`` calls it once, so that no batch converts them again. Here: as
        given (a loss of your own reads its targets at every ``forward``, or overrides this)."""
        return target

    def __repr__(self):
        return f"{type(self).__name__}()"


_NOTHING = contextlib.nullcontext()


class MSE(Loss):
    """Mean squared error over all elements (blog 000)::

        L = mean((pred − y)²)        dL/dpred = 2 (pred − y) / n      (n = number of elements)
    """

    name = "mse"
    fit_target = fit_same_shape_target
    n = None  # elements of the last forward's prediction (of one network)
    diff = two_over_n = None  # the last forward's pred − y, and 2/n (see forward)

    def forward(self, pred, target):
        pred, target = self.pred, self.target = same_shape_target(pred, target, "MSE", self.stacked)
        n = self.count(pred)
        if n != self.n:  # 2/n as 0-d arrays, for backward (see activations.Scalar)
            self.n, self.two_over_n = n, Scalar(2.0 / n)
        # pred − y, kept for backward
        diff = self.diff = pred - target
        # L = Σ (pred − y)² / n  (the sum of squares as one dot product: see sum_of_squares)
        return self.sum_of_squares(diff) / self.n

    def backward(self):
        if self.pred is None:
            self._cached()  # (raises: no forward yet)
        # dL/dpred = 2 (pred − y) / n
        return np.multiply(self.diff, self.two_over_n[self.diff.dtype])


class HalfSSE(Loss):
    """Half the sum of squared errors (blogs 001 and 002); the ½ cancels the square's 2::

        L = ½ Σ (pred − y)²          dL/dpred = pred − y
    """

    name = "halfsse"
    fit_target = fit_same_shape_target

    def forward(self, pred, target):
        self.pred, self.target = same_shape_target(pred, target, "HalfSSE", self.stacked)
        diff = self.pred - self.target
        # L = ½ Σ (pred − y)²
        return 0.5 * self.sum_of_squares(diff)

    def backward(self):
        pred, target = self._cached()
        return pred - target


class BCE(Loss):
    """Binary cross-entropy, mean over all elements.

    On probabilities (default; the last layer must be Sigmoid)::

        L = −mean(y log p + (1 − y) log(1 − p))     dL/dp = (p − y) / (p (1 − p)) / n

    ``log`` is clamped at −100 and ``p(1 − p)`` at 1e-12, as PyTorch's ``BCELoss`` does, so
    saturated outputs give large but finite values.

    With ``from_logits=True`` (no Sigmoid layer; PyTorch's ``BCEWithLogitsLoss``)::

        L = mean(max(z, 0) − z y + log(1 + e^(−|z|)))   dL/dz = (σ(z) − y) / n
    """

    name = "bce"
    fit_target = fit_same_shape_target

    def __init__(self, from_logits=False):
        super().__init__()
        self.from_logits = flag("BCE: from_logits", from_logits)

    def forward(self, pred, target):
        pred, target = same_shape_target(pred, target, "BCE", self.stacked)
        self._check_targets(target)
        self.pred, self.target = pred, target
        if self.from_logits:
            z = pred
            with np.errstate(all="ignore"):  # an infinite logit gives a non-finite loss, which fit reports
                # L = mean(max(z, 0) − z y + log(1 + e^(−|z|)))
                return self.total(np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))) / self.count(z)
        if np.any((pred < 0) | (pred > 1)):
            raise HandpropValueError(
                "BCE: predictions must be probabilities in [0, 1]; end the model with a Sigmoid layer, "
                "or use BCE(from_logits=True) on raw outputs"
            )
        with np.errstate(divide="ignore", over="ignore"):  # log(0) = -inf, clamped just below
            log_p = np.maximum(np.log(pred), -100.0)
            log_q = np.maximum(np.log(1 - pred), -100.0)
            # L = −mean(y log p + (1 − y) log(1 − p))
            return -self.total(target * log_p + (1 - target) * log_q) / self.count(pred)

    def backward(self):
        pred, target = self._cached()
        if self.from_logits:
            with np.errstate(over="ignore"):  # σ of a logit below −709 is 0 (see sigmoid)
                return (sigmoid(pred) - target) / self.count(pred)
        return (pred - target) / np.maximum(pred * (1 - pred), 1e-12) / self.count(pred)

    @staticmethod
    def _check_targets(target):
        if np.any((target < 0) | (target > 1)):
            raise HandpropValueError("BCE: targets must lie in [0, 1] (0/1 labels or probabilities)")

    def check_output_layer(self, layer):
        if self.from_logits and isinstance(layer, (Sigmoid, Softmax)):
            raise HandpropValueError(
                f"BCE(from_logits=True) applies the sigmoid itself, but the model already ends with "
                f"{type(layer).__name__}: remove that layer, or use BCE() on probabilities"
            )
        if not self.from_logits and not isinstance(layer, (Sigmoid, Softmax)):
            raise HandpropValueError(
                f"BCE() expects probabilities, but the model ends with {layer!r}: add a Sigmoid layer, "
                "or use BCE(from_logits=True)"
            )

    def get_config(self):
        return {"from_logits": self.from_logits}

    def __repr__(self):
        return "BCE(from_logits=True)" if self.from_logits else "BCE()"


class CrossEntropy(Loss):
    """Softmax cross-entropy from logits, mean over samples (PyTorch's ``CrossEntropyLoss``).

    With ``p = softmax(z)`` computed by the log-sum-exp trick (no overflow for any z)::

        L = −mean_i Σ_k y_ik log p_ik       dL/dz = (p − y) / n

    ``target`` is int labels of shape (n,) or one-hot / probability rows of shape (n, k).
    The model must output raw scores (logits): no Softmax layer at the end.
    """

    name = "ce"
    p = log_p = None  # the last forward's probabilities and log-probabilities
    ones = None  # a column of k ones, for the row sums (made again for another k or float type)

    def forward(self, pred, target):
        z, target = self.pred, self.target = self._logits_and_target(pred, target)
        if z.shape[-1] > 1 and z.min() >= 0 and np.allclose(z.sum(axis=-1), 1.0, rtol=0, atol=1e-6):
            # Logits almost never form probability rows; softmax outputs always do. A hand-written
            # loop that feeds a Softmax layer's output here would apply softmax twice and train
            # slowly toward wrong targets, so we say so (fit refuses that pairing outright).
            warnings.warn("CrossEntropy got rows that are probabilities (non-negative, summing to 1): it "
                          "expects logits and applies softmax itself; drop the model's final Softmax layer",
                          HandpropWarning, stacklevel=2)
        with self.errors_ignored():  # logits 1e308 apart: a -inf log-probability, an inf loss
            # shifted = z − max_k z  (its largest is 0: no e^shifted overflows)
            shifted = z - z.max(axis=-1, keepdims=True)
            e = np.exp(shifted)
            ones = self.ones
            if ones is None or ones.shape[0] != e.shape[-1] or ones.dtype is not e.dtype:
                ones = self.ones = np.ones((e.shape[-1], 1), e.dtype)
            # Σ_k e^shifted  (as e @ 1: one BLAS call, quicker than a sum along short rows)
            sums = np.matmul(e, ones)
            # p = e^shifted / Σ_k e^shifted,  log p = shifted − log Σ_k e^shifted
            self.p = np.divide(e, sums, out=e)
            self.log_p = np.subtract(shifted, np.log(sums), out=shifted)
            # L = −Σ_i Σ_k y_ik log p_ik / n
            return -self._sum_of_products(target, self.log_p) / z.shape[-2]

    def _sum_of_products(self, target, log_p):
        """Σ y log p over one network's elements, as one dot product; where a class of probability 0
        (log p = −inf) is not the target, 0 · −inf is NaN there: then term by term, without them."""
        if not self.stacked:
            total = float(np.vdot(target, log_p))
            if not math.isnan(total):
                return total
        return self.total(np.where(target != 0, target * log_p, 0.0))

    def backward(self):
        z, target = self._cached()
        # dL/dz = (p − y) / n
        return np.divide(np.subtract(self.p, target), z.shape[-2])

    # labels whose one-hot rows would take more than this stay labels in ``fit_target`` (each batch's
    # are then encoded as it comes): MNIST's 60,000 rows of 10 classes fit (2.3 MiB in float32), a
    # million rows' 38 MiB would not (the memory a run takes beyond its data stays small)
    ONE_HOT_BYTES = 16 * 2**20

    def fit_target(self, target, n_outputs, dtype):
        """Class labels (n,) checked once (whole numbers, in range: a bad one is refused before any
        step) and made one-hot rows (n, n_outputs) of ``dtype`` once, unless those would take more
        than ``ONE_HOT_BYTES``; rows (n, k) cast to ``dtype`` once. Each batch then only gathers rows."""
        if target.ndim == 0 or target.dtype.kind not in "biuf":
            return target  # forward refuses it, naming it
        labels = class_labels(target, len(target), n_outputs)
        if labels is None:
            return cast("CrossEntropy: target", target, dtype)
        if len(labels) * n_outputs * np.dtype(dtype).itemsize > self.ONE_HOT_BYTES:
            return target
        onehot = np.zeros((len(labels), n_outputs), dtype)
        onehot[np.arange(len(labels)), labels] = 1.0
        return onehot

    def _logits_and_target(self, pred, target):
        """Check the shapes; int labels become one-hot rows."""
        if (type(pred) is type(target) is np.ndarray and pred.dtype == target.dtype and pred.dtype.kind == "f"
                and pred.ndim == (3 if self.stacked else 2) and target.shape == pred.shape[-2:] and pred.size):
            return pred, target  # already what the checks below would give (fit's every batch)
        z, target = numbers(pred, target, "CrossEntropy")
        if z.ndim != (3 if self.stacked else 2):
            raise ShapeError(f"CrossEntropy: logits must have shape (n, classes), got {z.shape}")
        n, k = z.shape[-2:]
        labels = class_labels(target, n, k)
        if labels is not None:
            onehot = np.zeros((n, k), z.dtype)
            onehot[np.arange(n), labels] = 1.0
            target = onehot
        return z, cast("CrossEntropy: target", target, z.dtype)

    def check_output_layer(self, layer):
        if isinstance(layer, (Softmax, Sigmoid)):
            raise HandpropValueError(
                f"CrossEntropy takes logits and applies softmax itself, but the model ends with "
                f"{type(layer).__name__}: remove that layer (the model then outputs logits; its "
                "probabilities are handprop.Softmax()(model.predict(X)))"
            )


LOSSES = {
    "mse": MSE,
    "halfsse": HalfSSE,
    "sse": HalfSSE,
    "bce": BCE,
    "bce_logits": lambda: BCE(from_logits=True),
    "ce": CrossEntropy,
    "cross_entropy": CrossEntropy,
    "crossentropy": CrossEntropy,
}


def get(loss):
    """A loss from its name (see ``LOSSES``) or a Loss instance."""
    if isinstance(loss, Loss):
        return loss
    try:
        return LOSSES[str(loss).lower()]()
    except KeyError:
        raise HandpropValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}") from None


def check_pairing(model, loss):
    """Refuse a model/loss pair that would train silently wrong (see the table above)."""
    if model.layers:
        loss.check_output_layer(model.layers[-1])
