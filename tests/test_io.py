"""Files: save -> load gives the same model; pickles and damaged files are refused; saves are
atomic; a checkpointed run resumed after a crash ends bit-identical to an uninterrupted one."""

import json
import os
import pickle

import numpy as np
import pytest

import handprop
from handprop import SGD, Adam, Dense, LeakyReLU, Sequential, Tanh, fit, mlp
from handprop import io as hio
from handprop.callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from handprop.data import LabelEncoder, StandardScaler
from handprop.errors import FileFormatError, HandpropValueError, MissingFileError


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.standard_normal((n, 4)) * 2 + 5 + y[:, None]
    return X, y


def trained():
    X, y = data()
    scaler = StandardScaler().fit(X)
    model = mlp([4, 8, 6, 3], "relu", rng=0)
    fit(model, scaler.transform(X), y, loss="ce", optimizer=Adam(lr=0.01), epochs=5, batch_size=16, seed=0)
    return model, scaler, X, y


def test_save_load_predict_is_identical_and_keeps_the_info(tmp_path):
    model, scaler, X, y = trained()
    enc = LabelEncoder().fit(np.array(["cat", "dog", "eel"])[y])
    path = tmp_path / "m.npz"
    assert model.save(path, loss="ce", task="classification", x_scaler=scaler, label_encoder=enc,
                      feature_names=["a", "b", "c", "d"], target_name="animal") == str(path)
    back = handprop.load(path)
    np.testing.assert_array_equal(back.predict(scaler.transform(X)), model.predict(scaler.transform(X)))
    info = back.info
    assert info.task == "classification" and info.class_names == ["cat", "dog", "eel"]
    assert info.feature_names == ["a", "b", "c", "d"] and info.target_name == "animal"
    assert type(info.loss).__name__ == "CrossEntropy" and info.handprop_version == handprop.__version__
    np.testing.assert_array_equal(info.x_scaler.mean_, scaler.mean_)
    # End to end from raw rows: labels by name, probabilities that sum to 1.
    labels = info.predict(back, X)
    assert set(labels.tolist()) <= {"cat", "dog", "eel"}
    proba = info.predict(back, X, proba=True)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(np.array(["cat", "dog", "eel"])[proba.argmax(axis=1)], labels)
    # Saving what was loaded keeps everything (model.info is the default).
    back.save(tmp_path / "again.npz")
    again = handprop.load(tmp_path / "again.npz")
    assert again.info.class_names == info.class_names
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_every_layer_kind_and_float32_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    model = Sequential([Dense(3, 5, rng=rng), LeakyReLU(0.2), Dense(5, 4, rng=rng), Tanh(),
                        Dense(4, 2, rng=rng), handprop.Softmax()]).astype(np.float32)
    model.save(tmp_path / "m.npz")
    back = handprop.load(tmp_path / "m.npz")
    assert repr(back) == repr(model) and back.layers[1].alpha == 0.2 and back.dtype == np.float32
    X = rng.standard_normal((7, 3)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.info.loss is None and back.info.task is None


def test_the_file_is_plain_arrays_and_json(tmp_path):
    model, _, _, _ = trained()
    model.save(tmp_path / "m.npz", loss="ce")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["__config__", "layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b",
                                   "layers.4.W", "layers.4.b"]
        config = json.loads(z["__config__"].tobytes())
    assert config["format"] == "handprop.model" and config["format_version"] == 1
    assert config["layers"][1] == {"class": "ReLU", "config": {}, "params": {}}
    assert config["loss"] == {"class": "CrossEntropy", "config": {}}


def _rewrite(path, config=None, **arrays):
    """Write a file like handprop's, with a given config and arrays (for damaged-file tests)."""
    entries = dict(arrays)
    if config is not None:
        entries["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez(path, **entries)


def test_pickles_are_refused_with_a_clear_message(tmp_path):
    model, _, _, _ = trained()
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"W": model.layers[0].W}))
    with pytest.raises(FileFormatError, match="pickled Python object; handprop never unpickles"):
        handprop.load(pickled)
    # An .npz whose entry is an object array (np.savez pickles those).
    model.save(tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as z:
        entries = {k: z[k] for k in z.files}
    entries["layers.0.W"] = np.array([{"evil": 1}], dtype=object)
    np.savez(tmp_path / "evil.npz", **entries)
    with pytest.raises(FileFormatError, match="entry 'layers.0.W' holds pickled Python objects"):
        handprop.load(tmp_path / "evil.npz")
    # np.save of a pickled object into a .npy
    np.save(tmp_path / "obj.npy", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(FileFormatError, match="pickle"):
        handprop.load(tmp_path / "obj.npy")


def test_damaged_and_foreign_files_are_refused(tmp_path):
    model, _, _, _ = trained()
    good = tmp_path / "good.npz"
    model.save(good, loss="ce")
    raw = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError, match="cut.npz: not a readable .npz file"):
        handprop.load(tmp_path / "cut.npz")
    with pytest.raises(MissingFileError, match="missing.npz: no such file"):
        handprop.load(tmp_path / "missing.npz")
    with pytest.raises(MissingFileError, match="is a directory, not a file"):
        handprop.load(tmp_path)
    np.savez(tmp_path / "plain.npz", X=np.ones(3))
    with pytest.raises(FileFormatError, match=r"not a handprop model file \(no __config__ entry\); entries: X"):
        handprop.load(tmp_path / "plain.npz")

    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files if k != "__config__"}
        config = json.loads(z["__config__"].tobytes())

    def refused(match, cfg, drop=(), **override):
        path = tmp_path / "bad.npz"
        _rewrite(path, cfg, **{k: v for k, v in {**arrays, **override}.items() if k not in drop})
        with pytest.raises(FileFormatError, match=match):
            handprop.load(path)

    refused("format version 2; this handprop .* reads up to version 1: upgrade", {**config, "format_version": 2})
    refused("not a handprop model file", {**config, "format": "keras"})
    layers = json.loads(json.dumps(config["layers"]))
    layers[1]["class"] = "Swish"
    refused(r"layers\[1\]: unknown layer class 'Swish'", {**config, "layers": layers})
    refused(r"layers\[0\] \(Dense\): Dense\(4, 8\): weight has shape \(3, 8\)", config,
            **{"layers.0.W": np.ones((3, 8))})
    refused(r"layers\[2\].W holds NaN", config, **{"layers.2.W": np.full((8, 6), np.nan)})
    refused(r"layers\[4\].b: array 'layers.4.b' is missing", config, drop=["layers.4.b"])
    refused("loss must name one of", {**config, "loss": {"class": "Hinge"}})
    refused(r"info.preprocessing.x must be one of StandardScaler, LabelEncoder",
            {**config, "info": {"preprocessing": {"x": {"class": "PickledThing"}}}})
    refused(r"info.preprocessing.x: .*scale > 0",
            {**config, "info": {"preprocessing": {"x": {"class": "StandardScaler", "mean": [0.0] * 4,
                                                        "scale": [1.0, 0.0, 1.0, 1.0]}}}})
    path = tmp_path / "notjson.npz"
    np.savez(path, __config__=np.frombuffer(b"{not json", dtype=np.uint8), **arrays)
    with pytest.raises(FileFormatError, match="is not UTF-8 JSON"):
        handprop.load(path)


