"""What ``explain`` records and how it is shown: named quantities (``Sym``), the lines of the derivation
(``Step``) and the ``Explanation`` that renders them as terminal text, Markdown with LaTeX, or HTML.
"""

import html

import numpy as np

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
