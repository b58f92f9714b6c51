"""Sweeps: how often does a network learn a task, and what changes the odds?

A sweep trains one small classifier per (grid cell, seed). A grid cell is one setting of the grid
axes (activation, initializer, hidden width, learning rate); its seeds are trained together by one
``handprop.train_many`` call. Each run gives one row of the table (``ROW_KEYS``).

The network of a run: ``layers`` Dense layers (blog 000's network has 2): ``layers - 1`` hidden
layers of width ``hidden`` with ``activation``, then the output (one sigmoid unit for ``mse``/``halfsse`` on two classes, as blog 000; one logit for ``bce``;
a logit per class for ``ce``). Its weights are drawn by ``numpy.random.RandomState(seed)`` with
``init``, layer by layer (W then b): seed 42 of a 2-2-1 sigmoid network with ``init="normal"`` is
blog 000's run exactly. Mini-batches (``batch_size``) come in the order of ``fit(seed=0)``.

**The converged rule.** A run converged when, after its last epoch, every training row is classified
right (a sigmoid output >= 0.5 means class 1, a logit > 0 means class 1, else the largest output) and
its training loss is at most ``threshold`` (default 0.1: XOR's half-solved network, two outputs stuck
at 0.5, has an MSE of 0.125). **Epochs to converge** (of a converged run): the fewest epochs after
which the training loss stayed at most ``threshold`` to the end, read from the loss the history
records per epoch (full batch: the loss after that many updates) and the final loss. A run that
diverged (``train_many`` froze it at its last finite weights: ``diverged`` in the table) never converged.

Everything a cell needs travels as plain data (dicts of numbers and strings, the data as lists), so
that cells can run in other processes (joblib) or on a Dask cluster: never a pickled model. Each
cell's seeds are its own numbers, so the table is the same whichever backend runs the cells and in
whichever order they finish (rows come back sorted by grid order, then seed).
"""

import csv
import io
import math
import numbers

import numpy as np

