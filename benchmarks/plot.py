"""The benchmark's figure (docs/benchmarks.png) from its JSON results. Needs matplotlib."""

import json
import sys


def plot(results, path):
    """Draw the four panels into ``path``; returns False (and draws nothing) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    env = results["environment"]
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    (ax_xor, ax_mnist, ax_mem), (ax_batch, ax_width, ax_text) = axes

    for ax, key, field, *args in ((ax_xor, "xor", "per_epoch_us", "µs per epoch (lower is better)",
                                   "XOR 2-2-1, blog 000's run", True, 1.0, ""),
                                  (ax_mnist, "mnist", "samples_per_s", "thousand samples / s (higher is better)",
                                   "784-256-128-10, batch 128, float32", False, 1e-3, "k")):
        if key in results:  # (a run with --only may have left it out)
            _bars(ax, results[key][field], *args)
        else:
            ax.set_visible(False)

    scaling = results.get("scaling", {})
    for ax, key, label in ((ax_batch, "batch", "batch size (784-256-128-10)"),
                           (ax_width, "width", "hidden width w (784-w-w-10, batch 128)")):
        rows = scaling.get(key, [])
        if not rows:
            ax.set_visible(False)
            continue
        xs = [r[key] for r in rows]
        for name, style in (("handprop", "o-"), ("torch", "s--")):
            if all(name in r for r in rows):
                ax.plot(xs, [r[name] * 1e6 for r in rows], style, label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("µs per sample (one training step's share)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()

    mem = results.get("memory", [])
    if mem:
        labels = [f"{r['rows']:.0e}" + (" mmap" if r["mmap"] else "") for r in mem]
        data = [r["data_mib"] for r in mem]
        peak = [max(r["peak_above_baseline_mib"], 0.1) for r in mem]  # log scale: no zeros
        x = range(len(mem))
        ax_mem.bar([i - 0.2 for i in x], data, 0.4, label="data size")
        ax_mem.bar([i + 0.2 for i in x], peak, 0.4, label="peak RSS above baseline")
        ax_mem.set_xticks(list(x), labels)
        ax_mem.set_yscale("log")
        ax_mem.set_ylabel("MiB")
        ax_mem.set_title("Peak memory, one epoch (rows × 64 float32)")
        ax_mem.legend()
    else:
        ax_mem.set_visible(False)

    ax_text.axis("off")
    lines = [f"{env['cpu']}, {env['cores']} cores",
             f"Python {env['python']}, NumPy {env['numpy']}",
             f"BLAS: {env['blas']}",
             f"threads: NumPy BLAS {env['numpy_blas_threads']}, torch {env['torch_threads']}",
             f"torch {env['torch']}, scikit-learn {env['sklearn']}, micrograd {env['micrograd']}",
             f"mode: {results['mode']}", ""]
    for t in results.get("targets", []):
        lines.append(f"{'met ' if t['met'] else 'MISS'}  {t.get('short', t['name'])}: {t['value']:.2f} "
                     f"(goal {t['goal'].split(' (')[0]})")
    ax_text.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8.5)
    fig.suptitle("handprop benchmarks (medians of interleaved rounds; bars show min..max)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def _bars(ax, stats, ylabel, title, log=False, scale=1.0, unit=""):
    names = list(stats)
    med = [stats[n]["median"] * scale for n in names]
    err = [[(stats[n]["median"] - stats[n]["min"]) * scale for n in names],
           [(stats[n]["max"] - stats[n]["median"]) * scale for n in names]]
    colors = ["tab:orange" if n.startswith("handprop") else "tab:blue" for n in names]
    ax.bar(range(len(names)), med, yerr=err, color=colors, capsize=3)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    for i, m in enumerate(med):
        ax.annotate(f"{m:.3g}{unit}", (i, m), ha="center", va="bottom", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)


if __name__ == "__main__":  # python benchmarks/plot.py results.json out.png
    with open(sys.argv[1]) as f:
        plot(json.load(f), sys.argv[2])
