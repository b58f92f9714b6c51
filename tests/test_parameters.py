"""A model's parameters: one flat array that the layers' W, b are views of (FlatParameters)."""

import numpy as np

import handprop as hp
from handprop.layers import Dense


class KernelDense(Dense):
    """A user's layer that keeps its weight under a second name, as Keras layers call it ``kernel``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kernel = self.W  # the same array, read by forward and backward

    def forward(self, x):
        self.x = x
        return x @ self.kernel + self.b

    def backward(self, delta, need_input_grad=True):
        self.dW = self.x.T @ delta
        self.db = delta.sum(axis=0)
        return delta @ self.kernel.T


def _hand_gradient_descent(W, b, X, y, lr, epochs):
    """Linear regression by hand: MSE = mean((xW + b - y)^2), W -= lr * dW."""
    for _ in range(epochs):
        delta = 2 * (X @ W + b - y) / y.size
        W, b = W - lr * X.T @ delta, b - lr * delta.sum(axis=0)
    return W, b


def test_a_layer_that_aliases_its_weight_trains_as_gradient_descent_by_hand():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = X @ np.array([[1.0], [2.0], [3.0]]) + 0.5
    layer = KernelDense(3, 1, rng=np.random.default_rng(1))
    W0, b0 = layer.W.copy(), layer.b.copy()
    model = hp.Sequential([layer])
    model.fit(X, y, loss="mse", optimizer="sgd", lr=0.1, epochs=50)
    W, b = _hand_gradient_descent(W0, b0, X, y, 0.1, 50)
    np.testing.assert_allclose(layer.W, W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.b, b, rtol=1e-12, atol=1e-12)
    assert layer.kernel is layer.W  # the alias still reads the trained weights
    assert model.flat_parameters() is None  # such a model keeps its own arrays


def test_a_plain_model_gets_one_flat_array_that_its_layers_see():
    model = hp.Sequential([Dense(3, 4, rng=np.random.default_rng(0)), hp.ReLU(),
                           Dense(4, 1, rng=np.random.default_rng(1))])
    flat = model.flat_parameters()
    assert flat.value.size == 3 * 4 + 4 + 4 * 1 + 1
    assert all(np.shares_memory(p.value, flat.value) for p in model.parameters())
