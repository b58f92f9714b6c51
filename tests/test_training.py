"""fit beyond the blogs: validation, metrics, History, Ctrl-C, divergence, resuming state."""

import signal

import numpy as np
import pytest

from handprop import MSE, SGD, Adam, evaluate, fit, mlp
from handprop.callbacks import Callback, StopOnNonFinite
from handprop.errors import DivergenceError, HandpropValueError
from handprop.training import History

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y_XOR = np.array([[0], [1], [1], [0]], dtype=float)


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.standard_normal((n, 2)) * 0.5 + np.array([[0, 3], [3, 0], [-3, -3]])[y]
    return X, y


def blog_model():
    return mlp([2, 2, 1], "sigmoid", output="sigmoid", init="normal", rng=np.random.RandomState(42))


@pytest.mark.slow
def test_blog_000_numbers_are_unchanged_and_only_loss_is_recorded(capsys):
    model = blog_model()
    h = fit(model, X_XOR, Y_XOR, loss="mse", optimizer=SGD(lr=0.1), epochs=10000, log_every=1000)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 0, Loss: 0.2558" and out[-1] == "Epoch 9000, Loss: 0.1438"
    assert list(h.history) == ["loss"] and len(h) == 10000 and h.stop_reason is None
    np.testing.assert_allclose(model.predict(X_XOR).ravel(), [0.1241, 0.4808, 0.8914, 0.5080], atol=5e-5)


def test_metrics_and_validation_data_are_recorded_every_epoch():
    X, y = blobs()
    model = mlp([2, 8, 3], "tanh", rng=0)
    h = fit(model, X[:90], y[:90], loss="ce", optimizer=Adam(lr=0.05), epochs=15, batch_size=16, seed=1,
            validation_data=(X[90:], y[90:]), metrics=["accuracy", "acc"])
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 15 for v in h.history.values()) and h.epoch == list(range(15))
    # The last epoch's values are the model's scores now (measured after the epoch's updates).
    now = evaluate(model, X[90:], y[90:], "ce", ["accuracy"])
    assert h["val_loss"][-1] == now["loss"] and h["val_accuracy"][-1] == now["accuracy"]
    assert h["accuracy"][-1] == evaluate(model, X[:90], y[:90], None, ["accuracy"])["accuracy"]
    assert h["val_accuracy"][-1] == 1.0 and h["val_loss"][-1] < h["val_loss"][0]


def test_validation_split_holds_out_the_last_rows():
    X, y = blobs(100)
    a, b = mlp([2, 4, 3], rng=3), mlp([2, 4, 3], rng=3)
    ha = fit(a, X, y, loss="ce", optimizer="adam", epochs=3, batch_size=10, seed=0, validation_split=0.25)
    hb = fit(b, X[:75], y[:75], loss="ce", optimizer="adam", epochs=3, batch_size=10, seed=0,
             validation_data=(X[75:], y[75:]))
    assert ha.history == hb.history
    np.testing.assert_array_equal(a.layers[0].W, b.layers[0].W)


def test_regression_metrics_and_history_round_trip():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (64, 1))
    y = 2 * X + 0.5
    model = mlp([1, 1], rng=0)
    h = fit(model, X, y, loss="mse", optimizer=SGD(lr=0.3), epochs=60, metrics=["mse", "mae", "r2"])
    assert h["mse"][-1] < h["mse"][0] and h["r2"][-1] > 0.99
    assert h["mse"][-1] == pytest.approx(evaluate(model, X, y, "mse", [])["loss"], rel=1e-12)
    again = History.from_dict(h.to_dict())
    assert again.history == h.history and again.epoch == h.epoch


