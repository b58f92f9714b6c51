"""One training step written out factor by factor, the way blog 001 derives it, with real numbers.

``explain(model, loss, X, y, lr=0.1)`` runs one forward pass, the loss, one backward pass and one
gradient-descent update of any Sequential model and records every quantity under its blog name::

    z1 = X·W1 + b1            a1 = σ(z1)            z2 = a1·W2 + b2          a2 = σ(z2)
    L = mean((a2 − y)²)
    ∂L/∂a2 = 2(a2 − y)/n      ∂a2/∂z2 = a2(1 − a2)   δ2 = ∂L/∂a2 ⊙ ∂a2/∂z2
    ∂L/∂W2 = a1ᵀ·δ2           ∂L/∂b2 = Σ δ2          ∂L/∂a1 = δ2·W2ᵀ
    ∂a1/∂z1 = a1(1 − a1)      δ1 = ∂L/∂a1 ⊙ ∂a1/∂z1  ∂L/∂W1 = Xᵀ·δ1 ...
    W2 ← W2 − η·∂L/∂W2 ...

The values are the ones the layers themselves compute (their forward and backward are called), so
the page shows what the code does; a closing finite-difference check shows that it is right.
The model's weights are left as they were unless ``apply=True``.

Render as text (``str``), Markdown with LaTeX (``to_markdown``), or one self-contained HTML page
(``to_html``); in Jupyter the object displays itself as HTML.
"""

import copy

import numpy as np

from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .errors import HandpropValueError
from .explanation import L_SYM, Y_SYM, Explanation, Step, Sym, d
from .gradcheck import gradcheck, layer_name
from .layers import Dense
from .losses import BCE, MSE, CrossEntropy, HalfSSE
from .losses import check_pairing
from .losses import get as get_loss

# -- the local derivative of each activation, as the blogs write it ----------------------------------
def _activation_rule(layer, a, z):
    """(forward text, forward tex, derivative text, derivative tex, derivative value) or None."""
    if isinstance(layer, Sigmoid):
        return (f"σ({z.text})", f"\\sigma({z.tex})", f"{a.text}(1 − {a.text})", f"{a.tex}(1 - {a.tex})",
                layer.a * (1 - layer.a))
    if isinstance(layer, Tanh):
        return (f"tanh({z.text})", f"\\tanh({z.tex})", f"1 − {a.text}²", f"1 - {a.tex}^2", 1 - layer.a ** 2)
    if isinstance(layer, LeakyReLU):
        return (f"max({z.text}, {layer.alpha:g}·{z.text})", f"\\max({z.tex}, {layer.alpha:g} {z.tex})",
                f"[{z.text} > 0] + {layer.alpha:g}·[{z.text} ≤ 0]",
                f"[{z.tex} > 0] + {layer.alpha:g}\\,[{z.tex} \\le 0]", layer.slope)
    if isinstance(layer, ReLU):
        return (f"max(0, {z.text})", f"\\max(0, {z.tex})", f"[{z.text} > 0]", f"[{z.tex} > 0]",
                layer.mask.astype(np.float64))
    if isinstance(layer, Identity):
        return (z.text, z.tex, "1", "1", None)
    return None


