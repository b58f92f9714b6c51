"""The engine's kernels compute what the layers' and losses' readable forward/backward compute.

Each kernel is run on its own, with scale 1, against the public class on the same numbers; they
agree to the last bits (sums may be taken in another order).
"""

import numpy as np
import pytest

from handprop import BCE, MSE, CrossEntropy, Dense, HalfSSE, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from handprop import _kernels

RNG = np.random.default_rng(0)


def const(v):
    return np.array(v, np.float64)


@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), ReLU(), LeakyReLU(0.1), Softmax(), Identity()],
                         ids=lambda layer: type(layer).__name__)
def test_every_activation_kernel_is_the_layer(layer):
    z = RNG.standard_normal((6, 4)) * 3
    z[0, 0] = 0.0  # the kink of ReLU: gradient 0 there, as the layer (and PyTorch) has it
    grad = RNG.standard_normal((6, 4))
    a, tmp = np.empty_like(z), np.empty_like(z)
    forward, backward = _kernels.LAYERS[type(layer)](layer, a, tmp, const)
    out = forward(z.copy())
    np.testing.assert_allclose(out, layer.forward(z), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(backward(grad.copy()), layer.backward(grad), rtol=1e-14, atol=1e-300)


def test_the_dense_kernel_is_the_layer():
    layer = Dense(3, 2, rng=0, bias_init="normal")
    W, b = layer.W.copy(), layer.b.copy()
    dW, db = np.empty_like(W), np.empty_like(b)
    z, dx = np.empty((5, 2)), np.empty((5, 3))
    forward, backward = _kernels.dense(W, b, dW, db, z, dx, np.ones(5))
    x, delta = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    np.testing.assert_allclose(forward(x), layer.forward(x), rtol=1e-15)
    np.testing.assert_allclose(backward(delta), layer.backward(delta), rtol=1e-15)
    np.testing.assert_allclose(dW, layer.dW, rtol=1e-15)
    np.testing.assert_allclose(db, layer.db, rtol=1e-15)


@pytest.mark.parametrize("loss,pred,target", [
    (MSE(), RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))),
    (HalfSSE(), RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))),
    (BCE(), np.array([[0.2, 1.0], [0.0, 0.7], [0.5, 0.999]]), np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.5]])),
    (BCE(from_logits=True), RNG.standard_normal((4, 2)) * 5, RNG.random((4, 2))),
    (CrossEntropy(), RNG.standard_normal((5, 3)) * 4, np.array([0, 2, 1, 1, 0])),
    (CrossEntropy(), RNG.standard_normal((5, 3)), np.eye(3)[[2, 2, 0, 1, 0]]),
], ids=["mse", "halfsse", "bce", "bce-logits", "ce-labels", "ce-onehot"])
def test_every_loss_kernel_is_the_loss(loss, pred, target):
    value_and_grad, factor = _kernels.loss_kernel(loss)(pred.shape, np.float64, const(1.0))
    with np.errstate(divide="ignore"):  # log(0) in BCE, clamped (fit runs with these warnings off)
        value, grad = value_and_grad(pred.copy(), target)
    assert value == pytest.approx(loss.forward(pred, target), rel=1e-14)
    # The kernel leaves the factor (2/n, 1/n, ...) to the engine's scale; lr · factor for plain SGD.
    np.testing.assert_allclose(grad * factor, loss.backward(), rtol=1e-13, atol=1e-300)
