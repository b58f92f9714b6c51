"""Sequential: forward/backward through layers, parameters, fit, predict, summary, dtypes."""

import numpy as np
import pytest

from handprop import (SGD, Adam, Dense, HandpropValueError, History, ReLU, Sequential, ShapeError, Sigmoid,
                      mlp)

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
Y_XOR = np.array([[0], [1], [1], [0]])


def test_hand_worked_2_2_1_step():
    """One step of a 2-2-1 sigmoid network, worked out by hand (numbers in the comments)."""
    model = Sequential([Dense(2, 2, weight=[[0.1, 0.2], [0.3, 0.4]], bias=[0.0, 0.0]), Sigmoid(),
                        Dense(2, 1, weight=[[0.5], [0.6]], bias=[0.0]), Sigmoid()])
    x, y = np.array([[1.0, 1.0]]), np.array([[1.0]])
    # z1 = [0.1 + 0.3, 0.2 + 0.4] = [0.4, 0.6]; a1 = σ(z1) = [0.598688, 0.645656]
    # z2 = 0.5·0.598688 + 0.6·0.645656 = 0.686738; a2 = σ(z2) = 0.665241
    out = model(x)
    assert out[0, 0] == pytest.approx(0.665241, abs=1e-6)
    # ½·SSE: dL/da2 = a2 − y = −0.334759; δ2 = −0.334759 · a2(1 − a2) = −0.334759 · 0.222695 = −0.074549
    model.backward(out - y)
    dense2 = model.layers[2]
    assert dense2.db[0] == pytest.approx(-0.074549, abs=1e-6)
    # dW2 = a1ᵀ δ2 = [0.598688, 0.645656] · −0.074549 = [−0.044632, −0.048133]
    np.testing.assert_allclose(dense2.dW.ravel(), [-0.044632, -0.048133], atol=1e-6)
    # δ1 = δ2 W2ᵀ ⊙ a1(1 − a1) = [−0.037275·0.240261, −0.044730·0.228784] = [−0.008956, −0.010233]
    np.testing.assert_allclose(model.layers[0].db, [-0.008956, -0.010233], atol=1e-6)


def test_parameters_in_layer_order():
    model = mlp([3, 4, 2], rng=0)
    names = [(type(p.layer).__name__, p.name, p.value.shape) for p in model.parameters()]
    assert names == [("Dense", "W", (3, 4)), ("Dense", "b", (4,)), ("Dense", "W", (4, 2)), ("Dense", "b", (2,))]
    assert model.n_params == 3 * 4 + 4 + 4 * 2 + 2


def test_backward_returns_input_gradient_unless_told_not_to():
    model = mlp([3, 4, 2], "tanh", rng=0)
    X = np.ones((5, 3))
    model(X)
    assert model.backward(np.ones((5, 2))).shape == (5, 3)
    assert model.backward(np.ones((5, 2)), need_input_grad=False) is None


def test_hand_written_loop_equals_fit():
    a = mlp([2, 3, 1], "sigmoid", output="sigmoid", rng=1)
    b = mlp([2, 3, 1], "sigmoid", output="sigmoid", rng=1)
    a.fit(X_XOR, Y_XOR, loss="mse", optimizer=SGD(lr=0.5), epochs=50)
    from handprop import MSE

    loss, opt = MSE(), SGD(lr=0.5)
    for _ in range(50):
        loss.forward(b(X_XOR), Y_XOR)
        b.backward(loss.backward())
        opt.step(b.parameters())
    # The same numbers up to rounding: fit's engine multiplies by lr before backpropagating
    # (lr · dL/dpred) instead of after (lr · dW), which may move the last bits.
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-12, atol=1e-15)


def test_minibatches_are_reproducible_from_seed_and_learn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    runs = []
    for _ in range(2):
        model = mlp([2, 16, 2], "relu", rng=3)
        history = model.fit(X, y, loss="ce", optimizer=Adam(lr=0.02), epochs=60, batch_size=32, seed=5)
        runs.append((model, history))
    for p, q in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    history = runs[0][1]
    assert isinstance(history, History) and len(history) == 60
    assert history.loss[-1] < 0.5 * history.loss[0]
    accuracy = np.mean(runs[0][0].predict(X).argmax(axis=1) == y)
    assert accuracy > 0.9
    other = mlp([2, 16, 2], "relu", rng=3)
    other.fit(X, y, loss="ce", optimizer=Adam(lr=0.02), epochs=2, batch_size=32, seed=6)
    first = mlp([2, 16, 2], "relu", rng=3)
    first.fit(X, y, loss="ce", optimizer=Adam(lr=0.02), epochs=2, batch_size=32, seed=5)
    assert not np.array_equal(other.layers[0].W, first.layers[0].W)  # the seed drives the shuffling


