"""Finite-difference gradient checks: is a hand-written backward the derivative of its forward?

Central differences, on float64 copies (whatever the model's dtype), with a step sized to each entry::

    df/dθ_i ≈ (f(θ + h_i e_i) − f(θ − h_i e_i)) / 2h_i,      h_i = h · max(1, |θ_i|)

An entry passes when, as in PyTorch's ``gradcheck``::

    |a − n| ≤ atol · s + rtol · |n|          (a: backprop, n: numeric; defaults atol 1e-6, rtol 1e-4)

where ``s = max(1, size of f)`` (|L| for the loss, Σ|terms| for a layer's check): rounding makes
f(θ ± h) wrong by about 1e-16·s, so the numeric gradient is wrong by about 1e-10·s, and gradients
that small (a trained model's are often 1e-7) are judged by the absolute part instead of against
themselves. The report also prints the relative error ``|a − n| / (|a| + |n|)`` of the worst entry.

Three levels, from the whole network down to a function you wrote yourself:

* ``gradcheck(model, loss, X, y)`` perturbs every parameter (and the input X) of the model and
  compares with backprop, then checks every layer, and the loss, on its own with a *random* upstream
  gradient, so that a wrong backward is pinned on the layer that has it (an error in layer k's
  backward spoils the gradients of every layer before it, but only layer k fails on its own);
* ``check_layer(layer, x)`` checks one Layer (exercise mode: write ``backward``, run this);
* ``check_functions(forward, backward, x, params)`` does the same for two plain functions.

Why a random upstream gradient: with an all-ones upstream gradient, a softmax backward with a flipped
sign passes (its rows sum to zero either way); with a random one it fails loudly.
"""

import copy

import numpy as np

from . import losses
from .activations import LeakyReLU, ReLU
from .errors import HandpropValueError
from .layers import Layer

ATOL, RTOL, H = 1e-6, 1e-4, 1e-6


def numerical_gradient(f, x, h=1e-6):
    """Gradient of the scalar function ``f()`` with respect to the array ``x``, perturbed in place
    by exactly ``h`` (``f`` takes no argument: it reads ``x`` wherever it lives)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, g = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb in place")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        g[i] = (f_plus - f()) / (2 * h)
        flat[i] = old
    return grad


def relative_error(analytic, numeric):
    """``‖a − n‖ / (‖a‖ + ‖n‖)``, 0 when both are 0."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if scale == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / max(scale, 1e-300))


class Rule:
    """The step and the pass rule: ``h``, ``atol``, ``rtol`` (see the module's docstring)."""

    def __init__(self, h=H, atol=ATOL, rtol=RTOL, tol=None):
        if tol is not None:  # one number for both parts (the earlier single tolerance)
            _check_number("tol", tol)
            atol = rtol = tol
        for name, value in (("h", h), ("atol", atol), ("rtol", rtol)):
            _check_number(name, value)
        self.h, self.atol, self.rtol = float(h), float(atol), float(rtol)

    def allowed(self, numeric, scale):
        return self.atol * max(1.0, abs(float(scale))) + self.rtol * np.abs(numeric)

    def __str__(self):
        return (f"central differences, h = {self.h:g}·max(1, |θ|), float64; an entry passes when "
                f"|a − n| ≤ {self.atol:g}·max(1, |f|) + {self.rtol:g}·|n|")


def _check_number(name, value):
    if not (isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and 0 < float(value) < 1):
        raise HandpropValueError(f"gradcheck: {name} must be a number between 0 and 1, got {value!r}")


