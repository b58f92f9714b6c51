"""One writer of handprop scripts: `handprop export MODEL --to python OUT.py` and the playground's
"Python script" both call `handprop.export_python.python_script`, and both scripts, run on their own,
reproduce the model's predictions. They differ only in where the weights live (an .npz beside the
script, or written out in it) and in the line saying who wrote the script."""

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import handprop
from handprop import export_python as writer
from handprop.cli import main
from handprop.playground import datasets, exports, settings
from handprop.playground.run import Run

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "src"))


def run_script(script, *args, cwd):
    done = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=SRC), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """A playground run on text-free circle data, 3 epochs, its data file and its network."""
    tmp = tmp_path_factory.mktemp("pg")
    s = settings.parse({"dataset": "circle", "layers": "5,3", "activation": "tanh", "lr": "0.3",
                        "regularization": "L2", "reg-rate": "0.001"})
    run = Run(s, datasets.toy_problem("circle", ["x1", "x2"], noise=0.1, seed=0), lambda m, key=None: None)
    run.start()
    for _ in range(3):
        run.command("step")
    deadline = time.monotonic() + 60
    while run.snapshot["epoch"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    run.stop()
    (tmp / exports.DATA_NAME).write_text(exports.data_csv(run))
    epoch, model = run.model_at_snapshot()
    assert epoch == 3
    return tmp, run, model


def test_the_playground_and_the_cli_write_the_same_script(played, tmp_path):
    tmp, run, model = played
    model.save(tmp_path / "m.npz")
    assert main(["export", str(tmp_path / "m.npz"), "--to", "python", str(tmp_path / "cli.py")]) == 0
    cli = (tmp_path / "cli.py").read_text()
    page = exports.python_script(run, 3, model)
    assert page == writer.python_script(model, exports.SCRIPT_NAME, origin="the handprop playground (circle, epoch 3)")[0]
    # the documented differences, and nothing else: who wrote it, where the weights are, the script's name
    assert "Written by `handprop export MODEL --to python OUT.py`" in cli and "the handprop playground" in page
    weights_cli = re.search(r"WEIGHTS = .*?\n\n.*?ARRAYS = .*?\n", cli, re.S).group(0)
    weights_page = re.search(r"ARRAYS = \{  # the trained weights.*?\n\}\n", page, re.S).group(0)
    assert "np.load(WEIGHTS, allow_pickle=False)" in weights_cli and "np.array([[" in weights_page
    normal = [text.replace(w, "ARRAYS").split('"""', 2)[2] for text, w in ((cli, weights_cli), (page, weights_page))]
    assert normal[0].replace("cli.py", exports.SCRIPT_NAME) == normal[1]


@pytest.mark.slow
def test_both_scripts_run_on_their_own_reproduce_the_models_predictions(played, tmp_path):
    tmp, run, model = played
    model.save(tmp_path / "m.npz")
    assert main(["export", str(tmp_path / "m.npz"), "--to", "python", str(tmp_path / "cli.py")]) == 0
    (tmp / exports.SCRIPT_NAME).write_text(exports.python_script(run, 3, model))
    data = tmp / exports.DATA_NAME
    X = handprop.data.load_data(data).X
    expected = [str(v) for v in model.info.predict(model, X).tolist()]  # the model's own predict
    assert run_script(tmp_path / "cli.py", data, cwd=tmp_path) == expected  # header row: columns by name
    lines = run_script(exports.SCRIPT_NAME, data, tmp_path / "rebuilt.npz", cwd=tmp)
    assert lines == expected + [f"saved {tmp_path / 'rebuilt.npz'}"]
    rebuilt = handprop.load(tmp_path / "rebuilt.npz")
    np.testing.assert_array_equal(rebuilt.predict(rebuilt.info.prepare(X)), run.snapshot["outputs"])
    np.testing.assert_array_equal(rebuilt.info.predict(rebuilt, X, proba=True), model.info.predict(model, X, proba=True))


@pytest.mark.slow
def test_a_header_naming_no_model_column_is_refused_by_the_script(played, tmp_path):
    tmp, run, model = played
    (tmp_path / exports.SCRIPT_NAME).write_text(exports.python_script(run, 3, model))
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    done = subprocess.run([sys.executable, exports.SCRIPT_NAME, "rows.csv"], cwd=tmp_path, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=SRC), timeout=120)
    assert done.returncode == 1 and "rows.csv: no column(s) ['x1', 'x2']; the model reads the columns" in done.stderr


def test_diverged_weights_are_refused_not_written_as_nan(played):
    _, _, model = played
    broken = handprop.Sequential([handprop.Dense(2, 1, rng=0)])
    broken.layers[0].W[...] = np.nan  # as a run that diverged leaves them
    with pytest.raises(handprop.errors.HandpropValueError, match="layers.0.W holds NaN or infinite values"):
        writer.python_script(broken, "x.py")
    assert writer.python_script(model, "x.py", npz_name="x.npz")[0].count("np.load(WEIGHTS") == 1
