"""The training doctor: why did training end badly, and what to change.

``diagnose(model, X, y, loss=..., history=..., gradients=...)`` looks at the trained model on its
data (activations, gradients), at the loss curve and at the per-layer gradient norms recorded during
training (the ``GradientRecorder`` callback), and returns a Diagnosis: a list of Findings,
each saying what it saw (with the numbers), why that stops learning, and the concrete fix.

Checks (``Finding.code``):

=====================  ========================================================================
merged_samples         inputs with different targets that the last hidden layer maps to nearly
                       the same point: the output layer cannot tell them apart (blog 000)
saturated              sigmoid/tanh units stuck where σ'(z) ≈ 0 while the fit is still poor
dead_relu              ReLU units that are never active on the data: they get no gradient
vanishing_gradients    ‖∂L/∂W‖ of the first layer ≪ of the last (median over training)
exploding_gradients    ‖∂L/∂W‖ of the first layer ≫ of the last, or growing without bound
lr_too_high            the loss rises or oscillates
lr_too_low             the loss is flat although the gradient is not zero
unscaled_inputs        features far from unit scale (std or mean ≫ 1, or scales 100× apart)
symmetric_init         hidden units with identical weights: identical gradients, forever
output_range           the output layer cannot produce the targets (sigmoid vs. y = 5)
overfitting            the validation (or held-out) loss is much worse than the training loss
no_learning            no other finding, yet the loss is no better than predicting the mean
=====================  ========================================================================

Every check is silent on a healthy run; the checks and their thresholds, each with why, are in
``handprop._doctor_checks``.
"""

import numpy as np

from . import losses
from ._doctor_checks import CHECKS, Finding, lr_curve_finding  # noqa: F401  (Finding: this API)
from .callbacks import Callback
from .errors import HandpropValueError
from .layers import Dense
from .training import History

class Diagnosis(list):
    """The findings of ``diagnose`` (a list); empty and ``ok`` on a healthy run. ``d["saturated"]``
    gets a finding by code, ``"saturated" in d`` asks for one; ``str()`` prints the report."""

    def __init__(self, findings, summary):
        super().__init__(findings)
        self.summary = summary

    ok = property(lambda self: not self)
    codes = property(lambda self: [f.code for f in self])

    def __getitem__(self, key):
        if not isinstance(key, str):
            return super().__getitem__(key)
        for f in self:
            if f.code == key:
                return f
        raise KeyError(key)

    def __contains__(self, code):
        return code in self.codes

    def __str__(self):
        if self.ok:
            return f"Training doctor: nothing wrong found ({self.summary})."
        return "\n".join([f"Training doctor: {len(self)} finding(s) ({self.summary})"] + [str(f) for f in self])


class GradientRecorder(Callback):
    """Records ‖∂L/∂W‖ of every Dense layer after each step of ``fit`` (the training doctor reads it).

    ``rec = GradientRecorder(); fit(model, X, y, optimizer=SGD(lr=0.1), callbacks=[rec])`` trains
    exactly as without it; afterwards ``rec.norms`` is an array (steps, Dense layers) and
    ``rec.optimizer`` the optimizer that trained.
    """

    def __init__(self):
        self.rows, self.optimizer, self._weights = [], None, []

    def on_train_begin(self, state):
        self.optimizer = state.optimizer
        self._weights = [p for p in state.model.parameters() if p.name == "W" and isinstance(p.layer, Dense)]

    def on_step(self, state):
        self.rows.append([float(np.linalg.norm(p.grad)) for p in self._weights])

    @property
    def lr(self):
        """The learning rate of the optimizer that trained (None before ``fit``)."""
        return None if self.optimizer is None else self.optimizer.lr

    @property
    def norms(self):
        return np.array(self.rows, dtype=np.float64).reshape(len(self.rows), -1)

    def state_dict(self):
        return {}  # the norms describe the run; they are not needed to resume it

    def __repr__(self):
        return f"GradientRecorder({len(self.rows)} steps recorded)"


def bad_fit(L, baseline, pred, y, loss_is_ce):
    """Did training end badly? Classification: more than 1% of the samples wrong or undecided
    (|p − y| ≥ 0.3, the CLI's "~0.5" band; for cross-entropy the wrong argmax), so one wrong row
    of XOR's four is a bad fit and one of a thousand noisy rows is not. Regression: the loss kept
    more than a tenth of what predicting the mean loses."""
    if loss_is_ce:
        labels = y.reshape(-1) if y.ndim == 1 or y.shape[1] == 1 else y.argmax(axis=1)
        return bool(np.mean(pred.argmax(axis=1) != labels) > 0.01)
    if np.all((y == 0) | (y == 1)):
        return bool(np.mean(np.any(np.abs(pred - y) >= 0.3, axis=-1)) > 0.01)
    return L > 0.1 * baseline


