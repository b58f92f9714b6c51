"""A model file keeps the state of the optimizer that trained it (Adam's m, v, t; SGD's velocity) when
asked, so that `handprop explain --model` shows the actual next update; without it, explain says
plainly that it shows a fresh Adam's first step."""

import json
import zipfile

import numpy as np
import pytest

import handprop
from handprop import SGD, Adam, mlp
from handprop.cli import main
from handprop.cli.teach import saved_optimizer
from handprop.errors import FileFormatError, HandpropValueError
from handprop.explain import explain
from handprop.io import load, load_checkpoint, save


def moons_csv(path, n=200):
    X, y = handprop.data.make_dataset("moons", n=n, seed=0)
    path.write_text("x0,x1,y\n" + "".join(f"{a!r},{b!r},{int(t)}\n" for (a, b), t in zip(X.tolist(), y)))
    return str(path)


def raw_arrays(path):
    """The file's arrays and its JSON config, read with NumPy and json (not through handprop.io)."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return json.loads(arrays.pop("__config__").tobytes().decode("utf-8")), arrays


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`handprop train` with Adam, saving the model and a checkpoint of the same (last) epoch."""
    tmp = tmp_path_factory.mktemp("adam")
    data = moons_csv(tmp / "moons.csv")
    assert main(["train", data, "--layers", "6", "--epochs", "4", "--lr", "0.01", "--checkpoint", str(tmp / "ck.npz"),
                 "--out", str(tmp / "m.npz"), "--quiet"]) == 0
    return tmp, data


def test_train_keeps_adams_state_as_the_checkpoint_has_it(trained):
    tmp, _ = trained
    config, arrays = raw_arrays(tmp / "m.npz")
    entry = config["optimizer_state"]
    assert entry["class"] == "Adam" and entry["config"]["lr"] == 0.01 and entry["state"]["t"] == 4 * 7  # 200/32
    ck = load_checkpoint(str(tmp / "ck.npz")).optimizer  # saved by the checkpoint writer, after the same step
    for name in ("m", "v"):
        saved = [arrays[ref["__array__"]] for ref in entry["state"][name]]
        assert [a.shape for a in saved] == [(2, 6), (6,), (6, 2), (2,)]
        for a, b in zip(saved, getattr(ck, name)):
            np.testing.assert_array_equal(a, b)
    assert load(str(tmp / "m.npz")).info.optimizer_state.t == ck.t


def test_explain_shows_the_actual_next_adam_step(trained, capsys):
    """The update explain prints is Adam's formula written out here, from the file's m, v, t."""
    tmp, data = trained
    model = load(str(tmp / "m.npz"))
    opt = saved_optimizer(model.info)
    X = model.info.prepare(np.loadtxt(data, delimiter=",", skiprows=1)[:5, :2])
    y = np.loadtxt(data, delimiter=",", skiprows=1)[:5, 2].astype(int)
    ex = explain(model, model.info.loss, X, y, optimizer=opt)
    W, g = model.layers[0].W.copy(), ex.values["∂L/∂W1"]
    (b1, b2), eps, t, lr, wd = opt.betas, opt.eps, opt.t + 1, opt.lr, opt.weight_decay
    g = g + wd * W
    m = b1 * opt.m[0] + (1 - b1) * g
    v = b2 * opt.v[0] + (1 - b2) * g * g
    expected = W - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(ex.values["W1_new"], expected, rtol=1e-12, atol=1e-15)
    fresh = W - lr * np.sign(g) * np.abs(g) / (np.abs(g) + eps)  # what a fresh Adam would do: a different step
    assert not np.allclose(ex.values["W1_new"], fresh)
    assert main(["explain", "--model", str(tmp / "m.npz"), "--data", data, "--rows", "5"]) == 0
    out = capsys.readouterr().out
    assert f"m, v as training left them after {opt.t} steps: this is step {opt.t + 1}" in out
    assert "fresh Adam" not in out
    assert opt.t == 28 and saved_optimizer(model.info).m[0] is opt.m[0]  # explain stepped a copy


