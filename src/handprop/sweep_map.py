"""The convergence map of a sweep (``handprop sweep --map``): each cell's share of seeds that converged."""

import numpy as np

from .sweep import AXES, success_rates

MAP_DPI = 100


def map_inches(n_lr, n_hidden, n_panels):
    """The map's size in inches: ``(n_panels * (1.1 * n_lr + 1.6), 0.7 * n_hidden + 1.6)`` (at ``MAP_DPI``)."""
    return n_panels * (1.1 * n_lr + 1.6), 0.7 * n_hidden + 1.6


def draw_map(rows, path, mark_seed=42):
    """The convergence map as a PNG at ``path``: one panel per (activation, init), rows the hidden widths,
    columns the learning rates, each cell's success rate as a colour and a number; where ``mark_seed``
    ran, a marker in its cell says whether it converged (a dot) or not (a cross)."""
    from .files import atomic_write
    from .plots import require_matplotlib

    require_matplotlib()
    import matplotlib.pyplot as plt

    rates = success_rates(rows)
    panels = list(dict.fromkeys((r["activation"], r["init"]) for r in rows))
    hiddens = sorted({r["hidden"] for r in rows})
    lrs = sorted({r["lr"] for r in rows})
    marked = {tuple(r[k] for k in AXES): r["converged"] for r in rows if r["seed"] == mark_seed}
    fig, axes = plt.subplots(1, len(panels), figsize=map_inches(len(lrs), len(hiddens), len(panels)),
                             dpi=MAP_DPI, squeeze=False)
    for ax, (activation, init) in zip(axes[0], panels):
        _panel(ax, rates, marked, activation, init, hiddens, lrs)
    seeds = len({r["seed"] for r in rows})
    title = f"share of {seeds} seeds that converged"
    if marked:
        title += f"\nseed {mark_seed}: dot = converged, cross = did not"
    fig.suptitle(title, fontsize=9)
    height = map_inches(1, len(hiddens), 1)[1]
    fig.subplots_adjust(left=0.12 / len(panels) + 0.05, right=0.97, bottom=0.55 / height, top=1 - 0.85 / height,
                        wspace=0.35)
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=MAP_DPI))
    finally:
        plt.close(fig)


def _panel(ax, rates, marked, activation, init, hiddens, lrs):
    grid = np.full((len(hiddens), len(lrs)), np.nan)
    for i, hidden in enumerate(hiddens):
        for j, lr in enumerate(lrs):
            done, total = rates.get((activation, init, hidden, lr), (0, 0))
            if total:
                grid[i, j] = done / total
                ax.text(j, i, f"{grid[i, j]:.0%}", ha="center", va="center", fontsize=10,
                        color="black" if grid[i, j] > 0.5 else "white")
            if (activation, init, hidden, lr) in marked:
                ok = marked[(activation, init, hidden, lr)]
                ax.plot(j + 0.32, i - 0.28, marker="o" if ok else "x", markersize=6, color="red",
                        markerfacecolor="red" if ok else "none", markeredgewidth=1.5)
    ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs])
    ax.set_yticks(range(len(hiddens)), [str(v) for v in hiddens])
    ax.set_xlabel("learning rate")
    ax.set_ylabel("hidden units")
    ax.set_title(f"{activation}, init {init}", fontsize=10)
