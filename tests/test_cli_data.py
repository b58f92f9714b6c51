"""`handprop train / evaluate / predict / summary`, run in-process with main([...]) in tmp_path."""

import csv
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import handprop
from handprop.io import load_checkpoint
from handprop.cli import main
from handprop.data import make_dataset

SRC = os.path.join(os.path.dirname(__file__), os.pardir, "src")


def scores(text):
    """The `key: value` lines a script would read, as a dict of floats."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.rpartition(": ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def labelled(tmp_path):
    """A CSV whose target is text labels, in a middle column; and one of features only, reordered."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 3))
    kind = np.where(X[:, 0] + X[:, 1] > 0.3, "yes", np.where(X[:, 2] > 0, "maybe", "no"))
    write_csv(tmp_path / "train.csv", ["a", "b", "kind", "c"], [[r[0], r[1], k, r[2]] for r, k in zip(X, kind)])
    write_csv(tmp_path / "new.csv", ["c", "a", "b"], [[r[2], r[0], r[1]] for r in X[:6]])
    return X, kind


@pytest.mark.slow
def test_noisy_spirals_reach_94_percent_with_the_documented_flags(tmp_path, capsys):
    # README: "--noise 0.05 --epochs 300" gives 0.945-0.98 over seeds 0-3 (with that much noise
    # the two arms touch: a change in the last bits of the arithmetic moves a test point or two)
    assert main(["train", "--dataset", "spirals", "--noise", "0.05", "--epochs", "300", "--quiet",
                 "--out", str(tmp_path / "s.npz")]) == 0
    assert scores(capsys.readouterr().out)["test accuracy"] >= 0.94


