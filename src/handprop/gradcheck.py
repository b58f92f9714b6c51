"""Finite-difference gradient checks: is a hand-written backward the derivative of its forward?

Central differences, float64::

    df/dx_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h

compared with the analytic gradient by the relative error ``|a − n| / max(|a| + |n|, tiny)``
(on whole arrays, so that entries that are ~0 do not dominate). Below 1e-7 is right.
"""

import numpy as np


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
