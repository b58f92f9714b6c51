"""The three blog programs, transcribed as plain NumPy, run side by side with handprop.

Each transcription keeps the blog's own conventions (row batches or column vectors, mean MSE or
½·SSE, randn or rand); handprop starts from the same initial weights and must end with every weight
equal to within 1e-12.
"""

import numpy as np
import pytest

from handprop import MSE, SGD, Dense, HalfSSE, Sequential, Sigmoid

# Seed 42 is the blogs' own and runs on every bare pytest; the other seeds are slow (--runslow, CI).
SEEDS = [pytest.param(0, marks=pytest.mark.slow), pytest.param(1, marks=pytest.mark.slow), 42,
         pytest.param(2024, marks=pytest.mark.slow)]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_derivative(a):  # blogs 000 and 001: the derivative written with the output a
    return a * (1 - a)


# ---------------------------------------------------------------- blog 000: rows, mean MSE, randn
def blog_000(seed, epochs=10000, learning_rate=0.1):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([[0], [1], [1], [0]])
    np.random.seed(seed)
    W1 = np.random.randn(2, 2)
    b1 = np.zeros((1, 2))
    W2 = np.random.randn(2, 1)
    b2 = np.zeros((1, 1))
    losses = []
    for epoch in range(epochs):
        z1 = np.dot(X, W1) + b1
        a1 = sigmoid(z1)
        z2 = np.dot(a1, W2) + b2
        a2 = sigmoid(z2)
        losses.append(np.mean((y - a2) ** 2))
        d_loss_a2 = 2 * (a2 - y) / y.size
        d_z2 = d_loss_a2 * sigmoid_derivative(a2)
        d_W2 = np.dot(a1.T, d_z2)
        d_b2 = np.sum(d_z2, axis=0, keepdims=True)
        d_a1 = np.dot(d_z2, W2.T)
        d_z1 = d_a1 * sigmoid_derivative(a1)
        d_W1 = np.dot(X.T, d_z1)
        d_b1 = np.sum(d_z1, axis=0, keepdims=True)
        W2 -= learning_rate * d_W2
        b2 -= learning_rate * d_b2
        W1 -= learning_rate * d_W1
        b1 -= learning_rate * d_b1
    return (W1, b1, W2, b2), losses, a2


def handprop_000(seed, epochs=10000):
    rng = np.random.RandomState(seed)
    model = Sequential([Dense(2, 2, init="normal", rng=rng), Sigmoid(),
                        Dense(2, 1, init="normal", rng=rng), Sigmoid()])
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([[0], [1], [1], [0]])
    history = model.fit(X, y, loss=MSE(), optimizer=SGD(lr=0.1), epochs=epochs)
    return model, history


