"""Optimizers: each update rule restated by hand and compared exactly; arguments checked."""

import numpy as np
import pytest

from handprop import SGD, Adam, Dense, HandpropValueError
from handprop.optimizers import get


def _layer_with_grads(seed=0):
    rng = np.random.default_rng(seed)
    layer = Dense(3, 2, rng=rng)
    layer.dW = rng.standard_normal(layer.W.shape)
    layer.db = rng.standard_normal(layer.b.shape)
    return layer


def test_plain_sgd_is_w_minus_lr_dw_in_place():
    layer = _layer_with_grads()
    W_before, W_obj = layer.W.copy(), layer.W
    SGD(lr=0.1).step(layer.parameters())
    np.testing.assert_array_equal(layer.W, W_before - 0.1 * layer.dW)
    assert layer.W is W_obj  # updated in place: references held elsewhere stay valid


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_and_weight_decay_formula(nesterov):
    layer = _layer_with_grads(1)
    opt = SGD(lr=0.05, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    W = layer.W.copy()
    v = None
    for step in range(3):
        layer.dW = np.random.default_rng(step).standard_normal(W.shape)
        g = layer.dW + 0.01 * W
        v = g.copy() if v is None else 0.9 * v + g
        W = W - 0.05 * (g + 0.9 * v if nesterov else v)
        opt.step(layer.parameters())
        np.testing.assert_array_equal(layer.W, W)


def test_adam_formula():
    layer = _layer_with_grads(2)
    opt = Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    W = layer.W.copy()
    m = np.zeros_like(W)
    v = np.zeros_like(W)
    for t in range(1, 4):
        layer.dW = np.random.default_rng(t).standard_normal(W.shape)
        g = layer.dW + 0.1 * W
        m = 0.8 * m + (1 - 0.8) * g
        v = 0.99 * v + (1 - 0.99) * (g * g)
        W = W - 0.01 / (1 - 0.8 ** t) * (m / (np.sqrt(v) / np.sqrt(1 - 0.99 ** t) + 1e-6))
        opt.step(layer.parameters())
        np.testing.assert_allclose(layer.W, W, rtol=1e-14, atol=1e-15)


def test_float32_parameters_stay_float32():
    layer = Dense(3, 2, rng=0, dtype=np.float32)
    layer.forward(np.ones((4, 3), dtype=np.float32))
    layer.backward(np.ones((4, 2), dtype=np.float32))
    for opt in (SGD(lr=0.1, momentum=0.9), Adam()):
        opt.step(layer.parameters())
        assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32


@pytest.mark.parametrize("make,words", [
    (lambda: SGD(lr=-0.1), r"lr must be in \[0.0, inf\), got -0.1"),
    (lambda: SGD(lr=float("nan")), "lr must be in"),
    (lambda: SGD(lr=0.1, momentum=1.0), r"momentum must be in \[0.0, 1.0\), got 1.0"),
    (lambda: SGD(lr=0.1, nesterov=True), "nesterov=True needs a momentum"),
    (lambda: SGD(lr=0.1, weight_decay=-1), "weight_decay must be in"),
    (lambda: Adam(betas=(0.9, 1.0)), r"betas\[1\] must be in"),
    (lambda: Adam(eps=-1), "eps must be in"),
    (lambda: get("rmsprop"), "unknown optimizer 'rmsprop'"),
])
def test_bad_hyperparameters_are_named(make, words):
    with pytest.raises(HandpropValueError, match=words):
        make()


def test_one_optimizer_per_parameter_list():
    opt = SGD(lr=0.1, momentum=0.5)
    opt.step(_layer_with_grads().parameters())
    both = _layer_with_grads().parameters() + _layer_with_grads().parameters()
    with pytest.raises(HandpropValueError, match="one optimizer per model"):
        opt.step(both)
