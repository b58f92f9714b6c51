"""Conv1D, MaxPool1D and AvgPool1D: equal to PyTorch in float64, and checked by finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _gradients import check_layer_gradients
from _lazy import F, torch
from handprop.conv import AvgPool1D, Conv1D, MaxPool1D, add_windows, out_length, windows
from handprop.errors import HandpropValueError, ShapeError, TooLargeError

pytestmark = pytest.mark.torch  # compares with PyTorch (tests/_lazy.py)

CONV_CASES = [  # (C, O, K, stride, padding, dilation, L)
    (1, 3, 5, 1, 0, 1, 17),
    (2, 4, 3, 2, 1, 1, 15),
    (3, 2, 4, 3, 2, 2, 23),
    (2, 5, 1, 1, 0, 1, 7),
    (1, 25, 5, 2, 0, 1, 40),
    (4, 3, 3, 2, 3, 3, 11),
    (2, 2, 7, 1, 3, 1, 7),
]


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("C,O,K,s,p,d,L", CONV_CASES)
def test_conv1d_equals_torch_forward_and_gradients(C, O, K, s, p, d, L):
    rng = np.random.default_rng(L * 7 + K)
    layer = Conv1D(C, O, K, stride=s, padding=p, dilation=d, rng=rng)
    x = rng.standard_normal((3, C, L))
    y = layer.forward(x)
    G = rng.standard_normal(y.shape)
    dx = layer.backward(G)
    xt, Wt, bt = _t(x), _t(layer.W), _t(layer.b)
    yt = F.conv1d(xt, Wt, bt, stride=s, padding=p, dilation=d)
    (yt * torch.tensor(G)).sum().backward()
    assert y.shape == tuple(yt.shape) == (3, O) + (layer.output_size((C, L))[1],)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.dW, Wt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.db, bt.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("C,O,K,s,p,d,L", CONV_CASES[:4])
@pytest.mark.parametrize("batch", [1, 4])
def test_conv1d_gradcheck(C, O, K, s, p, d, L, batch):
    rng = np.random.default_rng(0)
    layer = Conv1D(C, O, K, stride=s, padding=p, dilation=d, rng=rng)
    check_layer_gradients(layer, rng.standard_normal((batch, C, L)), rng)


def test_conv1d_hand_worked_example():
    # x = [1, 2, 3, 4], W = [1, 0, -1], b = 0.5: y[l] = x[l] - x[l+2] + 0.5 = [-1.5, -1.5]
    layer = Conv1D(1, 1, 3, weight=[[[1.0, 0.0, -1.0]]], bias=[0.5])
    y = layer.forward(np.array([[[1.0, 2.0, 3.0, 4.0]]]))
    np.testing.assert_array_equal(y, [[[-1.5, -1.5]]])
    # upstream [1, 2]: dW[k] = Σ_l x[l+k]·g[l] = [1+4, 2+6, 3+8]; db = 3;
    # dx[i] = Σ_l W[i-l]·g[l] = [1, 2, -1, -2]
    dx = layer.backward(np.array([[[1.0, 2.0]]]))
    np.testing.assert_array_equal(layer.dW, [[[5.0, 8.0, 11.0]]])
    np.testing.assert_array_equal(layer.db, [3.0])
    np.testing.assert_array_equal(dx, [[[1.0, 2.0, -1.0, -2.0]]])


def test_windows_and_add_windows_are_adjoint():
    # <windows(x), c> == <x, add_windows(c)> for any x, c: col2im is im2col's transpose
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 19))
    cols = windows(x, 4, 3, 2)
    c = rng.standard_normal(cols.shape)
    assert cols.shape == (2, 3, 4, out_length(19, 4, 3, 2)) == (2, 3, 4, 5)  # (19 - 2·3 - 1) // 3 + 1
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * add_windows(c, 19, 3, 2)), rtol=1e-12)


POOL_CASES = [(2, None, 9), (3, None, 10), (3, 1, 8), (2, 3, 11), (4, 2, 13), (1, 1, 5)]


@pytest.mark.parametrize("K,s,L", POOL_CASES)
@pytest.mark.parametrize("cls,fn", [(MaxPool1D, "max_pool1d"), (AvgPool1D, "avg_pool1d")])
def test_pools_equal_torch(cls, fn, K, s, L):
    rng = np.random.default_rng(K * 10 + L)
    layer = cls(K, stride=s)
    x = rng.standard_normal((3, 2, L))
    y = layer.forward(x)
    G = rng.standard_normal(y.shape)
    dx = layer.backward(G)
    xt = _t(x)
    yt = getattr(F, fn)(xt, K, stride=s)
    (yt * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    assert layer.output_size((2, L)) == y.shape[1:]


@pytest.mark.parametrize("cls", [MaxPool1D, AvgPool1D])
@pytest.mark.parametrize("K,s", [(2, None), (3, 2), (2, 1)])
def test_pools_gradcheck(cls, K, s):
    rng = np.random.default_rng(3)
    x = rng.permutation(60).reshape(2, 3, 10) / 10.0  # distinct values: no ties at the max's kink
    check_layer_gradients(cls(K, stride=s), x, rng)


def test_maxpool_overlapping_windows_add_gradients():
    # windows [1,5],[5,2],[2,0] with stride 1: 5 is the max twice and receives both gradients
    layer = MaxPool1D(2, stride=1)
    np.testing.assert_array_equal(layer.forward(np.array([[[1.0, 5.0, 2.0, 0.0]]])), [[[5.0, 5.0, 2.0]]])
    np.testing.assert_array_equal(layer.backward(np.array([[[1.0, 10.0, 100.0]]])), [[[0.0, 11.0, 100.0, 0.0]]])


BAD = [
    (lambda: Conv1D(0, 1, 3), HandpropValueError, "in_channels must be a positive integer, got 0"),
    (lambda: Conv1D(1, 1, 3, stride=1.5), HandpropValueError, "stride must be a positive integer"),
    (lambda: Conv1D(1, 1, 3, padding=-1), HandpropValueError, "padding must be an integer >= 0, got -1"),
    (lambda: Conv1D(1, 2, 3, weight=np.zeros((2, 1, 2))), ShapeError, r"weight has shape \(2, 1, 2\), expected \(2, 1, 3\)"),
    (lambda: Conv1D(1, 2, 3, bias=[np.nan, 0]), HandpropValueError, "bias holds NaN"),
    (lambda: Conv1D(2, 1, 3).forward(np.zeros((1, 3, 9))), ShapeError, "x has 3 channels"),
    (lambda: Conv1D(1, 1, 3).forward(np.zeros((1, 9))), ShapeError, r"expects \(samples, 1 channels, length\)"),
    (lambda: Conv1D(1, 1, 5, dilation=2).forward(np.zeros((1, 1, 8))), ShapeError, "too short for a kernel reaching 9"),
    (lambda: Conv1D(1, 1, 3).backward(np.zeros((1, 1, 1))), Exception, "before forward"),
    (lambda: Conv1D(10**6, 10**6, 10**4), TooLargeError, r"Conv1D\(1000000, 1000000, 10000\) \(its weights.*use fewer channels"),
    (lambda: MaxPool1D(0), HandpropValueError, "kernel_size must be a positive integer"),
    (lambda: AvgPool1D(4).forward(np.zeros((1, 1, 3))), ShapeError, "shorter than the kernel"),
    (lambda: MaxPool1D(2).output_size(10), ShapeError, r"put Reshape\(\(channels, length\)\) before it"),
]


@pytest.mark.parametrize("make,error,match", BAD)
def test_bad_arguments_are_refused_in_words(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(C=st.integers(1, 3), O=st.integers(1, 3), K=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 3),
       d=st.integers(1, 3), extra=st.integers(0, 9), N=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_conv1d_equals_torch_for_any_settings(C, O, K, s, p, d, extra, N, seed):
    L = max(1, d * (K - 1) + 1 - 2 * p) + extra  # long enough for one window
    rng = np.random.default_rng(seed)
    layer = Conv1D(C, O, K, stride=s, padding=p, dilation=d, rng=rng)
    x = rng.standard_normal((N, C, L))
    y = layer.forward(x)
    G = rng.standard_normal(y.shape)
    dx = layer.backward(G)
    xt, Wt = _t(x), _t(layer.W)
    yt = F.conv1d(xt, Wt, torch.tensor(layer.b), stride=s, padding=p, dilation=d)
    (yt * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.dW, Wt.grad.numpy(), rtol=0, atol=1e-10)
