"""Specification of handprop.data.datasets: toy generators, the registry, sklearn sets, IDX/MNIST."""

import gzip
import struct

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from handprop.data import (
    DATASETS,
    Dataset,
    and_,
    blobs,
    circles,
    load_mnist,
    load_sklearn,
    make_dataset,
    moons,
    or_,
    read_idx,
    regression1d,
    spirals,
    xor,
)
from handprop.errors import DataError, FileFormatError, HandpropError, HandpropValueError

CLASSIFIERS = ["xor", "and", "or", "circles", "moons", "spirals", "blobs"]


# ------------------------------------------------------------------------------------- logic gates

@pytest.mark.parametrize("fn, labels", [(xor, [0, 1, 1, 0]), (and_, [0, 0, 0, 1]),
                                        (or_, [0, 1, 1, 1])])
def test_logic_gates_default_to_the_four_canonical_points(fn, labels):
    X, y = fn()
    assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert_array_equal(y, labels)
    assert X.dtype == np.float64 and y.dtype == np.int64


@pytest.mark.parametrize("fn, gate", [(xor, np.logical_xor), (and_, np.logical_and),
                                      (or_, np.logical_or)])
def test_logic_gates_with_n_draw_balanced_corners_labelled_by_the_gate(fn, gate):
    X, y = fn(n=103, seed=0)
    assert X.shape == (103, 2) and y.shape == (103,)
    # Without noise every point is a corner, and its label is the gate applied to it.
    assert set(map(tuple, X)) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert_array_equal(y, gate(X[:, 0], X[:, 1]).astype(np.int64))
    counts = np.unique(X, axis=0, return_counts=True)[1]
    assert counts.max() - counts.min() <= 1


def test_xor_noise_moves_points_around_their_corner():
    X, y = xor(n=400, noise=0.1, seed=1)
    corner = np.round(X).clip(0, 1)
    assert_array_equal(y, np.logical_xor(corner[:, 0], corner[:, 1]))
    assert 0.05 < np.std(X - corner) < 0.15


# ------------------------------------------------------------------------------------ 2-d shapes

@pytest.mark.parametrize("name", CLASSIFIERS + ["regression"])
def test_every_generator_returns_float64_X_and_documented_y(name):
    X, y = make_dataset(name, n=57, seed=3)
    assert X.dtype == np.float64 and X.ndim == 2 and X.shape[0] == 57
    if name == "regression":
        assert X.shape == (57, 1) and y.shape == (57, 1) and y.dtype == np.float64
    else:
        assert y.shape == (57,) and y.dtype == np.int64
        k = y.max() + 1
        assert set(np.unique(y)) == set(range(k))  # labels are exactly 0..k-1


@pytest.mark.parametrize("name", CLASSIFIERS + ["regression"])
def test_same_seed_gives_identical_arrays_different_seed_does_not(name):
    kwargs = {} if name == "blobs" else {"noise": 0.2}  # blobs' noise is cluster_std
    X1, y1 = make_dataset(name, n=50, seed=7, **kwargs)
    X2, y2 = make_dataset(name, n=50, seed=7, **kwargs)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    X3, _ = make_dataset(name, n=50, seed=8, **kwargs)
    assert not np.array_equal(X1, X3)


def test_generators_do_not_touch_the_global_rng():
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    moons(n=10, seed=1)
    spirals(n=10, noise=0.1)
    assert np.random.random() == before


def test_a_generator_can_be_passed_instead_of_a_seed():
    X1, _ = moons(n=20, seed=np.random.default_rng(5))
    X2, _ = moons(n=20, seed=5)
    assert_array_equal(X1, X2)


@pytest.mark.parametrize("fn", [circles, moons, spirals])
@pytest.mark.parametrize("n", [1, 2, 99, 200])
def test_two_class_sets_are_balanced_to_within_one(fn, n):
    _, y = fn(n=n, seed=0)
    counts = np.bincount(y, minlength=2)
    assert counts.sum() == n and abs(counts[0] - counts[1]) <= 1


@pytest.mark.parametrize("fn", [circles, moons, spirals])
def test_two_class_sets_are_shuffled_not_sorted_by_class(fn):
    _, y = fn(n=100, seed=0)
    assert 0 in y[:10] and 1 in y[:10]


def test_circles_radii_are_one_and_factor_without_noise():
    X, y = circles(n=100, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)


def test_moons_without_noise_lie_on_their_half_circles():
    X, y = moons(n=60, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0)


def test_spirals_arms_are_the_same_curve_rotated_half_a_turn():
    X, y = spirals(n=200, noise=0.0, seed=0)
    arm0 = X[y == 0][np.argsort(np.hypot(*X[y == 0].T))]
    arm1 = X[y == 1][np.argsort(np.hypot(*X[y == 1].T))]
    np.testing.assert_allclose(arm1, -arm0, atol=1e-12)
    assert np.hypot(*X.T).max() < 1.0