def _loss_rule(loss, out):
    """(L text, L tex, ∂L/∂out text, ∂L/∂out tex) for the losses handprop knows."""
    o, ot = out.text, out.tex
    if isinstance(loss, MSE):
        return (f"mean(({o} − y)²)", f"\\frac{{1}}{{n}} \\sum ({ot} - y)^2",
                f"2({o} − y)/n", f"\\frac{{2}}{{n}}({ot} - y)")
    if isinstance(loss, HalfSSE):
        return (f"½ Σ ({o} − y)²", f"\\frac{{1}}{{2}} \\sum ({ot} - y)^2", f"{o} − y", f"{ot} - y")
    if isinstance(loss, BCE) and loss.from_logits:
        return (f"−mean(y log σ({o}) + (1 − y) log(1 − σ({o})))",
                f"-\\frac{{1}}{{n}} \\sum y \\log\\sigma({ot}) + (1 - y)\\log(1 - \\sigma({ot}))",
                f"(σ({o}) − y)/n", f"\\frac{{1}}{{n}}(\\sigma({ot}) - y)")
    if isinstance(loss, BCE):
        return (f"−mean(y log {o} + (1 − y) log(1 − {o}))",
                f"-\\frac{{1}}{{n}} \\sum y \\log {ot} + (1 - y)\\log(1 - {ot})",
                f"({o} − y) / ({o}(1 − {o})) / n", f"\\frac{{{ot} - y}}{{n\\,{ot}(1 - {ot})}}")
    if isinstance(loss, CrossEntropy):
        return (f"−(1/n) Σ_i log softmax({o})[i, y_i]",
                f"-\\frac{{1}}{{n}} \\sum_i \\log \\operatorname{{softmax}}({ot})_{{i, y_i}}",
                f"(softmax({o}) − Y)/n  (Y: one-hot targets)", f"\\frac{{1}}{{n}}(\\operatorname{{softmax}}({ot}) - Y)")
    return (f"{type(loss).__name__}({o}, y)", f"\\mathrm{{{type(loss).__name__}}}({ot}, y)", "", "")


def _sgd_copy_step(optimizer, arrays, grads):
    """New values after one step of (a copy of) ``optimizer``; the real optimizer is not touched."""

    class _P:
        """A stand-in Parameter: ``.value``/``.grad``, and also ``getattr(p.layer, p.name)`` and
        ``getattr(p.layer, p.grad_name)``, the two ways an optimizer may read a parameter."""

        name, grad_name = "value", "grad"

        def __init__(self, value, grad):
            self.value, self.grad, self.layer = value, grad, self

    params = [_P(a.copy(), g) for a, g in zip(arrays, grads)]
    copy.deepcopy(optimizer).step(params)
    return [p.value for p in params]


def _update_rule(optimizer, w, g):
    kind = type(optimizer).__name__
    wd = getattr(optimizer, "weight_decay", 0) or 0
    gt, gtex = (f"({g.text} + {wd:g}·{w.text})", f"({g.tex} + {wd:g}\\, {w.tex})") if wd else (g.text, g.tex)
    if optimizer is None or (kind == "SGD" and not optimizer.momentum):
        return f"{w.text} − η·{gt}", f"{w.tex} - \\eta\\, {gtex}"
    t = getattr(optimizer, "t", 0) if optimizer.n_params is not None else 0  # steps its state comes from
    if kind == "SGD" and not optimizer.nesterov:
        mu = f"{optimizer.momentum:g}"
        start = f"v from the {t} steps of training" if t else f"v starts at the first {gt}"
        return (f"{w.text} − η·v,  v ← {mu}·v + {gt}  (momentum; {start})",
                f"{w.tex} - \\eta\\, v, \\quad v \\leftarrow {mu}\\, v + {gtex}")
    if kind == "Adam":
        when = (f"m, v as training left them after {t} steps: this is step {t + 1}" if t else
                "a fresh Adam's first step: m = v = 0, no Adam state was kept (an older model file, or saved without it)")
        return (f"{w.text} − η·m̂/(√v̂ + ε)  (Adam: m, v running means of {gt}, {gt}²; {when})",
                f"{w.tex} - \\eta\\, \\hat m / (\\sqrt{{\\hat v}} + \\epsilon)")
    return f"{optimizer!r} step on {w.text}", f"\\mathrm{{step}}({w.tex})"