class Check:
    """One array compared: ``where`` (``"layer 2 Dense(2, 1)"``), ``layer_index``, ``name`` (``"W"``,
    ``"input"``), ``analytic``, ``numeric``, ``errors`` (relative, per entry), ``max_error``, ``worst``,
    ``passed``, ``wrong`` (entries failing the rule), ``skipped`` (steps across a ReLU kink)."""

    def __init__(self, where, layer_index, name, analytic, numeric, scale, rule, kinked=None):
        self.where, self.layer_index, self.name = where, layer_index, name
        self.analytic = np.array(analytic, dtype=np.float64)
        self.numeric = np.array(numeric, dtype=np.float64)
        if self.analytic.shape != self.numeric.shape:
            raise HandpropValueError(
                f"{where}: backward gave d{name} of shape {self.analytic.shape}, "
                f"but {name} has shape {self.numeric.shape}")
        a, n = self.analytic, self.numeric
        diff = np.abs(a - n)
        self.errors = diff / np.maximum(np.abs(a) + np.abs(n), 1e-300)
        self.errors[diff == 0] = 0.0
        # Entries whose ±h step crosses a ReLU kink: the difference quotient straddles two slopes there
        # and checks nothing, so they are set aside (and counted) rather than failed.
        kinked = np.zeros(self.errors.shape, bool) if kinked is None else np.asarray(kinked, bool)
        self.skipped = [tuple(int(i) for i in idx) for idx in np.argwhere(kinked)]
        ok = (diff <= rule.allowed(n, scale)) | kinked
        self.errors = np.where(kinked, 0.0, self.errors)
        self.errors[~np.isfinite(diff)] = np.inf
        self.rule = rule
        rank = np.where(ok, 0.0, 1.0) + np.nan_to_num(self.errors, nan=np.inf)  # failing entries first
        self.worst = tuple(int(i) for i in np.unravel_index(np.argmax(rank), rank.shape)) if rank.size else ()
        self.max_error = float(self.errors[self.worst]) if rank.size else 0.0
        self.passed = bool(ok.all())
        self.wrong = [tuple(int(i) for i in idx) for idx in np.argwhere(~ok)]

    def lines(self, max_entries=8):
        status = "ok  " if self.passed else "FAIL"
        out = [f"  {status} {self.where:<24} {self.name:<6} max rel error {self.max_error:.1e}"
               f" at {self.worst}" + (f"  ({len(self.skipped)} at a kink, skipped)" if self.skipped else "")]
        if not self.passed:
            shown = self.wrong[:max_entries]
            out.append(f"       {len(self.wrong)} of {self.errors.size} entries wrong:")
            sym = "dx" if self.name == "input" else f"d{self.name}"
            for idx in shown:
                out.append(f"         {sym}{list(idx)}: backprop {self.analytic[idx] + 0.0: .6g}, "
                           f"numeric {self.numeric[idx] + 0.0: .6g}")
            if len(self.wrong) > len(shown):
                out.append(f"         ... and {len(self.wrong) - len(shown)} more")
        return out


class GradcheckReport:
    """What ``gradcheck``/``check_layer`` found: ``passed``, ``checks`` (end to end), ``layer_checks``
    (each layer, then the loss, alone), ``culprits`` (``(index, layer)`` whose own backward is wrong),
    ``loss_wrong``; ``str(report)`` reads well."""

    def __init__(self, checks, layer_checks, layers, rule, title, notes=()):
        self.checks, self.layer_checks = list(checks), list(layer_checks)
        self.layers, self.rule, self.title = layers, rule, title
        self.h, self.atol, self.rtol = rule.h, rule.atol, rule.rtol
        self.notes = list(notes)
        self.passed = all(c.passed for c in self.checks + self.layer_checks)
        bad = sorted({c.layer_index for c in self.layer_checks if not c.passed})
        self.culprits = [(i, layers[i]) for i in bad if i < len(layers)]
        self.loss_wrong = any(i >= len(layers) for i in bad)

    @property
    def failures(self):
        return [c for c in self.checks + self.layer_checks if not c.passed]

    def max_errors(self):  # {(where, name): max relative error}
        return {(c.where, c.name): c.max_error for c in self.checks + self.layer_checks}

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "PASSED" if self.passed else "FAILED"
        out = [f"gradcheck {verdict}: {self.title}", f"  ({self.rule})"]
        if self.checks:
            out.append("end to end: dL/dθ from backprop vs. finite differences of the loss")
            for c in self.checks:
                out.extend(c.lines(max_entries=4))
        if self.layer_checks:
            out.append("layer by layer: each layer (and the loss) alone, random upstream gradient")
            for c in self.layer_checks:
                out.extend(c.lines())
        for i, layer in self.culprits:
            out.append(f"=> layer {i} {layer_name(layer)} has a wrong backward; errors in the layers before it "
                       "are inherited from it")
        if self.loss_wrong:
            out.append("=> the loss's own backward is wrong: check the loss's backward (dL/d(output))")
        elif not self.passed and self.checks and not self.culprits:
            out.append("=> every layer passes alone: check the loss's backward and how the layers fit together")
        out.extend(f"note: {note}" for note in self.notes)
        return "\n".join(out)

    def __repr__(self):
        return f"GradcheckReport(passed={self.passed}, failures={len(self.failures)})"


def layer_name(layer):
    """``repr(layer)`` under the layer's own class name (a Dense subclass prints as Dense(...))."""
    text, name = repr(layer), type(layer).__name__
    base = text.split("(")[0]
    return name + text[len(base):] if base != name else text


def _where(i, layer):
    return f"layer {i} {layer_name(layer)}"


def _kink_layers(layers):
    return [layer for layer in layers if isinstance(layer, (ReLU, LeakyReLU))]