def _assert_weights_equal(model, W1, b1, W2, b2, transpose=False):
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    t = (lambda a: a.T) if transpose else (lambda a: a)
    np.testing.assert_allclose(dense[0].W, t(W1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dense[0].b, np.ravel(b1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dense[1].W, t(W2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dense[1].b, np.ravel(b2), rtol=0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_blog_000_row_batches_mean_mse(seed):
    (W1, b1, W2, b2), losses, _ = blog_000(seed)
    model, history = handprop_000(seed)
    _assert_weights_equal(model, W1, b1, W2, b2)
    np.testing.assert_allclose(history.loss, losses, rtol=0, atol=1e-12)


def test_blog_000_published_numbers_from_the_api():
    model, history = handprop_000(42)
    assert f"{history.loss[0]:.4f}" == "0.2558"
    assert f"{history.loss[9000]:.4f}" == "0.1438"
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert [f"{p:.4f}" for p in model.predict(X).ravel()] == ["0.1241", "0.4808", "0.8914", "0.5080"]


# ------------------------------------------------- blog 001: rows, ½·SSE, rand weights and biases
def blog_001(seed, epochs=10000, eta=0.1):
    x = np.array([[0, 0], [0, 1], [1, 0], [-1, 1]])
    y = np.array([[0], [1], [1], [0]])
    np.random.seed(seed)
    W1 = np.random.rand(2, 2)
    b1 = np.random.rand(1, 2)
    W2 = np.random.rand(2, 1)
    b2 = np.random.rand(1, 1)
    for epoch in range(epochs):
        z1 = np.dot(x, W1) + b1
        a1 = sigmoid(z1)
        z2 = np.dot(a1, W2) + b2
        a2 = sigmoid(z2)
        delta2 = (a2 - y) * sigmoid_derivative(a2)
        delta1 = np.dot(delta2, W2.T) * sigmoid_derivative(a1)
        W2 -= eta * np.dot(a1.T, delta2)
        b2 -= eta * np.sum(delta2, axis=0, keepdims=True)
        W1 -= eta * np.dot(x.T, delta1)
        b1 -= eta * np.sum(delta1, axis=0, keepdims=True)
    return W1, b1, W2, b2


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_blog_001_uniform_init_half_sse(seed):
    W1, b1, W2, b2 = blog_001(seed)
    rng = np.random.RandomState(seed)
    model = Sequential([Dense(2, 2, init="uniform", bias_init="uniform", rng=rng), Sigmoid(),
                        Dense(2, 1, init="uniform", bias_init="uniform", rng=rng), Sigmoid()])
    x = np.array([[0, 0], [0, 1], [1, 0], [-1, 1]])
    y = np.array([[0], [1], [1], [0]])
    model.fit(x, y, loss=HalfSSE(), optimizer=SGD(lr=0.1), epochs=10000)
    _assert_weights_equal(model, W1, b1, W2, b2)


# ------------------------------------ blog 002: column vectors W @ x, one sample, ½·SSE, σ'(z)
def blog_002(seed, epochs=1000, lr=0.1):
    x = np.array([[0.5], [0.1]])
    y_true = np.array([[1.0]])
    np.random.seed(seed)
    W1 = np.random.randn(3, 2)
    b1 = np.random.randn(3, 1)
    W2 = np.random.randn(1, 3)
    b2 = np.random.randn(1, 1)
    initial = [a.copy() for a in (W1, b1, W2, b2)]

    def sigmoid_deriv(z):  # blog 002 differentiates at z, not at a
        return sigmoid(z) * (1 - sigmoid(z))

    for epoch in range(epochs):
        z1 = W1 @ x + b1
        a1 = sigmoid(z1)
        z2 = W2 @ a1 + b2
        y_pred = sigmoid(z2)
        dL_dy_pred = y_pred - y_true
        dy_pred_dz2 = sigmoid_deriv(z2)
        dL_dz2 = dL_dy_pred * dy_pred_dz2
        dL_dW2 = dL_dz2 @ a1.T
        dL_db2 = dL_dz2
        dL_dz1 = W2.T @ dL_dz2 * sigmoid_deriv(z1)
        dL_dW1 = dL_dz1 @ x.T
        dL_db1 = dL_dz1
        W2 -= lr * dL_dW2
        b2 -= lr * dL_db2
        W1 -= lr * dL_dW1
        b1 -= lr * dL_db1
    return initial, (W1, b1, W2, b2)


@pytest.mark.parametrize("seed", SEEDS)
def test_blog_002_column_vectors_one_sample(seed):
    (W1_0, b1_0, W2_0, b2_0), (W1, b1, W2, b2) = blog_002(seed)
    # handprop's rows are the blog's columns: W (in, out) = the blog's W (out, in) transposed.
    model = Sequential([Dense(2, 3, weight=W1_0.T, bias=b1_0.ravel()), Sigmoid(),
                        Dense(3, 1, weight=W2_0.T, bias=b2_0.ravel()), Sigmoid()])
    loss, opt = HalfSSE(), SGD(lr=0.1)
    X = np.array([[0.5, 0.1]])  # the blog's x, as one row
    for epoch in range(1000):  # the blog's loop, written with handprop's pieces
        loss.forward(model(X), np.array([[1.0]]))
        model.backward(loss.backward())
        opt.step(model.parameters())
    _assert_weights_equal(model, W1, b1, W2, b2, transpose=True)