def _own_parameters(layer, l, steps):
    """The parameters of a layer handprop does not know (``param_names``), their gradients shown."""
    out = []
    for name in getattr(layer, "param_names", ()):
        sym = Sym(f"{name}{l}" if l else name, f"{name}_{{{l}}}" if l else name)
        grad = np.array(getattr(layer, "d" + name), dtype=np.float64)
        steps.append(Step("backward", d(L_SYM, sym).text, d(L_SYM, sym), f"{type(layer).__name__}.d{name}",
                          f"\\mathrm{{{type(layer).__name__}.d{name}}}", grad))
        out.append((layer, name, sym, grad))
    return out


def explain(model, loss, X, y, lr=0.1, optimizer=None, check="auto", apply=False, raw_X=None):
    """Trace one training step of ``model`` on ``(X, y)``; returns an Explanation.

    Parameters
    ----------
    loss : Loss or name
    lr : float
        Learning rate η of the plain gradient-descent update ``W ← W − η·∂L/∂W`` (blog 000's).
    optimizer : Optimizer, optional
        Show this optimizer's update instead (a copy is stepped; its state is not changed).
    check : bool or "auto"
        Compare every gradient with finite differences ("auto": when the model is small enough).
    apply : bool
        Write the updated weights into the model (default: leave the model as it was).
    raw_X : array, optional
        The rows as the data file holds them, shown next to ``X`` when ``X`` is their scaled form.
    """
    loss = get_loss(loss)
    lr = _check_arguments(model, check, lr)
    check_pairing(model, loss)  # the pairings fit refuses (softmax twice...) would explain a wrong step
    X, y = model.check_data(X, y, model.dtype)  # (the model is explained as it is, in its own type)
    steps = [Step("forward", "X", Sym("X", "X"), "input", "\\text{input}", X),
             Step("forward", "y", Y_SYM, "targets", "\\text{targets}", y)]
    if raw_X is not None:
        steps.insert(0, Step("forward", "X_raw", Sym("X_raw", "X_{\\text{raw}}"), "input as the data file holds it "
                             "(X = (X_raw − mean) / std, with the training rows' mean and std)",
                             "\\text{input as in the file}", raw_X))
    names, cur = _forward(model, X, steps)
    pred = steps[-1].value
    value = loss.forward(pred, y)
    lt, ltex, gt, gtex = _loss_rule(loss, cur)
    n = pred.shape[0] if isinstance(loss, CrossEntropy) else pred.size
    penalty = model.penalty()
    if penalty:  # Dense(l1=, l2=): the weights' penalty is part of the loss that training lowers
        value += penalty
        lt, ltex = f"{lt} + Σ_layers (l1·Σ|W| + l2·ΣW²)", f"{ltex} + \\sum (l_1 \\sum |W| + l_2 \\sum W^2)"
    steps.append(Step("loss", "L", L_SYM, lt, ltex, value,
                      note=f"n = {n}" + (f"; the penalty is {penalty:.6g} of it" if penalty else "")))
    # backward: the chain rule, right to left, every factor evaluated
    grad = loss.backward()
    g_sym = d(L_SYM, cur)
    steps.append(Step("backward", g_sym.text, g_sym, gt or "loss.backward()", gtex or "", grad))
    grads = _backward(model, names, grad, g_sym, steps)
    arrays, new = _update(optimizer, lr, grads, steps)
    check_report = None
    if check is True or (check == "auto" and model.n_params * len(X) <= 200_000):
        check_report = _check(model, loss, X, y, grads, steps)
    if apply:  # after the check, which must see the weights the gradients were computed at
        for a, after in zip(arrays, new):
            a[...] = after
    title = f"One training step of {' → '.join(layer_name(layer) for layer in model.layers)} with {loss!r}"
    return Explanation(steps, title, lr, optimizer, value, check_report)


def _check_arguments(model, check, lr):
    """``lr`` as a float, after checking ``check``, ``lr`` and that the model has layers."""
    if check not in (True, False, "auto"):
        raise HandpropValueError(f"explain: check must be True, False or 'auto', got {check!r}")
    lr = float(lr)
    if not lr > 0:
        raise HandpropValueError(f"explain: lr must be positive, got {lr!r}")
    if not model.layers:
        raise HandpropValueError("explain: the model has no layers")
    return lr