def _numeric(f, x, h, kink_layers):
    """Central differences with the step ``h·max(1, |x_i|)``, plus which entries' ±h steps flip a
    ReLU between its two sides (its ``mask``/``slope`` after the + and the − forward differ)."""
    def side():
        return [np.array(getattr(layer, "mask", getattr(layer, "slope", None))) for layer in kink_layers]

    grad = np.zeros_like(x, dtype=np.float64)
    kinked = np.zeros(x.shape, dtype=bool)
    flat, g, k = x.reshape(-1), grad.reshape(-1), kinked.reshape(-1)
    if not np.shares_memory(flat, x):
        raise HandpropValueError("gradcheck needs contiguous parameter arrays it can perturb in place")
    for i in range(flat.size):
        old = flat[i]
        step = h * max(1.0, abs(float(old)))
        flat[i] = old + step
        f_plus, s_plus = f(), side()
        flat[i] = old - step
        f_minus, s_minus = f(), side()
        flat[i] = old
        g[i] = (f_plus - f_minus) / ((old + step) - (old - step))
        k[i] = any(not np.array_equal(a, b) for a, b in zip(s_plus, s_minus))
    return grad, kinked


def _upstream_rng(seed):
    # A stream of its own: with plain default_rng(seed), R would equal data drawn by the caller from
    # the same seed, and x.T @ R = x.T @ x is symmetric: a transposed dW would go unnoticed.
    return np.random.default_rng([int(seed), 0x68616E64])


def _local_checks(i, layer, x, rng, rule):
    """Check ``layer`` alone on input ``x``: f = Σ R ⊙ layer(x) with a random R."""
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x)
    R = rng.standard_normal(np.shape(out))
    scale = float(np.sum(np.abs(R * out)))
    grad_in = layer.backward(R.copy())  # the contract: a user's backward(self, grad) too
    analytic = {name: np.array(getattr(layer, "d" + name), dtype=np.float64) for name in layer.param_names}

    def f():  # (and the layer's own L1/L2 penalty, whose gradient its backward adds to dW)
        return float(np.sum(R * layer.forward(x))) + (layer.penalty() if hasattr(layer, "penalty") else 0.0)

    where = _where(i, layer)
    checks = []
    if grad_in is None:
        raise HandpropValueError(f"{where}: backward returned None; it must return dL/dinput")
    kinks = _kink_layers([layer])
    numeric, kinked = _numeric(f, x, rule.h, kinks)
    checks.append(Check(where, i, "input", grad_in, numeric, scale, rule, kinked))
    for name in layer.param_names:
        numeric, kinked = _numeric(f, getattr(layer, name), rule.h, kinks)
        checks.append(Check(where, i, name, analytic[name], numeric, scale, rule, kinked))
    return checks


def _loss_check(index, loss, pred, y, rule):
    """The loss alone: dL/d(output) from its backward against finite differences of L."""
    pred = np.array(pred, dtype=np.float64)
    value = loss.forward(pred, y)
    analytic = np.array(loss.backward(), dtype=np.float64)
    numeric, _ = _numeric(lambda: loss.forward(pred, y), pred, rule.h, [])
    return Check(f"loss {loss!r}", index, "output", analytic, numeric, value, rule)


def _kink_notes(checks):
    n = sum(len(c.skipped) for c in checks)
    if not n:
        return []
    return [f"{n} entries skipped: their ±h step moves a ReLU input across 0, where its derivative "
            "jumps (backprop uses 0 at z = 0, as PyTorch); finite differences cannot check them"]


def _end_to_end(model, loss, X, y, rule, check_input):
    """Every parameter (and X) against finite differences of the loss; returns (checks, inputs, pred).

    A parameter of layer k changes only layers k, k+1, ...: the forward restarts from layer k."""
    inputs, out = [], X
    for layer in model.layers:
        inputs.append(out)
        out = layer.forward(out)
    pred = out
    value = loss.forward(out, y)
    grad_X = model.backward(loss.backward(), need_input_grad=check_input)
    analytic = [(i, layer, name, np.array(getattr(layer, "d" + name), dtype=np.float64))
                for i, layer in enumerate(model.layers) for name in layer.param_names]

    def from_layer(k, x0):
        def f():
            out = x0
            for layer in model.layers[k:]:
                out = layer.forward(out)
            return loss.forward(out, y) + model.penalty()
        return f

    kinks = _kink_layers(model.layers)
    checks = []
    for i, layer, name, a in analytic:
        numeric, kinked = _numeric(from_layer(i, inputs[i]), getattr(layer, name), rule.h, kinks)
        checks.append(Check(_where(i, layer), i, name, a, numeric, value, rule, kinked))
    if check_input and grad_X is not None:
        numeric, kinked = _numeric(from_layer(0, X), X, rule.h, kinks)
        checks.append(Check("input X", -1, "X", grad_X, numeric, value, rule, kinked))
    return checks, inputs, pred