def test_float32_data_trains_in_float32_end_to_end():
    model = mlp([2, 3, 1], "tanh", output="sigmoid", rng=0)
    assert model.dtype == np.float64
    X = X_XOR.astype(np.float32)
    model.fit(X, Y_XOR.astype(np.float32), loss="bce", optimizer=Adam(lr=0.01), epochs=3)
    assert all(p.value.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    assert model(X).dtype == np.float32


def test_log_every_prints_the_blog_lines(capsys):
    model = mlp([2, 2, 1], output="sigmoid", rng=0)
    model.fit(X_XOR, Y_XOR, epochs=5, log_every=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Epoch 0", "Epoch 2", "Epoch 4"]
    assert all(line.startswith("Epoch ") and ", Loss: 0." in line for line in lines)


def test_summary_lists_layers_shapes_and_counts():
    text = mlp([784, 32, 10], "relu", rng=0).summary()
    assert "Dense(784, 32)" in text and "ReLU()" in text and "(batch, 10)" in text
    assert "25,120" in text and "Total parameters: 25,450" in text


@pytest.mark.parametrize("call,error,words", [
    (lambda m: m(np.ones((4, 3))), ShapeError, r"X has 3 features \(shape \(4, 3\)\) but the first layer Dense\(2, 2\) expects 2"),
    (lambda m: m(np.ones(2)), ShapeError, r"reshape\(1, -1\)"),
    (lambda m: m(np.array([["a", "b"]])), HandpropValueError, "must be numeric"),
    (lambda m: m.fit(X_XOR, Y_XOR[:3]), ShapeError, "X has 4 samples but y has 3"),
    (lambda m: m.fit(X_XOR, Y_XOR, epochs=0), HandpropValueError, "epochs must be a positive integer"),
    (lambda m: m.fit(X_XOR, Y_XOR, batch_size=0), HandpropValueError, "batch_size must be a positive integer"),
    (lambda m: m.fit(X_XOR[:0], Y_XOR[:0]), HandpropValueError, "empty"),
])
def test_bad_input_is_named(call, error, words):
    model = mlp([2, 2, 1], output="sigmoid", rng=0)
    with pytest.raises(error, match=words):
        call(model)


def test_layers_must_fit_together():
    with pytest.raises(ShapeError, match=r"layer 2 Dense\(3, 1\) takes 3 inputs, but the layer before it gives 2"):
        Sequential([Dense(2, 2, rng=0), ReLU(), Dense(3, 1, rng=0)])
    with pytest.raises(HandpropValueError, match="not a Layer"):
        Sequential([Dense(2, 2, rng=0), "relu"])


def test_divergence_is_reported_not_hidden():
    from handprop import DivergenceError

    model = mlp([2, 8, 1], "relu", rng=0)
    with pytest.raises(DivergenceError, match="diverged at epoch"):
        model.fit(X_XOR * 1e3, Y_XOR * 1e3, loss="mse", optimizer=SGD(lr=10.0), epochs=200)


def test_full_batch_history_is_the_step_loss_exactly():
    from handprop import MSE

    # Odd row counts: value * n / n does not always give value back, the history must not care.
    # (Equal to rounding: fit's engine sums the squares in another order than np.mean.)
    for n in (3, 5, 7, 11, 13, 19, 23):
        X = np.random.default_rng(n).standard_normal((n, 2))
        y = np.random.default_rng(n + 1).standard_normal((n, 1))
        a, b = mlp([2, 3, 1], "tanh", rng=0), mlp([2, 3, 1], "tanh", rng=0)
        history = a.fit(X, y, loss="mse", optimizer=SGD(lr=0.1), epochs=20)
        loss, opt = MSE(), SGD(lr=0.1)
        for epoch in range(20):
            assert history.loss[epoch] == pytest.approx(loss.forward(b(X), y), rel=1e-14), (n, epoch)
            b.backward(loss.backward())
            opt.step(b.parameters())
