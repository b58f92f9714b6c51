"""Pictures of training (optional ``plot`` extra: ``pip install "handprop[plot]"``, i.e. matplotlib).

* ``loss_curve(history)``: training (and validation) loss per epoch, log scale;
* ``decision_boundary(model, X, y)``: for 2-D inputs, the model's output over the plane with the
  data points on top (blog 000's four XOR points: which side of 0.5 each lands on);
* ``network_diagram(model)``: units as circles, weights as lines, width ∝ |w|, colour = sign, inputs
  named, biases printed;
* ``prediction_plot(model, X, y)``: regression, predictions against targets;
* ``training_figure(model, history, X, y, path)``: the three side by side (``handprop xor --plot``).

Each function draws into ``ax`` when given, else into a new figure; with ``path`` the figure is saved
(PNG, SVG, PDF by the extension) and closed. matplotlib runs with the Agg backend (no display needed).
"""

import os

import numpy as np

from .files import atomic_write
from .errors import HandpropError, HandpropValueError
from .layers import Dense

_POS, _NEG = "#c0392b", "#2e6da4"  # positive weights red, negative blue


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise HandpropError('plotting needs matplotlib: pip install "handprop[plot]"') from None
    matplotlib.use("Agg", force=False)  # draw to files; no display, no GUI event loop
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = _plt().subplots(figsize=figsize)
    return fig, ax


def _finish(fig, path, dpi=100):
    if path is None:
        return fig
    # Through atomic_write like every file handprop writes: all or nothing, and a clear error for
    # a path that cannot be written (a directory, a missing folder).
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    try:
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight"))
    except ValueError as exc:  # matplotlib: "Format 'xyz' is not supported"
        raise HandpropValueError(f"{path}: cannot draw a picture in this format: {exc}") from None
    finally:
        _plt().close(fig)
    return path


def loss_curve(history, ax=None, path=None, log=True):
    """Plot ``history["loss"]`` (and ``"val_loss"`` when recorded) against the epoch."""
    hist = getattr(history, "history", history)
    if not isinstance(hist, dict) or not hist.get("loss"):
        raise HandpropValueError("loss_curve: history has no 'loss' values (pass the History from fit)")
    fig, ax = _axes(ax, (5, 3.5))
    for key, label, style in (("loss", "training", "-"), ("val_loss", "validation", "--")):
        values = np.asarray(hist.get(key) or [], dtype=np.float64)
        if values.size:
            ax.plot(np.arange(values.size), values, style, label=label, linewidth=1.8)
    values = np.concatenate([np.asarray(hist.get(k) or [], dtype=np.float64) for k in ("loss", "val_loss")])
    values = values[np.isfinite(values)]
    if log and values.size and values.min() > 0 and values.max() / values.min() > 20:
        ax.set_yscale("log")  # only when the loss spans decades; a log axis on 0.14..0.26 hides the shape
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def _probability(model, grid, loss):
    out = model.predict(grid)
    if out.shape[1] == 1:
        if loss is not None and getattr(loss, "from_logits", False):
            return 1 / (1 + np.exp(-out[:, 0]))
        return out[:, 0]
    e = np.exp(out - out.max(axis=1, keepdims=True))  # logits (cross-entropy): class 1's probability
    p = e / e.sum(axis=1, keepdims=True)
    return p[:, 1] if p.shape[1] == 2 else p.argmax(axis=1).astype(float)


