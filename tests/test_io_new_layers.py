"""Save and load models holding the new layers: same layers, same arrays, same predictions; a file
whose arrays do not match its config is refused before they are inflated."""

import json

import numpy as np
import pytest

import handprop as hp
from handprop.conv import AvgPool1D, Conv1D, MaxPool1D
from handprop.callbacks import Callback
from handprop.errors import FileFormatError
from handprop.shape import Flatten, Reshape


def cnn(rng):
    return hp.Sequential([Reshape((2, 20)), Conv1D(2, 3, 4, stride=2, padding=1, dilation=2, rng=rng), hp.ReLU(),
                          MaxPool1D(2, stride=1), AvgPool1D(2), Flatten(), hp.Dense(9, 2, rng=rng)])


def test_round_trip_keeps_layers_arrays_and_predictions(tmp_path):
    rng = np.random.default_rng(0)
    model = cnn(rng)
    X = rng.standard_normal((5, 40))
    model.save(tmp_path / "m.npz")
    back = hp.load(tmp_path / "m.npz")
    assert [repr(layer) for layer in back.layers] == [repr(layer) for layer in model.layers]
    assert [layer.get_config() for layer in back.layers] == [layer.get_config() for layer in model.layers]
    for p, q in zip(model.parameters(), back.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def _rewrite(path, edit):
    with np.load(path, allow_pickle=False) as z:
        entries = {k: z[k] for k in z.files}
    config = json.loads(entries["__config__"].tobytes())
    edit(config, entries)
    entries["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez(path, **entries)


@pytest.mark.parametrize("edit,match", [
    (lambda c, e: c["layers"][1]["config"].update(kernel_size=5),
     r"layers\[1\] \(Conv1D\)\.W has shape \(3, 2, 4\), expected \(3, 2, 5\)"),
    (lambda c, e: c["layers"][1]["config"].update(out_channels=0), r"out_channels must be an integer >= 1, got 0"),
    (lambda c, e: c["layers"][1]["config"].update(weight=[1]), r"unknown Conv1D settings \['weight'\]"),
    (lambda c, e: c["layers"][0]["config"].update(shape=[3, 20]), r"layer 1: Conv1D.* takes 2 channels, but the layer before it gives 3"),
    (lambda c, e: e.update({"layers.1.b": np.zeros(4)}), r"layers\[1\] \(Conv1D\)\.b has shape \(4,\), expected \(3,\)"),
])
def test_a_file_whose_arrays_do_not_fit_its_config_is_refused(tmp_path, edit, match):
    cnn(np.random.default_rng(1)).save(tmp_path / "m.npz")
    _rewrite(tmp_path / "m.npz", edit)
    with pytest.raises(FileFormatError, match=match):
        hp.load(tmp_path / "m.npz")


def test_dropout_and_batchnorm_round_trip(tmp_path):
    from handprop.dropout import Dropout
    from handprop.norm import BatchNorm1d

    model = hp.Sequential([Reshape((2, 3)), BatchNorm1d(2, momentum=0.3, eps=1e-4), Flatten(), Dropout(0.25),
                           hp.Dense(6, 2, rng=0)])
    model.save(tmp_path / "m.npz")
    back = hp.load(tmp_path / "m.npz")
    assert [layer.get_config() for layer in back.layers] == [layer.get_config() for layer in model.layers]
    assert back.layers[3].p == 0.25 and back.layers[1].momentum == 0.3 and back.layers[1].eps == 1e-4
    X = np.random.default_rng(0).standard_normal((4, 6))
    np.testing.assert_array_equal(back.eval().predict(X), model.eval().predict(X))


class Crash(Callback):
    def __init__(self, at):
        self.at = at

    def on_epoch_begin(self, state):
        if state.epoch == self.at:
            raise RuntimeError("killed")


def test_a_killed_and_resumed_cnn_run_equals_an_uninterrupted_one(tmp_path):
    # the checkpoint holds Conv1D's and BatchNorm1d's arrays and Adam's state for each (shapes checked)
    from handprop import io as hio
    from handprop.callbacks import ModelCheckpoint
    from handprop.layerspec import parse_layers

    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((60, 12)), rng.integers(0, 3, 60)
    spec = "reshape:1x12,conv:3x3/2,batchnorm,relu,flatten,dense:3"
    kw = dict(loss="ce", epochs=6, batch_size=16, seed=3)
    whole = hp.Sequential(parse_layers(spec, 12, 3, rng=1))
    hp.fit(whole, X, y, optimizer=hp.Adam(lr=0.02), callbacks=[ModelCheckpoint(tmp_path / "a.npz")], **kw)
    with pytest.raises(RuntimeError, match="killed"):
        hp.fit(hp.Sequential(parse_layers(spec, 12, 3, rng=1)), X, y, optimizer=hp.Adam(lr=0.02),
               callbacks=[ModelCheckpoint(tmp_path / "b.npz"), Crash(4)], **kw)
    ck = hio.load_checkpoint(tmp_path / "b.npz")
    assert ck.epochs_done == 4
    hp.fit(ck.model, X, y, optimizer=ck.optimizer, callbacks=[ModelCheckpoint(tmp_path / "b.npz")],
           resume=ck.resume, **kw)
    for a, b in zip(whole.parameters(), ck.model.parameters()):
        np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(whole.layers[2].running_var, ck.model.layers[2].running_var)
