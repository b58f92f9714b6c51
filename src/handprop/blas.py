"""How many BLAS threads a model trains with: one for a small model, all of them for a large one.

A small network's matrix products take microseconds; split over two threads, each product waits for
the other thread, and OpenBLAS's waiting threads spin. On a machine whose other core is busy that
wait is a time slice of the scheduler: a 40-100-100-10 MLP at batch 100 then runs about 10× slower
with two threads than with one (``benchmarks/busy.py`` measures it). A large network's products are
long enough for two threads to pay off, and keep them.

``fit`` (through ``model.fit``) and ``handprop train`` run their epochs inside
``blas_threads(model, batch_size)``. The rule: when one forward pass of a batch takes fewer than
``SMALL_WORK`` multiply-adds (``batch × Σ n_in·n_out`` over the layers' weights), BLAS is held to one
thread; otherwise nothing is changed. The thread count is set with ``threadpoolctl`` (the optional
``fast`` extra: ``pip install handprop[fast]``); without it nothing is changed, and NumPy runs as it
would. A user's own limit (``OPENBLAS_NUM_THREADS=1``, ``threadpool_limits``) is never raised.
"""

import contextlib

import numpy as np

# Multiply-adds of one batch's forward pass below which one thread is faster than two: the
# 40-100-100-10 MLP at batch 100 does 1.5e6 (one thread); the 784-256-128-10 MLP at batch 128 does
# 3e7 (two threads: 0.6× the one-thread time on a quiet 2-core machine).
SMALL_WORK = 2 ** 24

_controller = []  # threadpoolctl's ThreadpoolController, made once (it scans the loaded libraries)


def forward_work(model, batch_size):
    """Multiply-adds of one forward pass of ``batch_size`` rows: ``batch × Σ n_in·n_out``."""
    weights = (getattr(layer, "W", None) for layer in getattr(model, "layers", ()))
    return int(batch_size) * sum(int(np.size(W)) for W in weights if W is not None)


def threads_for(model, batch_size):
    """1 when ``model`` at ``batch_size`` is small enough that one BLAS thread is fastest, else None
    (leave the BLAS thread count as it is)."""
    if batch_size is None:
        return None
    return 1 if forward_work(model, batch_size) < SMALL_WORK else None


def _threadpool_controller():
    if not _controller:
        try:
            from threadpoolctl import ThreadpoolController  # optional: the `fast` extra
        except ImportError:
            return None
        _controller.append(ThreadpoolController())
    return _controller[0]


def blas_threads(model, batch_size):
    """A context manager that runs its body with the BLAS thread count chosen for ``model``.

    >>> with blas_threads(model, batch_size=100):
    ...     fit(model, X, y, batch_size=100)

    Does nothing for a large model, or when threadpoolctl is not installed.
    """
    n = threads_for(model, batch_size)
    controller = _threadpool_controller() if n is not None else None
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=n, user_api="blas")


def fit_batch_size(batch_size, X):
    """The rows of one batch as ``fit`` takes them: ``batch_size``, or every row when None;
    None when either is not what ``fit`` accepts: ``fit`` then refuses it in words, with no thread
    count changed."""
    try:
        n_rows = int(np.shape(X)[0])
    except (IndexError, TypeError, ValueError):  # a scalar, a ragged list, not an array at all
        return None
    if batch_size is None:
        return n_rows
    if isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool) and batch_size > 0:
        return min(int(batch_size), n_rows)
    return None