def test_saving_is_atomic(tmp_path, monkeypatch):
    model, _, X, _ = trained()
    path = tmp_path / "m.npz"
    model.save(path)
    before = path.read_bytes()
    other = mlp([4, 3], rng=5)

    def crash(f, **entries):
        f.write(b"partial garbage")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        other.save(path)
    assert path.read_bytes() == before  # the old file is untouched
    assert os.listdir(tmp_path) == ["m.npz"]  # and no temporary file is left behind


def test_saved_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "m.npz"
        trained()[0].save(path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600


def test_a_model_is_not_a_checkpoint(tmp_path):
    model, _, _, _ = trained()
    model.save(tmp_path / "m.npz")
    with pytest.raises(FileFormatError, match="a saved model, not a checkpoint"):
        hio.load_checkpoint(tmp_path / "m.npz")
    with pytest.raises(HandpropValueError, match="only handprop's own layers"):
        class Mine(Dense):
            pass
        Sequential([Mine(2, 2)]).save(tmp_path / "x.npz")


def test_only_losses_and_optimizers_a_file_can_name_again_are_saved(tmp_path):
    from handprop import MSE
    from handprop.doctor import GradientRecorder

    class MyMSE(MSE):
        pass

    class MySGD(SGD):
        pass

    X, y = data()
    model = mlp([4, 3], rng=0)
    with pytest.raises(HandpropValueError, match=r"cannot save the loss MyMSE\(\): only handprop's own losses"):
        model.save(tmp_path / "x.npz", loss=MyMSE())
    refused = r"cannot save the optimizer MySGD in a checkpoint: only handprop's own optimizers"
    with pytest.raises(HandpropValueError, match=refused):
        fit(model, X, y, loss="ce", optimizer=MySGD(lr=0.1), epochs=1, callbacks=[ModelCheckpoint(tmp_path / "c.npz")])
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "c.npz").exists()
    # the doctor's recorder is a callback: the checkpoint holds the optimizer, and the recorder's place
    fit(model, X, y, loss="ce", optimizer=SGD(lr=0.1), epochs=1,
        callbacks=[GradientRecorder(), ModelCheckpoint(tmp_path / "c.npz")])
    ck = hio.load_checkpoint(tmp_path / "c.npz")
    assert type(ck.optimizer) is SGD and ck.optimizer.lr == 0.1


