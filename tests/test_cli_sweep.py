"""``handprop sweep``: the table and map it writes, and the inputs it refuses before training."""

import argparse
import csv
import shlex
import struct
import sys

import numpy as np
import pytest

from handprop import sweep
from handprop.cli import main
from handprop.cli.xor import build_xor

SMALL = ["sweep", "--lr", "0.5,2", "--hidden", "2,3", "--seeds", "3", "--epochs", "100", "--quiet"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_sweep_writes_the_table_and_the_map(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    table, picture = tmp_path / "table.csv", tmp_path / "map.png"
    argv = SMALL[:-1] + ["--out", str(table), "--map", str(picture)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    rows = _rows(table)
    assert len(rows) == 2 * 2 * 3
    assert list(rows[0]) == list(sweep.ROW_KEYS)
    assert [r["seed"] for r in rows[:3]] == ["0", "1", "2"]
    for key in rows:  # the summary's counts are the table's
        cell = [r for r in rows if r["hidden"] == key["hidden"] and r["lr"] == key["lr"]]
        done = sum(r["converged"] == "true" for r in cell)
        assert f"hidden {key['hidden']} lr {float(key['lr']):g}: {done}/3 converged" in out
    data = picture.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (380, 300)  # (1.1 * 2 + 1.6) x (0.7 * 2 + 1.6) inches, 100 dpi


def test_a_row_is_the_run_handprop_xor_trains(tmp_path):
    # handprop xor builds blog 000's network its own way: the same seed, lr and width train to the same loss
    table = tmp_path / "t.csv"
    assert main(SMALL + ["--out", str(table)]) == 0
    row = [r for r in _rows(table) if (r["seed"], r["hidden"], r["lr"]) == ("1", "3", "2.0")][0]
    args = argparse.Namespace(lr=2.0, hidden=3, init="normal", activation="sigmoid", loss="mse", optimizer="sgd",
                              momentum=0.0, epochs=100, seed=1)
    model, loss, optimizer, X, y = build_xor(args)
    model.fit(X, y, loss=loss, optimizer=optimizer, epochs=100)
    pred = model.predict(X)
    assert float(row["final_loss"]) == pytest.approx(np.mean((pred - y) ** 2), rel=1e-9)
    assert float(row["accuracy"]) == np.mean((pred[:, 0] >= 0.5) == y[:, 0])


def test_outputs_go_only_where_the_command_line_says(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(SMALL) == 0
    assert list(tmp_path.iterdir()) == []


def test_a_csv_of_three_text_classes_is_swept_with_cross_entropy(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "three.csv"
    lines = ["a,b,kind"] + [f"{x:.3f},{z:.3f},{'red green blue'.split()[i % 3]}"
                            for i, (x, z) in enumerate(rng.standard_normal((12, 2)))]
    data.write_text("\n".join(lines) + "\n")
    table = tmp_path / "t.csv"
    assert main(["sweep", str(data), "--seeds", "2", "--epochs", "20", "--scale", "--quiet", "--out", str(table)]) == 0
    rows = _rows(table)
    assert [r["loss"] for r in rows] == ["ce", "ce"]
    assert all(float(r["accuracy"]) in (k / 12 for k in range(13)) for r in rows)


def _refused(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1
    return err


@pytest.mark.parametrize("flags, message", [
    (["--lr", "0.1,abc"], "--lr must be comma-separated numbers, e.g. --lr 0.01,0.1,1; got '0.1,abc'"),
    (["--lr", "0.1,,1"], "--lr must be a comma-separated list without empty entries"),
    (["--lr", "0.1,-1"], "--lr must be positive finite numbers, got -1.0"),
    (["--lr", "0.1,0.1"], "--lr lists 0.1 more than once"),
    (["--hidden", "2,3.5"], "--hidden must be comma-separated whole numbers, e.g. --hidden 2,4,8"),
    (["--activation", "sigmoid,softplus"], "--activation: unknown value 'softplus'; choose from sigmoid, tanh"),
    (["--init", "zeros"], "--init: unknown value 'zeros'"),
    (["--dataset", "nope"], "--dataset: unknown data set 'nope'; choose one of: and, blobs, circles"),
    (["--seeds", "0"], "--seeds must be a positive number of seeds, got 0"),
    (["--converged-loss", "-1"], "--converged-loss must be positive finite numbers"),
    (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
    (["--dataset", "xor", "--target", "y"], "--target reads a data file"),
    (["--loss", "mse", "--dataset", "blobs"], "loss mse trains one output unit, for two classes; the target has 3"),
    (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:8786"], "--jobs runs cells in local processes and "
                                                             "--scheduler on a Dask cluster: give one of them"),
    (["--scheduler", "localhost"], "--scheduler must be a Dask scheduler address such as tcp://host:8786"),
    (["--map", "map.jpg"], "--map writes a PNG picture: give a path ending in .png"),
    (["--seeds", "100000", "--hidden", "100000"], "cell(s) of 100000 seeds side by side needs at least"),
    (["--seeds", str(2**31), "--first-seed", "0"], f"--seeds {2**31} needs at least"),
    (["--dataset", "moons", "--n", "100000", "--layers", "3", "--hidden", ",".join(str(w) for w in range(1000, 1016)),
      "--lr", ",".join(str(k / 100) for k in range(1, 17)), "--seeds", "20", "--epochs", "20000", "--batch-size", "10"],
     "this sweep of 256 cells of 20 seeds would take at least"),
    (["--mark-seed", "42"], "--mark-seed 42 is not among the seeds swept, 0 to 2"),
    (["--n", "0"], "--dataset xor: --n must be > 0, got 0"),
    (["--dataset", "regression"], "the target of --dataset regression is numeric (it holds fractional numbers): "
                                  "choose a data set of classes"),
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum 0.9 is SGD's; adam has none"),
])
def test_bad_input_is_refused_before_training(flags, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **k: pytest.fail("trained despite bad input"))
    assert message in _refused(SMALL + flags, capsys)


@pytest.mark.matplotlib  # --map checks that matplotlib imports
def test_an_output_that_is_the_input_is_refused(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")  # (without it, --map is refused for that first)
    data = tmp_path / "xor.csv"
    data.write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    before = data.read_bytes()
    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **k: pytest.fail("trained despite bad input"))
    err = _refused(["sweep", str(data), "--out", str(data)], capsys)
    assert f"--out {data} is the DATA file this sweep reads" in err
    err = _refused(["sweep", str(data), "--out", str(tmp_path / "m.png"), "--map", str(tmp_path / "m.png")], capsys)
    assert "--out and --map are the same file" in err
    assert data.read_bytes() == before


def test_a_regression_target_is_refused(tmp_path, capsys):
    data = tmp_path / "numbers.csv"
    data.write_text("a,y\n" + "".join(f"{i},{i * 0.37:.2f}\n" for i in range(10)))
    err = _refused(["sweep", str(data)], capsys)
    assert "sweep counts the runs that classify every training row right, so it needs classes" in err


def test_missing_matplotlib_for_map_is_reported_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **k: pytest.fail("trained before checking matplotlib"))
    table = tmp_path / "t.csv"
    err = _refused(SMALL + ["--out", str(table), "--map", str(tmp_path / "m.png")], capsys)
    assert 'pip install "handprop[plot]"' in err
    assert list(tmp_path.iterdir()) == []


def test_layers_counts_the_networks_dense_layers_as_in_the_issues_command(tmp_path, capsys, monkeypatch):
    from handprop.sweep import layer_sizes

    monkeypatch.chdir(tmp_path)
    # the issue's command, smaller: --layers 2 is blog 000's 2-h-1 network, --hidden its width
    assert main(["sweep", "--dataset", "xor", "--layers", "2", "--activation", "sigmoid", "--lr", "0.5,1",
                 "--hidden", "2,3", "--seeds", "2", "--epochs", "10", "--out", "t.csv", "--quiet"]) == 0
    rows = (tmp_path / "t.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 1 + 2 * 2 * 2 and {r.split(",")[header.index("layers")] for r in rows[1:]} == {"2"}
    assert main(["sweep", "--layers", "3", "--hidden", "4", "--seeds", "1", "--epochs", "2", "--out", "u.csv",
                 "--quiet"]) == 0
    assert layer_sizes({"hidden": 4, "layers": 3, "loss": "mse"}, 2, 2) == [2, 4, 4, 1]
    err = _refused(["sweep", "--layers", "128,64", "--seeds", "2", "--epochs", "10"], capsys)
    assert "--layers counts the network's Dense layers here" in err and "--hidden" in err
    err = _refused(["sweep", "--layers", "1", "--seeds", "2", "--epochs", "10"], capsys)
    assert "--layers counts the Dense layers, the output's included: at least 2" in err


@pytest.mark.slow
def test_the_readme_command_prints_the_readme_numbers(tmp_path, capsys):
    # 3,200 runs of 10,000 epochs (about a minute): the numbers the README quotes come from this command
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### How often does it learn?"):readme.index("## Performance")]
    command = shlex.split(section.split("```bash\n", 1)[1].split("\n", 1)[0])
    quoted = section.split("Its printed summary:\n\n```\n", 1)[1].split("```", 1)[0].splitlines()
    assert command[:2] == ["handprop", "sweep"] and len(quoted) == 4
    for flag in ("--out", "--map"):  # the outputs go to tmp_path; the picture in docs/ stays as committed
        command[command.index(flag) + 1] = str(tmp_path / Path(command[command.index(flag) + 1]).name)
    assert main(command[1:]) == 0
    out = capsys.readouterr().out
    rows = _rows(tmp_path / "table.csv")
    for line in quoted:  # each quoted line is printed, and recounted from the table
        assert line in out.splitlines()
        hidden, lr = line.split(" hidden ")[1].split(":")[0].split(" lr ")
        cell = [r for r in rows if r["hidden"] == hidden and float(r["lr"]) == float(lr)]
        done = sum(r["converged"] == "true" for r in cell)
        seed42 = [r for r in cell if r["seed"] == "42"][0]["converged"] == "true"
        assert line == (f"sigmoid normal hidden {hidden} lr {lr}: {done}/200 converged ({done / 200:.0%}); "
                        f"seed 42 {'converged' if seed42 else 'did not'}")
    for lr, median in (("10.0", 51), ("0.1", 2590)):  # "a median of 51 epochs instead of 2,590 at lr 0.1"
        epochs = [int(r["epochs_to_converge"]) for r in rows if (r["hidden"], r["lr"]) == ("8", lr)]
        assert len(epochs) == 200 and int(np.median(epochs)) == median
    blog = [r for r in rows if (r["hidden"], r["lr"], r["seed"]) == ("2", "0.1", "42")][0]
    assert float(blog["final_loss"]) == pytest.approx(0.139, abs=5e-4)  # the README's "its loss at 0.139"
    assert (tmp_path / "sweep_xor.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _Terminal:
    """A stand-in stderr that says it is a terminal, and keeps what is written."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, text):
        self.text += text
        return len(text)

    def flush(self):
        pass


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_a_terminal_sees_progress_over_the_cells(with_tqdm, monkeypatch):
    if with_tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(SMALL[:-1] + ["--epochs", "5", "--seeds", "2"]) == 0
    assert ("4/4" in terminal.text) and (("cell" in terminal.text) if with_tqdm else "cells 4/4" in terminal.text)
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(SMALL + ["--epochs", "5", "--seeds", "2"]) == 0
    assert quiet.text == ""


def test_a_batch_as_large_as_the_data_is_one_full_batch_and_said_so(tmp_path, capsys):
    table = tmp_path / "t.csv"
    assert main(SMALL + ["--batch-size", "4", "--out", str(table)]) == 0
    assert "warning: --batch-size 4 is not smaller than the 4 training rows" in capsys.readouterr().err
    assert {r["batch_size"] for r in _rows(table)} == {""}  # full batch, as the table says it
    plain = tmp_path / "plain.csv"
    assert main(SMALL + ["--out", str(plain)]) == 0
    assert plain.read_text() == table.read_text()