def _default_loss(model, y):
    y = np.asarray(y)
    if y.dtype.kind in "iu" and y.ndim == 1 and (model.n_outputs or 1) > 1:
        return losses.CrossEntropy()
    return losses.MSE()


def _baseline_loss(loss, pred, y):
    """The loss of the best constant prediction (the targets' mean): what 'learned nothing' scores."""
    if isinstance(loss, losses.CrossEntropy):
        onehot = np.eye(pred.shape[1])[y.reshape(-1).astype(int)] if y.ndim == 1 or y.shape[1] == 1 else y
        freq = np.clip(onehot.mean(axis=0), 1e-12, None)
        return float(losses.CrossEntropy().forward(np.tile(np.log(freq), (len(pred), 1)), onehot))
    target = y.reshape(pred.shape).astype(np.float64)
    const = np.tile(target.mean(axis=0), (len(pred), 1))
    if isinstance(loss, losses.BCE) and loss.from_logits:
        p = np.clip(const, 1e-12, 1 - 1e-12)
        const = np.log(p / (1 - p))
    return float(type(loss)(**loss.get_config()).forward(const, target))


def _forward_all(model, X):
    """The input of every layer, and the output."""
    inputs, out = [], X
    for layer in model.layers:
        inputs.append(out)
        out = layer.forward(out)
    return inputs, out


def diagnose(subject, X, y, *, model=None, loss=None, history=None, gradients=None, lr=None, optimizer=None,
             held_out=None):
    """Examine a trained model on ``(X, y)`` and say what went wrong; returns a Diagnosis.

    ``subject`` is the model, or the History that ``fit`` returned (then give ``model=``).
    ``history`` gives the loss curve, ``gradients`` a ``GradientRecorder`` (or an array of
    per-layer ‖∂L/∂W‖, steps × Dense layers) from training, ``lr`` the learning rate (read from the
    recorder or ``optimizer`` when not given), ``held_out`` rows not trained on, ``(X, y)`` as the
    network sees them (for the train/held-out gap). The model's weights are not changed.
    """
    # The doctor reads runs that overflowed: inf and NaN there are findings it reports, not warnings.
    with np.errstate(all="ignore"):
        return _diagnose(subject, X, y, model=model, loss=loss, history=history, gradients=gradients, lr=lr,
                         optimizer=optimizer, held_out=held_out)


def _diagnose(subject, X, y, *, model, loss, history, gradients, lr, optimizer, held_out):
    if isinstance(subject, History):
        history = subject
        if model is None:
            raise HandpropValueError("diagnose: a History alone is not enough; pass the model too: "
                                     "diagnose(history, X, y, model=model)")
    else:
        model = subject
    if not hasattr(model, "layers"):
        raise HandpropValueError(f"diagnose: expected a Sequential model or a History, got {type(model).__name__}")
    loss = losses.get(loss) if loss is not None else _default_loss(model, y)
    X_raw = np.asarray(X)
    X, y = model.check_data(X, y, model.dtype)  # (the model is diagnosed as it is, in its own type)
    inputs, pred = _forward_all(model, X)
    L = float(loss.forward(pred, y))
    deltas, grad = [], loss.backward()  # backward by hand to keep δ_l = ∂L/∂z_l of every Dense layer
    for layer in reversed(model.layers):
        if isinstance(layer, Dense):
            deltas.append(float(np.sqrt(np.mean(np.square(grad, dtype=np.float64)))))
        grad = layer.backward(grad)
    deltas = deltas[::-1]
    grad_norm = float(np.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in model.parameters())))
    loss_is_ce = isinstance(loss, losses.CrossEntropy)
    y2 = y.reshape(len(y), -1) if not loss_is_ce else y
    pred2 = pred.reshape(len(pred), -1)
    P, T = _as_probabilities(loss, pred2, y, y2)
    baseline = _baseline_loss(loss, pred2, y2)
    if isinstance(gradients, GradientRecorder) and lr is None:
        lr = gradients.lr
    grad_norms = _gradient_norms(model, gradients)
    ctx = dict(model=model, X=X, X_raw=X_raw, y2=y2, pred2=pred2, P=P, T=T, y_show=y if loss_is_ce else y2,
               inputs=inputs + [pred], loss=loss, L=L, bad_fit=bad_fit(L, baseline, pred2, y2, loss_is_ce),
               loss_is_ce=loss_is_ce, grad_norms=grad_norms, grad_norm=grad_norm,
               history=history, lr=lr if lr is not None else getattr(optimizer, "lr", None), deltas=deltas,
               adam=type(optimizer).__name__ == "Adam", optimizer=optimizer, unit_inputs=_unit_scale(X))
    findings = []
    for check in CHECKS:
        found = check(ctx)
        if isinstance(found, list):
            findings.extend(found)
        elif found is not None:
            findings.append(found)
    findings += [f for f in [_check_overfitting(ctx)] if f is not None]
    if held_out is not None and "overfitting" not in [f.code for f in findings]:
        findings += [f for f in [_held_out_gap(ctx, *held_out)] if f is not None]
    if not findings:  # never quiet on a model that learned nothing
        findings += [f for f in [_no_learning(ctx, baseline)] if f is not None]
    summary = f"loss {L:.4g}; predicting the mean would give {baseline:.4g}"
    return Diagnosis(by_cause(findings), summary)


