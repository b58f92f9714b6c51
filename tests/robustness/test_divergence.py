"""Divergence loses nothing: a learning rate of 1e6 stops training with a message that says where
(epoch, step), why, and what to try; the weights stay finite (those of the last step whose loss
was finite); no checkpoint or saved model is overwritten with NaN; NumPy prints no warnings."""

import warnings

import numpy as np
import pytest

import handprop as hp
from handprop.callbacks import ModelCheckpoint, StopOnNonFinite
from handprop.cli import main
from handprop.io import load, load_checkpoint, save

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 3))
Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.1


class MyMSE(hp.MSE):
    """A loss of the user's own: fit trains with it through train_step (StepRunner), not the fused engine."""


def _model():
    # tanh, not ReLU: one huge step kills every ReLU unit and the loss then stays finite (and flat).
    return hp.mlp([3, 8, 1], "tanh", rng=0)


def _loss(engine):
    return MyMSE() if engine == "step" else "mse"


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "overflow encountered in multiply" must not leak out
        yield


@pytest.mark.parametrize("engine", ["fused", "step"])
@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("optimizer", ["sgd", "sgd-momentum"])
def test_lr_1e6_stops_with_the_message_and_finite_weights(tmp_path, batch_size, optimizer, engine):
    # (Adam at lr=1e6 does not overflow: its steps are bounded by lr, so the loss grows to ~1e26
    # and stays finite; that is a bad run, which `handprop train`'s doctor reports, not a NaN.)
    optimizer = hp.SGD(lr=1e6, momentum=0.9 if optimizer == "sgd-momentum" else 0.0)
    model = _model()
    save(model, tmp_path / "before.npz")
    before = (tmp_path / "before.npz").read_bytes()
    ck = tmp_path / "ck.npz"
    with pytest.raises(hp.DivergenceError) as info:  # (a checkpoint cannot hold a loss of one's own)
        model.fit(X, Y, loss=_loss(engine), optimizer=optimizer, epochs=50, batch_size=batch_size, seed=0,
                  callbacks=[ModelCheckpoint(ck)] if engine == "fused" else [])
    err = info.value
    msg = str(err)
    assert f"training diverged at epoch {err.epoch}, step {err.step}" in msg
    assert "learning rate 1e+06 is probably too large" in msg
    assert f"try lr={err.suggested_lr:g}" in msg and err.suggested_lr <= 0.1
    assert "weights of the last step whose loss was finite were restored" in msg
    assert all(np.all(np.isfinite(p.value)) for p in model.parameters())
    assert np.all(np.isfinite(model.predict(X)))  # the restored weights give a finite loss
    # The file saved before is intact; a checkpoint, if one was written, holds finite weights.
    assert (tmp_path / "before.npz").read_bytes() == before
    if ck.exists():
        assert load_checkpoint(ck).epochs_done <= err.epoch
    # And the restored model still saves (finite), and can go on training with a sane rate.
    save(model, tmp_path / "after.npz")
    optimizer.lr = err.suggested_lr / 100
    # (seeded: which rows meet the huge restored weights first decides whether lr/100 is gentle enough)
    model.fit(X, Y, loss="mse", optimizer=optimizer, epochs=2, batch_size=batch_size, seed=0)


def test_the_restored_weights_are_those_of_the_last_finite_step():
    # Full batch, SGD: the weights after each step can be replayed exactly.
    model = _model()
    replay = _model()
    with pytest.raises(hp.DivergenceError) as info:
        model.fit(X, Y, loss="mse", optimizer=hp.SGD(lr=1e6), epochs=100)
    step = info.value.epoch  # full batch: one step per epoch
    assert step >= 1 and info.value.step == 0
    # Replay: the loss at the diverging step was not finite; the step before it was. The same
    # engine (fit) replays it bit for bit; the readable step (train_step, which applies lr after
    # backpropagation instead of before) to the last bits.
    if step > 1:
        replay.fit(X, Y, loss="mse", optimizer=hp.SGD(lr=1e6), epochs=step - 1)
    for mine, theirs in zip(model.parameters(), replay.parameters()):
        np.testing.assert_array_equal(mine.value, theirs.value)
    assert np.isfinite(hp.MSE().forward(replay.predict(X), Y))
    readable, sgd = _model(), hp.SGD(lr=1e6)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(step - 1):
            hp.training.train_step(readable, hp.MSE(), sgd, readable.parameters(), X, Y)
    for mine, theirs in zip(model.parameters(), readable.parameters()):
        np.testing.assert_allclose(mine.value, theirs.value, rtol=1e-12)


def test_stop_on_non_finite_ends_the_run_with_the_same_story(tmp_path):
    model = _model()
    h = model.fit(X, Y, loss="mse", optimizer="sgd", lr=1e6, epochs=50, callbacks=[StopOnNonFinite()])
    assert "training diverged at epoch" in h.stop_reason and "try lr=" in h.stop_reason
    assert all(np.all(np.isfinite(p.value)) for p in model.parameters())


def test_save_and_checkpoint_refuse_non_finite_weights(tmp_path):
    model = _model()
    save(model, tmp_path / "m.npz")
    good = (tmp_path / "m.npz").read_bytes()
    model.layers[0].W[0, 0] = np.nan
    with pytest.raises(hp.HandpropValueError, match=r"refusing to save .*m.npz: array 'layers.0.W' holds NaN"):
        save(model, tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind


def test_cli_divergence_is_an_error_and_keeps_the_earlier_files(tmp_path, capsys):
    data = tmp_path / "d.csv"
    np.savetxt(data, np.c_[X * 1e3, Y * 1e3], delimiter=",", header="a,b,c,y", comments="")
    out = tmp_path / "m.npz"
    common = ["train", str(data), "--task", "regression", "--no-scale", "--optimizer", "sgd",
              "--quiet", "--out", str(out)]
    assert main(common + ["--lr", "1e-9", "--epochs", "2"]) == 0
    good = out.read_bytes()
    assert main(common + ["--lr", "1e6", "--epochs", "20"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: training diverged at epoch ") and "try lr=" in err
    assert len(err.strip().splitlines()) == 1
    assert out.read_bytes() == good
    load(out)


def test_the_step_engine_restores_the_last_finite_step_too():
    # Layers of the user's own train through train_step, guarded by copies of the weights.
    model = _model()
    with pytest.raises(hp.DivergenceError) as info:
        model.fit(X, Y, loss=MyMSE(), optimizer=hp.SGD(lr=1e6), epochs=100)
    step = info.value.epoch
    replay, sgd = _model(), hp.SGD(lr=1e6)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(step - 1):
            hp.training.train_step(replay, hp.MSE(), sgd, replay.parameters(), X, Y)
    for mine, theirs in zip(model.parameters(), replay.parameters()):
        np.testing.assert_array_equal(mine.value, theirs.value)
