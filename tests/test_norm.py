"""BatchNorm1d equal to torch.nn.BatchNorm1d in float64: both modes, (N, C) and (N, C, L), running
statistics over several steps, and finite-difference gradients."""

import numpy as np
import pytest

import handprop as hp
from _gradients import check_layer_gradients
from _lazy import torch
from handprop.errors import HandpropValueError, ShapeError
from handprop.norm import BatchNorm1d

pytestmark = pytest.mark.torch  # compares with PyTorch (tests/_lazy.py)


def pair(C, momentum, rng):
    layer = BatchNorm1d(C, momentum=momentum, eps=1e-3)
    layer.gamma, layer.beta = rng.standard_normal(C), rng.standard_normal(C)
    t = torch.nn.BatchNorm1d(C, momentum=momentum, eps=1e-3).double()
    t.weight.data, t.bias.data = torch.tensor(layer.gamma), torch.tensor(layer.beta)
    return layer, t


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(7, 3), (5, 4, 9), (2, 2, 1), (3, 1, 7)])
@pytest.mark.parametrize("momentum", [0.1, 0.7])
def test_training_then_eval_equal_torch(shape, momentum):
    rng = np.random.default_rng(shape[0] * 10 + len(shape))
    layer, t = pair(shape[1], momentum, rng)
    for step in range(3):  # the running statistics move three times, then evaluation uses them
        x, G = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
        for training in (True, False):
            layer.training = training
            t.train(training)
            xt = torch.tensor(x, requires_grad=True)
            t.zero_grad()
            yt = t(xt)
            (yt * torch.tensor(G)).sum().backward()
            y = layer.forward(x)
            dx = layer.backward(G)
            np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
            np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
            np.testing.assert_allclose(layer.dgamma, t.weight.grad.numpy(), rtol=0, atol=1e-10)
            np.testing.assert_allclose(layer.dbeta, t.bias.grad.numpy(), rtol=0, atol=1e-10)
            np.testing.assert_allclose(layer.running_mean, t.running_mean.numpy(), rtol=0, atol=1e-12)
            np.testing.assert_allclose(layer.running_var, t.running_var.numpy(), rtol=0, atol=1e-12)


def test_hand_worked_channel():
    # one channel [1, 3]: μ = 2, σ² = 1, x̂ = [-1, 1] / √(1 + ε); running_var gets the unbiased 2
    layer = BatchNorm1d(1, momentum=0.5, eps=0.0 + 1e-5)
    y = layer.forward(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(y[:, 0], [-1 / np.sqrt(1 + 1e-5), 1 / np.sqrt(1 + 1e-5)], rtol=1e-15)
    np.testing.assert_allclose([layer.running_mean[0], layer.running_var[0]], [1.0, 0.5 * 1 + 0.5 * 2], rtol=1e-15)


@pytest.mark.parametrize("shape", [(6, 3), (1 + 3, 2, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck(shape, training):
    rng = np.random.default_rng(3)
    layer = BatchNorm1d(shape[1], momentum=0.0)  # momentum 0: repeated forwards leave the statistics alone
    layer.gamma, layer.beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    layer.running_mean, layer.running_var = rng.standard_normal(shape[1]), rng.random(shape[1]) + 0.5
    layer.training = training
    check_layer_gradients(layer, rng.standard_normal(shape), rng)


def test_model_modes_and_save_load_keep_running_statistics(tmp_path):
    rng = np.random.default_rng(4)
    model = hp.Sequential([hp.Dense(3, 4, rng=0), BatchNorm1d(4), hp.ReLU(), hp.Dense(4, 2, rng=0)])
    X = rng.standard_normal((10, 3))
    model.train().forward(X)  # moves the running statistics
    bn = model.layers[1]
    assert not np.allclose(bn.running_var, 1.0)
    model.eval()
    model.save(tmp_path / "m.npz")
    back = hp.load(tmp_path / "m.npz").eval()
    np.testing.assert_array_equal(back.layers[1].running_mean, bn.running_mean)
    np.testing.assert_array_equal(back.layers[1].running_var, bn.running_var)
    np.testing.assert_array_equal(back.predict(X[:1]), model.predict(X[:1]))


@pytest.mark.parametrize("make,error,match", [
    (lambda: BatchNorm1d(0), HandpropValueError, "n must be a positive integer"),
    (lambda: BatchNorm1d(2, momentum=1.5), HandpropValueError, r"momentum must be a number in \[0, 1\], got 1.5"),
    (lambda: BatchNorm1d(2, eps=0), HandpropValueError, "eps must be a positive number"),
    (lambda: BatchNorm1d(2).forward(np.zeros((4, 3))), ShapeError, r"expects \(samples, 2\) or \(samples, 2, length\)"),
    (lambda: BatchNorm1d(2).forward(np.zeros((1, 2))), ShapeError, "more than 1 value per channel"),
    (lambda: hp.Sequential([hp.Dense(2, 3), BatchNorm1d(4)]), ShapeError, "takes 4 features or channels"),
])
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()