# A finding that is the consequence of another, and how: it is moved under its cause and gives no fix
# of its own (its own fix would contradict the cause's: "fewer layers" for units killed by a step).
_CAUSED_BY = {
    "vanishing_gradients": [("dead_relu", "the dead ReLUs above", "a unit that is off passes no gradient back")],
    "lr_too_low": [("dead_relu", "the dead ReLUs above", "units that are off for every sample learn at no "
                                                         "learning rate, and larger steps kill more of them")],
    "exploding_gradients": [("lr_too_high", "the learning rate above", "steps too large grow the weights, and "
                                                                       "large weights multiply the backward signal")],
}


def by_cause(findings):
    """The findings ranked by cause: one caused by another (``_CAUSED_BY``) follows its cause and says
    so ("caused by the dead ReLUs above") instead of giving a fix of its own."""
    codes = [f.code for f in findings]
    out = [f for f in findings if not any(c in codes for c, _, _ in _CAUSED_BY.get(f.code, ()))]
    for f in findings:
        cause = next((c for c in _CAUSED_BY.get(f.code, ()) if c[0] in codes), None)
        if cause is None:
            continue
        code, name, how = cause
        f.title, f.caused_by = f"{f.title} (caused by {name})", code
        f.fix, f.suggest = f"none of its own: {how}; fix {name} first", []
        at = next(i for i, g in enumerate(out) if g.code == code) + 1
        while at < len(out) and getattr(out[at], "caused_by", None) == code:
            at += 1
        out.insert(at, f)
    return out


def _no_learning(ctx, baseline):
    """No check above fired, yet the loss is no better than predicting the mean (the class shares): the
    weights barely left their start. With no other cause seen, the steps were too small or too few."""
    h = ctx["history"]  # a run of under 5 epochs so far (the playground's first frames) is too young to judge
    if not (ctx["bad_fit"] and ctx["L"] >= 0.95 * baseline) or (h is not None and len(h.loss) < 5):
        return None
    lr = ctx["lr"]
    return Finding(
        "no_learning", "the model predicts no better than the mean",
        f"the loss is {ctx['L']:.4g}; predicting the mean (for classes: their shares) gives {baseline:.4g}"
        + (f"; lr = {lr:g}" if lr else ""),
        "none of the other checks sees a cause (dead or saturated units, a rising loss, unscaled inputs), "
        "so the weights most likely barely moved from their start: steps too small, or too few",
        f"raise the learning rate ×10{f' (lr = {lr * 10:g})' if lr else ''}, or train longer (more epochs)"
        + ("" if ctx["adam"] else ", or use Adam"),
        ([{"lr": lr * 10}] if lr else []) + ([] if ctx["adam"] else [{"optimizer": "adam"}]))


def _unit_scale(X):
    """Whether every input column is already about standardised (std 0.5 to 2, |mean| below 1): then
    "scale the inputs" is advice that already ran."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    std, mean = X.std(axis=0), X.mean(axis=0)
    return bool(len(X) > 1 and np.all((std > 0.5) & (std < 2) & (np.abs(mean) < 1)))


def _as_probabilities(loss, pred2, y, y2):
    """``(P, T)``: outputs and targets compared in probability space (softmax of the logits against
    one-hot targets for cross-entropy; the sigmoid of BCE's logits)."""
    if isinstance(loss, losses.CrossEntropy):
        e = np.exp(pred2 - pred2.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        labels = y.reshape(-1) if y.ndim == 1 or y.shape[1] == 1 else None
        return P, (np.eye(P.shape[1])[labels.astype(int)] if labels is not None else y.astype(np.float64))
    from_logits = isinstance(loss, losses.BCE) and loss.from_logits
    return (1 / (1 + np.exp(-pred2)) if from_logits else pred2), y2.astype(np.float64)


def _gradient_norms(model, gradients):
    """Per-layer ‖∂L/∂W‖ (steps × Dense layers): recorded in training, or one backward's at the end."""
    if isinstance(gradients, GradientRecorder):
        return gradients.norms
    if gradients is not None:
        return np.asarray(gradients, dtype=np.float64)
    # one backward at the final weights is still informative
    return np.array([[np.linalg.norm(layer.dW) for layer in model.layers if isinstance(layer, Dense)]])


def _check_overfitting(ctx):
    h = ctx["history"]  # validation loss rising from its best epoch while the training loss falls
    if h is None or "val_loss" not in h or len(h["val_loss"]) < 5:
        return None
    v, t = np.asarray(h["val_loss"], dtype=np.float64), np.asarray(h.loss, dtype=np.float64)
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(t))) or len(t) != len(v):
        return None
    best = int(np.argmin(v))
    # 10% above its best, two or more epochs after it, while training still improved: memorising
    if not (v[-1] > 1.1 * v[best] and best <= len(v) - 3 and t[-1] < t[best]):
        return None
    wd = float(getattr(ctx.get("optimizer"), "weight_decay", 0.0) or 0.0)
    return Finding(
        "overfitting", "overfitting: the validation loss rises while the training loss falls",
        f"validation loss was lowest at epoch {best} ({v[best]:.4g}) and rose to {v[-1]:.4g} by epoch "
        f"{len(v) - 1}, while the training loss fell from {t[best]:.4g} to {t[-1]:.4g}",
        "the network is fitting the training rows' noise rather than what they share with new rows",
        "stop at the best epoch (early stopping: --val with --patience), use stronger weight decay, "
        "or give it more data", [{"weight_decay": max(10 * wd, 0.01)}])


