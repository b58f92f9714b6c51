"""Callbacks: early stopping, learning-rate schedules, loggers, checkpoints, progress bar."""

import csv
import io
import json
import math
import sys

import numpy as np
import pytest

from handprop import SGD, Adam, fit, mlp
from handprop.callbacks import (Callback, CosineLR, CSVLogger, EarlyStopping, JSONLogger, ModelCheckpoint,
                                ProgressBar, ReduceLROnPlateau, StepLR)
from handprop.errors import HandpropValueError


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.standard_normal((n, 2)) + 2.0 * y[:, None]
    return X, y


class Scripted(Callback):
    """Replaces the logged value of ``key`` by a scripted sequence: the monitors see exactly it."""

    def __init__(self, key, values):
        self.key, self.values = key, list(values)

    def on_epoch_end(self, state, logs):
        logs[self.key] = self.values[state.epoch]


class Weights(Callback):
    """Keeps a copy of the weights after every epoch."""

    def __init__(self):
        self.seen = []

    def on_epoch_end(self, state, logs):
        self.seen.append([p.value.copy() for p in state.model.parameters()])


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    X, y = data()
    model = mlp([2, 4, 2], rng=0)
    val = [5, 4, 3, 3.5, 3.2, 3.1, 3.0, 2.0]  # best at epoch 2 (3.0 later is not better by min_delta)
    w, stop = Weights(), EarlyStopping("score", patience=3, min_delta=0.01)
    h = fit(model, X, y, loss="ce", optimizer=Adam(lr=0.01), epochs=8, batch_size=16, seed=0,
            callbacks=[Scripted("score", val), w, stop])
    assert len(h) == 6  # epochs 3, 4, 5 do not improve: the 3rd miss (patience 3) stops after epoch 5
    assert "has not improved for 3 epochs (best 3 at epoch 2)" in h.stop_reason
    for now, best in zip(model.parameters(), w.seen[2]):
        np.testing.assert_array_equal(now.value, best)


def test_early_stopping_max_mode_for_accuracy_and_restores_even_without_stopping():
    X, y = data()
    model = mlp([2, 4, 2], rng=1)
    w, stop = Weights(), EarlyStopping("val_accuracy", patience=10)
    assert stop.mode == "max"
    h = fit(model, X, y, loss="ce", optimizer=Adam(lr=0.01), epochs=4, seed=0,
            callbacks=[Scripted("val_accuracy", [0.5, 0.9, 0.8, 0.7]), w, stop])
    assert len(h) == 4 and h.stop_reason is None
    for now, best in zip(model.parameters(), w.seen[1]):
        np.testing.assert_array_equal(now.value, best)


def test_a_missing_monitor_is_named():
    X, y = data()
    with pytest.raises(HandpropValueError, match="monitors 'val_loss', but this training run only reports loss"):
        fit(mlp([2, 2], rng=0), X, y, loss="ce", epochs=2, callbacks=[EarlyStopping()])


class LR(Callback):
    def __init__(self):
        self.lrs = []

    def on_epoch_begin(self, state):
        self.lrs.append(state.optimizer.lr)


