"""Flatten and Reshape: the same values, rearranged; backward rearranges the gradient back."""

import numpy as np
import pytest

from _gradients import check_layer_gradients
from _lazy import torch
from handprop.errors import HandpropValueError, ShapeError
from handprop.shape import Flatten, Reshape

pytestmark = pytest.mark.torch  # compares with PyTorch (tests/_lazy.py)


@pytest.mark.parametrize("shape", [(1, 40), (4, 10), (2, 5, 4), (40,)])
def test_reshape_equals_torch_and_flatten_inverts_it(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 40))
    layer, flat = Reshape(shape), Flatten()
    y = layer.forward(x)
    G = rng.standard_normal(y.shape)
    xt = torch.tensor(x, requires_grad=True)
    yt = xt.reshape((3,) + shape)
    (yt * torch.tensor(G)).sum().backward()
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(layer.backward(G), xt.grad.numpy())
    np.testing.assert_array_equal(flat.forward(y), x)
    np.testing.assert_array_equal(flat.backward(x), y)
    assert layer.output_size(40) == (shape if len(shape) > 1 else 40)
    assert flat.output_size(shape) == 40


def test_flatten_equals_torch_flatten():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5))
    G = rng.standard_normal((2, 15))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.Flatten()(xt)
    (yt * torch.tensor(G)).sum().backward()
    layer = Flatten()
    np.testing.assert_array_equal(layer.forward(x), yt.detach().numpy())
    np.testing.assert_array_equal(layer.backward(G), xt.grad.numpy())


@pytest.mark.parametrize("layer,x_shape", [(Reshape((2, 3)), (4, 6)), (Flatten(), (1, 2, 3)), (Flatten(), (3, 2, 2, 2))])
def test_gradcheck(layer, x_shape):
    rng = np.random.default_rng(2)
    check_layer_gradients(layer, rng.standard_normal(x_shape), rng)


def test_reshape_config_rebuilds_it():
    layer = Reshape((1, 40))
    assert Reshape(**layer.get_config()).shape == (1, 40) and layer.n_in == 40


@pytest.mark.parametrize("make,error,match", [
    (lambda: Reshape((1, 0)), HandpropValueError, r"shape\[1\] must be a positive integer, got 0"),
    (lambda: Reshape("1x40"), HandpropValueError, "shape must be a tuple of positive integers"),
    (lambda: Reshape(()), HandpropValueError, "shape must be a tuple"),
    (lambda: Reshape((1, 40)).forward(np.zeros((2, 39))), ShapeError, "must hold 40 values, got an array of shape"),
    (lambda: Reshape((1, 40)).output_size(39), ShapeError, r"takes samples of 40 values.*gives 39"),
    (lambda: Flatten().backward(np.zeros((1, 2))), Exception, "before forward"),
])
def test_bad_arguments_are_refused_in_words(make, error, match):
    with pytest.raises(error, match=match):
        make()