def gradcheck(model, loss, X, y, h=H, atol=ATOL, rtol=RTOL, seed=0, check_input=True, layers=True, tol=None):
    """Compare backprop with central differences for every parameter of ``model`` and for ``X``.

    ``loss`` is a Loss instance or name. The check runs on a float64 copy of the model: the model
    itself is not touched. ``atol``/``rtol`` set the pass rule (see the module's docstring); ``tol``
    sets both at once.

    Returns a GradcheckReport: ``.passed``, per layer and parameter the max relative error and
    the worst entry, and ``.culprits``, the layers whose own backward fails. Its ``str`` prints it.
    """
    loss = losses.get(loss)
    rule = Rule(h, atol, rtol, tol)
    work = copy.deepcopy(model).astype(np.float64)
    loss = copy.deepcopy(loss)
    X = np.array(work.check_input(X), dtype=np.float64)
    y = np.asarray(y)
    if y.dtype.kind in "fb":
        y = y.astype(np.float64)
    checks, inputs, pred = _end_to_end(work, loss, X, y, rule, check_input)
    layer_checks = []
    if layers:
        rng = _upstream_rng(seed)
        for i, (layer, x) in enumerate(zip(work.layers, inputs)):
            layer_checks.extend(_local_checks(i, layer, x, rng, rule))
        layer_checks.append(_loss_check(len(work.layers), loss, pred, y, rule))
    notes = _kink_notes(checks + layer_checks)
    return GradcheckReport(checks, layer_checks, list(model.layers), rule,
                           f"{type(loss).__name__} on {len(X)} samples, {len(model.layers)} layers", notes)


def check_layer(layer, x, h=H, atol=ATOL, rtol=RTOL, seed=0, tol=None):
    """Check one layer's backward (input and parameter gradients) on input ``x``.

    Exercise mode: subclass a layer, write its ``backward``, run ``print(check_layer(layer, x))``;
    the report lists every wrong entry with backprop's value next to the right one.
    """
    if not isinstance(layer, Layer):
        raise HandpropValueError(f"check_layer: layer must be a Layer, got {type(layer).__name__}")
    rule = Rule(h, atol, rtol, tol)
    x = np.array(x, dtype=np.float64)
    if x.ndim != 2:
        raise HandpropValueError(f"check_layer: x must be 2-D (samples, features), got shape {x.shape}")
    checks = _local_checks(0, layer, x, _upstream_rng(seed), rule)
    return GradcheckReport([], checks, [layer], rule, f"{layer!r} alone on x of shape {x.shape}",
                           _kink_notes(checks))


class FunctionLayer(Layer):
    """A layer of two plain functions: ``forward(x, **params) -> y``, ``backward(grad, x, **params) -> dx``
    or ``(dx, {name: dparam})``; ``params`` maps names to arrays (perturbed in place by the check)."""

    def __init__(self, forward, backward, params=None, name=None):
        self._f, self._b = forward, backward
        self._params = {k: np.array(v, dtype=np.float64) for k, v in (params or {}).items()}
        for k, v in self._params.items():
            setattr(self, k, v)
        self.param_names = tuple(self._params)
        self.name = name or getattr(forward, "__name__", "function")
        self.x = None

    def _kwargs(self):
        return {k: getattr(self, k) for k in self.param_names}

    def forward(self, x):
        self.x = x
        return np.asarray(self._f(x, **self._kwargs()), dtype=np.float64)

    def backward(self, grad, need_input_grad=True):
        if self.x is None:
            raise self._missing_forward()
        result = self._b(grad, self.x, **self._kwargs())
        if isinstance(result, tuple):
            dx, grads = result
        else:
            dx, grads = result, {}
        missing = [k for k in self.param_names if k not in grads]
        if missing:
            raise HandpropValueError(f"{self.name}: backward returned no gradient for {', '.join(missing)}; "
                                     "return (dx, {name: dparam, ...})")
        for k in self.param_names:
            setattr(self, "d" + k, grads[k])
        return dx

    def __repr__(self):
        return f"FunctionLayer({self.name})"


def check_functions(forward, backward, x, params=None, h=H, atol=ATOL, rtol=RTOL, seed=0, tol=None):
    """``check_layer`` for a forward/backward pair written as functions (see FunctionLayer)."""
    return check_layer(FunctionLayer(forward, backward, params), x, h=h, atol=atol, rtol=rtol, seed=seed, tol=tol)
