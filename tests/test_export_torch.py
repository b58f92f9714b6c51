"""PyTorch both ways: export_torch's standalone script, and from_torch."""

import importlib.util
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

import handprop as hp
from _lazy import nn, torch
from handprop.data.preprocessing import LabelEncoder, StandardScaler

pytestmark = pytest.mark.torch  # compares with PyTorch (tests/_lazy.py)


@pytest.fixture(autouse=True)
def needs_torch():
    """Without PyTorch every test here is skipped (the exported scripts import it too)."""
    pytest.importorskip("torch")


HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "softmax", "identity"]
# (loss, output layer, outputs, task): every loss with each output layer it accepts (losses.check_pairing)
HEADS = [("mse", None, 2, "regression"), ("halfsse", "sigmoid", 1, "regression"),
         ("bce", "sigmoid", 1, "classification"), ("bce", "softmax", 3, "classification"),
         ("bce_logits", None, 1, "classification"), ("ce", None, 3, "classification"),
         (None, "tanh", 2, None)]


def build(hidden, head, dtype=np.float64, seed=0):
    """A 4-5-k network with ``hidden`` between its layers and ``head``'s loss, preprocessing and labels."""
    loss, out, k, task = head
    rng = np.random.default_rng(seed)
    act = hp.LeakyReLU(alpha=0.2) if hidden == "leaky_relu" else hidden
    layers = [hp.Dense(4, 5, rng=rng), hp.activations.get(act), hp.Dense(5, k, rng=rng)]
    if out is not None:
        layers.append(hp.activations.get(out))
    model = hp.Sequential(layers).astype(dtype)
    raw = rng.normal(3.0, 2.0, size=(50, 4))
    info = {"x_scaler": StandardScaler().fit(raw)}
    if task == "regression":
        info["y_scaler"] = StandardScaler().fit(rng.normal(10, 4, size=(50, k)))
    elif task == "classification":
        info["label_encoder"] = LabelEncoder().fit(["cat", "dog", "emu"][:max(k, 2)])
    model.info = hp.io.ModelInfo(loss=loss, task=task, **info)
    return model, rng.normal(3.0, 2.0, size=(32, 4)).astype(dtype)


def load_script(path):
    name = "exported_" + os.path.basename(os.path.dirname(path)).replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Every pairing runs with --runslow (CI); a bare pytest runs the ReLU ones (all heads).
PAIRS = [pytest.param(h, d, id=f"{h}-{d[0]}-{d[1]}-{d[2]}", marks=() if h == "relu" else pytest.mark.slow)
         for h, d in itertools.product(HIDDEN, HEADS)]


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("hidden, head", PAIRS)
def test_exported_script_predicts_what_handprop_predicts(tmp_path, hidden, head, dtype, tol):
    model, X = build(hidden, head, dtype)
    script, npz = hp.export_torch(model, tmp_path / "net.py")
    mod = load_script(script)
    assert isinstance(mod.MODEL, nn.Sequential) and mod.MODEL[0].weight.dtype == getattr(torch, np.dtype(dtype).name)
    info = model.info
    if info.task == "classification":
        np.testing.assert_array_equal(mod.predict(X), info.predict(model, X))
        np.testing.assert_allclose(mod.predict_proba(X), info.predict(model, X, proba=True), rtol=tol, atol=tol)
    else:  # values un-scaled to ~10 carry float32 rounding at that size: tolerance relative to it
        expected = info.predict(model, X)
        np.testing.assert_allclose(mod.predict(X), expected, rtol=tol, atol=tol * np.abs(expected).max())
    raw_net = mod.MODEL(mod.preprocess(X)).detach().numpy()
    np.testing.assert_allclose(raw_net, model.predict(info.prepare(X)), rtol=tol, atol=tol)


def _torch_target(head, y):
    return torch.as_tensor(y) if head[0] == "ce" else torch.as_tensor(y, dtype=torch.float64)


@pytest.mark.parametrize("sgd", [pytest.param(dict(lr=0.1), marks=pytest.mark.slow),  # bare run: the one with
                                 dict(lr=0.05, momentum=0.9, weight_decay=0.01)])    # every term of the step
@pytest.mark.parametrize("hidden", ["relu", pytest.param("tanh", marks=pytest.mark.slow),
                                    pytest.param("leaky_relu", marks=pytest.mark.slow)])  # bare run: ReLU
@pytest.mark.parametrize("head", [h for h in HEADS if h[0] is not None], ids=lambda h: f"{h[0]}-{h[1]}")
def test_one_sgd_step_in_torch_equals_handprop_step(tmp_path, hidden, head, sgd):
    model, X = build(hidden, head)
    script, _ = hp.export_torch(model, tmp_path / "net.py")
    mod = load_script(script)
    rng = np.random.default_rng(1)
    k = head[2]
    if head[0] == "ce":
        y = rng.integers(0, k, len(X))
    elif head[0] in ("bce", "bce_logits"):
        y = rng.integers(0, 2, (len(X), k)).astype(np.float64)
    else:
        y = rng.normal(size=(len(X), k))
    Xp = model.info.prepare(X)
    tmodel = mod.build_model()
    opt = torch.optim.SGD(tmodel.parameters(), **sgd)
    opt.zero_grad()
    mod.loss_fn(tmodel(mod.preprocess(X)), _torch_target(head, y)).backward()
    opt.step()
    hp.fit(model, Xp, y, loss=model.info.loss, optimizer=hp.SGD(**sgd), epochs=1, shuffle=False)
    for i in (0, 2):
        np.testing.assert_allclose(tmodel[i].weight.detach().numpy().T, model.layers[i].W, rtol=0, atol=1e-9)
        np.testing.assert_allclose(tmodel[i].bias.detach().numpy(), model.layers[i].b, rtol=0, atol=1e-9)
    assert not np.allclose(model.layers[0].W, mod.build_model()[0].weight.detach().numpy().T)  # it moved