def test_without_state_explain_says_it_shows_a_fresh_adam(trained, tmp_path, capsys):
    tmp, data = trained
    model = load(str(tmp / "m.npz"))
    model.info.optimizer_state = None
    save(model, str(tmp_path / "old.npz"))  # as an API save without optimizer_state, or an older file
    assert "optimizer_state" not in raw_arrays(tmp_path / "old.npz")[0]
    assert load(str(tmp_path / "old.npz")).info.optimizer_state is None
    assert main(["explain", "--model", str(tmp_path / "old.npz"), "--data", data, "--rows", "5"]) == 0
    assert "a fresh Adam's first step: m = v = 0, no Adam state was kept" in capsys.readouterr().out


def test_sgd_momentum_state_round_trips_and_explain_says_where_v_comes_from(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    model, opt = mlp([3, 5, 1], "tanh", rng=0), SGD(lr=0.01, momentum=0.9)
    model.fit(X, y, loss="mse", optimizer=opt, epochs=2, batch_size=10)
    save(model, str(tmp_path / "s.npz"), loss="mse", optimizer_state=opt)
    back = load(str(tmp_path / "s.npz")).info.optimizer_state
    assert type(back) is SGD and back.t == 8 and back.momentum == 0.9
    for a, b in zip(back.velocity, opt.velocity):
        np.testing.assert_array_equal(a, b)
    ex = explain(load(str(tmp_path / "s.npz")), handprop.MSE(), X[:3], y[:3], optimizer=back)
    assert "v from the 8 steps of training" in ex.to_text()


def test_only_a_real_state_is_saved(tmp_path):
    model = mlp([2, 3, 1], "relu", rng=0)
    with pytest.raises(HandpropValueError, match="has state for None parameters, the model has 4"):
        save(model, str(tmp_path / "a.npz"), optimizer_state=Adam())  # never stepped
    other, opt = mlp([2, 3, 3, 1], "relu", rng=0), Adam()
    other.fit(np.zeros((4, 2)), np.zeros((4, 1)), loss="mse", optimizer=opt, epochs=1)
    with pytest.raises(HandpropValueError, match="has state for 6 parameters, the model has 4"):
        save(model, str(tmp_path / "a.npz"), optimizer_state=opt)  # another model's optimizer
    assert not (tmp_path / "a.npz").exists()


def _altered(src, dst, change):
    config, arrays = raw_arrays(src)
    change(config, arrays)
    np.savez(dst, __config__=np.frombuffer(json.dumps(config).encode(), dtype=np.uint8), **arrays)
    return str(dst)


def _ref(config, name, i):
    return config["optimizer_state"]["state"][name][i]["__array__"]


ALTERED = [
    (lambda c, a: a.__setitem__(_ref(c, "m", 0), np.zeros((6, 2))), r"optimizer_state.state.m\[0\] has shape \(6, 2\), "
                                                                     r"its parameter \(2, 6\)"),
    (lambda c, a: a.__setitem__(_ref(c, "v", 1), np.full(6, np.nan)), r"optimizer_state.state.v\[1\] is not an array of "
                                                                      "finite floats"),
    (lambda c, a: c["optimizer_state"]["state"].update(t=0), "a saved state has steps >= 1"),
    (lambda c, a: a.pop(c["optimizer_state"]["state"]["m"].pop()["__array__"]),
     "optimizer_state.state.m has 3 arrays, the model 4"),
    (lambda c, a: c["optimizer_state"].update(cls="x"), "optimizer_state must be an object with class, config and state"),
    (lambda c, a: c["optimizer_state"].update({"class": "RMSprop"}), "unknown class 'RMSprop'"),
]


@pytest.mark.parametrize("change, message", ALTERED, ids=[m[:40] for _, m in ALTERED])
def test_an_altered_state_is_refused_naming_what_is_wrong(trained, tmp_path, change, message):
    path = _altered(trained[0] / "m.npz", tmp_path / "bad.npz", change)
    with pytest.raises(FileFormatError, match=message):
        load(path)