def test_blobs_fixed_centres_and_std():
    centres = [[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]]
    X, y = blobs(n=1000, centers=centres, cluster_std=[0.5, 2.0], seed=0)
    assert X.shape == (1000, 3) and set(np.bincount(y)) == {500}
    np.testing.assert_allclose(X[y == 1].mean(0), centres[1], atol=0.3)
    np.testing.assert_allclose(X[y == 0].std(0), 0.5, rtol=0.15)
    np.testing.assert_allclose(X[y == 1].std(0), 2.0, rtol=0.15)


def test_blobs_random_centres_follow_n_features_and_centers():
    X, y = blobs(n=30, centers=4, n_features=5, seed=0)
    assert X.shape == (30, 5) and set(y) == {0, 1, 2, 3}


def test_regression1d_is_a_sine_plus_noise():
    X, y = regression1d(n=500, noise=0.0, seed=0)
    assert np.all(np.abs(X) <= np.pi)
    np.testing.assert_allclose(y, np.sin(X))


# -------------------------------------------------------------------------------- registry, checks

def test_registry_holds_the_documented_names():
    assert set(DATASETS) == {"xor", "and", "or", "circles", "moons", "spirals", "blobs",
                             "regression"}
    assert DATASETS["regression"] is regression1d and DATASETS["and"] is and_


def test_make_dataset_unknown_name_lists_the_valid_ones():
    with pytest.raises(HandpropValueError, match=r"unknown dataset 'mnist'.*circles.*xor"):
        make_dataset("mnist")


def test_make_dataset_unknown_argument_lists_accepted_ones():
    with pytest.raises(HandpropValueError, match=r"'blobs' does not take noise.*cluster_std"):
        make_dataset("blobs", noise=0.1)


@pytest.mark.parametrize("call, match", [
    (lambda: moons(n=0), r"n must be > 0, got 0"),
    (lambda: moons(n=-3), r"n must be > 0"),
    (lambda: moons(n=2.5), r"n must be a positive integer, got 2\.5"),
    (lambda: xor(n=True), r"n must be a positive integer"),
    (lambda: circles(noise=-0.1), r"noise must be a finite number >= 0, got -0\.1"),
    (lambda: spirals(noise=float("nan")), r"noise must be a finite number >= 0"),
    (lambda: regression1d(noise="a"), r"noise must be a number"),
    (lambda: circles(factor=1.0), r"factor must be a number in \(0, 1\)"),
    (lambda: spirals(turns=0), r"turns must be a finite number > 0"),
    (lambda: blobs(centers=0), r"centers must be > 0"),
    (lambda: blobs(centers=[1, 2]), r"centers must be an int or an array of shape \(k, n_features\)"),
    (lambda: blobs(centers=2, cluster_std=[1, 2, 3]), r"cluster_std must be a number or a sequence of 2"),
    (lambda: blobs(cluster_std=-1), r"cluster_std must be finite and >= 0"),
    (lambda: moons(seed=-1), r"seed must be"),
])
def test_bad_arguments_are_refused_with_the_argument_named(call, match):
    with pytest.raises(HandpropValueError, match=match):
        call()


# ---------------------------------------------------------------------------------------- sklearn

@pytest.mark.slow  # imports scikit-learn (~2 s) and reads its sets
@pytest.mark.parametrize("name, shape, k", [("iris", (150, 4), 3), ("digits", (1797, 64), 10),
                                            ("wine", (178, 13), 3),
                                            ("breast_cancer", (569, 30), 2)])
def test_load_sklearn_returns_a_named_dataset(name, shape, k):
    pytest.importorskip("sklearn")
    ds = load_sklearn(name)
    assert isinstance(ds, Dataset)
    assert ds.X.shape == shape and ds.X.dtype == np.float64
    assert ds.y.shape == (shape[0],) and ds.y.dtype == np.int64
    assert set(np.unique(ds.y)) == set(range(k))
    assert len(ds.feature_names) == shape[1] and all(isinstance(f, str) for f in ds.feature_names)
    assert len(ds.class_names) == k and ds.target_name


@pytest.mark.slow  # imports scikit-learn (~2 s)
def test_load_sklearn_iris_names():
    pytest.importorskip("sklearn")
    ds = load_sklearn("iris")
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    assert ds.feature_names[0] == "sepal length (cm)"


def test_load_sklearn_unknown_name():
    with pytest.raises(HandpropValueError, match=r"unknown scikit-learn dataset 'mnist'.*iris"):
        load_sklearn("mnist")


def test_load_sklearn_without_sklearn_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(HandpropError, match=r'pip install "handprop\[datasets\]"'):
        load_sklearn("iris")


