"""Finite-difference gradient checks: is a hand-written backward the derivative of its forward?

Central differences, float64::

    df/dx_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h

compared with the analytic gradient by the relative error ``|a − n| / max(|a| + |n|, tiny)``
(on whole arrays, so that entries that are ~0 do not dominate). Below 1e-7 is right.

Three levels, from the whole network down to a function you wrote yourself:

* ``gradcheck(model, loss, X, y)`` perturbs every parameter (and the input X) of the model and
  compares with backprop, then checks every layer on its own with a *random* upstream gradient, so
  that a wrong backward is pinned on the layer that has it (an error in layer k's backward spoils the
  gradients of every layer before it, but only layer k fails on its own);
* ``check_layer(layer, x)`` checks one Layer (exercise mode: write ``backward``, run this);
* ``check_functions(forward, backward, x, params)`` does the same for two plain functions.

Why a random upstream gradient: with an all-ones upstream gradient, a softmax backward with a flipped
sign passes (its rows sum to zero either way); with a random one it fails loudly.
"""

import numpy as np

from . import losses
from .activations import LeakyReLU, ReLU
from .errors import HandpropValueError
from .layers import Layer


def numerical_gradient(f, x, h=1e-6):
    """Gradient of the scalar function ``f()`` with respect to the array ``x``, perturbed in place.

    ``f`` takes no argument: it reads ``x`` (a model weight, an input) wherever it lives.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat, g = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb in place")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        g[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic, numeric):
    """``‖a − n‖ / (‖a‖ + ‖n‖)``, 0 when both are 0."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if scale == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / max(scale, 1e-300))


