"""handprop.sweep: the grid, the converged rule, a cell's rows against separate fit runs, the same
table from every backend, the table's text and the map's PNG."""

import csv
import io
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from handprop import sweep, sweep_map
from handprop.activations import Sigmoid, Tanh
from handprop.errors import HandpropTypeError, HandpropValueError
from handprop.layers import Dense
from handprop.losses import BCE, MSE, CrossEntropy
from handprop.model import Sequential
from handprop.optimizers import SGD, Adam

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


# ----------------------------------------------------------------------------------- converged rule
@pytest.mark.parametrize("accuracy, losses, expected", [
    (1.0, [0.3, 0.2, 0.09, 0.05], (True, 2)),        # below 0.1 from the loss after 2 epochs on
    (1.0, [0.3, 0.05, 0.2, 0.09, 0.08], (True, 3)),  # dipped below, came back up: counted from the last entry
    (1.0, [0.05, 0.04], (True, 0)),                  # right from the start
    (1.0, [0.3, 0.2, 0.1], (True, 2)),               # "at most" the threshold
    (1.0, [0.3, 0.05, 0.11], (False, None)),         # ends above the threshold
    (0.75, [0.3, 0.05, 0.01], (False, None)),        # a row classified wrong
    (1.0, [0.3, float("nan")], (False, None)),       # a loss that is not a number never converged
])
def test_converged_rule_by_hand(accuracy, losses, expected):
    assert sweep.converged_rule(accuracy, losses, 0.1) == expected


# ----------------------------------------------------------------------------------- grid checks
@pytest.mark.parametrize("kwargs, error, match", [
    ({"lr": [0.1, -1.0], "hidden": [2]}, HandpropValueError, r"lr must be positive finite numbers, got -1"),
    ({"lr": [0.1, float("inf")], "hidden": [2]}, HandpropValueError, r"lr must be positive"),
    ({"lr": [], "hidden": [2]}, HandpropValueError, r"lr must hold at least one value"),
    ({"lr": "0.1", "hidden": [2]}, HandpropTypeError, r"lr must be a list"),
    ({"lr": [0.1, 0.1], "hidden": [2]}, HandpropValueError, r"lr lists 0.1 more than once"),
    ({"lr": [0.1], "hidden": [0]}, HandpropValueError, r"hidden must be whole numbers from 1"),
    ({"lr": [0.1], "hidden": [2.5]}, HandpropValueError, r"hidden must be whole numbers"),
    ({"lr": [0.1], "hidden": [2], "activation": ["softplus"]}, HandpropValueError,
     r"activation: unknown value 'softplus'; choose from sigmoid, tanh"),
    ({"lr": [0.1], "hidden": [2], "init": ["zeros"]}, HandpropValueError, r"init: unknown value 'zeros'"),
])
def test_bad_grids_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        sweep.make_grid(**kwargs)


@pytest.mark.parametrize("seeds, kwargs, match", [
    ([0, -1], {}, r"seeds must be whole numbers from 0"),
    ([0, 0], {}, r"seeds lists 0 more than once"),
    ([0], {"loss": "hinge"}, r"loss: unknown value 'hinge'"),
    ([0], {"epochs": 0}, r"epochs must be whole numbers from 1"),
    ([0], {"momentum": 1.0}, r"momentum must be a number in \[0, 1\)"),
    ([0], {"threshold": 0}, r"threshold must be positive"),
    ([0], {"layers": 102}, r"layers must be whole numbers from 1 up to 101"),
    ([0], {"layers": 1}, r"layers counts the Dense layers, the output's included: at least 2"),
])
def test_bad_settings_are_refused(seeds, kwargs, match):
    with pytest.raises(HandpropValueError, match=match):
        sweep.make_settings(seeds, **kwargs)


def test_cells_run_in_grid_order():
    grid = sweep.make_grid(lr=[1.0, 0.1], hidden=[3, 2], activation=["tanh", "sigmoid"])
    order = [(c["activation"], c["hidden"], c["lr"]) for c in sweep.cells(grid, sweep.make_settings([0]))]
    assert order == [("tanh", 3, 1.0), ("tanh", 3, 0.1), ("tanh", 2, 1.0), ("tanh", 2, 0.1),
                     ("sigmoid", 3, 1.0), ("sigmoid", 3, 0.1), ("sigmoid", 2, 1.0), ("sigmoid", 2, 0.1)]


@pytest.mark.parametrize("X, y, loss, match", [
    (XOR_X, np.array([0, 1, 2, 0]), "mse", r"loss mse trains one output unit, for two classes; the target has 3"),
    (XOR_X, np.array([0.0, 1.0, 1.0, 0.5]), "mse", r"y must hold class indices"),
    (XOR_X, np.array([1, 1, 1, 1]), "ce", r"y holds one class"),
    (XOR_X[:, 0], XOR_Y, "mse", r"X of shape \(rows, features\)"),
])
def test_data_a_sweep_cannot_learn_is_refused(X, y, loss, match):
    with pytest.raises(HandpropValueError, match=match):
        sweep.check_data(X, y, loss)


