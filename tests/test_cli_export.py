"""``handprop export MODEL --to onnx|torch|python OUT``, run in-process through ``main``."""

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import handprop as hp
from handprop.cli import main
from handprop.data.preprocessing import LabelEncoder, StandardScaler


@pytest.fixture
def saved(tmp_path):
    """A saved classifier with a scaler and text labels, and raw rows to predict."""
    rng = np.random.default_rng(0)
    model = hp.mlp([3, 6, 3], "tanh", rng=rng)
    raw = rng.normal(5.0, 3.0, size=(40, 3))
    path = tmp_path / "model.npz"
    model.save(path, loss="ce", x_scaler=StandardScaler().fit(raw),
               label_encoder=LabelEncoder().fit(["low", "mid", "high"]), feature_names=["a", "b", "c"])
    return path, raw


def _import(path):
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_script(script, rows_csv):
    """Run a written script as its docstring says (`python OUT.py ROWS.csv`); its printed lines."""
    src = os.path.dirname(os.path.dirname(os.path.abspath(hp.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, str(script), str(rows_csv)], capture_output=True, text=True,
                         env=env, check=True)
    return out.stdout.split()


@pytest.mark.slow
def test_export_python_writes_a_script_that_rebuilds_the_model(saved, tmp_path, capsys):
    path, raw = saved
    out = tmp_path / "rebuilt.py"
    assert main(["export", str(path), "--to", "python", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} and {tmp_path / 'rebuilt.npz'}" in printed
    module = _import(out)
    model = hp.load(path)
    assert repr(module.MODEL) == repr(model)
    for a, b in zip(module.MODEL.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(module.predict(raw), model.info.predict(model, raw))
    np.testing.assert_array_equal(module.predict(raw, proba=True), model.info.predict(model, raw, proba=True))
    assert module.MODEL.info.feature_names == ["a", "b", "c"]
    # the advice printed, run as printed: `python OUT.py ROWS.csv`
    command = printed.splitlines()[1].split("predict with: ")[1].split("  (")[0]
    assert command == f"python {out} ROWS.csv"
    np.savetxt(tmp_path / "ROWS.csv", raw, delimiter=",", fmt="%.17g")
    assert _run_script(out, tmp_path / "ROWS.csv") == model.info.predict(model, raw).tolist()


@pytest.mark.slow  # imports onnx and onnxruntime (~1.5 s)
def test_export_onnx_from_the_command_line(saved, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path, raw = saved
    out = tmp_path / "model.onnx"
    assert main(["export", str(path), "--to", "onnx", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    labels = session.run(["label"], {"X": raw})[0]
    model = hp.load(path)
    np.testing.assert_array_equal(labels.astype(str), model.info.predict(model, raw))


@pytest.mark.torch
def test_export_torch_from_the_command_line(saved, tmp_path):
    pytest.importorskip("torch")
    path, raw = saved
    out = tmp_path / "net.py"
    assert main(["export", str(path), "--to", "torch", str(out)]) == 0
    model = hp.load(path)
    module = _import(out)
    np.testing.assert_array_equal(module.predict(raw), model.info.predict(model, raw))
    np.testing.assert_allclose(module.predict_proba(raw), model.info.predict(model, raw, proba=True),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("to, out, match", [
    ("onnx", "m.py", r"--to onnx: OUT must be written to a \.onnx file, got '.*m\.py'; e\.g\. .*m\.onnx"),
    ("torch", "m.onnx", r"--to torch: OUT must be written to a \.py file"),
    ("python", "m", r"--to python: OUT must be written to a \.py file"),
])
def test_a_wrong_suffix_is_refused_before_anything_is_written(saved, tmp_path, capsys, to, out, match):
    path, _ = saved
    assert main(["export", str(path), "--to", to, str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert re.search(match, err)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_missing_model_and_unknown_format(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.npz"), "--to", "python", str(tmp_path / "o.py")]) == 2
    assert f"error: {tmp_path / 'none.npz'}: no such file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none.npz"), "--to", "keras", str(tmp_path / "o.py")]) == 2
    assert "invalid choice: 'keras'" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_the_output_directory_must_exist(saved, tmp_path, capsys):
    path, _ = saved
    out = tmp_path / "no" / "such" / "net.py"
    assert main(["export", str(path), "--to", "python", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("head", ["regression", "bce_logits", "bce", "none"])
def test_python_export_rebuilds_every_kind_of_model_exactly(tmp_path, head, dtype):
    from handprop.export_python import export_python

    rng = np.random.default_rng(1)
    raw = rng.normal(2.0, 3.0, size=(30, 2))
    out = {"bce": hp.Sigmoid(), "none": hp.LeakyReLU(alpha=0.3)}.get(head)
    model = hp.Sequential([hp.Dense(2, 4, rng=rng), hp.Sigmoid(), hp.Dense(4, 1, rng=rng)]
                          + ([out] if out is not None else [])).astype(dtype)
    if head == "regression":
        model.info = hp.io.ModelInfo(loss="mse", x_scaler=StandardScaler().fit(raw),
                                     y_scaler=StandardScaler().fit(rng.normal(size=(30, 1))), target_name="t")
    elif head != "none":
        model.info = hp.io.ModelInfo(loss="bce_logits" if head == "bce_logits" else "bce",
                                     label_encoder=LabelEncoder().fit([-1, 1]))
    script, _ = export_python(model, tmp_path / "m.py")
    module = _import(script)
    assert module.MODEL.dtype == dtype
    info = getattr(model, "info", None) or hp.io.ModelInfo()
    np.testing.assert_array_equal(module.predict(raw), info.predict(model, raw))


def _readme_interop():
    """The README's Interop section: its bash lines and its python blocks, in order."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    section = text.split("\n## Interop\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(bash|python)\n(.*?)```", section, flags=re.S)
    commands = [line.split("#")[0].strip() for kind, code in blocks if kind == "bash" for line in code.splitlines()]
    return [c for c in commands if c], [code for kind, code in blocks if kind == "python"]


@pytest.mark.slow
def test_the_readme_interop_examples_run_as_printed(tmp_path, monkeypatch, capsys):
    for module in ("sklearn", "onnxruntime", "torch"):
        pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)
    commands, blocks = _readme_interop()
    assert len(commands) == 4 and len(blocks) == 3
    for command in commands:
        assert command.startswith("handprop ") and main(command.split()[1:]) == 0, command
    assert {"moons.npz", "moons.onnx", "moons_torch.py", "moons_torch.npz", "moons_hp.py", "moons_hp.npz"} <= set(
        os.listdir(tmp_path))
    capsys.readouterr()
    scope = {}
    exec(blocks[0], scope)
    assert float(capsys.readouterr().out.split()[-1]) > 0.93  # "about 0.95"
    exec(blocks[1], scope)
    model = hp.load("moons.npz")
    np.testing.assert_array_equal(scope["labels"], model.info.predict(model, scope["X_raw"]))
    np.testing.assert_allclose(scope["proba"], model.info.predict(model, scope["X_raw"], proba=True), atol=1e-9)
    exec(blocks[2], scope)
    assert repr(scope["model"]) == repr(model)
    np.testing.assert_array_equal(scope["net"]["predict"](scope["X_raw"]), scope["labels"])


@pytest.mark.parametrize("to", ["torch", "python"])
def test_the_weights_never_replace_the_model_they_come_from(saved, tmp_path, capsys, to):
    path, _ = saved  # model.npz
    before = path.read_bytes()
    assert main(["export", str(path), "--to", to, str(tmp_path / "model.py")]) == 2
    err = capsys.readouterr().err
    assert "its weights would go to" in err and "holds a saved handprop model" in err
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["model.npz"]
    # the advice, followed: another script name
    suggested = re.search(r"e\.g\. (\S+\.py)", err).group(1)
    assert main(["export", str(path), "--to", to, suggested]) == 0
    assert path.read_bytes() == before


def test_core_import_imports_no_optional_interop_package():
    code = ("import sys, handprop, handprop.cli; handprop.cli.make_parser(); "
            "print(sorted(m for m in ('onnx', 'onnxruntime', 'torch', 'sklearn', 'handprop.sklearn') if m in sys.modules))")
    src = os.path.dirname(os.path.dirname(os.path.abspath(hp.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