from .errors import HandpropTypeError, HandpropValueError
from .many import train_many

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
INITS = ("normal", "uniform", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform")
LOSSES = ("mse", "halfsse", "bce", "ce")
OPTIMIZERS = ("sgd", "adam")
# The grid axes, outermost first: cells run (and rows are sorted) in this order.
AXES = ("activation", "init", "hidden", "lr")
ROW_KEYS = ("cell", "activation", "init", "hidden", "layers", "lr", "loss", "optimizer", "epochs", "batch_size",
            "seed", "final_loss", "accuracy", "converged", "epochs_to_converge", "diverged")
DEFAULTS = {"layers": 2, "loss": "mse", "optimizer": "sgd", "momentum": 0.0, "epochs": 10000, "batch_size": None,
            "threshold": 0.1}


# ----------------------------------------------------------------------------------- the grid
def _check_list(name, values, check):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise HandpropTypeError(f"{name} must be a list of values, got {values!r}")
    values = list(values)
    if not values:
        raise HandpropValueError(f"{name} must hold at least one value, got none")
    out = [check(v) for v in values]
    seen = set()
    twice = sorted({str(v) for v in out if v in seen or seen.add(v)})
    if twice:
        raise HandpropValueError(f"{name} lists {', '.join(twice)} more than once; each value makes one grid "
                                 "row or column: list it once")
    return out


def _positive_number(name):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (0 < v < math.inf):
            raise HandpropValueError(f"{name} must be positive finite numbers, got {v!r}")
        return float(v)
    return check


def _positive_int(name, most=None):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 or (most and v > most):
            limit = f" up to {most}" if most else ""
            raise HandpropValueError(f"{name} must be whole numbers from 1{limit}, got {v!r}")
        return int(v)
    return check


def _choice(name, choices):
    def check(v):
        if v not in choices:
            raise HandpropValueError(f"{name}: unknown value {v!r}; choose from {', '.join(choices)}")
        return v
    return check


def make_grid(lr, hidden, activation=("sigmoid",), init=("normal",)):
    """The grid axes, checked: ``{"activation": [...], "init": [...], "hidden": [...], "lr": [...]}``."""
    return {"activation": _check_list("activation", activation, _choice("activation", ACTIVATIONS)),
            "init": _check_list("init", init, _choice("init", INITS)),
            "hidden": _check_list("hidden", hidden, _positive_int("hidden", 100_000)),
            "lr": _check_list("lr", lr, _positive_number("lr"))}


def make_settings(seeds, **given):
    """The settings every cell shares (``DEFAULTS`` filled in), checked; ``seeds`` a list of whole numbers."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise HandpropTypeError(f"sweep settings: unknown {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    s = dict(DEFAULTS, **{k: v for k, v in given.items() if v is not None})
    s["seeds"] = _check_list("seeds", seeds, _seed)
    _choice("loss", LOSSES)(s["loss"])
    _choice("optimizer", OPTIMIZERS)(s["optimizer"])
    s["layers"] = _positive_int("layers", 101)(s["layers"])
    if s["layers"] < 2:
        raise HandpropValueError("layers counts the Dense layers, the output's included: at least 2 (one hidden "
                                 f"layer and the output, as blog 000), got {s['layers']}")
    s["epochs"] = _positive_int("epochs")(s["epochs"])
    if s["batch_size"] is not None:
        s["batch_size"] = _positive_int("batch_size")(s["batch_size"])
    if isinstance(s["momentum"], bool) or not isinstance(s["momentum"], numbers.Real) or not 0 <= s["momentum"] < 1:
        raise HandpropValueError(f"momentum must be a number in [0, 1), got {s['momentum']!r}")
    s["momentum"] = float(s["momentum"])
    if s["optimizer"] == "adam" and s["momentum"]:
        raise HandpropValueError(f"momentum {s['momentum']:g} is SGD's; adam has none: leave momentum out, or use sgd")
    s["threshold"] = _positive_number("threshold")(s["threshold"])
    return s


def _seed(v):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v < 2**32:
        raise HandpropValueError(f"seeds must be whole numbers from 0 to {2**32 - 1}, got {v!r}")
    return int(v)


def cells(grid, settings):
    """The cells in grid order (``AXES``, outermost first): plain dicts of the settings, ``index`` their place."""
    out = []
    for activation in grid["activation"]:
        for init in grid["init"]:
            for hidden in grid["hidden"]:
                for lr in grid["lr"]:
                    out.append(dict(settings, index=len(out), activation=activation, init=init, hidden=hidden,
                                    lr=lr))
    return out


def check_data(X, y, loss):
    """``(X, y, n_classes)``: features as float64 rows, labels as class indices 0..k-1, refused with the
    reason when this loss cannot learn them."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) == 0 or y.shape != (len(X),):
        raise HandpropValueError(f"a sweep needs X of shape (rows, features) and one label per row; got X "
                                 f"{X.shape} and y {y.shape}")
    if y.dtype.kind not in "iu" or y.min() < 0:
        raise HandpropValueError("a sweep learns classes: y must hold class indices 0..k-1 (text labels become "
                                 "them with handprop.data.LabelEncoder)")
    if not np.all(np.isfinite(X)):
        raise HandpropValueError("X holds NaN or infinite values")
    n_classes = int(y.max()) + 1
    if len(np.unique(y)) < 2:
        raise HandpropValueError("y holds one class: there is nothing to learn")
    if loss != "ce" and n_classes != 2:
        raise HandpropValueError(f"loss {loss} trains one output unit, for two classes; the target has "
                                 f"{n_classes}: use loss ce (--loss ce)")
    return X, y.astype(np.int64), n_classes


def layer_sizes(cell, n_features, n_classes):
    """Widths of the cell's network, input first."""
    return [n_features] + [cell["hidden"]] * (cell["layers"] - 1) + [n_classes if cell["loss"] == "ce" else 1]


def memory_bytes(cell, n_rows, n_features, n_classes):
    """A lower bound of the memory one cell takes: its seeds' networks trained side by side."""
    from .limits import training_bytes

    rows = min(cell["batch_size"] or n_rows, n_rows)
    slots = 2 if cell["optimizer"] == "adam" else 1
    return len(cell["seeds"]) * training_bytes(layer_sizes(cell, n_features, n_classes), rows, cell["epochs"], slots)


# ----------------------------------------------------------------------------------- one cell
def build_model(cell, seed, n_features, n_classes):
    """The network of one run: drawn by ``RandomState(seed)`` (blog 000's generator)."""
    from .activations import get as activation
    from .layers import Dense
    from .model import Sequential

    rng = np.random.RandomState(seed)
    sizes = layer_sizes(cell, n_features, n_classes)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(n_in, n_out, init=cell["init"], rng=rng))
        if i < len(sizes) - 2:
            layers.append(activation(cell["activation"]))
    if cell["loss"] in ("mse", "halfsse"):
        layers.append(activation("sigmoid"))
    return Sequential(layers)


def loss_and_targets(cell, y):
    """``(loss, targets)`` the cell trains with: 0/1 columns for one output unit, indices for ``ce``."""
    from .losses import BCE, get

    if cell["loss"] == "bce":
        return BCE(from_logits=True), y.astype(np.float64).reshape(-1, 1)
    if cell["loss"] == "ce":
        return get("ce"), y
    return get(cell["loss"]), y.astype(np.float64).reshape(-1, 1)


def make_optimizer(cell):
    from .optimizers import SGD, Adam

    if cell["optimizer"] == "adam":
        return Adam(lr=cell["lr"])
    return SGD(lr=cell["lr"], momentum=cell["momentum"])


def converged_rule(accuracy, losses, threshold):
    """``(converged, epochs_to_converge or None)`` by the module's rule: every row right (``accuracy``
    1) and the last of ``losses`` at most ``threshold``; ``losses[i]`` is the loss after ``i`` epochs
    (the history's per-epoch losses followed by the final loss)."""
    losses = list(losses)
    if accuracy < 1 or not losses or not losses[-1] <= threshold:
        return False, None
    i = len(losses) - 1
    while i > 0 and losses[i - 1] <= threshold:
        i -= 1
    return True, i