def test_memory_of_a_cell_grows_linearly_with_its_seeds():
    one = sweep.cells(sweep.make_grid([0.1], [8]), sweep.make_settings([0], epochs=10))[0]
    many = dict(one, seeds=list(range(1000)))
    assert sweep.memory_bytes(many, 4, 2, 2) == 1000 * sweep.memory_bytes(one, 4, 2, 2)


# ----------------------------------------------------------------------------------- against fit
def _blog_model(seed, hidden, activation, loss):
    """The network written out by hand: RandomState(seed) draws W1, b1, W2, b2 (randn for W, zero b) as
    blog 000; one sigmoid output for MSE, one logit for BCE, two logits for CE."""
    rng = np.random.RandomState(seed)
    n_out = 2 if loss == "ce" else 1
    W1, W2 = rng.randn(2, hidden), rng.randn(hidden, n_out)
    layers = [Dense(2, hidden, weight=W1, bias=np.zeros(hidden)), activation(),
              Dense(hidden, n_out, weight=W2, bias=np.zeros(n_out))]
    return Sequential(layers + ([Sigmoid()] if loss == "mse" else []))


def _cell(**kw):
    grid = sweep.make_grid(lr=[kw.pop("lr")], hidden=[kw.pop("hidden")], activation=[kw.pop("activation", "sigmoid")])
    return sweep.cells(grid, sweep.make_settings(kw.pop("seeds"), **kw))[0]


@pytest.mark.parametrize("kw, activation, loss, optimizer, target", [
    ({"lr": 1.0, "hidden": 3, "epochs": 300}, Sigmoid, MSE, lambda: SGD(lr=1.0), XOR_Y.reshape(-1, 1) * 1.0),
    ({"lr": 0.5, "hidden": 2, "epochs": 200, "activation": "tanh", "momentum": 0.9, "batch_size": 3},
     Tanh, MSE, lambda: SGD(lr=0.5, momentum=0.9), XOR_Y.reshape(-1, 1) * 1.0),
    ({"lr": 0.05, "hidden": 4, "epochs": 200, "loss": "ce", "optimizer": "adam"}, Sigmoid, CrossEntropy,
     lambda: Adam(lr=0.05), XOR_Y),
    ({"lr": 0.5, "hidden": 3, "epochs": 200, "loss": "bce"}, Sigmoid, lambda: BCE(from_logits=True),
     lambda: SGD(lr=0.5), XOR_Y.reshape(-1, 1) * 1.0),
])
@pytest.mark.slow
def test_a_cells_rows_are_separate_fit_runs(kw, activation, loss, optimizer, target):
    seeds = [3, 42, 7]
    cell = _cell(seeds=seeds, **kw)
    rows = sweep.run_cell(cell, {"X": XOR_X.tolist(), "y": XOR_Y.tolist()})
    assert [r["seed"] for r in rows] == seeds
    for row, seed in zip(rows, seeds):
        model = _blog_model(seed, kw["hidden"], activation, cell["loss"])
        lossf = loss()
        model.fit(XOR_X, target, loss=lossf, optimizer=optimizer(), epochs=kw["epochs"],
                  batch_size=kw.get("batch_size"), seed=0)
        out = model.predict(XOR_X)
        expected = float(lossf.forward(out, target))
        assert row["final_loss"] == pytest.approx(expected, rel=1e-9, abs=1e-15)
        labels = out.argmax(1) if out.shape[1] > 1 else (out[:, 0] > (0 if cell["loss"] == "bce" else 0.5))
        assert row["accuracy"] == np.mean(labels == XOR_Y)
        assert row["converged"] == (row["accuracy"] == 1 and expected <= 0.1)


@pytest.mark.slow
def test_seed_42_is_blog_000s_run():
    # blog 000 prints the predictions 0.1241, 0.4808, 0.8914, 0.5080: [0, 1] and [1, 1] come out on the wrong side
    cell = _cell(seeds=[42], lr=0.1, hidden=2, epochs=10000)
    [row] = sweep.run_cell(cell, {"X": XOR_X.tolist(), "y": XOR_Y.tolist()})
    p = np.array([0.1241, 0.4808, 0.8914, 0.5080])
    assert row["final_loss"] == pytest.approx(np.mean((p - XOR_Y) ** 2), abs=1e-4)
    assert (row["accuracy"], row["converged"], row["epochs_to_converge"]) == (0.5, False, None)


# ----------------------------------------------------------------------------------- backends
def _small_sweep(**backend):
    grid = sweep.make_grid(lr=[0.5, 2.0], hidden=[2, 3], activation=["sigmoid", "tanh"])
    settings = sweep.make_settings([5, 1, 42], epochs=60)
    return sweep.table_text(sweep.run_sweep(XOR_X, XOR_Y, grid, settings, **backend))


