"""Specification of handprop.data.preprocessing: scaler, label encoder, one-hot, splits."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

from handprop.data import (
    LabelEncoder,
    StandardScaler,
    one_hot,
    train_test_split,
    train_val_test_split,
)
from handprop.errors import DataError, HandpropValueError, ShapeError

# ---------------------------------------------------------------------------------- StandardScaler


def test_scaler_gives_zero_mean_unit_std_and_inverts():
    X = np.random.default_rng(0).normal(5.0, 3.0, size=(200, 4))
    scaler = StandardScaler()
    Z = scaler.fit_transform(X)
    assert_allclose(Z.mean(0), 0, atol=1e-12)
    assert_allclose(Z.std(0), 1, atol=1e-12)
    assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-12)
    assert_allclose(scaler.mean_, X.mean(0))
    assert_allclose(scaler.scale_, X.std(0))  # population std, ddof=0


def test_hand_worked_scaler():
    # column 0: mean 2, deviations -1, 0, 1 -> std sqrt(2/3); column 1 is constant.
    X = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]])
    scaler = StandardScaler().fit(X)
    assert_allclose(scaler.mean_, [2.0, 7.0])
    assert_allclose(scaler.scale_, [np.sqrt(2 / 3), 1.0])
    assert_allclose(scaler.transform(X)[:, 0], np.array([-1, 0, 1]) / np.sqrt(2 / 3))


def test_constant_columns_get_scale_one_even_with_rounding_noise():
    X = np.column_stack([np.full(1000, 0.1), np.full(1000, -3e7), np.arange(1000.0)])
    scaler = StandardScaler().fit(X)
    assert_array_equal(scaler.scale_[:2], [1.0, 1.0])
    Z = scaler.transform(X)
    assert np.all(np.isfinite(Z))
    assert_allclose(Z[:, :2], 0, atol=1e-9)


@pytest.mark.parametrize("dtype, expected", [(np.float32, np.float32), (np.float64, np.float64),
                                             (np.int64, np.float64), (np.uint8, np.float64)])
def test_scaler_output_dtype(dtype, expected):
    X = np.arange(12).reshape(6, 2).astype(dtype)
    scaler = StandardScaler().fit(X)
    assert scaler.transform(X).dtype == expected
    assert scaler.inverse_transform(scaler.transform(X)).dtype == expected
    assert scaler.mean_.dtype == np.float64


def test_scaler_config_round_trips_through_json_exactly():
    X = np.random.default_rng(1).standard_normal((50, 3)) * [1e-3, 1.0, 1e6]
    scaler = StandardScaler().fit(X)
    config = json.loads(json.dumps(scaler.to_config()))
    assert config["class"] == "StandardScaler"
    restored = StandardScaler.from_config(config)
    assert_array_equal(restored.mean_, scaler.mean_)
    assert_array_equal(restored.scale_, scaler.scale_)
    assert_array_equal(restored.transform(X), scaler.transform(X))


@pytest.mark.parametrize("call, error, match", [
    (lambda: StandardScaler().transform(np.ones((2, 2))), HandpropValueError, r"not fitted yet"),
    (lambda: StandardScaler().to_config(), HandpropValueError, r"not fitted yet"),
    (lambda: StandardScaler().fit(np.ones(3)), ShapeError, r"X must be 2-d .* got shape \(3,\)"),
    (lambda: StandardScaler().fit(np.ones((0, 3))), DataError, r"0 rows"),
    (lambda: StandardScaler().fit([[1.0, np.nan]]), DataError, r"NaN or infinite .* column\(s\) \[1\]"),
    (lambda: StandardScaler().fit([["a"]]), DataError, r"must be numeric"),
    (lambda: StandardScaler().fit(np.ones((3, 2))).transform(np.ones((3, 4))), ShapeError,
     r"X has 4 features but the StandardScaler was fitted on 2"),
    (lambda: StandardScaler.from_config({"mean": [0.0]}), HandpropValueError,
     r"not a StandardScaler config"),
    (lambda: StandardScaler.from_config({"mean": [0.0], "scale": [0.0]}), HandpropValueError,
     r"scale > 0"),
])
def test_scaler_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                  elements=finite))
def test_property_inverse_transform_undoes_transform(X):
    scaler = StandardScaler().fit(X)
    assert_allclose(scaler.inverse_transform(scaler.transform(X)), X, rtol=1e-9, atol=1e-6)
    assert np.all(scaler.scale_ > 0)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 5)),
                  elements=st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 3))))
def test_property_transformed_columns_have_mean_zero_and_std_one_or_zero(X):
    Z = StandardScaler().fit_transform(X)
    assert_allclose(Z.mean(0), 0, atol=1e-9)
    std = Z.std(0)
    assert np.all(np.isclose(std, 1, atol=1e-6) | np.isclose(std, 0, atol=1e-6))


# ----------------------------------------------------------------------------------- LabelEncoder

def test_label_encoder_maps_sorted_labels_to_indices_and_back():
    enc = LabelEncoder().fit(["dog", "cat", "bird", "cat"])
    assert enc.classes_.tolist() == ["bird", "cat", "dog"]
    assert_array_equal(enc.transform(["cat", "dog", "bird"]), [1, 2, 0])
    assert enc.transform(["cat"]).dtype == np.int64
    assert enc.inverse_transform([2, 0]).tolist() == ["dog", "bird"]


def test_label_encoder_on_integer_labels():
    enc = LabelEncoder()
    assert_array_equal(enc.fit_transform([10, -1, 10, 3]), [2, 0, 2, 1])
    assert enc.classes_.tolist() == [-1, 3, 10]


def test_unseen_label_names_the_label_and_the_known_classes():
    enc = LabelEncoder().fit(["cat", "dog"])
    with pytest.raises(DataError, match=r"unseen label 'cow' at position 1; the known classes are: "
                                        r"'cat', 'dog'"):
        enc.transform(["dog", "cow"])
    with pytest.raises(DataError, match=r"unseen label 7"):
        LabelEncoder().fit([1, 2]).transform([7])


@pytest.mark.parametrize("classes", [["b", "a", "c"], [3, 1, 2], [0.5, 1.5]])
def test_label_encoder_config_round_trips_through_json(classes):
    enc = LabelEncoder().fit(classes)
    restored = LabelEncoder.from_config(json.loads(json.dumps(enc.to_config())))
    assert_array_equal(restored.classes_, enc.classes_)
    assert_array_equal(restored.transform(classes), enc.transform(classes))


@pytest.mark.parametrize("call, error, match", [
    (lambda: LabelEncoder().transform([1]), HandpropValueError, r"not fitted yet"),
    (lambda: LabelEncoder().fit([[1, 2]]), ShapeError, r"y must be 1-d"),
    (lambda: LabelEncoder().fit([1.0, np.nan]), DataError, r"NaN is not a class"),
    (lambda: LabelEncoder().fit(np.array([1, "a"], dtype=object)), DataError, r"mix types"),
    (lambda: LabelEncoder().fit(["a", "b"]).inverse_transform([2]), DataError,
     r"indices\[0\] = 2 is outside 0\.\.1"),
    (lambda: LabelEncoder.from_config({"class": "StandardScaler", "classes": []}),
     HandpropValueError, r"not a LabelEncoder config"),
])
def test_label_encoder_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# NumPy string arrays drop trailing NUL characters, so labels are drawn without them.
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=3)
                | st.integers(-5, 5).map(str), min_size=1, max_size=30))
def test_property_label_encoder_round_trip(labels):
    enc = LabelEncoder().fit(labels)
    idx = enc.transform(labels)
    assert idx.min() >= 0 and idx.max() < len(enc.classes_)
    assert enc.inverse_transform(idx).tolist() == labels


# ---------------------------------------------------------------------------------------- one_hot

def test_one_hot():
    assert_array_equal(one_hot([2, 0, 1]), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    out = one_hot(np.array([1]), n_classes=4, dtype=np.float32)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    assert_array_equal(one_hot(np.array([0.0, 2.0])), [[1, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize("y, kwargs, match", [
    ([0, 3], {"n_classes": 3}, r"y\[1\] = 3 is outside 0\.\.2"),
    ([0, -1], {}, r"y\[1\] = -1 is negative"),
    ([0, -1], {"n_classes": 2}, r"y\[1\] = -1 is outside 0\.\.1"),
    ([0.5], {}, r"whole-number class indices"),
    (["a"], {}, r"integer class indices.*LabelEncoder"),
])
def test_one_hot_refuses_bad_labels(y, kwargs, match):
    with pytest.raises(DataError, match=match):
        one_hot(y, **kwargs)


def test_one_hot_bad_n_classes():
    with pytest.raises(HandpropValueError, match=r"n_classes must be a positive integer or None, got 0"):
        one_hot([0], n_classes=0)


@given(st.lists(st.integers(0, 9), min_size=1, max_size=50))
def test_property_one_hot_rows_sum_to_one_and_argmax_recovers_labels(y):
    out = one_hot(y, n_classes=10)
    assert_array_equal(out.sum(1), 1)
    assert_array_equal(out.argmax(1), y)


# ----------------------------------------------------------------------------------------- splits

def data(n=100, seed=0):
    X = np.arange(n * 2, dtype=np.float64).reshape(n, 2)  # row i is [2i, 2i+1]: traceable
    y = np.random.default_rng(seed).integers(0, 3, size=n)
    return X, y


def rows(X):
    return (X[:, 0] // 2).astype(int)


def test_train_test_split_partitions_rows_and_keeps_pairs_together():
    X, y = data()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=0)
    assert len(X_te) == 25 and len(X_tr) == 75
    assert sorted(np.concatenate([rows(X_tr), rows(X_te)])) == list(range(100))
    assert_array_equal(y[rows(X_tr)], y_tr)
    assert_array_equal(y[rows(X_te)], y_te)


def test_splits_are_reproducible_by_seed():
    X, y = data()
    a = train_val_test_split(X, y, 0.2, 0.1, seed=42, stratify=True)
    b = train_val_test_split(X, y, 0.2, 0.1, seed=42, stratify=True)
    c = train_val_test_split(X, y, 0.2, 0.1, seed=43, stratify=True)
    for u, v in zip(a, b):
        assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_stratified_split_keeps_class_proportions_exactly():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.zeros((100, 1))
    _, _, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    assert_array_equal(np.bincount(y_te), [12, 6, 2])
    assert_array_equal(np.bincount(y_tr), [48, 24, 8])


def test_stratified_rounding_is_shared_so_sizes_are_exact():
    # 3 classes of 7: 0.3 * 7 = 2.1 each, total round(6.3) = 6, so each class gives exactly 2.
    y = np.repeat([0, 1, 2], 7)
    _, _, _, y_te = train_test_split(np.zeros((21, 1)), y, test_size=0.3, seed=0, stratify=True)
    assert len(y_te) == 6 and sorted(np.bincount(y_te)) == [2, 2, 2]
    # 0.4 * 21 = 8.4 -> 8 test rows: 2.8 per class, so two classes give 3 and one gives 2.
    _, _, _, y_te = train_test_split(np.zeros((21, 1)), y, test_size=0.4, seed=0, stratify=True)
    assert len(y_te) == 8 and sorted(np.bincount(y_te)) == [2, 3, 3]


def test_three_way_stratified_split():
    y = np.repeat([0, 1], [80, 20])
    X = np.arange(100)[:, None]
    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, val_size=0.1, test_size=0.2,
                                                              seed=0, stratify=True)
    assert (len(y_tr), len(y_va), len(y_te)) == (70, 10, 20)
    assert_array_equal(np.bincount(y_va), [8, 2])
    assert_array_equal(np.bincount(y_te), [16, 4])
    assert sorted(np.concatenate([X_tr, X_va, X_te]).ravel()) == list(range(100))


def test_split_works_on_a_memory_map_and_reads_only_selected_rows(tmp_path):
    X = np.arange(40.0).reshape(20, 2)
    np.save(tmp_path / "X.npy", X)
    mm = np.load(tmp_path / "X.npy", mmap_mode="r")
    X_tr, X_te, y_tr, y_te = train_test_split(mm, np.arange(20), test_size=0.5, seed=0)
    assert_array_equal(X_tr, X[y_tr])
    assert_array_equal(X_te, X[y_te])


@pytest.mark.parametrize("call, error, match", [
    (lambda X, y: train_test_split(X, y, test_size=0), HandpropValueError,
     r"test_size must be a fraction in \(0, 1\), got 0"),
    (lambda X, y: train_test_split(X, y, test_size=1.5), HandpropValueError, r"test_size"),
    (lambda X, y: train_test_split(X, y, test_size=20), HandpropValueError, r"got 20"),
    (lambda X, y: train_val_test_split(X, y, 0.6, 0.5), HandpropValueError,
     r"val_size \+ test_size must be < 1.*0\.6 \+ 0\.5"),
    (lambda X, y: train_val_test_split(X, y, -0.1, 0.5), HandpropValueError, r"val_size"),
    (lambda X, y: train_test_split(X, y[:5]), ShapeError, r"same number of rows.*\(10, 2\).*\(5,\)"),
    (lambda X, y: train_test_split(X[:1], y[:1]), DataError, r"1 samples are too few"),
    (lambda X, y: train_test_split(X, y + 0.5, stratify=True), DataError, r"fractional"),
    (lambda X, y: train_test_split(X, np.ones((10, 2)), stratify=True), ShapeError, r"1-d class"),
])
def test_split_errors(call, error, match):
    X, y = data(10)
    with pytest.raises(error, match=match):
        call(X, y)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(n=st.integers(3, 200), val=st.floats(0.01, 0.45), test=st.floats(0.01, 0.45),
       k=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), stratify=st.booleans())
def test_property_split_is_a_partition_with_proportional_classes(n, val, test, k, seed, stratify):
    X = np.arange(n)[:, None]
    y = np.random.default_rng(seed).integers(0, k, size=n)
    try:
        parts = train_val_test_split(X, y, val, test, seed=seed, stratify=stratify)
    except DataError:  # too few rows for three non-empty parts
        assert n * (1 - val - test) < 1.5 or n < 3
        return
    X_tr, X_va, X_te, y_tr, y_va, y_te = parts
    assert sorted(np.concatenate([X_tr, X_va, X_te]).ravel()) == list(range(n))
    assert len(X_va) == max(1, int(np.floor(val * n + 0.5)))
    assert len(X_te) == max(1, int(np.floor(test * n + 0.5)))
    if stratify:
        counts = np.bincount(y, minlength=k)
        for part in (y_te, y_va):
            expected = counts * len(part) / n
            # each class within 2 rows of its share (1 for each held-out part's rounding)
            assert np.all(np.abs(np.bincount(part, minlength=k) - expected) <= 2)