def run_cell(cell, data):
    """Train every seed of ``cell`` (one ``train_many`` call) on ``data`` (``{"X": rows, "y": labels}``,
    plain lists); one row (a dict of ``ROW_KEYS``) per seed, in the cell's seed order."""
    from .metrics import accuracy, output_to_labels

    X, y, n_classes = check_data(data["X"], data["y"], cell["loss"])
    loss, target = loss_and_targets(cell, y)
    models = [build_model(cell, seed, X.shape[1], n_classes) for seed in cell["seeds"]]
    histories = train_many(models, X, target, loss=loss, optimizer=make_optimizer(cell), epochs=cell["epochs"],
                              batch_size=cell["batch_size"], seed=0)
    rows = []
    for seed, model, history in zip(cell["seeds"], models, histories):
        out = model.predict(X)
        final = float(loss.forward(out, target))
        acc = accuracy(y, output_to_labels(out, from_logits=cell["loss"] in ("bce", "ce")))
        done, when = (False, None) if history.diverged else converged_rule(acc, [*history.loss, final],
                                                                            cell["threshold"])
        rows.append({"cell": cell["index"], **{k: cell[k] for k in ROW_KEYS[1:10]}, "seed": seed,
                     "final_loss": final, "accuracy": acc, "converged": done, "epochs_to_converge": when,
                     "diverged": history.diverged})
    return rows


# ----------------------------------------------------------------------------------- many cells
def run_sweep(X, y, grid, settings, jobs=1, scheduler=None, on_cell=None):
    """Every cell of ``grid`` (``make_grid``) with ``settings`` (``make_settings``); the table's rows in
    grid order, then seed order. ``jobs`` > 1: cells run in that many local processes (joblib);
    ``scheduler``: the address of a Dask ``distributed`` scheduler (``tcp://host:port``) or a
    ``distributed.Client``. ``on_cell(done, total)`` is called as each cell finishes."""
    X, y, _ = check_data(X, y, settings["loss"])
    todo = cells(grid, settings)
    data = {"X": X.tolist(), "y": y.tolist()}
    jobs = _positive_int("jobs")(jobs)
    if scheduler is not None:
        results = _on_dask(todo, data, scheduler, on_cell)
    elif jobs > 1:
        results = _on_joblib(todo, data, jobs, on_cell)
    else:
        results = []
        for cell in todo:
            results.append(run_cell(cell, data))
            if on_cell:
                on_cell(len(results), len(todo))
    rows = [row for result in results for row in result]
    order = {seed: i for i, seed in enumerate(settings["seeds"])}
    return sorted(rows, key=lambda r: (r["cell"], order[r["seed"]]))


def _on_joblib(todo, data, jobs, on_cell):
    from joblib import Parallel, delayed

    results = []
    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
    for result in parallel(delayed(run_cell)(cell, data) for cell in todo):
        results.append(result)
        if on_cell:
            on_cell(len(results), len(todo))
    return results


def versions():
    """What a cell's numbers depend on besides its settings: handprop's and NumPy's versions."""
    from . import __version__

    return {"handprop": __version__, "numpy": np.__version__}


def check_workers(mine, theirs):
    """Refuse a cluster whose workers (``{address: versions()}``) differ from this machine (``mine``):
    the table would then depend on which worker ran a cell."""
    for worker, found in sorted(theirs.items()):
        if found != mine:
            have = ", ".join(f"{k} {v}" for k, v in found.items())
            want = " ".join(f"{k}=={v}" for k, v in mine.items())
            raise HandpropValueError(f"--scheduler: worker {worker} has {have}, this machine "
                                     f"{', '.join(f'{k} {v}' for k, v in mine.items())}: a cell's numbers would "
                                     f"depend on the worker that ran it; on every worker: pip install {want}")


def _on_dask(todo, data, scheduler, on_cell):
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        try:
            check_workers(versions(), client.run(versions))
        except ModuleNotFoundError as exc:
            raise HandpropValueError(f"--scheduler: a worker cannot import {exc.name}: install handprop on every "
                                     'worker (pip install "handprop[sweep]")') from None
        [shared] = client.scatter([data], broadcast=True)  # the data once per worker, not once per cell
        futures = [client.submit(run_cell, cell, shared, pure=False) for cell in todo]
        results = []
        for future in as_completed(futures):
            results.append(future.result())
            if on_cell:
                on_cell(len(results), len(todo))
        return results
    finally:
        if client is not scheduler:
            client.close()


# ----------------------------------------------------------------------------------- outputs
def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def table_text(rows):
    """The table as CSV text: a header of ``ROW_KEYS``, one line per run; numbers in full precision."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(ROW_KEYS)
    for row in rows:
        writer.writerow([_text(row[k]) for k in ROW_KEYS])
    return buf.getvalue()


def success_rates(rows):
    """``{(activation, init, hidden, lr): (converged runs, runs)}``."""
    rates = {}
    for row in rows:
        key = tuple(row[k] for k in AXES)
        done, total = rates.get(key, (0, 0))
        rates[key] = (done + bool(row["converged"]), total + 1)
    return rates
