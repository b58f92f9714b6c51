"""``handprop exercise``: write a backward pass yourself; the checker names your mistake.

``list`` shows the exercises, ``start NAME`` writes ``NAME.py`` with the forward pass done and the
backward left as a TODO, ``check FILE`` runs your function on random inputs against the right answer
and says what is wrong in words: transposed, sign flipped, missing or extra 1/n, missing the
activation's derivative, summed over the wrong axis, a factor 2 off.

The function names and signatures are a contract (see each exercise's ``signature``).
"""

import os
import runpy

import numpy as np

from ..errors import HandpropError, HandpropValueError
from ._mistakes import explain_output
from .catalog import EXERCISES

__all__ = ["EXERCISES", "get", "template", "write", "check", "CheckResult"]

TRIALS = 3


def get(name):
    """The exercise called ``name``, or a HandpropValueError listing the names."""
    for ex in EXERCISES:
        if ex.name == name:
            return ex
    raise HandpropValueError(f"no exercise {name!r}; the exercises are: {', '.join(e.name for e in EXERCISES)} "
                             "(handprop exercise list)")


def template(ex, path=None):
    """The text of ``NAME.py``: the page as its docstring, the forward pass, the TODO backward."""
    stub = (f"def {ex.signature}:\n    \"\"\"Return {ex.returns_text}.\"\"\"\n"
            f"    # TODO: your backward pass here (the page above says what to derive)\n"
            f"    raise NotImplementedError(\"{ex.function} is not written yet\")\n")
    path = path or f"{ex.name}.py"
    return (f'"""{ex.title}\n\n{ex.page.strip()}\n\nWhen done, run:  handprop exercise check {path}\n"""\n\n'
            f"import numpy as np\n\nEXERCISE = {ex.name!r}\n\n\n{ex.forward.strip()}\n\n\n{stub}")


def write(name, directory="."):
    """Write ``directory/NAME.py`` (never over an existing file); returns its path."""
    ex = get(name)
    if not os.path.isdir(directory):
        raise HandpropError(f"--dir {directory}: no such directory; create it first: mkdir -p {directory}")
    path = os.path.normpath(os.path.join(directory, f"{ex.name}.py"))
    if os.path.exists(path):
        raise HandpropError(f"{path} exists already (your work?); check it with: handprop exercise check {path}")
    text = template(ex, path)
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
    return path


class CheckResult:
    """``passed``, ``exercise``, ``problems`` (one line each, naming the mistake); ``str`` reads well."""

    def __init__(self, exercise, problems, path):
        self.exercise, self.problems, self.path = exercise, list(problems), path
        self.passed = not self.problems

    def __str__(self):
        head = f"{self.exercise.function} ({self.path})"
        if self.passed:
            return f"PASSED: {head} is right on {TRIALS} random inputs"
        return "\n".join([f"FAILED: {head}"] + [f"  {p}" for p in self.problems])


def _load(path):
    if not os.path.isfile(path):
        raise HandpropError(f"{path}: no such file; start an exercise with: handprop exercise start NAME")
    try:
        return runpy.run_path(path, run_name="handprop_exercise")
    except Exception as exc:  # the learner's file: its error is the answer, not a crash of ours
        raise HandpropError(f"{path}: running the file failed: {type(exc).__name__}: {exc}") from None


def _which(ns, path):
    name = ns.get("EXERCISE")
    if isinstance(name, str):
        return get(name)
    for ex in EXERCISES:
        if callable(ns.get(ex.function)):
            return ex
    raise HandpropError(f"{path}: defines none of the exercises' functions "
                        f"({', '.join(e.function for e in EXERCISES)}); start one with: handprop exercise start NAME")


def check(path):
    """Run the exercise in ``path`` on random inputs; returns a CheckResult."""
    ns = _load(path)
    ex = _which(ns, path)
    func = ns.get(ex.function)
    if not callable(func):
        raise HandpropError(f"{path}: no function {ex.function}; the exercise needs def {ex.signature}")
    for trial in range(TRIALS):
        inputs = ex.inputs(np.random.default_rng([trial, 11]))
        want = ex.reference(**inputs)
        try:
            got = func(*[np.copy(v) if isinstance(v, np.ndarray) else v for v in inputs.values()])  # in order
        except NotImplementedError:
            return CheckResult(ex, [f"{ex.function} is not written yet (it raises NotImplementedError)"], path)
        except Exception as exc:
            return CheckResult(ex, [f"{ex.function} raised {type(exc).__name__}: {exc}"], path)
        problems = _compare(ex, got, want, ex.mistakes(**inputs), ex.n(inputs))
        if problems:
            return CheckResult(ex, problems, path)
    return CheckResult(ex, [], path)


def _compare(ex, got, want, mistakes, n):
    if len(ex.returns) > 1:
        if not isinstance(got, (tuple, list)) or len(got) != len(ex.returns):
            return [f"{ex.function} must return {len(ex.returns)} arrays ({ex.returns_text}), got {type(got).__name__}"]
    else:
        got, want = (got,), (want,)
    problems = []
    for label, g, w in zip(ex.returns, got, want):
        specific = {name: wrong[label] for name, wrong in mistakes.items() if label in wrong}
        line = explain_output(label, g, w, specific, n)
        if line:
            problems.append(line)
    return problems
