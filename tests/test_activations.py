"""Activation layers: each backward is the chain-rule factor da/dz applied to the upstream gradient."""

import warnings
import zlib

import numpy as np
import pytest
from _gradients import check_layer_gradients
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handprop import HandpropError, HandpropValueError, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from handprop.activations import get, sigmoid

ALL = [Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Identity]


def _away_from_kink(x):
    # ReLU's derivative jumps at 0: keep finite differences (h = 1e-6) from straddling it.
    return np.where(np.abs(x) < 0.1, x + np.sign(x + 1e-12) * 0.2, x)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (6, 4)])
def test_gradients_match_finite_differences(cls, shape):
    rng = np.random.default_rng(zlib.crc32(f"{cls.__name__}{shape}".encode()))
    x = _away_from_kink(2 * rng.standard_normal(shape))
    check_layer_gradients(cls(), x, rng)


def test_sigmoid_is_the_blog_formula_and_its_derivative_a_times_one_minus_a():
    z = np.linspace(-5, 5, 11).reshape(1, -1)
    layer = Sigmoid()
    a = layer.forward(z)
    np.testing.assert_array_equal(a, 1 / (1 + np.exp(-z)))
    np.testing.assert_array_equal(layer.backward(np.ones_like(z)), a * (1 - a))


def test_relu_and_leaky_relu_values():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ReLU().forward(z), [[0.0, 0.0, 3.0]])
    leaky = LeakyReLU(alpha=0.1)
    np.testing.assert_allclose(leaky.forward(z), [[-0.2, 0.0, 3.0]])
    np.testing.assert_allclose(leaky.backward(np.ones_like(z)), [[0.1, 0.1, 1.0]])


def test_tanh_derivative_is_one_minus_a_squared():
    z = np.array([[-1.0, 0.5]])
    layer = Tanh()
    a = layer.forward(z)
    np.testing.assert_array_equal(a, np.tanh(z))
    np.testing.assert_allclose(layer.backward(np.ones_like(z)), 1 - np.tanh(z) ** 2, rtol=1e-15)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (3, 4), elements=st.floats(-1e4, 1e4)), st.floats(-1e3, 1e3))
def test_softmax_rows_sum_to_one_and_ignore_a_shift(z, shift):
    a = Softmax().forward(z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(Softmax().forward(z + shift), a, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", ALL)
def test_extreme_inputs_stay_finite_without_warnings(cls, dtype):
    z = np.array([[-1e4, -100.0, 0.5, 100.0, 1e4]], dtype=dtype)
    layer = cls()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = layer.forward(z)
        g = layer.backward(np.ones_like(z))
    assert a.dtype == dtype and g.dtype == dtype
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(g))


def test_sigmoid_saturates_at_its_limits_and_the_layer_says_nothing_of_the_overflow():
    # e^(10000) is beyond float64: inf, and 1 / (1 + inf) = 0, σ's limit; e^(−10000) = 0 gives 1
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would fail here
        np.testing.assert_array_equal(Sigmoid().forward(np.array([[-1e4, -800.0, 1e4]])), [[0.0, 0.0, 1.0]])


def test_backward_before_forward_and_bad_names():
    with pytest.raises(HandpropError, match="Sigmoid.backward was called before forward"):
        Sigmoid().backward(np.ones((1, 1)))
    with pytest.raises(HandpropValueError, match="unknown activation 'swish'"):
        get("swish")
    with pytest.raises(HandpropValueError, match="alpha must be in"):
        LeakyReLU(alpha=-1)
