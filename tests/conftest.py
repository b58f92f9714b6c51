"""Test settings: worker threads, hypothesis's CI profile, slow tests.

The finite-difference checks the layer and loss tests share are in ``_gradients.py``."""

import os
import sys

# `python -m pytest` runs the tests in two worker processes (pytest-xdist, `-n 2` in pyproject.toml), one per
# core of a 2-core machine. Each worker then gets one BLAS and one PyTorch thread: two threads each would put
# four spinning threads on two cores, the oversubscription the "busy machine" benchmark row is about. This
# must happen before NumPy or PyTorch starts its thread pool; `-n 0` runs in one process, threads unchanged.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # OpenBLAS reads it too when OPENBLAS_NUM_THREADS is unset
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest


# Slow tests (end-to-end benchmark runs, kill-and-resume loops, long trainings) carry
# ``@pytest.mark.slow``. A bare ``python -m pytest -q`` skips them so the inner loop stays fast (the aim: under
# 30 s on a quiet 2-core machine);
# ``--runslow`` (what the README's test command and CI use) or ``-m slow`` runs them.
def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a slow test, run with --runslow or -m slow")
    config.addinivalue_line("markers", "torch: imports PyTorch (2 s): run by the worker that imports it")
    config.addinivalue_line("markers", "matplotlib: imports matplotlib (1 s): run by the worker that imports it")
    # In CI the generated examples are the same on every run (a red CI then means a real change, never
    # a new random draw); run locally, hypothesis keeps exploring new examples. Only where tests run:
    # the process that hands tests to the workers has no use for hypothesis (0.4 s of imports).
    if os.environ.get("CI") and not _hands_tests_to_workers(config):
        from hypothesis import settings

        settings.register_profile("ci", derandomize=True, deadline=None)
        settings.load_profile("ci")


def _hands_tests_to_workers(config):
    """Whether this is pytest-xdist's controller (``-n 2``): it collects and runs no test itself."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def _run_slow(config):
    """``--runslow``, or a mark expression that asks for the slow tests (``-m slow``, not ``-m "not slow"``)."""
    marks = config.getoption("-m") or ""
    return config.getoption("--runslow") or ("slow" in marks and "not slow" not in marks)


# Modules that a bare run does not even collect (unless named on the command line): importing
# scikit-learn or onnx costs 1-2 s each, more than those modules' fast tests take; the browser tests are
# all slow, and importing Playwright and uvicorn costs 0.4 s. --runslow runs them.
SLOW_MODULES = {"test_sklearn.py", "test_export_onnx.py", "test_playground_browser.py"}


def pytest_ignore_collect(collection_path, config):
    if collection_path.name not in SLOW_MODULES or _run_slow(config):
        return None
    named = {os.path.basename(str(arg).split("::")[0]) for arg in config.args}
    return None if collection_path.name in named else True


HEAVY_IMPORTS = {"torch", "matplotlib"}


def pytest_collection_modifyitems(config, items):
    # The tests that import PyTorch or matplotlib (marked so; see ``_lazy.py``) go first: pytest-xdist's
    # worksteal hands the first half of the tests to the first worker and moves work only from the end
    # of a queue, so the other worker never spends the 3 s that importing them takes.
    items.sort(key=lambda item: not any(item.get_closest_marker(name) for name in HEAVY_IMPORTS))
    if _run_slow(config):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow (CI does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """A worker process (``-n 2``) ends at once, its last hook run: its results are already with the
    controller (pytest-xdist sends them when the session finishes, before this hook), and an interpreter
    that has imported PyTorch and matplotlib takes 1-2 s to tear down, which the whole run would wait for."""
    if hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.workeroutput.get("exitstatus", 0))
