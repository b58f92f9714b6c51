"""What the playground exports: the data as CSV, the equivalent ``handprop train`` command, and a
Python script that rebuilds the run's network. All three reproduce the run's weights at the exported
epoch: the command by training again, the script by holding the weights.

The command reads ``playground-data.csv`` (``data_csv``): the run's input columns (the chosen features
of the points, or the uploaded file's columns) and its target, numbers written with all their digits
so that the file reads back to the same floats. The script is ``handprop export --to python``'s
(``handprop.export_python.python_script``), its weights written out in it.
"""

import csv
import io
import shlex

import numpy as np

from ..errors import HandpropValueError
from .settings import penalties, test_fraction

DATA_NAME = "playground-data.csv"
MODEL_NAME = "playground-model.npz"
SCRIPT_NAME = "playground_run.py"


def _cell(v):
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def data_csv(run):
    """The run's data as CSV text: its input columns, then its target."""
    p = run.problem
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(p.feature_names) + [p.target_name])
    raw = np.asarray(p.class_names)[p.y] if p.class_names is not None else np.asarray(p.y)
    raw = raw.reshape(len(raw), -1)
    for x, t in zip(p.X, raw):
        w.writerow([_cell(v) for v in x] + [_cell(v) for v in t])
    return out.getvalue()


def _require_epochs(epoch):
    if epoch < 1:
        raise HandpropValueError("nothing trained yet (epoch 0): press play or step, then export; "
                                 "`handprop train` needs --epochs of at least 1")


def train_command(run, epoch):
    """The ``handprop train`` command that trains this run for ``epoch`` epochs on ``DATA_NAME``."""
    _require_epochs(epoch)
    s, p = run.settings, run.problem
    parts = ["handprop", "train", DATA_NAME, "--target", p.target_name, "--task", p.task,
             "--layers", s["layers"] or "none", "--activation", s["activation"],
             "--loss", run.loss_name, "--optimizer", s["optimizer"],
             "--lr", repr(s["lr"])]
    if s["optimizer"] == "sgd":
        parts += ["--momentum", "0"]
    l1, l2 = penalties(s)
    parts += ["--weight-decay", "0", "--l1", repr(l1), "--l2", repr(l2), "--epochs", str(epoch), "--batch-size", str(s["batch-size"]),
              "--test", repr(test_fraction(s)), "--seed", str(s["seed"]), "--out", MODEL_NAME, "--quiet"]
    return " ".join(shlex.quote(str(part)) for part in parts)


def python_script(run, epoch, model=None):
    """The handprop script that rebuilds this run's network at ``epoch`` (``model``: that network, by
    default the last frame drawn): ``handprop.export_python.python_script``, the same writer as
    ``handprop export MODEL --to python``, with the weights written out in the script (one file).
    ``python playground_run.py playground-data.csv OUT.npz`` prints its predictions and saves it."""
    from ..export_python import python_script as write

    _require_epochs(epoch)
    if model is None:
        epoch, model = run.model_at_snapshot()
    return write(model, SCRIPT_NAME, origin=f"the handprop playground ({run.problem.name}, epoch {epoch})")[0]