def decision_boundary(model, X, y, ax=None, path=None, loss=None, resolution=200, margin=0.5):
    """Colour the plane by the model's output and draw the 0.5 contour and the data points.

    Needs 2 input features. For one sigmoid output the colour is the output; for class scores it is
    the probability of class 1 (two classes) or the predicted class.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise HandpropValueError(f"decision_boundary: X must have 2 features, got shape {X.shape}")
    y = np.asarray(y).reshape(len(X), -1)
    y = y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0]
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    p = _probability(model, np.column_stack([gx.ravel(), gy.ravel()]), loss).reshape(gx.shape)
    fig, ax = _axes(ax, (4.5, 4))
    mesh = ax.pcolormesh(gx, gy, p, cmap="RdBu_r", vmin=0, vmax=max(1.0, float(np.nanmax(p))), shading="auto")
    if np.nanmin(p) < 0.5 < np.nanmax(p):
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.2)
    fig.colorbar(mesh, ax=ax, label="output")
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", vmin=0, vmax=1, edgecolors="k", s=70, zorder=3)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title("Decision boundary (output = 0.5)")
    return _finish(fig, path)


def network_diagram(model, ax=None, path=None, max_units=12, input_names=None):
    """Units as circles, one column per layer; each weight a line, width ∝ |w|, red > 0, blue < 0.

    Inputs are labelled ``x₁, x₂, ...`` (or ``input_names``, the model's feature names when it has
    them); each unit's bias is printed beside it (``b = 0.12``).
    """
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    if not dense:
        raise HandpropValueError("network_diagram: the model has no Dense layer to draw")
    sizes = [dense[0].n_in] + [layer.n_out for layer in dense]
    shown = [min(n, max_units) for n in sizes]
    fig, ax = _axes(ax, (1.9 * len(sizes) + 1, 3.5))
    wmax = max(float(np.abs(layer.W).max()) for layer in dense) or 1.0

    def pos(col, i):
        n = shown[col]
        return col, ((n - 1) / 2 - i) / max(max(shown) - 1, 1)  # unit 0 at the top

    label_weights = sum(shown[c] * shown[c + 1] for c in range(len(dense))) <= 16  # small nets: print w
    for col, layer in enumerate(dense):
        for i in range(shown[col]):
            for j in range(shown[col + 1]):
                w = layer.W[i, j]
                (x0, y0), (x1, y1) = pos(col, i), pos(col + 1, j)
                ax.plot([x0, x1], [y0, y1], color=_POS if w > 0 else _NEG,
                        linewidth=0.3 + 4.0 * abs(w) / wmax, alpha=0.8, zorder=1)
                if label_weights:  # at a quarter of the way, so labels of lines from one unit do not collide
                    ax.text(x0 + 0.25 * (x1 - x0), y0 + 0.25 * (y1 - y0), f"{w + 0.0:.2f}", fontsize=7,
                            ha="center", va="center", zorder=4,
                            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    _draw_units(ax, model, dense, sizes, shown, pos, input_names)
    ax.set_xlim(-0.75, len(sizes) - 0.25)
    ax.set_ylim(-1.0, 0.65)
    ax.axis("off")
    ax.set_title(f"Network (width ∝ |w| ≤ {wmax:.3g}; red > 0, blue < 0)", fontsize=9)
    return _finish(fig, path)


def _draw_units(ax, model, dense, sizes, shown, pos, input_names):
    """The circles, the inputs' names on the left, each unit's bias, and one caption per column."""
    names = input_names or getattr(getattr(model, "info", None), "feature_names", None) \
        or [f"x{str(k + 1).translate(_SUBSCRIPT)}" for k in range(sizes[0])]
    small = 7 if max(shown) <= 6 else 5
    for col, n in enumerate(shown):
        for i in range(n):
            x, yy = pos(col, i)
            ax.scatter([x], [yy], s=300, color="white", edgecolors="k", zorder=2)
            if col == 0:
                ax.text(x - 0.12, yy, str(names[i]), ha="right", va="center", fontsize=small, zorder=4)
            else:
                ax.text(x, yy - 0.06, f"b = {dense[col - 1].b[i] + 0.0:.2f}", ha="center", va="top",
                        fontsize=small - 1, zorder=4, color="#444")
    captions = ["input"] + [f"layer {k + 1}" for k in range(len(dense))]
    acts = _activation_names(model)
    for col, n in enumerate(shown):
        label = captions[col] + (f"\n{acts[col - 1]}" if col and acts[col - 1] else "")
        if sizes[col] > n:
            label += f"\n{sizes[col]} units\n({n} shown)"  # one short line each: no overlap with the next column
        ax.text(col, -0.72, label, ha="center", va="top", fontsize=7)


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def prediction_plot(model, X, y, ax=None, path=None):
    """Regression: each sample's prediction against its target, with the line prediction = target."""
    pred = np.asarray(model.predict(np.asarray(X)), dtype=np.float64).reshape(len(X), -1)
    target = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
    if pred.shape != target.shape:
        raise HandpropValueError(f"prediction_plot: y has shape {target.shape}, the model gives {pred.shape}")
    fig, ax = _axes(ax, (4.5, 4))
    ax.scatter(target.ravel(), pred.ravel(), s=12, alpha=0.6, edgecolors="none")
    lo, hi = float(min(target.min(), pred.min())), float(max(target.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=1, label="prediction = target")
    ax.set_xlabel("target")
    ax.set_ylabel("prediction")
    ax.set_title("Predictions against targets")
    ax.legend()
    return _finish(fig, path)


def is_regression(y, loss):
    """Targets that are numbers to fit (MSE-like loss, not only 0/1), not classes."""
    y = np.asarray(y)
    if loss is not None and type(loss).__name__ not in ("MSE", "HalfSSE"):
        return False
    return y.dtype.kind == "f" and not np.all((y == 0) | (y == 1))


def require_matplotlib():
    """Raise the HandpropError that names the ``plot`` extra when matplotlib is missing (call it before
    training, not after)."""
    _plt()


def _activation_names(model):
    names, current = [], None
    for layer in model.layers:
        if isinstance(layer, Dense):
            if current is not None or names:
                names.append(current)
            current = ""
        else:
            current = type(layer).__name__
    names.append(current)
    return names


def training_figure(model, history, X, y, path=None, loss=None):
    """Loss curve, decision boundary (when X has 2 features) and network diagram in one figure."""
    X = np.asarray(X)
    regression = is_regression(y, loss)
    panels = 3 if regression or (X.ndim == 2 and X.shape[1] == 2) else 2
    fig, axes = _plt().subplots(1, panels, figsize=(5 * panels, 4))
    loss_curve(history, ax=axes[0])
    if regression:
        prediction_plot(model, X, y, ax=axes[1])
    elif panels == 3:
        decision_boundary(model, X, y, ax=axes[1], loss=loss)
    network_diagram(model, ax=axes[-1])
    fig.tight_layout()
    return _finish(fig, path)