def _forward(model, X, steps):
    """Run the layers, naming every intermediate as the blogs do (z_l after Dense l, a_l after its
    activation); returns ``[(layer, input Sym, output Sym, l)]`` and the output's Sym."""
    names, cur, value, l, k = [], Sym("X", "X"), X, 0, 0
    for layer in model.layers:
        value = layer.forward(value)
        if isinstance(layer, Dense):
            l += 1
            out, W, b = Sym.of("z", l), Sym.of("W", l), Sym.of("b", l)
            text, tex = f"{cur.text}·{W.text} + {b.text}", f"{cur.tex} {W.tex} + {b.tex}"
            steps += [Step("forward", W.text, W, "weights", "\\text{weights}", layer.W),  # where they are used
                      Step("forward", b.text, b, "biases", "\\text{biases}", layer.b)]
        else:
            out = Sym.of("a", l)
            if l == 0 or any(o.text == out.text for _, _, o, _ in names):
                k += 1
                out = Sym.of("h", k)
            rule = _activation_rule(layer, out, cur)
            if rule:
                text, tex = rule[0], rule[1]
            elif isinstance(layer, Softmax):
                text, tex = f"softmax({cur.text})", f"\\operatorname{{softmax}}({cur.tex})"
            else:
                text, tex = f"{type(layer).__name__}({cur.text})", f"\\mathrm{{{type(layer).__name__}}}({cur.tex})"
        steps.append(Step("forward", out.text, out, text, tex, value))
        names.append((layer, cur, out, l))
        cur = out
    return names, cur


def _backward(model, names, grad, g_sym, steps):
    """Hand ``grad`` (∂L/∂output, named ``g_sym``) back through the layers, each applying its own
    ``backward``; returns ``[(layer, name, Sym of the parameter, gradient)]`` in the model's order."""
    from_dense = None
    grads = []
    for layer, inp, out, l in reversed(names):
        if isinstance(layer, Dense):
            grad_in, g_next, from_dense = _dense_backward(model, layer, inp, l, grad, g_sym, steps)
            grads = [(layer, "W", Sym.of("W", l), layer.dW), (layer, "b", Sym.of("b", l), layer.db)] + grads
            grad, g_sym = grad_in, g_next or g_sym
            continue
        grad_in = layer.backward(grad)
        target = Sym.of("δ", l, "\\delta") if inp.text.startswith("z") else d(L_SYM, inp)
        if not _activation_steps(layer, inp, out, g_sym, target, grad_in, from_dense, steps):
            grads = _own_parameters(layer, l, steps) + grads
        g_sym, grad, from_dense = target, grad_in, None
    return grads


def _dense_backward(model, layer, inp, l, grad, g_sym, steps):
    """Dense l's backward, written out: ``(grad_in, its Sym or None, (δ, W) or None)``."""
    delta = Sym.of("δ", l, "\\delta")
    if g_sym.text != delta.text:  # the loss handed us ∂L/∂z directly (logits)
        steps.append(Step("backward", delta.text, delta, g_sym.text, g_sym.tex, grad))
    grad_in = layer.backward(grad)  # the layer contract; a user's backward(self, grad) too
    W, b = Sym.of("W", l), Sym.of("b", l)
    dW, db = d(L_SYM, W), d(L_SYM, b)
    pen, pen_tex = _penalty_terms(layer, W)
    steps.append(Step("backward", dW.text, dW, f"{inp.text}ᵀ·{delta.text}{pen}",
                      f"{inp.tex}^\\top {delta.tex}{pen_tex}", layer.dW))
    steps.append(Step("backward", db.text, db, f"Σ_rows {delta.text}",
                      f"\\sum_{{\\text{{rows}}}} {delta.tex}", layer.db))
    if layer is model.layers[0]:
        return grad_in, None, None
    g_in = d(L_SYM, inp)
    steps.append(Step("backward", g_in.text, g_in, f"{delta.text}·{W.text}ᵀ", f"{delta.tex} {W.tex}^\\top", grad_in))
    return grad_in, g_in, (delta, W)


