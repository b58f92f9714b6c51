"""What the playground exports: the data as CSV, the equivalent ``handprop train`` command, and a
Python script that rebuilds the run. All three reproduce the run's weights at the exported epoch.

The command and the script read ``playground-data.csv`` (``data_csv``): the run's input columns
(the chosen features of the points, or the uploaded file's columns) and its target, numbers
written with all their digits so that the file reads back to the same floats.
"""

import csv
import io
import shlex

import numpy as np

from ..errors import HandpropValueError
from .settings import layer_sizes, penalties, test_fraction

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


_SCRIPT = '''"""Rebuild the handprop playground's run: {summary}.

Reads {data} (exported with this script) and saves the network after {epochs} epochs to
{model} (or the paths given: python {script} DATA.csv OUT.npz).
"""
import sys

import numpy as np

import handprop
from handprop.data import LabelEncoder, StandardScaler, load_data, train_test_split

data_path = sys.argv[1] if len(sys.argv) > 1 else {data!r}
out_path = sys.argv[2] if len(sys.argv) > 2 else {model!r}
data = load_data(data_path, target={target!r})
X = data.X
{targets}
# the split, scaling and seeds of `handprop train`
X_train, X_test, y_train, y_test = train_test_split(X, y, {test!r}, seed={seed}, stratify={stratify})
x_scaler = StandardScaler().fit(X_train)
{y_scaling}
model = handprop.mlp({sizes}, {activation!r}, output=None, rng=np.random.default_rng([{seed}, 1]))
for layer in model.layers:  # the regularization: l1·Σ|W| + l2·ΣW² on every Dense layer's weights
    if isinstance(layer, handprop.Dense):
        layer.l1, layer.l2 = {l1!r}, {l2!r}
loss = handprop.{loss}
optimizer = handprop.{optimizer}
model.fit(x_scaler.transform(X_train), fit_y(y_train), loss=loss, optimizer=optimizer, epochs={epochs},
          batch_size={batch_size}, seed=[{seed}, 2])
for name, X_part, y_part in (("train", X_train, y_train), ("test", X_test, y_test)):
    scores = handprop.evaluate(model, x_scaler.transform(X_part), fit_y(y_part), loss=loss, metrics=())
    print(f"{{name}} loss: {{scores['loss']:.6f}}")
model.save(out_path, loss=loss, task={task!r}, x_scaler=x_scaler, {info}
           feature_names=data.feature_names, target_name=data.target_name)
print(f"saved {{out_path}}")
'''

_CLASSES = '''raw = np.asarray(data.class_names)[data.y] if data.class_names is not None else np.asarray(data.y)
encoder = LabelEncoder().fit(raw)
y = encoder.transform(raw)'''
_VALUES = "y = np.asarray(data.y, dtype=np.float64).reshape(len(data.y), -1)"


_FIT_Y = {"bce": "fit_y = lambda v: v.astype(np.float64)  # class indices 0 and 1, as BCE's targets",
          "ce": "fit_y = lambda v: v  # class indices",
          "mse": "y_scaler = StandardScaler().fit(y_train)\nfit_y = y_scaler.transform"}
_LOSSES = {"bce": "BCE(from_logits=True)", "ce": "CrossEntropy()", "mse": "MSE()"}


def python_script(run, epoch):
    """A script that rebuilds this run for ``epoch`` epochs from ``DATA_NAME`` and saves the model."""
    _require_epochs(epoch)
    s, p = run.settings, run.problem
    classification = p.task == "classification"
    sizes = [p.X.shape[1]] + layer_sizes(s["layers"]) + [run.n_outputs]
    optimizer = (f"Adam(lr={s['lr']!r}, weight_decay=0.0)" if s["optimizer"] == "adam"
                 else f"SGD(lr={s['lr']!r}, momentum=0.0, weight_decay=0.0)")
    return _SCRIPT.format(
        summary=f"{p.name}, layers {s['layers'] or 'none'}, {s['activation']}, {epoch} epochs",
        data=DATA_NAME, model=MODEL_NAME, script=SCRIPT_NAME, target=p.target_name,
        targets=_CLASSES if classification else _VALUES, test=test_fraction(s), seed=s["seed"],
        stratify=classification, sizes=sizes, activation=s["activation"], l1=penalties(s)[0], l2=penalties(s)[1],
        y_scaling=_FIT_Y[run.loss_name], loss=_LOSSES[run.loss_name], optimizer=optimizer, epochs=epoch,
        batch_size=s["batch-size"] if s["batch-size"] < len(run.X_train) else None, task=p.task,
        info="label_encoder=encoder," if classification else "y_scaler=y_scaler,")
