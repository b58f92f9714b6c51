"""The BLAS thread count a model trains with: one thread for a small model, unchanged for a large one.

The oracle is threadpoolctl's own report of the thread count that OpenBLAS (or MKL) uses, read while
the training runs (from a callback) and after it.
"""

import sys

import numpy as np
import pytest

import handprop as hp
from handprop import blas
from handprop.cli import main

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    counts = {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}
    if not counts:
        pytest.skip("NumPy reports no BLAS library to threadpoolctl")
    return max(counts)


class _Watch(hp.callbacks.Callback):
    """Records the BLAS thread count at the end of every epoch."""

    def __init__(self):
        self.seen = []

    def on_epoch_end(self, state, logs):
        self.seen.append(_blas_threads())


def test_forward_work_is_batch_times_the_weights():
    model = hp.mlp([40, 100, 100, 10], rng=np.random.default_rng(0))
    assert blas.forward_work(model, 100) == 100 * (40 * 100 + 100 * 100 + 100 * 10)  # 1.5e6
    assert blas.threads_for(model, 100) == 1
    big = hp.mlp([784, 256, 128, 10], rng=np.random.default_rng(0))
    assert blas.forward_work(big, 128) == 128 * (784 * 256 + 256 * 128 + 128 * 10)  # 3.0e7
    assert blas.threads_for(big, 128) is None


def test_fit_batch_size_is_every_row_for_full_batch():
    X = np.zeros((30, 2))
    assert blas.fit_batch_size(None, X) == 30
    assert blas.fit_batch_size(8, X) == 8
    assert blas.fit_batch_size(100, X) == 30


def test_a_small_model_trains_with_one_thread_and_the_count_comes_back():
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        model = hp.mlp([4, 8, 2], rng=np.random.default_rng(0))
        watch = _Watch()
        rng = np.random.default_rng(1)
        model.fit(rng.normal(size=(32, 4)), rng.integers(0, 2, 32), loss="ce", epochs=3, batch_size=8,
                  callbacks=[watch], seed=0)
        assert watch.seen == [1, 1, 1]
        assert _blas_threads() == before == 2


def test_a_large_model_keeps_its_threads():
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        model = hp.mlp([600, 600, 2], rng=np.random.default_rng(0))  # 64 rows x 361,200 weights: 2.3e7
        watch = _Watch()
        rng = np.random.default_rng(1)
        model.fit(rng.normal(size=(64, 600)), rng.integers(0, 2, 64), loss="ce", epochs=1, callbacks=[watch], seed=0)
        assert watch.seen == [2]


def test_a_users_lower_limit_is_kept():
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        with blas.blas_threads(hp.mlp([600, 600, 2], rng=np.random.default_rng(0)), 64):
            assert _blas_threads() == 1


def test_without_threadpoolctl_nothing_changes(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # `import threadpoolctl` now fails
    monkeypatch.setattr(blas, "_controller", [])
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with blas.blas_threads(hp.mlp([4, 8, 2], rng=np.random.default_rng(0)), 8):
            assert _blas_threads() == 2


def test_handprop_train_trains_a_small_model_with_one_thread(tmp_path, capsys, monkeypatch):
    seen = []
    original = hp.training.fit

    def watched(*args, **kwargs):
        seen.append(_blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(hp.training, "fit", watched)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        code = main(["train", "--dataset", "xor", "--n", "64", "--layers", "8", "--epochs", "2", "--quiet",
                     "--out", str(tmp_path / "m.npz")])
        assert _blas_threads() == 2
    assert code == 0 and seen == [1]