class Crash(Callback):
    """Kills the run (an exception out of fit) as epoch ``at`` begins."""

    def __init__(self, at):
        self.at = at

    def on_epoch_begin(self, state):
        if state.epoch == self.at:
            raise RuntimeError("killed")


def _callbacks(path):
    # Stateful callbacks: their state must travel in the checkpoint for the resumed run to match.
    return [EarlyStopping("val_loss", patience=50), ReduceLROnPlateau("val_loss", factor=0.5, patience=1),
            ModelCheckpoint(path)]


@pytest.mark.parametrize("make_opt", [lambda: Adam(lr=0.02, weight_decay=1e-3),
                                      lambda: SGD(lr=0.05, momentum=0.9, nesterov=True)])
def test_a_killed_and_resumed_run_equals_an_uninterrupted_one_bit_for_bit(tmp_path, make_opt):
    X, y = data(150)
    kw = dict(loss="ce", epochs=12, batch_size=16, seed=3, validation_split=0.2, metrics=["accuracy"])

    whole = mlp([4, 16, 3], "relu", rng=1)
    h_whole = fit(whole, X, y, optimizer=make_opt(), callbacks=_callbacks(tmp_path / "a.npz"), **kw)

    ck_path = tmp_path / "b.npz"
    with pytest.raises(RuntimeError, match="killed"):
        fit(mlp([4, 16, 3], "relu", rng=1), X, y, optimizer=make_opt(),
            callbacks=_callbacks(ck_path) + [Crash(7)], **kw)
    ck = hio.load_checkpoint(ck_path)
    assert ck.epochs_done == 7 and ck.epochs == 12
    h = fit(ck.model, X, y, optimizer=ck.optimizer, callbacks=_callbacks(ck_path), resume=ck.resume, **kw)

    assert h.history == h_whole.history and h.epoch == list(range(12))
    assert "lr" in h.history and len(set(h["lr"])) > 1  # the plateau rule did change the rate
    for a, b in zip(whole.parameters(), ck.model.parameters()):
        np.testing.assert_array_equal(a.value, b.value)
    final_a, final_b = hio.load_checkpoint(tmp_path / "a.npz"), hio.load_checkpoint(ck_path)
    for key in ("m", "v", "velocity"):
        for u, w in zip(final_a.optimizer.state_dict().get(key) or [], final_b.optimizer.state_dict().get(key) or []):
            np.testing.assert_array_equal(u, w)


def test_resume_refuses_different_settings_or_callbacks(tmp_path):
    X, y = data()
    fit(mlp([4, 3], rng=0), X, y, loss="ce", optimizer="adam", epochs=2, batch_size=16, seed=0,
        validation_split=0.2, callbacks=[EarlyStopping(), ModelCheckpoint(tmp_path / "c.npz")])
    ck = hio.load_checkpoint(tmp_path / "c.npz")
    with pytest.raises(HandpropValueError, match="trained with batch_size=16, this call has batch_size=8"):
        fit(ck.model, X, y, loss="ce", optimizer=ck.optimizer, epochs=4, batch_size=8, resume=ck.resume)
    with pytest.raises(HandpropValueError,
                       match="holds the state of callback 0:EarlyStopping, but this run's callbacks are: none"):
        fit(ck.model, X, y, loss="ce", optimizer=ck.optimizer, epochs=4, batch_size=16, resume=ck.resume)
