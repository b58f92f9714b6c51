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
import html

import numpy as np

from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .errors import HandpropValueError
from .gradcheck import gradcheck, layer_name
from .layers import Dense
from .losses import BCE, MSE, CrossEntropy, HalfSSE
from .losses import check_pairing
from .losses import get as get_loss
from .training import prepare_data

SECTIONS = {"forward": "Forward pass", "loss": "Loss", "backward": "Backward pass (chain rule)",
            "update": "Update", "check": "Check against finite differences"}


class Sym:
    """A name in two spellings: terminal text (``a2``, ``δ2``) and LaTeX (``a_{2}``, ``\\delta_{2}``)."""

    def __init__(self, text, tex):
        self.text, self.tex = text, tex

    @classmethod
    def of(cls, base, index=None, tex_base=None):
        tex_base = tex_base or base
        if index is None:
            return cls(base, tex_base)
        return cls(f"{base}{index}", f"{tex_base}_{{{index}}}")


def d(of, wrt):
    """∂of/∂wrt in both spellings."""
    return Sym(f"∂{of.text}/∂{wrt.text}", f"\\frac{{\\partial {of.tex}}}{{\\partial {wrt.tex}}}")


L_SYM, Y_SYM = Sym("L", "L"), Sym("y", "y")


class Step:
    """One line of the derivation: ``symbol = formula = value``."""

    def __init__(self, section, key, symbol, text, tex, value=None, note="", before=None):
        self.section, self.key, self.symbol = section, key, symbol
        self.text, self.tex = text, tex  # the formula's right-hand side
        self.value = None if value is None else np.array(value, dtype=np.float64)
        self.before = None if before is None else np.array(before, dtype=np.float64)
        self.note = note


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
    if kind == "SGD" and not optimizer.nesterov:
        mu = f"{optimizer.momentum:g}"
        return (f"{w.text} − η·v,  v ← {mu}·v + {gt}  (momentum; v starts at the first {gt})",
                f"{w.tex} - \\eta\\, v, \\quad v \\leftarrow {mu}\\, v + {gtex}")
    if kind == "Adam":
        return (f"{w.text} − η·m̂/(√v̂ + ε)  (Adam: m, v running means of {gt}, {gt}²; a fresh Adam's first step)",
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
    if check not in (True, False, "auto"):
        raise HandpropValueError(f"explain: check must be True, False or 'auto', got {check!r}")
    lr = float(lr)
    if not lr > 0:
        raise HandpropValueError(f"explain: lr must be positive, got {lr!r}")
    if not model.layers:
        raise HandpropValueError("explain: the model has no layers")
    check_pairing(model, loss)  # the pairings fit refuses (softmax twice...) would explain a wrong step
    X, y = prepare_data(model, X, y)
    steps = [Step("forward", "X", Sym("X", "X"), "input", "\\text{input}", X),
             Step("forward", "y", Y_SYM, "targets", "\\text{targets}", y)]
    if raw_X is not None:
        steps.insert(0, Step("forward", "X_raw", Sym("X_raw", "X_{\\text{raw}}"), "input as the data file holds it "
                             "(X = (X_raw − mean) / std, with the training rows' mean and std)",
                             "\\text{input as in the file}", raw_X))
    # forward: name every intermediate as the blogs do (z_l after Dense l, a_l after its activation)
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
    pred = steps[-1].value
    value = loss.forward(pred, y)
    lt, ltex, gt, gtex = _loss_rule(loss, cur)
    n = pred.shape[0] if isinstance(loss, CrossEntropy) else pred.size
    steps.append(Step("loss", "L", L_SYM, lt, ltex, value, note=f"n = {n}"))
    # backward: the chain rule, right to left, every factor evaluated
    grad = loss.backward()
    g_sym = d(L_SYM, cur)
    steps.append(Step("backward", g_sym.text, g_sym, gt or "loss.backward()", gtex or "", grad))
    from_dense = None
    grads = []  # (layer, name, Sym of the parameter, gradient)
    for layer, inp, out, l in reversed(names):
        if isinstance(layer, Dense):
            delta = Sym.of("δ", l, "\\delta")
            if g_sym.text != delta.text:  # the loss handed us ∂L/∂z directly (logits)
                steps.append(Step("backward", delta.text, delta, g_sym.text, g_sym.tex, grad))
            first = layer is model.layers[0]
            grad_in = layer.backward(grad)  # the layer contract; a user's backward(self, grad) too
            W, b = Sym.of("W", l), Sym.of("b", l)
            dW, db = d(L_SYM, W), d(L_SYM, b)
            steps.append(Step("backward", dW.text, dW, f"{inp.text}ᵀ·{delta.text}",
                              f"{inp.tex}^\\top {delta.tex}", layer.dW))
            steps.append(Step("backward", db.text, db, f"Σ_rows {delta.text}",
                              f"\\sum_{{\\text{{rows}}}} {delta.tex}", layer.db))
            grads = [(layer, "W", W, layer.dW), (layer, "b", b, layer.db)] + grads
            if not first:
                g_sym = d(L_SYM, inp)
                steps.append(Step("backward", g_sym.text, g_sym, f"{delta.text}·{W.text}ᵀ",
                                  f"{delta.tex} {W.tex}^\\top", grad_in))
                from_dense = (delta, W)
            grad = grad_in
            continue
        grad_in = layer.backward(grad)
        rule = _activation_rule(layer, out, inp)
        target = Sym.of("δ", l, "\\delta") if inp.text.startswith("z") else d(L_SYM, inp)
        if rule and rule[4] is not None:
            local = d(out, inp)
            steps.append(Step("backward", local.text, local, rule[2], rule[3], rule[4]))
            note = ""
            if from_dense:
                fname = "σ" if isinstance(layer, Sigmoid) else type(layer).__name__.lower()
                note = f"= ({from_dense[0].text}·{from_dense[1].text}ᵀ) ⊙ {fname}'({inp.text})"
            steps.append(Step("backward", target.text, target, f"{g_sym.text} ⊙ {local.text}",
                              f"{g_sym.tex} \\odot {local.tex}", grad_in, note=note))
        elif isinstance(layer, Softmax):
            g, a = g_sym, out
            steps.append(Step("backward", target.text, target, f"{a.text} ⊙ ({g.text} − Σ_j {g.text}_j {a.text}_j)",
                              f"{a.tex} \\odot ({g.tex} - \\textstyle\\sum_j ({g.tex})_j ({a.tex})_j)", grad_in))
        else:  # Identity, or a layer handprop does not know: show what its backward returned
            steps.append(Step("backward", target.text, target, f"{type(layer).__name__}.backward({g_sym.text})",
                              f"\\mathrm{{{type(layer).__name__}.backward}}({g_sym.tex})", grad_in))
            grads = _own_parameters(layer, l, steps) + grads
        g_sym, grad, from_dense = target, grad_in, None
    # update
    arrays = [getattr(layer, name) for layer, name, _, _ in grads]
    if optimizer is None:
        new = [a - lr * g for a, (_, _, _, g) in zip(arrays, grads)]
    else:
        new = _sgd_copy_step(optimizer, arrays, [g for *_, g in grads])
    for (layer, name, sym, g), old, after in zip(grads, arrays, new):
        text, tex = _update_rule(optimizer, sym, d(L_SYM, sym))
        steps.append(Step("update", sym.text + "_new", Sym(sym.text, sym.tex), text, tex, after, before=old))
    # check: finite differences against every gradient shown above
    check_report = None
    if check is True or (check == "auto" and model.n_params * len(X) <= 200_000):
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
    if apply:  # after the check, which must see the weights the gradients were computed at
        for a, after in zip(arrays, new):
            a[...] = after
    title = f"One training step of {' → '.join(layer_name(layer) for layer in model.layers)} with {loss!r}"
    return Explanation(steps, title, lr, optimizer, value, check_report)


class Explanation:
    """The recorded step. ``values[key]`` gives an array by its plain name (``"z1"``, ``"δ2"``,
    ``"∂L/∂W2"``, ``"W2_new"``); ``str()`` is the terminal text; ``to_markdown``, ``to_html``."""

    def __init__(self, steps, title, lr, optimizer, loss_value, check_report):
        self.steps, self.title, self.lr, self.optimizer = steps, title, lr, optimizer
        self.loss = loss_value
        self.check = check_report
        self.values = {s.key: s.value for s in steps if s.value is not None}

    @property
    def passed(self):
        """True when the finite-difference check ran and every gradient matched."""
        return self.check is not None and self.check.passed

    def sections(self):
        for section, heading in SECTIONS.items():
            steps = [s for s in self.steps if s.section == section]
            if steps:
                yield section, heading, steps

    def _eta(self):
        return f"η = {self.lr if self.optimizer is None else self.optimizer.lr:g}"

    def to_text(self, full=False):
        return _render_text(self, full)

    def to_markdown(self, full=False):
        return _render_markdown(self, full)

    def to_html(self, full=False, fragment=False):
        return _render_html(self, full, fragment)

    def __str__(self):
        return self.to_text()

    def _repr_html_(self):
        return self.to_html(fragment=True)

    def __repr__(self):
        return f"<Explanation: {self.title}, loss {self.loss:.6g}, {len(self.steps)} steps>"




# -- rendering ----------------------------------------------------------------------------------------
def _array_text(a, full):
    """Four significant digits (gradients can be 1e-4 where weights are 1), aligned in columns."""
    if a.ndim == 0:
        return f"{float(a) + 0.0:.6g}"  # + 0.0: -0.0 prints as 0, never "-0"
    width = max((len(f"{v + 0.0:.4g}") for v in a.reshape(-1)), default=1)
    return np.array2string(a, threshold=10 ** 9 if full else 40, edgeitems=3, max_line_width=100,
                           formatter={"float_kind": lambda v: f"{v + 0.0:.4g}".rjust(width)})


def _shape(a):
    return "" if a is None or a.ndim == 0 else f"shape {a.shape}"


def _render_text(ex, full):
    out = [ex.title, "=" * min(len(ex.title), 100)]
    for section, heading, steps in ex.sections():
        out += ["", f"-- {heading} " + "-" * max(0, 60 - len(heading)), ""]
        for s in steps:
            head = f"{s.symbol.text} ← {s.text}" if section == "update" else f"{s.symbol.text} = {s.text}"
            if section == "update":
                head += f"    ({ex._eta()})"
            if section == "check":
                head = f"{s.symbol.text}: {s.text}"
            if s.value is not None and s.value.ndim == 0:
                head += f" = {_array_text(s.value, full)}"
            elif s.value is not None:
                head += f"    {_shape(s.value)}"
            out.append(head + (f"    [{s.note}]" if s.note else ""))
            if s.before is not None:
                out.append("  before:\n" + _indent(_array_text(s.before, full), 4))
                out.append("  after:\n" + _indent(_array_text(s.value, full), 4))
            elif s.value is not None and s.value.ndim:
                out.append(_indent(_array_text(s.value, full), 2))
    return "\n".join(out) + "\n"


def _indent(text, n):
    return "\n".join(" " * n + line for line in text.splitlines())


def _tex_number(v):
    text = f"{v + 0.0:.4g}"
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant} \\times 10^{{{int(exp)}}}"
    return text