def test_core_import_does_not_import_sklearn():
    import subprocess
    import sys

    import os
    from pathlib import Path

    import handprop

    # Run from wherever this handprop was imported (an install or src/ on PYTHONPATH).
    src = str(Path(handprop.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    code = "import sys, handprop.data; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    assert out.stdout.strip() == "False"


# -------------------------------------------------------------------------------------------- IDX

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
             np.float64: 0x0E}


def idx_bytes(array, code=None, dims=None):
    """The bytes of an IDX file holding ``array``; ``code``/``dims`` let a test lie in the header."""
    array = np.asarray(array)
    code = IDX_CODES[array.dtype.type] if code is None else code
    dims = array.shape if dims is None else dims
    header = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", list(IDX_CODES))
def test_read_idx_round_trips_every_dtype_raw_and_gzipped(tmp_path, dtype, gz):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    # The name says nothing: gzip is recognised by its magic bytes, not by ".gz".
    got = read_idx(write(tmp_path / "data.bin", idx_bytes(array), gz))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert_array_equal(got, array)


def test_read_idx_one_dimensional(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], np.uint8)
    assert_array_equal(read_idx(write(tmp_path / "l.idx1", idx_bytes(labels))), labels)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_truncated_idx_names_the_file_and_both_byte_counts(tmp_path, gz):
    data = idx_bytes(np.zeros((10, 28, 28), np.uint8))  # 16 + 7840 bytes
    path = write(tmp_path / "images.idx3", data[:-100], gz)
    with pytest.raises(FileFormatError, match=r"images\.idx3.*7856 bytes.*has 7756 bytes"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_a_header_claiming_a_huge_size_is_refused_without_allocating_it(tmp_path, gz):
    # 4e9 x 4e9 x 4e9 bytes declared, 12 present: reading must not try to allocate the claim.
    lying = idx_bytes(np.zeros(12, np.uint8), dims=(4_000_000_000,) * 3)
    with pytest.raises(FileFormatError, match=r"lie\.idx.*declares shape.*but the .*has 28 bytes"):
        read_idx(write(tmp_path / "lie.idx", lying, gz))


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_trailing_data_is_refused(tmp_path, gz):
    data = idx_bytes(np.arange(6, dtype=np.uint8)) + b"extra"
    with pytest.raises(FileFormatError, match=r"t\.idx.*14 bytes.*has 19 bytes.*trailing"):
        read_idx(write(tmp_path / "t.idx", data, gz))


@pytest.mark.parametrize("content, match", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 0), r"not an IDX file.*01 00.*expected 00 00"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 0), r"unknown IDX dtype code 0x07"),
    (b"\x00\x00\x08\x00", r"declares 0 dimensions"),
    (b"\x00\x00", r"header needs 4 bytes but the file has 2"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x01", r"3-d header needs 16 bytes but the file has 8"),
    (b"PK\x03\x04 not idx", r"not an IDX file"),
])
def test_bad_idx_headers_are_refused(tmp_path, content, match):
    with pytest.raises(FileFormatError, match=match):
        read_idx(write(tmp_path / "bad.idx", content))


def test_corrupt_gzip_is_a_file_format_error(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    corrupt = data[:20] + bytes(b ^ 0xFF for b in data[20:40]) + data[40:]
    with pytest.raises(FileFormatError, match=r"c\.gz.*corrupt gzip"):
        read_idx(write(tmp_path / "c.gz", corrupt))


def write_mnist(directory, prefix, n, gz, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    ext = ".gz" if gz else ""
    write(directory / f"{prefix}-images-idx3-ubyte{ext}", idx_bytes(images), gz)
    write(directory / f"{prefix}-labels-idx1-ubyte{ext}", idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("kind, prefix", [("train", "train"), ("test", "t10k")])
def test_load_mnist_flattens_and_scales_to_unit_interval(tmp_path, kind, prefix, gz):
    images, labels = write_mnist(tmp_path, prefix, n=7, gz=gz)
    X, y = load_mnist(tmp_path, kind=kind)
    assert X.shape == (7, 784) and X.dtype == np.float32
    assert y.shape == (7,) and y.dtype == np.int64
    np.testing.assert_allclose(X, images.reshape(7, 784) / 255, rtol=1e-6)
    assert X.min() >= 0 and X.max() <= 1
    assert_array_equal(y, labels)


def test_load_mnist_missing_file_lists_the_names_tried(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz"):
        load_mnist(tmp_path)


def test_load_mnist_label_count_must_match(tmp_path):
    write_mnist(tmp_path, "train", n=5, gz=False)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match=r"5 images .* but 4 labels"):
        load_mnist(tmp_path)


def test_load_mnist_bad_kind():
    with pytest.raises(HandpropValueError, match=r"kind must be 'train' or 'test', got 'val'"):
        load_mnist(".", kind="val")
