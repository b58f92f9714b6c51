"""Shared helpers: finite-difference checks of a layer or loss with a random upstream gradient."""

import os

# `python -m pytest` runs the tests in two worker processes (pytest-xdist, `-n 2` in pyproject.toml), one per
# core of a 2-core machine. Each worker then gets one BLAS and one PyTorch thread: two threads each would put
# four spinning threads on two cores, the oversubscription the "busy machine" benchmark row is about. This
# must happen before NumPy or PyTorch starts its thread pool; `-n 0` runs in one process, threads unchanged.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # OpenBLAS reads it too when OPENBLAS_NUM_THREADS is unset
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pytest
from hypothesis import settings

from handprop.gradcheck import numerical_gradient, relative_error

TOLERANCE = 1e-7

# In CI the generated examples are the same on every run (a red CI then means a real change, never
# a new random draw); run locally, hypothesis keeps exploring new examples.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def check_layer_gradients(layer, x, rng, tol=TOLERANCE):
    """Compare a layer's backward with central differences of ``sum(forward(x) * G)``.

    ``G`` is a random upstream gradient: with all ones, some wrong backwards (a sign-flipped
    softmax) would pass. Checks the input gradient and every parameter gradient.
    """
    out = layer.forward(x)
    G = rng.standard_normal(out.shape)
    grad_x = layer.backward(G)
    f = lambda: float(np.sum(layer.forward(x) * G))
    errors = {"x": relative_error(grad_x, numerical_gradient(f, x))}
    layer.forward(x)
    layer.backward(G)
    analytic = {name: getattr(layer, "d" + name).copy() for name in layer.param_names}
    for name in layer.param_names:
        errors[name] = relative_error(analytic[name], numerical_gradient(f, getattr(layer, name)))
    for name, err in errors.items():
        assert err < tol, f"{type(layer).__name__}: gradient of {name} is off (relative error {err:.2e})"
    return errors


def check_loss_gradient(loss, pred, target, tol=TOLERANCE):
    loss.forward(pred, target)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(pred, target), pred)
    err = relative_error(analytic, numeric)
    assert err < tol, f"{loss!r}: gradient off (relative error {err:.2e})"
    return err


# Slow tests (end-to-end benchmark runs, kill-and-resume loops, long trainings) carry
# ``@pytest.mark.slow``. A bare ``python -m pytest -q`` skips them so the inner loop stays fast (the aim: under
# 30 s on a quiet 2-core machine);
# ``--runslow`` (what the README's test command and CI use) or ``-m slow`` runs them.
def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a slow test, run with --runslow or -m slow")


def _run_slow(config):
    return config.getoption("--runslow") or "slow" in (config.getoption("-m") or "")


# Modules that a bare run does not even collect (unless named on the command line): importing
# scikit-learn or onnx costs 1-2 s each, more than those modules' fast tests take. --runslow runs them.
SLOW_MODULES = {"test_sklearn.py", "test_export_onnx.py"}


def pytest_ignore_collect(collection_path, config):
    if collection_path.name not in SLOW_MODULES or _run_slow(config):
        return None
    named = {os.path.basename(str(arg).split("::")[0]) for arg in config.args}
    return None if collection_path.name in named else True


def pytest_collection_modifyitems(config, items):
    if _run_slow(config):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow (CI does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
