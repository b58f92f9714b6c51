"""Dropout and BatchNorm1d inside fit and predict: fit trains in training mode with masks drawn from
its own seeded generator (reproducible, resumable bit for bit); predictions, evaluate and fit's
per-epoch measurements are made in evaluation mode, whatever mode the model was left in."""

import numpy as np
import pytest

import handprop as hp
from handprop import io as hio
from handprop.callbacks import ModelCheckpoint


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def net(p=0.3, rng=1):
    return hp.Sequential([hp.Dense(4, 16, rng=rng), hp.BatchNorm1d(16), hp.ReLU(), hp.Dropout(p),
                          hp.Dense(16, 2, rng=rng + 1)])


def weights(model):
    return [p.value.copy() for p in model.parameters()]


def test_predictions_after_fit_are_deterministic_and_drop_nothing():
    X, y = data()
    model = net()
    model.fit(X, y, loss="ce", optimizer=hp.Adam(lr=0.01), epochs=3, batch_size=16, seed=0)
    first, second = model.predict(X), model.predict(X)
    np.testing.assert_array_equal(first, second)
    # The oracle: the same layers without the Dropout, BatchNorm1d on its running statistics by hand.
    dense1, bn, _, _, dense2 = model.layers
    z = X @ dense1.W + dense1.b
    z = (z - bn.running_mean) / np.sqrt(bn.running_var + bn.eps) * bn.gamma + bn.beta
    np.testing.assert_allclose(first, np.maximum(z, 0) @ dense2.W + dense2.b, rtol=1e-12, atol=1e-12)
    assert model.layers[3].training, "predict leaves the mode as fit left it"


def test_the_same_seed_gives_the_same_masks_and_another_seed_other_ones():
    X, y = data()
    runs = []
    for seed in (5, 5, 6):
        model = net()
        model.fit(X, y, loss="ce", optimizer=hp.SGD(lr=0.1), epochs=2, batch_size=32, seed=seed)
        runs.append(weights(model))
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(runs[0], runs[2]))


def test_dropout_drops_while_fit_trains():
    # With p = 0.5 the first step's gradient of W2 sees half the hidden units: rows of dW2 are zero
    # for the dropped units (a unit dropped for every sample of a batch of 1).
    X, y = data(1)
    model = hp.Sequential([hp.Dense(4, 32, rng=0), hp.ReLU(), hp.Dropout(0.5), hp.Dense(32, 2, rng=1)])
    seen = []

    class Grab(hp.callbacks.Callback):
        def on_step(self, state):
            seen.append(state.model.layers[3].dW.copy())

    model.fit(X, y, loss="ce", optimizer=hp.SGD(lr=1e-9), epochs=1, seed=0, callbacks=[Grab()])
    dropped = np.all(seen[0] == 0, axis=1) & (np.maximum(X @ model.layers[0].W + model.layers[0].b, 0) > 0)[0]
    assert 4 <= dropped.sum() <= 28, "about half the active hidden units pass no gradient"


def test_a_resumed_run_with_dropout_equals_an_uninterrupted_one(tmp_path):
    X, y = data()
    kw = dict(loss="ce", epochs=6, batch_size=16, seed=3)
    whole = net()
    whole.fit(X, y, optimizer=hp.Adam(lr=0.01), callbacks=[ModelCheckpoint(tmp_path / "a.npz")], **kw)

    class Crash(hp.callbacks.Callback):
        def on_epoch_end(self, state, logs):
            if state.epoch == 2:
                raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        net().fit(X, y, optimizer=hp.Adam(lr=0.01), callbacks=[ModelCheckpoint(tmp_path / "b.npz"), Crash()], **kw)
    ck = hio.load_checkpoint(tmp_path / "b.npz")
    assert 0 < ck.epochs_done < 6
    hp.fit(ck.model, X, y, optimizer=ck.optimizer, callbacks=[ModelCheckpoint(tmp_path / "b.npz")],
           resume=ck.resume, **kw)
    for a, b in zip(weights(whole), weights(ck.model)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole.layers[1].running_var, ck.model.layers[1].running_var)