def test_same_seed_same_weights_bit_for_bit():
    X, y = blobs()
    runs = []
    for _ in range(2):
        model = mlp([2, 16, 3], "relu", rng=7)
        fit(model, X, y, loss="ce", optimizer=Adam(lr=0.01, weight_decay=1e-3), epochs=5, batch_size=8, seed=11,
            validation_split=0.2, metrics=["accuracy"])
        runs.append([p.value.copy() for p in model.parameters()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


class _RaiseSigint(Callback):
    """Presses Ctrl-C (a real SIGINT to this process) during the given epoch's first batch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, state):
        if state.epoch == self.epoch:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_stops_cleanly_keeping_the_model_and_restores_the_handler():
    X, y = blobs()
    model = mlp([2, 8, 3], rng=0)
    before = signal.getsignal(signal.SIGINT)
    h = fit(model, X, y, loss="ce", optimizer="adam", epochs=50, batch_size=8, seed=0, callbacks=[_RaiseSigint(3)])
    assert len(h) == 3  # epochs 0..2 complete; the interrupted epoch 3 is not recorded
    assert h.stop_reason.startswith("interrupted (Ctrl-C) during epoch 3")
    assert signal.getsignal(signal.SIGINT) is before
    assert all(np.all(np.isfinite(p.value)) for p in model.parameters())
    # The model is usable and was trained: it beats chance on its own data.
    assert evaluate(model, X, y, None, ["accuracy"])["accuracy"] > 0.5


def test_keyboard_interrupt_inside_a_batch_also_stops_cleanly():
    # Where no SIGINT handler of ours is installed (another thread), Ctrl-C arrives as
    # KeyboardInterrupt from whatever code runs: here from the loss of the 3rd epoch's 2nd batch.
    class InterruptedMSE(MSE):
        calls = 0

        def forward(self, pred, target):
            InterruptedMSE.calls += 1
            if InterruptedMSE.calls == 2 * 4 + 2:
                raise KeyboardInterrupt
            return super().forward(pred, target)

    h = fit(blog_model(), X_XOR, Y_XOR, loss=InterruptedMSE(), epochs=10, batch_size=1, seed=0)
    assert len(h) == 2 and h.stop_reason.startswith("interrupted (Ctrl-C) during epoch 2")


def test_a_users_hook_raising_keyboard_interrupt_outside_the_batches_propagates():
    class Boom(Callback):
        def on_epoch_begin(self, state):
            if state.epoch == 2:
                raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        fit(blog_model(), X_XOR, Y_XOR, epochs=5, callbacks=[Boom()])


def test_divergence_raises_unless_stop_on_non_finite_is_given():
    X = np.array([[1e3, -1e3], [2e3, 1e3]])
    y = np.array([[1e3], [-2e3]])
    with pytest.raises(DivergenceError, match="training diverged at epoch"), np.errstate(over="ignore", invalid="ignore"):
        fit(mlp([2, 1], rng=0), X, y, loss="mse", optimizer=SGD(lr=10.0), epochs=50)
    model = mlp([2, 1], rng=0)
    with np.errstate(over="ignore", invalid="ignore"):
        h = fit(model, X, y, loss="mse", optimizer=SGD(lr=10.0), epochs=50, callbacks=[StopOnNonFinite()])
    assert "the loss became" in h.stop_reason and "restored" in h.stop_reason
    assert not np.isfinite(h.loss[-1]) and all(np.isfinite(v) for v in h.loss[:-1])
    assert all(np.all(np.isfinite(p.value)) for p in model.parameters())


@pytest.mark.parametrize("kwargs, match", [
    (dict(validation_split=1.5), r"validation_split must be in \(0, 1\)"),
    (dict(validation_split=0.2, validation_data=(X_XOR, Y_XOR)), "not both"),
    (dict(validation_data=X_XOR), r"pair \(X_val, y_val\)"),
    (dict(metrics=["f1"]), "unknown metric 'f1'"),
    (dict(validation_split=0.01), "leaves no validation"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(HandpropValueError, match=match):
        fit(blog_model(), X_XOR, Y_XOR, epochs=2, **kwargs)


def test_a_memory_mapped_X_trains_batch_by_batch_like_an_in_memory_one(tmp_path):
    X, y = blobs(64)
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    models = [mlp([2, 5, 3], rng=2), mlp([2, 5, 3], rng=2)]
    for model, features in zip(models, (X, X_map)):
        fit(model, features, y, loss="ce", optimizer="adam", epochs=3, batch_size=10, seed=4, metrics=["accuracy"])
    for a, b in zip(*(m.parameters() for m in models)):
        np.testing.assert_array_equal(a.value, b.value)


def test_moons_example_trains_validates_and_reloads(tmp_path, capsys):
    import runpy
    from pathlib import Path

    example = runpy.run_path(str(Path(__file__).resolve().parent.parent / "examples" / "moons.py"))
    assert example["main"](str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "reloaded predictions identical: True" in out
    assert float(out.split("test accuracy: ")[1].split()[0]) >= 0.95


def test_accuracy_of_a_one_logit_model_thresholds_at_zero():
    from handprop import BCE

    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    model = mlp([1, 1], rng=0)
    model.layers[0].W[...] = 1.0
    model.layers[0].b[...] = -0.7  # logits -2.7, -1.7, 0.3, 1.3: every sign right
    h = fit(model, X, y, loss=BCE(from_logits=True), optimizer=SGD(lr=0.0), epochs=1, metrics=["accuracy"])
    assert h["accuracy"] == [1.0]
    # Read as probabilities (threshold 0.5), the logit 0.3 would wrongly count as class 0.
    assert evaluate(model, X, y, None, ["accuracy"])["accuracy"] == 0.75


# -- nothing is written before every check has passed ------------------------------------------------

@pytest.mark.parametrize("bad", [
    dict(validation_data=(np.full((2, 2), np.nan, np.float32), np.zeros((2, 1)))),
    dict(seed="not a seed"),
    dict(clip_norm=-1.0),
    dict(progress="yes"),
])
def test_a_refused_fit_on_float32_data_leaves_the_model_as_it_was(bad):
    """float32 data makes a model train in float32, but only once every argument is accepted: a
    refused call leaves it float64 with its weights untouched."""
    model = blog_model()
    before = [p.value.copy() for p in model.parameters()]
    with pytest.raises(Exception) as err:
        fit(model, X_XOR.astype(np.float32), Y_XOR, optimizer=SGD(lr=0.1), epochs=2, **bad)
    assert not isinstance(err.value, AssertionError)
    assert model.dtype == np.float64
    for p, w in zip(model.parameters(), before):
        assert p.value.dtype == np.float64
        np.testing.assert_array_equal(p.value, w)


def test_validation_data_of_another_float_type_is_read_in_the_training_datas_type():
    """float32 training rows make a float32 model; float64 validation rows do not turn it back."""
    model = blog_model()
    X32 = X_XOR.astype(np.float32)
    history = fit(model, X32, Y_XOR, optimizer=SGD(lr=0.1), epochs=3, validation_data=(X_XOR, Y_XOR))
    assert model.dtype == np.float32 and all(p.value.dtype == np.float32 for p in model.parameters())
    # the recorded validation loss is the float32 model's loss on the rows as float32
    expected = np.mean((model.predict(X32) - Y_XOR.astype(np.float32)) ** 2)
    assert history["val_loss"][-1] == pytest.approx(float(expected), rel=1e-6)
