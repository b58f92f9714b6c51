"""Initial weights, drawn from the random generator you pass in.

Every initializer is a function ``init(shape, rng, dtype) -> array`` for a weight matrix of shape
``(fan_in, fan_out)``. The generator may be a ``numpy.random.Generator`` (recommended) or a legacy
``numpy.random.RandomState``, so that blog programs written as ``np.random.seed(42);
W1 = np.random.randn(2, 2)`` are matched draw for draw::

    rng = np.random.RandomState(42)
    normal((2, 2), rng)      # == np.random.seed(42); np.random.randn(2, 2)

There is no hidden global generator: randomness always comes from the ``rng`` argument.
"""

import math

import numpy as np

from .errors import HandpropValueError


def as_rng(rng):
    """A generator from ``rng``: a Generator or RandomState is used as is, an int or None seeds a
    new ``numpy.random.default_rng``."""
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return generator("rng", rng)
    raise HandpropValueError(
        f"rng must be a numpy Generator, a RandomState, an int seed or None, not {type(rng).__name__} {rng!r}"
    )


def _whole(n):
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0


def generator(name, seed):
    """``numpy.random.default_rng(seed)`` for a seed that is None, an int >= 0, a list of them (one
    stream per purpose: ``[seed, 1]``) or a Generator (used as is); anything else (``"abc"``,
    ``-1``, ``1.5``, ``True``) is refused, naming ``name``."""
    if isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    listed = isinstance(seed, (list, tuple)) and len(seed) > 0 and all(_whole(s) for s in seed)
    if not (seed is None or _whole(seed) or listed):
        raise HandpropValueError(f"{name} must be a whole number >= 0 (or None for a fresh random "
                                 f"one), got {seed!r}; e.g. {name}=0")
    return np.random.default_rng(seed)


def _standard_normal(rng, shape):
    if isinstance(rng, np.random.RandomState):
        return rng.randn(*shape)  # the blogs' np.random.randn, draw for draw
    return rng.standard_normal(shape)


def _uniform01(rng, shape):
    if isinstance(rng, np.random.RandomState):
        return rng.rand(*shape)  # blog 001's np.random.rand
    return rng.random(shape)


def _fans(shape):
    fan_in = shape[0] if len(shape) > 1 else 1
    fan_out = shape[-1]
    return fan_in, fan_out


def zeros(shape, rng=None, dtype=np.float64):
    """All zeros (the blogs' biases)."""
    return np.zeros(shape, dtype=dtype)


def normal(shape, rng, dtype=np.float64):
    """Standard normal N(0, 1): the blogs' ``np.random.randn``."""
    return _standard_normal(as_rng(rng), shape).astype(dtype, copy=False)


def uniform(shape, rng, dtype=np.float64):
    """Uniform on [0, 1): blog 001's ``np.random.rand``."""
    return _uniform01(as_rng(rng), shape).astype(dtype, copy=False)


def glorot_normal(shape, rng, dtype=np.float64):
    """Glorot/Xavier normal: N(0, 2 / (fan_in + fan_out)), keeps the variance of sigmoid/tanh
    activations roughly constant from layer to layer."""
    fan_in, fan_out = _fans(shape)
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return (std * _standard_normal(as_rng(rng), shape)).astype(dtype, copy=False)


def glorot_uniform(shape, rng, dtype=np.float64):
    """Glorot/Xavier uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return (limit * (2.0 * _uniform01(as_rng(rng), shape) - 1.0)).astype(dtype, copy=False)


def he_normal(shape, rng, dtype=np.float64):
    """He/Kaiming normal: N(0, 2 / fan_in), for ReLU layers (half the units are off)."""
    fan_in, _ = _fans(shape)
    std = math.sqrt(2.0 / fan_in)
    return (std * _standard_normal(as_rng(rng), shape)).astype(dtype, copy=False)


def he_uniform(shape, rng, dtype=np.float64):
    """He/Kaiming uniform: U(-l, l) with l = sqrt(6 / fan_in)."""
    fan_in, _ = _fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return (limit * (2.0 * _uniform01(as_rng(rng), shape) - 1.0)).astype(dtype, copy=False)


INITIALIZERS = {
    "zeros": zeros,
    "normal": normal,
    "uniform": uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}


def get(init):
    """An initializer from its name (see ``INITIALIZERS``) or a callable."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except (KeyError, TypeError):
        raise HandpropValueError(
            f"unknown initializer {init!r}; choose one of {', '.join(INITIALIZERS)} or pass a function"
        ) from None
