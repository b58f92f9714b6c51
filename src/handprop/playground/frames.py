"""What the page draws, as JSON-able dicts: the data's points, and a frame of the model now.

Heatmaps travel as bytes (one per grid cell, base64): the output's (probability of the second
class, the class for more than two, or the value on the data's range) on a GRID × GRID grid, and
every hidden neuron's activation on a coarser grid, scaled by its largest magnitude. Row 0 of a
grid is its top edge (the largest y).
"""

import base64

import numpy as np

from ..layers import Dense

GRID = 48
NEURON_STRIDE = 2  # neuron heatmaps: every second cell of the grid (24 × 24)
DRAWN = 32  # units drawn per layer (heatmaps and weight lines); the first DRAWN of a wider layer


def grid_points(bounds, n=GRID):
    """``(n*n, 2)`` plotted points covering ``bounds`` = (x0, x1, y0, y1), top row first."""
    x0, x1, y0, y1 = bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y1, y0, n))
    return np.column_stack([gx.ravel(), gy.ravel()])


def _bytes(q):
    return base64.b64encode(np.clip(np.rint(q), 0, 255).astype(np.uint8).tobytes()).decode("ascii")


def data_message(run):
    """The points: where they are drawn, their targets, and which are training rows."""
    p = run.problem
    train = np.zeros(len(p.points), bool)
    train[run.train_idx] = True
    if p.task == "classification":
        raw = np.asarray(p.class_names)[p.y] if p.class_names is not None else np.asarray(p.y)
        target = run.encoder.transform(raw).tolist()
        classes = [str(c) for c in run.encoder.classes_.tolist()]
    else:
        target = np.asarray(p.y, dtype=np.float64).reshape(len(p.y), -1)[:, 0].round(6).tolist()
        classes = None
    return {"type": "data", "name": p.name, "task": p.task, "bounds": list(map(float, p.bounds)),
            "axes": list(p.axes), "points": np.round(p.points, 5).tolist(), "target": target,
            "train": train.astype(int).tolist(), "classes": classes, "features": p.feature_names,
            "target_name": p.target_name, "n_train": int(train.sum()),
            "range": None if classes else [float(np.min(target)), float(np.max(target))]}


def _head(run, out):
    """The output heatmap's bytes and what they mean."""
    p = run.problem
    if p.task == "classification":
        probs = run.info.probabilities(out)
        if probs.shape[1] == 2:
            return {"kind": "probability", "output": _bytes(probs[:, 1] * 255)}
        return {"kind": "class", "output": _bytes(np.argmax(probs, axis=1)), "n_classes": probs.shape[1]}
    values = run.info.y_scaler.inverse_transform(out)[:, 0]
    y = np.asarray(p.y, dtype=np.float64).reshape(len(p.y), -1)[:, 0]
    lo, hi = float(y.min()), float(y.max())
    span = hi - lo if hi > lo else 1.0
    return {"kind": "value", "output": _bytes((values - lo) / span * 255), "range": [lo, hi]}


def render(run):
    """A frame of ``run.model`` now (its caller adds the epoch and the losses)."""
    model, p = run.model, run.problem
    X = run.info.prepare(p.features(grid_points(p.bounds)))
    hidden, out = [], X
    for layer in model.layers:
        out = layer.forward(out)
        if not isinstance(layer, Dense):
            hidden.append(out)
    frame = {"type": "frame", "grid": GRID, **_head(run, out)}
    neurons, scales = [], []
    for h in [X] + hidden:  # the inputs as the network sees them, then every hidden unit
        cells = h.reshape(GRID, GRID, -1)[::NEURON_STRIDE, ::NEURON_STRIDE, :DRAWN]
        scale = np.maximum(np.abs(cells).max(axis=(0, 1)), 1e-12)
        neurons.append([_bytes((cells[:, :, j] / scale[j] + 1) * 127.5) for j in range(cells.shape[2])])
        scales.append(scale.round(6).tolist())
    frame.update(inputs=neurons[0], neurons=neurons[1:], neuron_scales=scales[1:], neuron_grid=GRID // NEURON_STRIDE)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    frame["sizes"] = [dense[0].n_in] + [layer.n_out for layer in dense]
    frame["weights"] = [np.round(layer.W[:DRAWN, :DRAWN], 5).tolist() for layer in dense]
    frame["biases"] = [np.round(layer.b.reshape(-1)[:DRAWN], 5).tolist() for layer in dense]
    frame["outputs"] = model.predict(run.X_all)  # kept by the run for exports, not sent
    return frame