def _score(model, loss, X, y):
    """("accuracy", share right) for classes, ("R²", 1 − SSE/SST) for numbers."""
    out = np.asarray(model.predict(X), dtype=np.float64).reshape(len(X), -1)
    if isinstance(loss, losses.CrossEntropy):
        return "accuracy", float(np.mean(out.argmax(axis=1) == np.asarray(y).reshape(-1)))
    y = np.asarray(y, dtype=np.float64).reshape(out.shape)
    if isinstance(loss, losses.BCE):
        return "accuracy", float(np.mean((out > (0.0 if loss.from_logits else 0.5)) == (y > 0.5)))
    sst = float(np.sum((y - y.mean(axis=0)) ** 2)) or 1.0
    return "R²", 1.0 - float(np.sum((out - y) ** 2)) / sst


def _held_out_gap(ctx, X_held, y_held):
    """Overfitting seen at the end: the training rows (almost) all fitted, held-out rows much worse.
    The margin is 10 points, or 3 rows' worth on a small held-out part (one row of 30 is 3 points)."""
    name, train = _score(ctx["model"], ctx["loss"], ctx["X"], ctx["y_show"])
    _, held = _score(ctx["model"], ctx["loss"], np.asarray(X_held), y_held)
    top, margin = (0.99, max(0.10, 3 / max(len(X_held), 1))) if name == "accuracy" else (0.9, 0.2)
    if not (train >= top and held <= train - margin):
        return None
    wd = float(getattr(ctx.get("optimizer"), "weight_decay", 0.0) or 0.0)
    return Finding(
        "overfitting", "overfitting: the training rows are fitted, the held-out rows are not",
        f"{name} {train:.3g} on the {len(ctx['X'])} training rows but {held:.3g} on the {len(X_held)} held-out rows",
        "the network has memorised the training rows (their noise included) instead of what they share "
        "with new rows",
        "stronger weight decay, a smaller network, early stopping on a validation part (--val), or more data",
        [{"weight_decay": max(10 * wd, 0.01)}])


def read_log(path):
    """A History from a training log written by ``handprop train --log`` (``.csv`` or ``.json``)."""
    import csv
    import json

    history = History()
    try:
        with open(path, encoding="utf-8") as f:
            if str(path).lower().endswith(".json"):
                series = json.load(f)
                if not (isinstance(series, dict) and all(isinstance(v, list) for v in series.values())):
                    raise HandpropValueError(f"{path}: not a training log (a JSON object of lists, as --log writes)")
                rows = [dict(zip(series, values)) for values in zip(*series.values())]
            else:
                rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise HandpropValueError(f"{path}: not a training log ({exc})") from None
    for i, row in enumerate(rows):
        try:
            values = {k: float(v) for k, v in row.items() if k != "epoch" and v not in ("", None)}
        except (TypeError, ValueError):
            raise HandpropValueError(f"{path}: row {i + 1} holds a value that is not a number") from None
        history.record(i, **values)
    if not history.loss:
        raise HandpropValueError(f"{path}: no 'loss' column: not a log written by handprop train --log")
    return history


def diagnose_log(history, lr=None):
    """What the loss curve alone says (rising, flat, overfitting); a Diagnosis."""
    ctx = {"history": history, "lr": lr, "bad_fit": True, "grad_norm": 1.0, "L": 0.0, "optimizer": None}
    found = [f for f in (lr_curve_finding(ctx), _check_overfitting(ctx)) if f is not None]
    loss = history.loss
    return Diagnosis(found, f"{len(loss)} epochs, loss {loss[0]:.4g} → {loss[-1]:.4g}")