def entry_errors(analytic, numeric, scale):
    """Per-entry relative error ``|a − n| / max(|a| + |n|, 1e-3·scale)``.

    ``scale`` is the size of the function being differentiated (|L|, or Σ|terms|). Rounding makes
    the numeric gradient wrong by about 1e-10·scale, so entries far below that size are judged
    against 1e-3·scale instead of against themselves: noise stays ~1e-7, a real bug stays ~1.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    floor = max(1e-3 * abs(float(scale)), 1e-12)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


class Check:
    """One array compared: backprop's gradient against central differences.

    Attributes: ``where`` (``"layer 2 Dense(2, 1)"``), ``layer_index``, ``name`` (``"W"``, ``"b"``,
    ``"input"``), ``analytic``, ``numeric``, ``errors`` (per entry), ``max_error``, ``worst`` (index
    of the worst entry), ``passed``, and ``wrong`` (indices of the entries above the tolerance).
    """

    def __init__(self, where, layer_index, name, analytic, numeric, scale, tol, kinked=None):
        self.where, self.layer_index, self.name = where, layer_index, name
        self.analytic = np.array(analytic, dtype=np.float64)
        self.numeric = np.array(numeric, dtype=np.float64)
        if self.analytic.shape != self.numeric.shape:
            raise HandpropValueError(
                f"{where}: backward gave d{name} of shape {self.analytic.shape}, "
                f"but {name} has shape {self.numeric.shape}")
        self.errors = entry_errors(self.analytic, self.numeric, scale)
        # Entries whose ±h step crosses a ReLU kink: the difference quotient straddles two slopes there
        # and checks nothing, so they are set aside (and counted) rather than failed.
        kinked = np.zeros(self.errors.shape, bool) if kinked is None else np.asarray(kinked, bool)
        self.skipped = [tuple(int(i) for i in idx) for idx in np.argwhere(kinked)]
        self.errors = np.where(kinked, 0.0, self.errors)
        self.tol = tol
        if self.errors.size and np.all(np.isfinite(self.errors)):
            flat = int(np.argmax(self.errors))
            self.max_error = float(self.errors.reshape(-1)[flat])
        else:
            flat = int(np.argmax(~np.isfinite(self.errors))) if self.errors.size else 0
            self.max_error = float("inf") if self.errors.size else 0.0
        self.worst = tuple(int(i) for i in np.unravel_index(flat, self.errors.shape)) if self.errors.size else ()
        self.passed = bool(self.max_error <= tol)
        self.wrong = [tuple(int(i) for i in idx) for idx in np.argwhere(~(self.errors <= tol))]

    def lines(self, max_entries=8):
        status = "ok  " if self.passed else "FAIL"
        out = [f"  {status} {self.where:<24} {self.name:<6} max rel error {self.max_error:.1e}"
               f" at {self.worst}" + (f"  ({len(self.skipped)} at a kink, skipped)" if self.skipped else "")]
        if not self.passed:
            shown = self.wrong[:max_entries]
            out.append(f"       {len(self.wrong)} of {self.errors.size} entries wrong:")
            sym = "dx" if self.name == "input" else f"d{self.name}"
            for idx in shown:
                out.append(f"         {sym}{list(idx)}: backprop {self.analytic[idx]: .6g}, "
                           f"numeric {self.numeric[idx]: .6g}")
            if len(self.wrong) > len(shown):
                out.append(f"         ... and {len(self.wrong) - len(shown)} more")
        return out


class GradcheckReport:
    """What ``gradcheck``/``check_layer`` found. ``passed`` is a bool; ``str(report)`` reads well.

    ``checks`` holds the end-to-end checks (loss against every parameter and the input) and
    ``layer_checks`` each layer checked alone with a random upstream gradient. ``culprits`` lists
    the ``(index, layer)`` whose own backward is wrong.
    """

    def __init__(self, checks, layer_checks, layers, tol, h, title, notes=()):
        self.checks, self.layer_checks = list(checks), list(layer_checks)
        self.layers, self.tol, self.h, self.title = layers, tol, h, title
        self.notes = list(notes)
        self.passed = all(c.passed for c in self.checks + self.layer_checks)
        bad = sorted({c.layer_index for c in self.layer_checks if not c.passed})
        self.culprits = [(i, layers[i]) for i in bad]

    @property
    def failures(self):
        return [c for c in self.checks + self.layer_checks if not c.passed]

    def max_errors(self):
        """``{(where, name): max relative error}`` for every end-to-end and per-layer check."""
        return {(c.where, c.name): c.max_error for c in self.checks + self.layer_checks}

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "PASSED" if self.passed else "FAILED"
        out = [f"gradcheck {verdict}: {self.title}",
               f"  (central differences, h = {self.h:g}, float64; an entry is wrong when "
               f"|a − n| / (|a| + |n|) > {self.tol:g})"]
        if self.checks:
            out.append("end to end: dL/dθ from backprop vs. finite differences of the loss")
            for c in self.checks:
                out.extend(c.lines(max_entries=4))
        if self.layer_checks:
            out.append("layer by layer: each layer alone, random upstream gradient")
            for c in self.layer_checks:
                out.extend(c.lines())
        for i, layer in self.culprits:
            out.append(f"=> layer {i} {layer_name(layer)} has a wrong backward; errors in the layers before it "
                       "are inherited from it")
        if not self.passed and self.checks and not self.culprits:
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
    """Central differences like ``numerical_gradient``, plus which entries' ±h steps flip a ReLU
    between its two sides (its ``mask``/``slope`` after the + and the − forward differ)."""
    def side():
        return [np.array(getattr(layer, "mask", getattr(layer, "slope", None))) for layer in kink_layers]

    grad = np.zeros_like(x, dtype=np.float64)
    kinked = np.zeros(x.shape, dtype=bool)
    flat, g, k = x.reshape(-1), grad.reshape(-1), kinked.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus, s_plus = f(), side()
        flat[i] = old - h
        f_minus, s_minus = f(), side()
        flat[i] = old
        g[i] = (f_plus - f_minus) / (2 * h)
        k[i] = any(not np.array_equal(a, b) for a, b in zip(s_plus, s_minus))
    return grad, kinked


def _upstream_rng(seed):
    # A stream of its own: with plain default_rng(seed), R would equal data drawn by the caller from
    # the same seed, and x.T @ R = x.T @ x is symmetric: a transposed dW would go unnoticed.
    return np.random.default_rng([int(seed), 0x68616E64])


def _local_checks(i, layer, x, rng, h, tol):
    """Check ``layer`` alone on input ``x``: f = Σ R ⊙ layer(x) with a random R."""
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x)
    R = rng.standard_normal(np.shape(out))
    scale = float(np.sum(np.abs(R * out))) + 1e-12
    grad_in = layer.backward(R.copy())
    analytic = {name: np.array(getattr(layer, "d" + name), dtype=np.float64) for name in layer.param_names}

    def f():
        return float(np.sum(R * layer.forward(x)))

    where = _where(i, layer)
    checks = []
    if grad_in is None:
        raise HandpropValueError(f"{where}: backward returned None; it must return dL/dinput")
    kinks = _kink_layers([layer])
    numeric, kinked = _numeric(f, x, h, kinks)
    checks.append(Check(where, i, "input", grad_in, numeric, scale, tol, kinked))
    for name in layer.param_names:
        numeric, kinked = _numeric(f, getattr(layer, name), h, kinks)
        checks.append(Check(where, i, name, analytic[name], numeric, scale, tol, kinked))
    return checks


def _kink_notes(checks):
    n = sum(len(c.skipped) for c in checks)
    if not n:
        return []
    return [f"{n} entries skipped: their ±h step moves a ReLU input across 0, where its derivative "
            "jumps (backprop uses 0 at z = 0, as PyTorch); finite differences cannot check them"]


def gradcheck(model, loss, X, y, h=1e-6, tol=1e-5, seed=0, check_input=True, layers=True):
    """Compare backprop with central differences for every parameter of ``model`` and for ``X``.

    ``loss`` is a Loss instance or name. The model is run in float64 (cast and cast back if it is
    float32). Each parameter array is perturbed in place, entry by entry, and put back exactly.

    Returns a GradcheckReport: ``.passed``, per layer and parameter the max relative error and
    the worst entry, and ``.culprits``, the layers whose own backward fails. Its ``str`` prints it.
    """
    loss = losses.get(loss)
    _check_steps(h, tol)
    dtype = model.dtype
    if dtype != np.float64:
        model.astype(np.float64)
    try:
        X = np.array(model.check_input(X), dtype=np.float64)
        y = np.asarray(y)
        if y.dtype.kind in "fb":
            y = y.astype(np.float64)
        inputs, out = [], X
        for layer in model.layers:
            inputs.append(out)
            out = layer.forward(out)
        value = loss.forward(out, y)
        grad_X = model.backward(loss.backward(), need_input_grad=True)
        analytic = [(i, layer, name, np.array(getattr(layer, "d" + name), dtype=np.float64))
                    for i, layer in enumerate(model.layers) for name in layer.param_names]

        def f():
            return loss.forward(model.forward(X), y)

        scale = abs(value) + 1e-12
        kinks = _kink_layers(model.layers)
        checks = []
        for i, layer, name, a in analytic:
            numeric, kinked = _numeric(f, getattr(layer, name), h, kinks)
            checks.append(Check(_where(i, layer), i, name, a, numeric, scale, tol, kinked))
        if check_input and grad_X is not None:
            numeric, kinked = _numeric(f, X, h, kinks)
            checks.append(Check("input X", -1, "X", grad_X, numeric, scale, tol, kinked))
        rng = _upstream_rng(seed)
        layer_checks = []
        if layers:
            for i, (layer, x) in enumerate(zip(model.layers, inputs)):
                layer_checks.extend(_local_checks(i, layer, x, rng, h, tol))
        notes = _kink_notes(checks + layer_checks)
    finally:
        if dtype != np.float64:
            model.astype(dtype)
    return GradcheckReport(checks, layer_checks, list(model.layers), tol, h,
                           f"{type(loss).__name__} on {len(X)} samples, {len(model.layers)} layers", notes)


def _check_steps(h, tol):
    for name, value in (("h", h), ("tol", tol)):
        if not (isinstance(value, (int, float, np.floating)) and 0 < float(value) < 1):
            raise HandpropValueError(f"gradcheck: {name} must be a number between 0 and 1, got {value!r}")


def check_layer(layer, x, h=1e-6, tol=1e-5, seed=0):
    """Check one layer's backward (input and parameter gradients) on input ``x``.

    Exercise mode: subclass a layer, write its ``backward``, run ``print(check_layer(layer, x))``;
    the report lists every wrong entry with backprop's value next to the right one.
    """
    if not isinstance(layer, Layer):
        raise HandpropValueError(f"check_layer: layer must be a Layer, got {type(layer).__name__}")
    _check_steps(h, tol)
    x = np.array(x, dtype=np.float64)
    if x.ndim != 2:
        raise HandpropValueError(f"check_layer: x must be 2-D (samples, features), got shape {x.shape}")
    checks = _local_checks(0, layer, x, _upstream_rng(seed), h, tol)
    return GradcheckReport([], checks, [layer], tol, h, f"{layer!r} alone on x of shape {x.shape}",
                           _kink_notes(checks))


class FunctionLayer(Layer):
    """A layer made of two plain functions, for checking a backward written as a function.

    ``forward(x, **params) -> y`` and ``backward(grad, x, **params) -> dx`` or
    ``(dx, {name: dparam})``; ``params`` maps names to arrays (perturbed in place by the check).
    """

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


def check_functions(forward, backward, x, params=None, h=1e-6, tol=1e-5, seed=0):
    """``check_layer`` for a forward/backward pair written as functions (see FunctionLayer)."""
    return check_layer(FunctionLayer(forward, backward, params), x, h=h, tol=tol, seed=seed)
