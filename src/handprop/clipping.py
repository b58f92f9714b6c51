"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

Both are pure: they take a list of gradient arrays and return new ones, leaving the inputs alone
(``fit`` writes the results back to the layers' ``d`` + name attributes).
"""

import numbers

import numpy as np

from .errors import DivergenceError, HandpropValueError


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < np.inf:
        raise HandpropValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _arrays(grads):
    if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)):
        raise HandpropValueError(f"grads must be a list of gradient arrays, got {type(grads).__name__}")
    return [np.asarray(g) for g in grads]


def grad_norm(grads, norm_type=2.0):
    """The ``norm_type``-norm of all the gradients taken as one vector: ``(Σ |g|^p)^(1/p)``, or
    ``max |g|`` for ``norm_type=inf``."""
    grads = _arrays(grads)
    p = float("inf") if norm_type in (np.inf, "inf") else _positive("norm_type", norm_type)
    if not grads:
        return 0.0
    if p == np.inf:
        return float(max(np.max(np.abs(g), initial=0.0) for g in grads))
    norms = np.array([np.linalg.norm(g.ravel(), ord=p) for g in grads])  # each array's norm,
    return float(np.linalg.norm(norms, ord=p))                            # then the norm of those


def clip_norm(grads, max_norm, norm_type=2.0):
    """Scale every gradient by ``min(1, max_norm / (total + 1e-6))``, ``total = grad_norm(grads)``
    (PyTorch's ``clip_grad_norm_``, its 1e-6 included); returns ``(clipped, total)``.

    A total that is not finite is refused (a DivergenceError): scaling by it would turn every
    gradient into NaN (torch's ``error_if_nonfinite=True``).
    """
    max_norm = _positive("clip_norm", max_norm)
    total = grad_norm(grads, norm_type)
    if not np.isfinite(total):
        raise DivergenceError(f"the gradients' total {norm_type}-norm is {total}: training diverged; "
                              "retrain with a smaller learning rate")
    scale = min(1.0, max_norm / (total + 1e-6))
    return [np.asarray(g) * np.asarray(g).dtype.type(scale) for g in grads], total


def clip_value(grads, clip_value):
    """Every gradient value limited to ``[-clip_value, clip_value]`` (PyTorch's ``clip_grad_value_``)."""
    v = _positive("clip_value", clip_value)
    return [np.clip(g, -v, v) for g in _arrays(grads)]


def clipper(params, clip_norm_=None, clip_value_=None):
    """What ``fit(clip_norm=..., clip_value=...)`` runs between backward and the update: a function
    that clips the gradients of ``params`` (``model.parameters()``) in place, by their total 2-norm
    and then by value; None when neither is given. The settings are checked here, before training."""
    if clip_norm_ is None and clip_value_ is None:
        return None
    max_norm = None if clip_norm_ is None else _positive("clip_norm", clip_norm_)
    limit = None if clip_value_ is None else _positive("clip_value", clip_value_)

    def clip():
        grads = [p.grad for p in params]
        if max_norm is not None:
            grads, _ = clip_norm(grads, max_norm)
        if limit is not None:
            grads = clip_value(grads, limit)
        for p, g in zip(params, grads):
            p.grad[...] = g  # in place: the layer's dW (a view of the model's flat gradient) is clipped
    return clip