@pytest.mark.slow  # starts a Python that imports PyTorch (~1.5 s)
def test_script_runs_standalone_and_prints_the_predictions(tmp_path):
    model, X = build("relu", HEADS[5])  # ce, three string classes
    script, _ = hp.export_torch(model, tmp_path / "net.py")
    assert "handprop" not in "".join(line for line in open(script) if line.startswith(("import", "from")))
    np.savetxt(tmp_path / "rows.csv", X, delimiter=",", fmt="%.17g")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # handprop is not needed
    out = subprocess.run([sys.executable, script, str(tmp_path / "rows.csv")], capture_output=True, text=True,
                         env=env, cwd=tmp_path, check=True)
    assert out.stdout.split() == model.info.predict(model, X).tolist()


@pytest.mark.slow  # starts a Python that imports PyTorch (~1.5 s)
def test_regression_script_prints_values_that_read_back_exactly(tmp_path):
    model, X = build("tanh", HEADS[0])
    script, _ = hp.export_torch(model, tmp_path / "reg.py")
    np.savetxt(tmp_path / "rows.csv", X, delimiter=",", fmt="%.17g")
    out = subprocess.run([sys.executable, script, str(tmp_path / "rows.csv")], capture_output=True,
                         text=True, check=True)
    printed = np.array([[float(v) for v in line.split(",")] for line in out.stdout.splitlines()])
    np.testing.assert_allclose(printed, model.info.predict(model, X), rtol=1e-12, atol=1e-12)


def test_export_refuses_a_layer_it_cannot_write_by_name(tmp_path):
    class Doubler(hp.Layer):
        def forward(self, x):
            return 2 * x

    model = hp.Sequential([hp.Dense(2, 3), Doubler(), hp.Dense(3, 1)])
    with pytest.raises(hp.HandpropValueError, match=r"cannot export layer 1 \(Doubler\(\), class .*Doubler\) to PyTorch"):
        hp.export_torch(model, tmp_path / "net.py")
    with pytest.raises(hp.HandpropValueError, match=r"must be written to a \.py file, got .*net\.txt'; e\.g\. .*net\.py"):
        hp.export_torch(hp.Sequential([hp.Dense(2, 1)]), tmp_path / "net.txt")
    assert os.listdir(tmp_path) == []  # nothing written


# ----------------------------------------------------------------------------------- from_torch
def _all_layers(dtype):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5), nn.LeakyReLU(0.1), nn.Linear(5, 5),
                         nn.Tanh(), nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Identity(),
                         nn.Softmax(dim=-1)).to(dtype)


def test_from_torch_gives_equal_outputs_and_gradients():
    module = _all_layers(torch.float64)
    model = hp.from_torch(module)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 4))
    G = rng.normal(size=(7, 3))  # a random upstream gradient: all ones would hide a wrong softmax backward
    Xt = torch.tensor(X, requires_grad=True)
    out_t = module(Xt)
    out_t.backward(torch.tensor(G))
    out = model.forward(X)
    dX = model.backward(G)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=1e-10, atol=1e-15)
    for i in (0, 2, 4, 6, 8):
        np.testing.assert_allclose(model.layers[i].dW, module[i].weight.grad.numpy().T, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(model.layers[i].db, module[i].bias.grad.numpy(), rtol=1e-10, atol=1e-15)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "ReLU", "Dense", "LeakyReLU", "Dense", "Tanh", "Dense", "Sigmoid", "Dense", "Identity", "Softmax"]
    assert model.layers[3].alpha == 0.1


def test_from_torch_keeps_float32():
    model = hp.from_torch(_all_layers(torch.float32))
    assert model.dtype == np.float32


def test_torch_round_trip_gives_the_same_weights(tmp_path):
    model, _ = build("leaky_relu", HEADS[5])
    script, _ = hp.export_torch(model, tmp_path / "net.py")
    back = hp.from_torch(load_script(script).build_model())
    assert repr(back) == repr(model) and back.layers[1].alpha == 0.2
    for a, b in zip(back.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.value, b.value)


@pytest.mark.parametrize("module, match", [  # (modules made in the test: PyTorch is imported then)
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5)), r"layer 1 \(Dropout\(p=0.5.*\) has no handprop equivalent"),
    (lambda: nn.Sequential(nn.Linear(2, 3, bias=False)), r"layer 0 \(Linear\(.*bias=False\)\) has no bias"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=0)), r"layer 1 \(Softmax\(dim=0\)\) .*dim=-1 or 1"),
    (lambda: nn.Linear(2, 3), r"module must be a torch.nn.Sequential, got Linear"),
    (lambda: nn.Sequential(nn.ReLU()), r"no Linear layer"),
    (lambda: nn.Sequential(nn.Linear(2, 3).half()), r"layer 0 .*weight has dtype torch.float16"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1).double()), r"mix dtypes"),
])
def test_from_torch_refuses_what_handprop_does_not_have_by_name(module, match):
    with pytest.raises(hp.HandpropValueError, match=match):
        hp.from_torch(module())
