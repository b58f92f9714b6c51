"""Initializers draw from the rng they are given, with the documented spread."""

import numpy as np
import pytest

from handprop import HandpropValueError, initializers as init


def test_legacy_randomstate_matches_np_random_seed_draws():
    np.random.seed(7)
    expected_randn = np.random.randn(3, 4)
    expected_rand = np.random.rand(2, 2)
    rs = np.random.RandomState(7)
    np.testing.assert_array_equal(init.normal((3, 4), rs), expected_randn)
    np.testing.assert_array_equal(init.uniform((2, 2), rs), expected_rand)


@pytest.mark.parametrize("name", ["normal", "uniform", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform"])
def test_generator_draws_are_reproducible(name):
    a = init.get(name)((20, 30), np.random.default_rng(3))
    b = init.get(name)((20, 30), np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (20, 30) and a.dtype == np.float64


@pytest.mark.parametrize("name,expected_std", [
    ("normal", 1.0),
    ("uniform", np.sqrt(1 / 12)),
    ("glorot_normal", np.sqrt(2 / (200 + 300))),
    ("glorot_uniform", np.sqrt(6 / 500) / np.sqrt(3)),
    ("he_normal", np.sqrt(2 / 200)),
    ("he_uniform", np.sqrt(6 / 200) / np.sqrt(3)),
])
def test_spread_matches_the_formula(name, expected_std):
    w = init.get(name)((200, 300), np.random.default_rng(0))
    assert w.std() == pytest.approx(expected_std, rel=0.02)
    if name == "uniform":
        assert 0 <= w.min() and w.max() < 1
    elif "uniform" in name:
        limit = expected_std * np.sqrt(3)
        assert -limit <= w.min() and w.max() <= limit


def test_zeros_and_dtype():
    assert not init.zeros((2, 3)).any()
    assert init.he_normal((4, 4), 0, dtype=np.float32).dtype == np.float32


def test_bad_rng_and_name():
    with pytest.raises(HandpropValueError, match="rng must be"):
        init.normal((2, 2), rng="42")
    with pytest.raises(HandpropValueError, match="unknown initializer"):
        init.get("orthogonal")
