"""The playground without a browser: its settings, data, runs and exports, and its web app.

The oracle for a run is ``handprop train`` itself: the exported command, run by the CLI on the
exported data, must give the network the playground shows, to the last bit; the exported script,
run in its own process, too.
"""

import base64
import os
import shlex
import subprocess
import sys
import time

import numpy as np
import pytest

import handprop
from handprop.cli import main
from handprop.errors import HandpropError
from handprop.playground import datasets, exports, frames, settings
from handprop.playground.run import Run

SRC = os.path.join(os.path.dirname(__file__), os.pardir, "src")


# ------------------------------------------------------------------------------------ settings
def test_defaults_are_tensorflow_playgrounds():
    s = settings.parse({})
    assert (s["dataset"], s["layers"], s["activation"], s["lr"], s["batch-size"], s["train-ratio"]) == \
        ("circle", "4,2", "tanh", 0.03, 10, 50)
    assert s["features"] == "x1,x2"


def test_settings_from_a_query_string_are_numbers_checked():
    s = settings.parse({"lr": "0.1", "noise": "20", "features": "x2,x1sq", "layers": "8,8"})
    assert s["lr"] == 0.1 and s["noise"] == 20 and s["features"] == "x2,x1sq" and s["layers"] == "8,8"


@pytest.mark.parametrize("given, match", [
    ({"dataset": "moons"}, "dataset must be one of circle"),
    ({"lr": "fast"}, "lr must be a number, got 'fast'"),
    ({"lr": "nan"}, "lr must be a number"),
    ({"lr": "0"}, "lr must be between"),
    ({"noise": "60"}, "noise must be between 0 and 50, got '60'"),
    ({"train-ratio": "100"}, "train-ratio must be between 10 and 90"),
    ({"batch-size": "0"}, "batch-size must be between 1"),
    ({"layers": "8,x"}, "layers must be comma-separated sizes such as 8,8, got '8,x'"),
    ({"layers": "8,0"}, "layers: every size must be between 1 and"),
    ({"features": "x3"}, "features must be some of x1, x2"),
    ({"features": ""}, "features must be some of"),
    ({"activation": "softmax"}, "activation must be one of tanh"),
    ({"colour": "red"}, "unknown setting 'colour'"),
])
def test_bad_settings_are_refused_by_name(given, match):
    with pytest.raises(HandpropError, match=match):
        settings.parse(given)


def test_l1_and_l2_are_the_dense_layers_penalties():
    assert settings.penalties(settings.parse({"regularization": "L2", "reg-rate": "0.01"})) == (0.0, 0.01)
    assert settings.penalties(settings.parse({"regularization": "L1", "reg-rate": "0.01"})) == (0.01, 0.0)
    assert settings.penalties(settings.parse({"regularization": "none", "reg-rate": "0.01"})) == (0.0, 0.0)


# ------------------------------------------------------------------------------------ data
@pytest.mark.parametrize("name", datasets.DATASETS)
def test_toy_sets_are_seeded_and_in_the_domain(name):
    P, y = datasets.generate(name, n=500, noise=0.0, seed=3)
    P2, y2 = datasets.generate(name, n=500, noise=0.0, seed=3)
    np.testing.assert_array_equal(P, P2)
    np.testing.assert_array_equal(y, y2)
    assert P.shape == (500, 2) and np.all(np.abs(P) <= datasets.DOMAIN)
    if name in datasets.CLASSIFICATION_SETS:
        assert set(np.unique(y)) == {0, 1} and abs(np.mean(y) - 0.5) < 0.05
    else:
        assert y.dtype.kind == "f" and np.all(np.abs(y) <= 1)


def test_xor_and_circle_labels_follow_their_rule_without_noise():
    P, y = datasets.generate("xor", n=300, seed=1)
    np.testing.assert_array_equal(y, (P[:, 0] * P[:, 1] >= 0).astype(int))
    P, y = datasets.generate("circle", n=300, seed=1)
    np.testing.assert_array_equal(y, (np.hypot(P[:, 0], P[:, 1]) < 2.5).astype(int))


