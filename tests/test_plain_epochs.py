"""fit's short way through full-batch epochs that nothing runs between (``StepRunner.plain_epochs``):
the same steps, losses, prints, divergence and stop as the readable loop and as the general epoch loop
(which a callback that does nothing forces)."""

import numpy as np
import pytest

import handprop as hp
from handprop.callbacks import Callback

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def blog_model():
    rng = np.random.RandomState(42)
    return hp.Sequential([hp.Dense(2, 2, init="normal", rng=rng), hp.Sigmoid(),
                          hp.Dense(2, 1, init="normal", rng=rng), hp.Sigmoid()])


def weights(model):
    return [p.value.copy() for p in model.parameters()]


def test_plain_epochs_match_the_readable_loop_bit_for_bit(capsys):
    epochs = 25
    model = blog_model()
    history = model.fit(X, Y, loss=hp.MSE(), optimizer=hp.SGD(lr=0.5), epochs=epochs, log_every=10)
    printed = capsys.readouterr().out

    loop, loss, opt = blog_model(), hp.MSE(), hp.SGD(lr=0.5)
    values = []
    for _ in range(epochs):  # blog 000's four lines, through the public methods
        values.append(loss.forward(loop.forward(X), Y))
        loop.backward(loss.backward())
        opt.step(loop.parameters())
    for a, b in zip(weights(model), weights(loop)):
        np.testing.assert_array_equal(a, b)
    assert history.loss == values
    assert history.epoch == list(range(epochs))
    assert printed == "".join(f"Epoch {e}, Loss: {values[e]:.4f}\n" for e in (0, 10, 20))


@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_plain_epochs_match_the_general_loop(epochs):
    plain, general = blog_model(), blog_model()
    h1 = plain.fit(X, Y, optimizer=hp.SGD(lr=0.3), epochs=epochs)
    h2 = general.fit(X, Y, optimizer=hp.SGD(lr=0.3), epochs=epochs, callbacks=[Callback()])
    assert h1.history == h2.history and h1.epoch == h2.epoch == list(range(epochs))
    for a, b in zip(weights(plain), weights(general)):
        np.testing.assert_array_equal(a, b)


def test_a_divergence_in_plain_epochs_is_the_general_loops():
    """A loss that overflows at some epoch: the same DivergenceError (epoch, value), the same
    history up to it and the same weights kept, with or without the short way."""
    Xb = X * 10.0
    runs = []
    for callbacks in (None, [Callback()]):  # a linear model and a learning rate far too large
        model = hp.Sequential([hp.Dense(2, 1, rng=0)])
        with pytest.raises(hp.DivergenceError) as info:
            model.fit(Xb, Y, loss="mse", optimizer=hp.SGD(lr=5.0), epochs=1000, callbacks=callbacks)
        runs.append((str(info.value), weights(model)))
    (m1, w1), (m2, w2) = runs
    assert m1 == m2 and "diverged at epoch 54," in m1  # (in the middle of the run: the short way)
    for a, b in zip(w1, w2):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)