def _tex_matrix(a, full):
    """A LaTeX bmatrix; rows and columns past 6 are cut to the first 3 and the last with dots."""
    if a.ndim == 0:
        return _tex_number(float(a))
    a = a.reshape(1, -1) if a.ndim == 1 else a.reshape(a.shape[0], -1)

    def keep(n):
        return list(range(n)) if full or n <= 6 else [0, 1, 2, None, n - 1]

    rows = []
    for i in keep(a.shape[0]):
        cells = []
        for j in keep(a.shape[1]):
            if i is None:
                cells.append("\\ddots" if j is None else "\\vdots")
            else:
                cells.append("\\cdots" if j is None else _tex_number(a[i, j]))
        rows.append(" & ".join(cells))
    return "\\begin{bmatrix} " + " \\\\ ".join(rows) + " \\end{bmatrix}"


def _render_markdown(ex, full):
    out = [f"### {ex.title}", ""]
    for section, heading, steps in ex.sections():
        out += [f"#### {heading}", ""]
        for s in steps:
            shape = f" ({_shape(s.value)})" if s.value is not None and s.value.ndim else ""
            label = f"`{s.symbol.text}`{shape}" + (f" — {ex._eta()}" if section == "update" else "")
            out += [label + (f" *{s.note}*" if s.note else ""), ""]
            if section == "check":
                out += [f"$$ {s.symbol.tex} : {s.tex} $$", ""]
                continue
            arrow = "\\leftarrow" if section == "update" else "="
            value = f" = {_tex_matrix(s.value, full)}" if s.value is not None else ""
            if s.before is not None:
                out += [f"$$ {s.symbol.tex}^{{\\text{{before}}}} = {_tex_matrix(s.before, full)} $$", ""]
            out += [f"$$ {s.symbol.tex} {arrow} {s.tex}{value} $$", ""]
    return "\n".join(out)