@pytest.mark.parametrize("schedule, expected", [
    (StepLR(step_size=2, gamma=0.5), [0.1 * 0.5 ** (e // 2) for e in range(6)]),
    (CosineLR(epochs=4, min_lr=0.01), [0.01 + 0.09 * (1 + math.cos(math.pi * min(e, 4) / 4)) / 2 for e in range(6)]),
])
def test_schedules_set_the_rate_before_each_epoch_and_log_it(schedule, expected):
    X, y = data()
    seen = LR()
    h = fit(mlp([2, 2], rng=0), X, y, loss="ce", optimizer=SGD(lr=0.1), epochs=6, callbacks=[schedule, seen])
    assert seen.lrs == pytest.approx(expected, rel=1e-15)
    assert h["lr"] == seen.lrs


def test_reduce_on_plateau_multiplies_by_factor_after_patience_then_cools_down():
    X, y = data()
    seen = LR()
    val = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    plateau = ReduceLROnPlateau("v", factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    fit(mlp([2, 2], rng=0), X, y, loss="ce", optimizer=SGD(lr=0.1), epochs=9,
        callbacks=[Scripted("v", val), plateau, seen])
    # epochs 2, 3 miss -> halve after 3; epoch 4 is cooldown; 5, 6 miss -> halve after 6; 8 would need 2 more
    assert seen.lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])


def test_csv_and_json_loggers_write_the_history(tmp_path):
    X, y = data()
    h = fit(mlp([2, 2], rng=0), X, y, loss="ce", optimizer="adam", epochs=3, validation_split=0.25,
            metrics=["accuracy"], callbacks=[CSVLogger(tmp_path / "log.csv"), JSONLogger(tmp_path / "log.json")])
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_accuracy"]) for r in rows] == h["val_accuracy"]
    assert [float(r["loss"]) for r in rows] == h["loss"]  # repr round-trips exactly
    d = json.loads((tmp_path / "log.json").read_text())
    assert d["epoch"] == [0, 1, 2] and d["val_loss"] == h["val_loss"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_model_checkpoint_every_and_best_only(tmp_path):
    from handprop.io import load_checkpoint

    X, y = data()
    seen = []

    class Spy(Callback):
        def after_epoch(self, state, logs):
            seen.append(load_checkpoint(tmp_path / "every.npz").epochs_done if (tmp_path / "every.npz").exists() else None)
    every = ModelCheckpoint(tmp_path / "every.npz", every=2)
    best = ModelCheckpoint(tmp_path / "best.npz", save_best_only=True, monitor="v")
    fit(mlp([2, 2], rng=0), X, y, loss="ce", optimizer="adam", epochs=5,
        callbacks=[Scripted("v", [3, 2, 2.5, 1, 4]), every, best, Spy()])
    assert seen == [None, 2, 2, 4, 5]
    # every 2 epochs (after epochs 1 and 3) and after the last one, epoch 4
    assert load_checkpoint(tmp_path / "every.npz").epochs_done == 5
    assert load_checkpoint(tmp_path / "best.npz").epochs_done == 4  # the best, v = 1, was epoch 3


def test_progress_bar_fallback_line_and_silence_when_not_a_terminal(monkeypatch):
    X, y = data()
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    buf = io.StringIO()
    fit(mlp([2, 2], rng=0), X, y, loss="ce", epochs=3, metrics=["accuracy"], callbacks=[ProgressBar(buf, force=True)])
    text = buf.getvalue()
    assert "\repoch 3/3  loss=" in text and "accuracy=" in text and text.endswith("\n")
    quiet = io.StringIO()  # StringIO is not a terminal
    fit(mlp([2, 2], rng=0), X, y, loss="ce", epochs=2, callbacks=[ProgressBar(quiet)])
    assert quiet.getvalue() == ""


def test_progress_bar_uses_tqdm_when_installed():
    pytest.importorskip("tqdm")
    X, y = data()
    buf = io.StringIO()
    fit(mlp([2, 2], rng=0), X, y, loss="ce", epochs=3, callbacks=[ProgressBar(buf, force=True)])
    assert "3/3" in buf.getvalue() and "loss=" in buf.getvalue()


@pytest.mark.parametrize("make, match", [
    (lambda: EarlyStopping(patience=-1), "patience must be an integer >= 0"),
    (lambda: EarlyStopping(mode="up"), "mode must be 'auto', 'min' or 'max'"),
    (lambda: StepLR(0), "step_size must be a positive integer"),
    (lambda: StepLR(2, gamma=1.5), r"gamma must be in \(0, 1\]"),
    (lambda: CosineLR(0), "epochs must be a positive integer"),
    (lambda: ReduceLROnPlateau(factor=1.0), r"factor must be in \(0, 1\)"),
    (lambda: ModelCheckpoint("x.npz", every=0), "every must be a positive integer"),
])
def test_bad_arguments(make, match):
    with pytest.raises(HandpropValueError, match=match):
        make()
