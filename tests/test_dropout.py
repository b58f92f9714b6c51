"""Dropout: inverted as PyTorch's (kept values scaled by 1/(1-p)), the identity in evaluation mode,
masks drawn from the layer's generator."""

import numpy as np
import pytest

import handprop as hp
from _gradients import check_layer_gradients
from _lazy import torch
from handprop.dropout import Dropout
from handprop.errors import HandpropValueError

pytestmark = pytest.mark.torch  # compares with PyTorch (tests/_lazy.py)


def test_training_forward_and_backward_equal_torch_given_the_same_mask():
    rng = np.random.default_rng(0)
    layer = Dropout(0.3, rng=1)
    x, G = rng.standard_normal((50, 8)), rng.standard_normal((50, 8))
    y, dx = layer.forward(x), None
    dx = layer.backward(G)
    kept = y != 0  # x has no zeros: the mask is where the output is not 0
    xt = torch.tensor(x, requires_grad=True)
    yt = xt * torch.tensor(kept) / (1 - 0.3)  # what torch's F.dropout computes for this mask
    (yt * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-12)


def test_the_mask_is_drawn_from_the_generator():
    # the values kept are exactly those whose uniform draw u (same generator, same order) is >= p
    x = np.ones((4, 25))
    u = np.random.default_rng(7).random(x.shape)
    np.testing.assert_array_equal(Dropout(0.4, rng=np.random.default_rng(7)).forward(x), (u >= 0.4) / 0.6)


def test_drop_rate_and_mean_are_preserved_on_average():
    y = Dropout(0.25, rng=0).forward(np.ones((400, 250)))
    assert abs(np.mean(y == 0) - 0.25) < 0.005  # 100,000 draws: 5 standard deviations is 0.007
    assert abs(y.mean() - 1.0) < 0.01


def test_set_rng_makes_masks_reproducible():
    a, b = Dropout(0.5, rng=1), Dropout(0.5, rng=2)
    a.set_rng(3)
    b.set_rng(np.random.default_rng(3))
    x = np.ones((3, 10))
    np.testing.assert_array_equal(a.forward(x), b.forward(x))


def test_eval_mode_is_the_identity_as_torch():
    x = np.random.default_rng(1).standard_normal((5, 3))
    model = hp.Sequential([hp.Dense(3, 4, rng=0), Dropout(0.9, rng=0), hp.Dense(4, 2, rng=0)])
    layer = model.layers[1]
    assert model.eval() is model and layer.training is False
    np.testing.assert_array_equal(layer.forward(x), torch.nn.functional.dropout(torch.tensor(x), 0.9, training=False))
    np.testing.assert_array_equal(layer.backward(x), x)
    model.train()
    assert layer.training is True and np.any(layer.forward(np.ones((5, 4))) == 0)


@pytest.mark.parametrize("p,want", [(0.0, 1.0), (1.0, 0.0)])
def test_the_ends_p_0_and_p_1_as_torch(p, want):
    x = np.ones((2, 3))
    np.testing.assert_array_equal(Dropout(p, rng=0).forward(x), torch.nn.functional.dropout(torch.tensor(x), p).numpy())
    np.testing.assert_array_equal(Dropout(p, rng=0).forward(x), want * x)


def test_gradcheck_with_a_fixed_mask():
    rng = np.random.default_rng(2)
    layer = Dropout(0.5, rng=0)
    x = rng.standard_normal((4, 6))
    layer.forward(x)
    mask = layer.mask
    layer.set_rng(np.random.default_rng(0))
    # every forward redraws: reseed before each so that finite differences see one mask
    forward = layer.forward
    layer.forward = lambda z: (layer.set_rng(0), forward(z))[1]
    check_layer_gradients(layer, x, rng)
    np.testing.assert_array_equal(layer.mask, mask)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True, np.nan])
def test_bad_p_is_refused(p):
    with pytest.raises(HandpropValueError, match=r"Dropout: p must be a probability in \[0, 1\]"):
        Dropout(p)