@pytest.mark.slow  # 0.5-0.8 s each: full default trainings
@pytest.mark.parametrize("name", ["moons", "circles", "spirals"])
def test_builtin_sets_reach_95_percent_with_defaults(name, tmp_path, capsys):
    out_file = tmp_path / f"{name}.npz"
    assert main(["train", "--dataset", name, "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "task: classification (it holds whole numbers with 2 distinct values)" in out
    assert "model: 2 -> 128 -> 64 -> 2, relu hidden layers (He init), logits, softmax cross-entropy (ce)" in out
    assert "split: no validation, test 20%, inputs standardised" in out
    assert scores(out)["test accuracy"] >= 0.95
    assert out_file.exists() and f"saved {out_file}" in out


@pytest.mark.slow
def test_digits_csv_with_only_target_reaches_97_percent(tmp_path, capsys):
    pytest.importorskip("sklearn")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples"))
    try:
        import digits
    finally:
        sys.path.pop(0)
    assert digits.run(str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "10 classes [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in out
    evaluated = scores(out.split("$ handprop evaluate")[1])
    assert evaluated["samples"] == 359 and evaluated["accuracy"] >= 0.97


def test_text_labels_train_evaluate_predict_summary(tmp_path, capsys, labelled):
    X, kind = labelled
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "train.csv"), "--target", "kind", "--out", str(model),
                 "--val", "0.2", "--epochs", "40", "--log", str(tmp_path / "log.csv")]) == 0
    out = capsys.readouterr().out
    assert "task: classification (the target holds text labels): 3 classes [maybe, no, yes]" in out
    assert "split: validation 20% (early stopping, patience 20)" in out
    assert {"train accuracy", "val accuracy", "val loss"} <= set(scores(out))
    assert len(list(csv.DictReader(open(tmp_path / "log.csv")))) == 40

    assert main(["evaluate", str(model), str(tmp_path / "train.csv")]) == 0
    out = capsys.readouterr().out
    s = scores(out)
    assert s["samples"] == 240 and s["accuracy"] >= 0.9 and "loss" in s
    assert "confusion matrix (rows: true class, columns: predicted class):" in out
    rows = out.split("predicted class):\n")[1].splitlines()[2:]
    assert sum(int(v) for row in rows for v in row.split("|")[1].split()) == 240

    assert main(["predict", str(model), str(tmp_path / "new.csv"), "--proba"]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table[0] == ["kind", "p_maybe", "p_no", "p_yes"] and len(table) == 7
    probs = np.array([[float(v) for v in row[1:]] for row in table[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    assert [row[0] for row in table[1:]] == [["maybe", "no", "yes"][i] for i in probs.argmax(axis=1)]
    # The columns were reordered by name: the same rows as in the training file get the same answers.
    loaded = handprop.load(model)
    assert [row[0] for row in table[1:]] == loaded.info.predict(loaded, X[:6]).tolist()

    assert main(["summary", str(model)]) == 0
    out = capsys.readouterr().out
    assert "Dense(3, 128)" in out and "task: classification, classes: maybe, no, yes" in out
    assert "features: 3 (a, b, c)" in out and "loss: CrossEntropy()" in out


def test_regression_csv_predicts_in_the_original_units(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, (300, 2))
    price = 1000 + 50 * X[:, 0] - 20 * X[:, 1] ** 2
    write_csv(tmp_path / "r.csv", ["x1", "x2", "price"], np.column_stack([X, price]).tolist())
    model = tmp_path / "r.npz"
    assert main(["train", str(tmp_path / "r.csv"), "--target", "price", "--out", str(model), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "train mse: " + out.splitlines()[0].split(": ")[1]  # --quiet: scores only
    assert main(["evaluate", str(model), str(tmp_path / "r.csv")]) == 0
    s = scores(capsys.readouterr().out)
    assert s["r2"] > 0.99 and s["mae"] < 10
    assert main(["predict", str(model), str(tmp_path / "r.csv")]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    pred = np.array([float(r[0]) for r in table[1:]])
    assert table[0] == ["price"] and np.abs(pred - price).mean() == pytest.approx(s["mae"], abs=5e-5)


def test_save_load_predict_from_the_cli_is_identical(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "--dataset", "blobs", "--n", "200", "--epochs", "5", "--out", str(model), "--quiet"]) == 0
    X, _ = make_dataset("blobs", n=50, seed=9)
    np.savez(tmp_path / "x.npz", X=X, y=np.zeros(50, dtype=int))
    assert main(["predict", str(model), str(tmp_path / "x.npz"), "--proba"]) == 0
    capsys.readouterr()
    loaded = handprop.load(model)
    first = loaded.info.predict(loaded, X, proba=True)
    again = handprop.load(model)
    np.testing.assert_array_equal(again.info.predict(again, X, proba=True), first)


def test_resume_from_the_cli_equals_an_uninterrupted_run(tmp_path, capsys):
    common = ["train", "--dataset", "moons", "--n", "200", "--val", "0.2", "--quiet"]
    assert main(common + ["--epochs", "8", "--out", str(tmp_path / "a.npz")]) == 0
    assert main(common + ["--epochs", "3", "--checkpoint", str(tmp_path / "ck.npz"), "--out", str(tmp_path / "x.npz")]) == 0
    a_scores = capsys.readouterr().out.split("train accuracy")[1]
    assert main(["train", "--resume", str(tmp_path / "ck.npz"), "--epochs", "8", "--quiet",
                 "--out", str(tmp_path / "b.npz")]) == 0
    assert capsys.readouterr().out == "train accuracy" + a_scores  # the same final scores as run a
    _same_arrays(tmp_path / "a.npz", tmp_path / "b.npz")
    assert main(["train", "--resume", str(tmp_path / "ck.npz"), "--lr", "0.1"]) == 2
    assert "--resume: lr is 0.1 here but 0.001 in the checkpoint" in capsys.readouterr().err
    assert main(["summary", str(tmp_path / "ck.npz")]) == 0
    assert "checkpoint: 8 of 8 epochs done, optimizer Adam" in capsys.readouterr().out
    # A checkpoint written from Python has no CLI settings to rebuild the run from.
    X, y = make_dataset("moons", n=50, seed=0)
    handprop.fit(handprop.mlp([2, 2], rng=0), X, y, loss="ce", epochs=1,
                 callbacks=[handprop.callbacks.ModelCheckpoint(tmp_path / "py.npz")])
    assert main(["train", "--resume", str(tmp_path / "py.npz")]) == 2
    assert "was not written by handprop train; resume it from Python with fit(resume=...)" in capsys.readouterr().err


def test_a_resumed_run_reads_the_file_as_the_first_run_did(tmp_path, capsys):
    # --delimiter, --drop and --columns are part of the run: the resumed half must read the same
    # columns from the same file, so it ends where one uninterrupted run ends, bit for bit.
    rng = np.random.default_rng(0)
    rows = ["id;a;b;noise;label"] + [f"{i};{a:.4f};{b:.4f};{n:.4f};{'yes' if a + b > 0 else 'no'}"
                                     for i, (a, b, n) in enumerate(rng.standard_normal((60, 3)))]
    path = tmp_path / "semi.txt"
    path.write_text("\n".join(rows) + "\n")
    common = ["train", str(path), "--target", "label", "--delimiter", "semicolon", "--drop", "id",
              "--columns", "a,b", "--layers", "4", "--quiet", "--no-doctor"]
    assert main(common + ["--epochs", "6", "--out", str(tmp_path / "a.npz")]) == 0
    assert main(common + ["--epochs", "2", "--checkpoint", str(tmp_path / "ck.npz"),
                          "--out", str(tmp_path / "x.npz")]) == 0
    assert main(["train", "--resume", str(tmp_path / "ck.npz"), "--epochs", "6", "--quiet", "--no-doctor",
                 "--out", str(tmp_path / "b.npz")]) == 0
    capsys.readouterr()
    assert handprop.load(tmp_path / "b.npz").info.feature_names == ["a", "b"]
    _same_arrays(tmp_path / "a.npz", tmp_path / "b.npz")


def _same_arrays(a, b):
    with np.load(a) as za, np.load(b) as zb:
        keys = [k for k in za.files if k != "__config__"]
        assert keys == [k for k in zb.files if k != "__config__"]
        for k in keys:
            np.testing.assert_array_equal(za[k], zb[k])


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_sigkilled_training_resumes_bit_for_bit(tmp_path, capsys):
    flags = ["--dataset", "moons", "--n", "200", "--quiet"]
    ck = tmp_path / "ck.npz"
    child = _start_training(tmp_path, ck)
    try:
        _wait_for_epochs(child, ck, 3)
        os.kill(child.pid, signal.SIGKILL)  # no chance to clean up: the checkpoint must already be whole
    finally:
        child.kill()
        child.wait()
    done = load_checkpoint(ck).epochs_done
    end = str(done + 3)
    assert main(["train", "--resume", str(ck), "--epochs", end, "--out", str(tmp_path / "b.npz")]) == 0
    assert main(["train", *flags, "--epochs", end, "--out", str(tmp_path / "a.npz")]) == 0
    capsys.readouterr()
    _same_arrays(tmp_path / "a.npz", tmp_path / "b.npz")


def _start_training(tmp_path, ck):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
    return subprocess.Popen([sys.executable, "-m", "handprop", "train", "--dataset", "moons", "--n", "200",
                             "--epochs", "100000", "--checkpoint", str(ck), "--out", str(tmp_path / "m.npz")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_epochs(child, ck, epochs):
    deadline = time.time() + 60
    while time.time() < deadline and child.poll() is None:
        if ck.exists() and load_checkpoint(ck).epochs_done >= epochs:
            return
        time.sleep(0.02)
    raise AssertionError("the training process ended (or hung) before it could be stopped")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_training_and_saves_the_model(tmp_path):
    ck = tmp_path / "ck.npz"
    child = _start_training(tmp_path, ck)
    try:
        _wait_for_epochs(child, ck, 2)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "stopped: interrupted (Ctrl-C) during epoch" in out and f"saved {tmp_path / 'm.npz'}" in out
    model = handprop.load(tmp_path / "m.npz")
    assert model.info.class_names == ["0", "1"]


@pytest.mark.parametrize("argv, message", [
    (["train"], "train needs DATA (a file) or --dataset NAME"),
    (["train", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["train", "{d}/train.csv", "--target", "price"], "no target column 'price'; the columns are: a, b, kind, c"),
    (["train", "{d}/train.csv", "--target", "kind", "--loss", "mse"], "--loss mse is for regression"),
    (["train", "{d}/train.csv", "--target", "kind", "--loss", "bce"], "--loss bce needs exactly 2 classes"),
    (["train", "{d}/train.csv", "--target", "kind", "--layers", "64,x"], "--layers must be comma-separated"),
    (["train", "{d}/train.csv", "--target", "kind", "--val", "1.5"],
     "--val must be a fraction of the rows in [0, 1), got 1.5"),
    (["train", "{d}/train.csv", "--target", "kind", "--val", "0.5", "--test", "0.5"], "leave no rows for training"),
    (["evaluate", "{d}/missing.npz", "{d}/train.csv"], "missing.npz: no such file"),
    (["evaluate", "{d}/train.csv", "{d}/train.csv"], "not a readable .npz file"),
    (["summary", "{d}/train.csv"], "not a readable .npz file"),
])
def test_bad_input_exits_2_with_a_message(argv, message, tmp_path, capsys, labelled):
    argv = [a.format(d=tmp_path) for a in argv]
    assert main(argv + ["--out", str(tmp_path / "o.npz")] if argv[0] == "train" else argv) == 2
    assert message in capsys.readouterr().err


def test_evaluate_names_an_unseen_label_and_wrong_feature_count(tmp_path, capsys, labelled):
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "train.csv"), "--target", "kind", "--epochs", "2", "--out", str(model),
                 "--quiet"]) == 0
    write_csv(tmp_path / "odd.csv", ["a", "b", "kind", "c"], [[0, 0, "perhaps", 0]])
    assert main(["evaluate", str(model), str(tmp_path / "odd.csv")]) == 2
    assert "unseen label 'perhaps'" in capsys.readouterr().err
    write_csv(tmp_path / "two.csv", ["p", "q"], [[0, 1]])
    assert main(["predict", str(model), str(tmp_path / "two.csv")]) == 2
    assert "2 feature columns, but the model takes 3 (a, b, c)" in capsys.readouterr().err


def test_a_model_saved_from_python_with_only_its_loss_can_be_evaluated(tmp_path, capsys):
    X, y = make_dataset("blobs", n=150, seed=0)
    model = handprop.mlp([2, 8, 3], "relu", rng=0)
    model.fit(X, y, loss="ce", optimizer="adam", lr=0.05, epochs=30, batch_size=16, seed=0)
    model.save(tmp_path / "m.npz", loss="ce")
    write_csv(tmp_path / "b.csv", ["u", "v", "label"], [[a, b, int(c)] for (a, b), c in zip(X, y)])
    assert main(["evaluate", str(tmp_path / "m.npz"), str(tmp_path / "b.csv")]) == 0
    s = scores(capsys.readouterr().out)
    assert s["accuracy"] == handprop.evaluate(model, X, y, None, ["accuracy"])["accuracy"] >= 0.9
    write_csv(tmp_path / "f.csv", ["u", "v"], X[:3].tolist())
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "f.csv")]) == 0
    rows = capsys.readouterr().out.split()
    assert rows == ["label"] + [str(i) for i in model.predict(X[:3]).argmax(axis=1)]


@pytest.mark.parametrize("y, class_names, task, why", [
    (np.array([0, 1, 1, 0] * 10), None, "classification", "whole numbers with 2 distinct values"),
    (np.arange(200) % 60, None, "regression", "60 distinct values (more than 50)"),
    (np.array([0.5, 1.5] * 10), None, "regression", "fractional numbers"),
    (np.array([0, 1] * 5), ["no", "yes"], "classification", "text labels"),
    (np.zeros((10, 2)), None, "regression", "2 columns"),
])
def test_the_task_is_read_from_the_target(y, class_names, task, why):
    from handprop.cli.settings import detect_task as _detect_task

    found, reason = _detect_task(y, class_names)
    assert found == task and why in reason


def test_no_scale_and_forced_task_are_said_and_stored(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "--dataset", "blobs", "--n", "200", "--epochs", "3", "--no-scale",
                 "--task", "classification", "--layers", "none", "--out", str(model)]) == 0
    out = capsys.readouterr().out
    assert "task: classification (--task)" in out and "inputs not scaled" in out
    assert "model: 2 -> 3, no hidden layer (a linear model), logits" in out
    assert main(["summary", str(model)]) == 0
    out = capsys.readouterr().out
    assert "standardised: nothing" in out and "Dense(2, 3)" in out and "ReLU" not in out