_CSS = """.handprop-explain{font-family:system-ui,sans-serif;max-width:60em}
.handprop-explain .step{margin:.6em 0;padding:.3em .6em;border-left:3px solid #4a7fb5;background:#f6f8fa}
.handprop-explain .f{font-family:ui-monospace,monospace;font-weight:600}
.handprop-explain .note,.handprop-explain .shape{color:#666;font-size:.9em;margin-left:1em}
.handprop-explain pre{margin:.3em 0 0 1em;font-size:.9em}
.handprop-explain .bad{color:#b00020}.handprop-explain .ok{color:#1b7f3b}"""


def _render_html(ex, full, fragment):
    e = html.escape
    body = [f'<div class="handprop-explain"><style>{_CSS}</style>', f"<h2>{e(ex.title)}</h2>"]
    for section, heading, steps in ex.sections():
        body.append(f"<h3>{e(heading)}</h3>")
        for s in steps:
            arrow = "←" if section == "update" else "="
            cls = "" if section != "check" else (' class="ok"' if "✓" in s.text else ' class="bad"')
            line = f'<div class="f"><span{cls}>{e(s.symbol.text)} {arrow} {e(s.text)}</span>'
            if s.value is not None and s.value.ndim == 0:
                line += f" = {e(_array_text(s.value, full))}"
            line += f'<span class="shape">{e(_shape(s.value))}</span>'
            if section == "update":
                line += f'<span class="note">{e(ex._eta())}</span>'
            if s.note:
                line += f'<span class="note">{e(s.note)}</span>'
            parts = [line + "</div>"]
            if s.before is not None:
                parts.append(f"<pre>before:\n{e(_array_text(s.before, full))}\nafter:\n"
                             f"{e(_array_text(s.value, full))}</pre>")
            elif s.value is not None and s.value.ndim:
                parts.append(f"<pre>{e(_array_text(s.value, full))}</pre>")
            body.append('<div class="step">' + "".join(parts) + "</div>")
    body.append("</div>")
    fragment_html = "\n".join(body)
    if fragment:
        return fragment_html
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{e(ex.title)}</title>\n</head>\n<body>\n{fragment_html}\n</body>\n</html>\n")