def test_features_are_the_formulas_of_the_points():
    p = datasets.toy_problem("gauss", ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"], n=50, seed=0)
    a, b = p.points[:, 0], p.points[:, 1]
    np.testing.assert_array_equal(p.X, np.column_stack([a, b, a**2, b**2, a * b, np.sin(a), np.sin(b)]))
    assert p.feature_names == ["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]


def test_a_file_is_plotted_on_two_columns_with_the_others_at_their_means(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text("a,b,c,label\n1,10,100,x\n2,20,300,y\n3,30,500,x\n4,40,700,y\n")
    ds = handprop.data.load_data(path)
    p = datasets.file_problem("three.csv", ds, "classification", axes=(2, 0))
    np.testing.assert_array_equal(p.points, [[100, 1], [300, 2], [500, 3], [700, 4]])
    np.testing.assert_array_equal(p.features(np.array([[0.0, 9.0]])), [[9.0, 25.0, 0.0]])
    with pytest.raises(HandpropError, match="three.csv: the y axis column 5 does not exist; it has 3"):
        datasets.file_problem("three.csv", ds, "classification", axes=(0, 5))


# ------------------------------------------------------------------------------------ runs
def _train(s, problem, epochs):
    """A Run stepped ``epochs`` times through its thread; returns it, stopped."""
    messages = []
    run = Run(settings.parse(s), problem, lambda m, key=None: messages.append(m))
    run.start()
    for _ in range(epochs):
        run.command("step")
    deadline = time.monotonic() + 60
    while run.snapshot["epoch"] < epochs and time.monotonic() < deadline:
        time.sleep(0.01)
    run.stop()
    assert not run.thread.is_alive()
    return run, messages


def _cli_model(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / exports.DATA_NAME).write_text(exports.data_csv(run))
    command = exports.train_command(run, run.snapshot["epoch"])
    assert command.startswith("handprop train ")
    assert main(shlex.split(command)[1:]) == 0
    return handprop.load(tmp_path / exports.MODEL_NAME)


@pytest.mark.slow
@pytest.mark.parametrize("s, epochs", [
    ({"dataset": "xor", "layers": "8,8", "noise": "10"}, 3),
    ({"dataset": "spiral", "layers": "6", "activation": "relu", "optimizer": "adam", "lr": "0.01",
      "features": "x1,x2,sinx1", "regularization": "L2", "reg-rate": "0.001", "train-ratio": "70"}, 2),
    ({"dataset": "plane", "layers": "3", "batch-size": "1000", "seed": "4"}, 4),  # full batch, regression
    ({"dataset": "circle", "layers": "4", "regularization": "L1", "reg-rate": "0.01"}, 3),
])
def test_the_exported_command_trains_the_same_network(s, epochs, tmp_path, monkeypatch):
    s = dict(s)
    problem = datasets.toy_problem(s["dataset"], s.get("features", "x1,x2").split(","),
                                   noise=int(s.get("noise", 0)) / 100, seed=int(s.get("seed", 0)))
    run, _ = _train(s, problem, epochs)
    assert run.snapshot["epoch"] == epochs
    model = _cli_model(run, tmp_path, monkeypatch)
    X = handprop.data.load_data(tmp_path / exports.DATA_NAME).X
    np.testing.assert_array_equal(X, problem.X)  # the CSV reads back to the same floats
    np.testing.assert_array_equal(model.predict(model.info.prepare(X)), run.snapshot["outputs"])


@pytest.mark.slow
def test_the_exported_script_run_on_its_own_reproduces_the_model(tmp_path, monkeypatch):
    s = {"dataset": "circle", "layers": "5,3", "noise": "15", "activation": "sigmoid", "lr": "0.3"}
    run, _ = _train(s, datasets.toy_problem("circle", ["x1", "x2"], noise=0.15, seed=0), 3)
    model = _cli_model(run, tmp_path, monkeypatch)
    (tmp_path / exports.SCRIPT_NAME).write_text(exports.python_script(run, 3))
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
    done = subprocess.run([sys.executable, exports.SCRIPT_NAME, exports.DATA_NAME, "rebuilt.npz"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "saved rebuilt.npz" in done.stdout
    rebuilt = handprop.load(tmp_path / "rebuilt.npz")
    X = handprop.data.load_data(tmp_path / exports.DATA_NAME).X
    np.testing.assert_array_equal(rebuilt.predict(rebuilt.info.prepare(X)), run.snapshot["outputs"])
    np.testing.assert_array_equal(rebuilt.predict(rebuilt.info.prepare(X)), model.predict(model.info.prepare(X)))


def test_an_uploaded_file_with_text_labels_exports_a_command_that_reproduces_it(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    labels = np.where(X[:, 0] + X[:, 2] > 0, "yes", "no")
    path = tmp_path / "mine.csv"
    path.write_text("a,b,c,answer\n" + "".join(f"{a!r},{b!r},{c!r},{t}\n" for (a, b, c), t in zip(X.tolist(), labels)))
    ds = handprop.data.load_data(path)
    problem = datasets.file_problem("mine.csv", ds, datasets.detect_task(ds.y, ds.class_names))
    run, messages = _train({"dataset": "upload", "layers": "4", "batch-size": "7"}, problem, 3)
    data = [m for m in messages if m["type"] == "frame"][-1]
    assert data["kind"] == "probability"
    work = tmp_path / "work"
    work.mkdir()
    model = _cli_model(run, work, monkeypatch)
    np.testing.assert_array_equal(model.predict(model.info.prepare(X)), run.snapshot["outputs"])
    assert model.info.class_names == ["no", "yes"] and model.n_outputs == 1  # BCE on one logit


def test_explain_and_doctor_are_handprops_on_the_current_weights():
    problem = datasets.toy_problem("xor", ["x1", "x2"], n=100, seed=0)
    run, messages = _train({"dataset": "xor", "layers": "3"}, problem, 1)
    ex = [m for m in messages if m["type"] == "explain"][-1]
    doc = [m for m in messages if m["type"] == "doctor"][-1]
    assert ex["epoch"] == 1 and doc["epoch"] == 1
    i = ex["sample"]
    expected = handprop.explain(run.model, run.loss, run.X_train[i:i + 1], run.y_train[i:i + 1], lr=0.03,
                                check=False).to_text()
    assert ex["text"] == expected
    assert doc["text"].startswith("Training doctor:")


def _decode(b64):
    return np.frombuffer(base64.b64decode(b64), np.uint8)


def test_the_heatmap_bytes_are_the_models_predictions_on_the_grid(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(90, 2))
    names = np.array(["low", "mid", "high"])[np.digitize(X[:, 0], [-0.5, 0.5])]
    path = tmp_path / "three.csv"
    path.write_text("a,b,level\n" + "".join(f"{a!r},{b!r},{k}\n" for (a, b), k in zip(X.tolist(), names)))
    ds = handprop.data.load_data(path)
    problem = datasets.file_problem("three.csv", ds, datasets.detect_task(ds.y, ds.class_names))
    run, messages = _train({"dataset": "upload", "layers": "5"}, problem, 2)
    frame = [m for m in messages if m["type"] == "frame"][-1]
    grid = frames.grid_points(problem.bounds)
    assert frame["kind"] == "class" and frame["n_classes"] == 3
    _, model = run.model_at_snapshot()
    labels = model.info.predict(model, problem.features(grid))  # class names, by the saved model's own rule
    np.testing.assert_array_equal(np.array(["high", "low", "mid"])[_decode(frame["output"])], labels)
    assert grid[0].tolist() == [problem.bounds[0], problem.bounds[3]]  # row 0 is the top edge


def test_a_regression_heatmap_spans_the_targets_range():
    problem = datasets.toy_problem("plane", ["x1", "x2"], n=200, seed=0)
    run, messages = _train({"dataset": "plane", "layers": "4"}, problem, 2)
    frame = [m for m in messages if m["type"] == "frame"][-1]
    lo, hi = frame["range"]
    assert (lo, hi) == (problem.y.min(), problem.y.max())
    _, model = run.model_at_snapshot()
    values = model.info.predict(model, problem.features(frames.grid_points(problem.bounds)))[:, 0]
    expected = np.clip(np.rint((values - lo) / (hi - lo) * 255), 0, 255)
    np.testing.assert_array_equal(_decode(frame["output"]), expected)
    assert len(frame["neurons"]) == 1 and len(frame["neurons"][0]) == 4
    assert len(_decode(frame["neurons"][0][0])) == frame["neuron_grid"] ** 2
    # the first input's heatmap is x1, standardised, scaled by its largest magnitude on the grid
    x1 = model.info.prepare(problem.features(frames.grid_points(problem.bounds)))[:, 0].reshape(48, 48)[::2, ::2]
    expected = np.clip(np.rint((x1 / np.abs(x1).max() + 1) * 127.5), 0, 255).ravel()
    np.testing.assert_array_equal(_decode(frame["inputs"][0]), expected)


def test_exports_before_any_epoch_are_refused():
    problem = datasets.toy_problem("xor", ["x1", "x2"], n=100, seed=0)
    run = Run(settings.parse({}), problem, lambda m, key=None: None)
    with pytest.raises(HandpropError, match="nothing trained yet"):
        exports.train_command(run, 0)


# ------------------------------------------------------------------------------------ the command
def test_the_command_refuses_bad_flags_before_starting(tmp_path, capsys):
    assert main(["playground", "--target", "y", "--no-browser"]) == 2
    assert "--target needs --data" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,x\n")
    assert main(["playground", "--data", str(bad), "--target", "nope", "--no-browser"]) == 2
    assert "nope" in capsys.readouterr().err


def test_the_command_serves_on_127_0_0_1_by_default():
    from handprop.cli import make_parser

    args = make_parser().parse_args(["playground"])
    assert (args.host, args.port, args.no_browser) == ("127.0.0.1", 8000, False)


def test_wide_networks_are_drawn_in_part_and_huge_ones_refused():
    problem = datasets.toy_problem("xor", ["x1", "x2"], n=100, seed=0)
    run, messages = _train({"dataset": "xor", "layers": "40,3"}, problem, 1)
    frame = [m for m in messages if m["type"] == "frame"][-1]
    assert frame["sizes"] == [2, 40, 3, 1]  # two classes: one output, a logit, as in TensorFlow Playground
    assert [len(layer) for layer in frame["neurons"]] == [frames.DRAWN, 3]
    assert np.shape(frame["weights"][1]) == (frames.DRAWN, 3)
    np.testing.assert_array_equal(frame["weights"][1], np.round(run.model.layers[2].W[:frames.DRAWN], 5))
    # (2+1)·1000 + (1000+1)·1000 + (1000+1)·1 = 3,000 + 1,001,000 + 1,001
    with pytest.raises(HandpropError, match="a 2-1000-1000-1 network has 1,005,001 parameters; the playground "
                                            "trains at most 1,000,000"):
        Run(settings.parse({"dataset": "xor", "layers": "1000,1000"}), problem, lambda m, key=None: None)


def test_the_chain_rule_is_asked_for_a_training_sample_that_exists():
    problem = datasets.toy_problem("xor", ["x1", "x2"], n=100, seed=0)
    run = Run(settings.parse({"dataset": "xor"}), problem, lambda m, key=None: None)
    assert run.sample_index("7") == 7 and run.sample_index(49) == 49
    for bad in (50, -1, "x", 2.5, True):
        with pytest.raises(HandpropError, match="explain-sample must be a training sample's index, 0 to 49"):
            run.sample_index(bad)


def test_a_diverging_run_stops_with_the_engines_message_and_its_advice_works():
    import re

    problem = datasets.toy_problem("plane", ["x1", "x2"], seed=0)
    messages = []
    run = Run(settings.parse({"dataset": "plane", "layers": "8", "activation": "relu", "lr": "50"}), problem,
              lambda m, key=None: messages.append(m))
    run.start()
    run.command("play")
    run.thread.join(30)
    assert not run.thread.is_alive()
    error = [m["message"] for m in messages if m["type"] == "error"][-1]
    assert error.startswith("training stopped at epoch 0: training diverged")
    run.command("step")
    assert "this run has ended" in messages[-1]["message"] and "press reset" in messages[-1]["message"]
    advice = re.search(r"try lr=([0-9.]+)", error).group(1)  # the page's lr setting, as the message says
    fixed, later = _train({"dataset": "plane", "layers": "8", "activation": "relu", "lr": advice}, problem, 5)
    assert fixed.error is None and np.isfinite([m["train_loss"] for m in later if m["type"] == "frame"]).all()


def test_a_target_with_one_class_is_refused(tmp_path):
    path = tmp_path / "same.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i * i},yes\n" for i in range(10)))
    ds = handprop.data.load_data(path)
    problem = datasets.file_problem("same.csv", ds, datasets.detect_task(ds.y, ds.class_names))
    with pytest.raises(HandpropError, match="same.csv: the target 'label' holds one class only .'yes'.; a "
                                            "classifier needs at least two"):
        Run(settings.parse({"dataset": "upload"}), problem, lambda m, key=None: None)


def test_without_the_extra_the_command_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if uvicorn were not installed
    assert main(["playground", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err == ('error: the playground needs the \'playground\' extra (uvicorn is missing): '
                   'pip install "handprop[playground]"\n')


def test_a_bug_in_the_training_thread_is_shown_as_one(monkeypatch, caplog):
    problem = datasets.toy_problem("xor", ["x1", "x2"], n=100, seed=0)
    messages = []
    run = Run(settings.parse({"dataset": "xor"}), problem, lambda m, key=None: messages.append(m))

    def broken(state, first=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(run, "between_epochs", broken)  # a bug inside fit's thread, not a user's input
    run.start()
    run.thread.join(10)
    assert not run.thread.is_alive()
    error = [m["message"] for m in messages if m["type"] == "error"][-1]
    assert error.startswith("internal error: RuntimeError: boom (a bug in handprop")
    assert "training thread" in caplog.text
