"""Batches: ``training.iter_batches`` and ``handprop._gather`` (rows gathered into a reused array,
from memory or read from a memory-mapped file)."""

import numpy as np
import pytest

from handprop import SGD, Dense, Sequential
from handprop.training import iter_batches


@pytest.mark.parametrize("shuffle", [True, False])
def test_iter_batches_covers_every_row_once_without_copying_the_data(shuffle):
    X = np.arange(30.0).reshape(10, 3)
    y = np.arange(10)
    rows, labels = [], []
    for Xb, yb in iter_batches(X, y, 4, shuffle, np.random.default_rng(0)):
        assert len(Xb) == len(yb) <= 4
        rows.append(Xb.copy())
        labels.append(yb.copy())
    rows, labels = np.concatenate(rows), np.concatenate(labels)
    np.testing.assert_array_equal(rows[:, 0] / 3, labels)
    assert sorted(labels) == list(range(10))
    if shuffle:  # the same order as the permutation drawn from the same seed
        np.testing.assert_array_equal(labels, np.random.default_rng(0).permutation(10))


def test_iter_batches_reads_a_memory_mapped_file(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.arange(40.0).reshape(20, 2))
    X = np.load(path, mmap_mode="r")
    y = np.arange(20)
    got = np.concatenate([yb.copy() for _, yb in iter_batches(X, y, 6, True, np.random.default_rng(1))])
    assert sorted(got) == list(range(20))
    model = Sequential([Dense(2, 1, rng=0)])
    model.fit(X, X[:, :1] * 0.01, loss="mse", optimizer=SGD(lr=0.001), epochs=2, batch_size=6, seed=0)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("mode", ["r", "r+", "c"])
def test_rows_of_a_memory_mapped_file_are_read_from_the_file(tmp_path, shuffle, mode):
    from handprop._gather import Rows

    path = tmp_path / "X.npy"
    data = np.random.default_rng(2).standard_normal((50, 4)).astype(np.float32)
    np.save(path, data)
    X = np.load(path, mmap_mode=mode)
    y = np.load(path, mmap_mode=mode)[:, 0]  # 1-D, strided: read through the mapping
    assert (Rows(np.asarray(X)).file is not None) == (mode != "c")  # copy-on-write: the mapping
    assert Rows(y).file is None and Rows(X[:, :2]).file is None
    rng = np.random.default_rng(3)
    got = [(Xb.copy(), yb.copy()) for Xb, yb in iter_batches(X, y, 8, shuffle, rng)]
    order = np.random.default_rng(3).permutation(50) if shuffle else np.arange(50)
    np.testing.assert_array_equal(np.concatenate([g[0] for g in got]), data[order])
    np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), data[order, 0])


def test_chunks_cover_a_memory_mapped_array_without_its_mapping(tmp_path):
    from handprop._gather import Rows

    path = tmp_path / "X.npy"
    data = np.random.default_rng(4).standard_normal((70, 3)).astype(np.float32)
    np.save(path, data)
    for X in (np.load(path, mmap_mode="r"), data):
        parts = [c.copy() for c in Rows(X).chunks(16)]
        assert [len(c) for c in parts] == [16, 16, 16, 16, 6]
        np.testing.assert_array_equal(np.concatenate(parts), data)


def test_memory_mapped_tells_a_file_backed_array_and_its_views(tmp_path):
    from handprop._gather import memory_mapped

    a = np.arange(12.0).reshape(6, 2)
    np.save(tmp_path / "a.npy", a)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    assert memory_mapped(mapped) and memory_mapped(mapped[2:4]) and memory_mapped(mapped[:, 0])
    assert not memory_mapped(a) and not memory_mapped(a[1:]) and not memory_mapped(np.array(mapped))
