"""Scratch arrays for the engine's fast path: made once, reused at every training step.

A training step that allocates nothing spends its time in arithmetic, not in ``malloc`` and page
faults, and keeps its working set in cache. Only the engine (``train_step``) uses these arrays;
the public ``forward``/``backward`` still return new arrays.
"""

import numpy as np


def scratch(owner, name, like, dtype=None):
    """``owner``'s array called ``name``, shaped like ``like`` (of ``dtype``, default like's).

    The same array is returned while shape and dtype stay the same; a new one replaces it when
    they change (a smaller last batch, a model cast to float32).
    """
    dtype = like.dtype if dtype is None else dtype
    buf = owner.__dict__.get(name)
    if buf is None or buf.shape != like.shape or buf.dtype != dtype:
        buf = np.empty(like.shape, dtype)
        owner.__dict__[name] = buf
    return buf