@pytest.mark.slow
def test_every_backend_gives_the_same_table():
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("joblib")
    one = _small_sweep(jobs=1)
    assert one.count("\n") == 1 + 8 * 3
    assert _small_sweep(jobs=2) == one
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        assert _small_sweep(scheduler=client) == one
        assert _small_sweep(scheduler=cluster.scheduler_address) == one


def test_rows_come_back_in_grid_order_whatever_order_cells_finish(monkeypatch):
    table = _small_sweep()
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [(r["cell"], r["seed"]) for r in rows] == [(str(c), s) for c in range(8) for s in ("5", "1", "42")]
    assert [(r["activation"], r["hidden"], r["lr"]) for r in rows[::3]] == [
        (a, h, lr) for a in ("sigmoid", "tanh") for h in ("2", "3") for lr in ("0.5", "2.0")]
    # a backend whose cells finish last to first
    monkeypatch.setattr(sweep, "_on_joblib", lambda todo, data, jobs, on_cell: [
        sweep.run_cell(cell, data) for cell in reversed(todo)])
    assert _small_sweep(jobs=2) == table


@pytest.mark.slow
def test_importing_handprop_or_sweeping_with_one_job_imports_neither_joblib_nor_dask(tmp_path):
    code = ("import sys, handprop\n"
            "from handprop.cli import main\n"
            "assert main(['sweep', '--seeds', '2', '--epochs', '5', '--quiet', '--jobs', '1']) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('joblib', 'distributed', 'dask')))\n")
    src = os.path.dirname(os.path.dirname(sweep.__file__))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": src})
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------------- outputs
def test_table_text_has_a_header_and_full_precision_numbers():
    row = {"cell": 0, "activation": "sigmoid", "init": "normal", "hidden": 2, "layers": 2, "lr": 0.1, "loss": "mse",
           "optimizer": "sgd", "epochs": 10, "batch_size": None, "seed": 42, "final_loss": 1 / 3, "accuracy": 1.0,
           "converged": True, "epochs_to_converge": 7, "diverged": False}
    assert sweep.table_text([row]) == (
        "cell,activation,init,hidden,layers,lr,loss,optimizer,epochs,batch_size,seed,final_loss,accuracy,"
        "converged,epochs_to_converge,diverged\n"
        "0,sigmoid,normal,2,2,0.1,mse,sgd,10,,42,0.3333333333333333,1.0,true,7,false\n")


@pytest.mark.matplotlib
def test_the_map_is_a_png_of_the_documented_size(tmp_path):
    pytest.importorskip("matplotlib")
    base = {"init": "normal", "layers": 2, "seed": 0, "converged": True}
    rows = [dict(base, activation=a, hidden=h, lr=lr, seed=s, converged=(s + h) % 2 == 0)
            for a in ("sigmoid", "tanh") for h in (2, 3, 4) for lr in (0.1, 1.0) for s in (41, 42)]
    path = tmp_path / "map.png"
    sweep_map.draw_map(rows, str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    # 2 panels of 2 learning rates: 2 * (1.1 * 2 + 1.6) inches wide; 3 widths: 0.7 * 3 + 1.6 high; 100 dpi
    assert (width, height) == (760, 370)


def test_a_run_that_diverges_is_marked_and_never_converged():
    from handprop.activations import ReLU
    from handprop.errors import DivergenceError

    cell = _cell(seeds=[0, 1, 2], lr=1e300, hidden=3, activation="relu", epochs=20, loss="ce")
    rows = sweep.run_cell(cell, {"X": XOR_X.tolist(), "y": XOR_Y.tolist()})
    for row in rows:  # fit says which seeds diverge: it raises for them
        model = _blog_model(row["seed"], 3, ReLU, "ce")
        try:
            model.fit(XOR_X, XOR_Y, loss="ce", optimizer=SGD(lr=1e300), epochs=20, seed=0)
            diverges = False
        except DivergenceError:
            diverges = True
        assert row["diverged"] == diverges
        assert not row["converged"] and row["epochs_to_converge"] is None
    assert [r["diverged"] for r in rows] == [True, False, False]


def test_a_cluster_whose_workers_run_other_versions_is_refused():
    mine = sweep.versions()
    assert set(mine) == {"handprop", "numpy"} and mine["numpy"] == np.__version__
    sweep.check_workers(mine, {"tcp://a:1": dict(mine), "tcp://b:1": dict(mine)})  # the same: accepted
    other = dict(mine, numpy="1.0.0")
    with pytest.raises(HandpropValueError, match=r"worker tcp://b:1 has handprop .*, numpy 1\.0\.0, this machine .*"
                                                 r"on every worker: pip install handprop==.* numpy=="):
        sweep.check_workers(mine, {"tcp://a:1": dict(mine), "tcp://b:1": other})
