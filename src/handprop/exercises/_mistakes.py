"""Compare a learner's backward with the right one and name the mistake, not only the wrong entries.

Each output is compared with the right answer; when it differs, the checker tries the exercise's own
named mistakes (a forgotten derivative, a sum over the wrong axis...) and then the generic ones: a
transpose, a flipped sign, a missing or extra 1/n, a factor 2.
"""

import numpy as np


def close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def generic_mistake(got, want, n):
    """The name of a generic mistake that turns ``want`` into ``got``, or None."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if want.ndim == 2 and got.shape == want.T.shape and close(got, want.T) and want.shape != want.T.shape:
        return "transposed"
    if want.ndim == 2 and want.shape[0] == want.shape[1] and close(got, want.T) and not close(want, want.T):
        return "transposed"
    if got.shape != want.shape or not np.any(want):
        return None
    k = float(np.sum(got * want) / np.sum(want * want))
    if not close(got, k * want):
        return None
    names = {-1.0: "sign flipped", float(n): "missing 1/n", 1.0 / n: "extra 1/n", 2.0: "factor 2 off",
             0.5: "factor 2 off", -float(n): "sign flipped and missing 1/n", -1.0 / n: "sign flipped and extra 1/n"}
    for factor, name in names.items():
        if abs(k - factor) <= 1e-6 * max(1.0, abs(factor)):
            return name
    return f"off by a constant factor {k:.4g}"


def explain_output(label, got, want, specific, n):
    """One line saying what is wrong with output ``label`` (None when it is right).

    ``specific`` maps a mistake's name to the wrong answer it would give.
    """
    if got is None:
        return f"{label}: you returned None"
    got = np.asarray(got)
    if got.dtype.kind not in "biuf":
        return f"{label}: you returned {type(got).__name__} of dtype {got.dtype}, not numbers"
    if close(got, want):
        return None
    for name, wrong in specific.items():
        if close(got, wrong):
            return f"{label}: {name}"
    name = generic_mistake(got, want, n)
    if name is not None:
        return f"{label}: {name}"
    if got.shape != np.shape(want):
        return f"{label}: shape {got.shape}, but it must have shape {np.shape(want)}"
    bad = np.argwhere(~np.isclose(got, want, rtol=1e-6, atol=1e-9))
    idx = tuple(int(i) for i in bad[0])
    return (f"{label}: {len(bad)} of {got.size} entries wrong, e.g. {label}{list(idx)} = "
            f"{float(got[idx]) + 0.0:.6g}, the right value is {float(want[idx]) + 0.0:.6g}")