def _penalty_terms(layer, W):
    """The L1/L2 penalty's share of ∂L/∂W, as text and LaTeX (empty without a penalty)."""
    l1, l2 = getattr(layer, "l1", 0.0), getattr(layer, "l2", 0.0)
    text = (f" + {l1:g}·sign({W.text})" if l1 else "") + (f" + 2·{l2:g}·{W.text}" if l2 else "")
    tex = (f" + {l1:g}\\,\\mathrm{{sign}}({W.tex})" if l1 else "") + (f" + 2 \\cdot {l2:g}\\,{W.tex}" if l2 else "")
    return text, tex


def _activation_steps(layer, inp, out, g_sym, target, grad_in, from_dense, steps):
    """An activation's backward, written out; False for a layer handprop does not know."""
    rule = _activation_rule(layer, out, inp)
    if rule and rule[4] is not None:
        local = d(out, inp)
        steps.append(Step("backward", local.text, local, rule[2], rule[3], rule[4]))
        note = ""
        if from_dense:
            fname = "σ" if isinstance(layer, Sigmoid) else type(layer).__name__.lower()
            note = f"= ({from_dense[0].text}·{from_dense[1].text}ᵀ) ⊙ {fname}'({inp.text})"
        steps.append(Step("backward", target.text, target, f"{g_sym.text} ⊙ {local.text}",
                          f"{g_sym.tex} \\odot {local.tex}", grad_in, note=note))
        return True
    if isinstance(layer, Softmax):
        g, a = g_sym, out
        steps.append(Step("backward", target.text, target, f"{a.text} ⊙ ({g.text} − Σ_j {g.text}_j {a.text}_j)",
                          f"{a.tex} \\odot ({g.tex} - \\textstyle\\sum_j ({g.tex})_j ({a.tex})_j)", grad_in))
        return True
    # Identity, or a layer handprop does not know: show what its backward returned
    steps.append(Step("backward", target.text, target, f"{type(layer).__name__}.backward({g_sym.text})",
                      f"\\mathrm{{{type(layer).__name__}.backward}}({g_sym.tex})", grad_in))
    return False


def _update(optimizer, lr, grads, steps):
    """The update of every parameter: ``(arrays now, arrays after the step)``; the model is not changed."""
    arrays = [getattr(layer, name) for layer, name, _, _ in grads]
    if optimizer is None:
        new = [a - lr * g for a, (_, _, _, g) in zip(arrays, grads)]
    else:
        new = _sgd_copy_step(optimizer, arrays, [g for *_, g in grads])
    for (layer, name, sym, g), old, after in zip(grads, arrays, new):
        text, tex = _update_rule(optimizer, sym, d(L_SYM, sym))
        steps.append(Step("update", sym.text + "_new", Sym(sym.text, sym.tex), text, tex, after, before=old))
    return arrays, new


def _check(model, loss, X, y, grads, steps):
    """Finite differences against every gradient shown above; returns the GradcheckReport."""
    check_report = gradcheck(model, loss, X, y, check_input=False, layers=False)
    by_key = {(c.layer_index, c.name): c for c in check_report.checks}
    for layer, name, sym, _ in grads:
        c = by_key[(next(i for i, other in enumerate(model.layers) if other is layer), name)]
        dsym = d(L_SYM, sym)
        mark = "✓" if c.passed else "✗ WRONG"
        if c.skipped:
            mark += f" ({len(c.skipped)} entries at a ReLU kink, not checkable)"
        steps.append(Step("check", "check_" + sym.text, dsym,
                          f"backprop vs. finite differences, max rel error {c.max_error:.1e} {mark}",
                          f"\\text{{max rel. error }} {c.max_error:.1e}", None))
    return check_report
