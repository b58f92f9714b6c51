"""Many models at once: K copies of blog 000's network trained by ``handprop.train_many``, against
the same copies trained one ``model.fit`` at a time.

Blog 000's network (2-2-1 sigmoid, MSE, SGD lr 0.1, full batch, the blog's ``np.random.randn``
initial weights) from seeds 0..K-1. Timing K separate fits of 10,000 epochs would take most of an
hour, so each round times the first ``separate`` of them, one after another, and scales that time
to K models (fit's time does not depend on the seed); the paired ratio is that estimate ÷
``train_many``'s time for all K, in the same round. The benchmark also checks that the separately
fitted models end where their stacked copies do, and counts the seeds that solve XOR.

Memory: each K runs in a fresh process (``python benchmarks/many.py --probe K EPOCHS``) that reports
its peak resident set size above the baseline taken after the imports, before any model exists.

    python benchmarks/many.py [--models 1000] [--epochs 10000] [--separate 20] [--rounds 3]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (also puts src/ on the path when run from a checkout)
from common import paired, run_rounds, summary, table  # noqa: E402

HERE = Path(__file__).resolve().parent
X = [[0, 0], [0, 1], [1, 0], [1, 1]]
Y = [[0], [1], [1], [0]]
LR = 0.1


def blog_net(seed):
    """Blog 000's network with the blog's initial weights for ``np.random.seed(seed)``."""
    import numpy as np

    import handprop as hp

    rng = np.random.RandomState(seed)
    return hp.Sequential([hp.Dense(2, 2, init="normal", rng=rng), hp.Sigmoid(),
                          hp.Dense(2, 1, init="normal", rng=rng), hp.Sigmoid()])


def train_stacked(K, epochs):
    """K blog networks (seeds 0..K-1) trained by ``train_many``: (models, histories, seconds)."""
    import handprop as hp

    models = [blog_net(seed) for seed in range(K)]
    start = time.perf_counter()
    histories = hp.train_many(models, X, Y, loss="mse", optimizer=hp.SGD(lr=LR), epochs=epochs)
    return models, histories, time.perf_counter() - start


def train_separately(n, epochs):
    """The first ``n`` of them, one ``model.fit`` each: (models, seconds)."""
    import handprop as hp

    models = [blog_net(seed) for seed in range(n)]
    start = time.perf_counter()
    for model in models:
        model.fit(X, Y, loss="mse", optimizer=hp.SGD(lr=LR), epochs=epochs)
    return models, time.perf_counter() - start


def agreement(stacked, separate):
    """Largest relative difference between the weights of each separately fitted model and its stacked copy."""
    import numpy as np

    worst = 0.0
    for a, b in zip(stacked, separate):
        for p, q in zip(a.parameters(), b.parameters()):
            worst = max(worst, float(np.max(np.abs(p.value - q.value) / np.maximum(np.abs(q.value), 1e-300))))
    return worst


def solved(models):
    """How many of ``models`` solve XOR: every prediction on the right side of 0.5."""
    import numpy as np

    y = np.array(Y)
    return sum(bool(np.all((m.predict(np.array(X)) > 0.5) == y)) for m in models)


def probe(K, epochs):
    """Peak memory of ``train_many`` for K models, in this (fresh) process: a dict for JSON."""
    import memory_probe  # the same peak-RSS reader as the other memory benchmarks

    baseline = memory_probe.peak_mib()
    _, histories, seconds = train_stacked(K, epochs)
    peak = memory_probe.peak_mib()
    return {"models": K, "epochs": epochs, "baseline_mib": baseline, "peak_mib": peak,
            "peak_above_baseline_mib": peak - baseline, "seconds": seconds,
            "history_values": sum(len(h) for h in histories)}


def peak_memory(model_counts, epochs, log=print):
    """One fresh process per count of models; ``growth_kib``: KiB more per model than the point before
    (linear growth keeps it constant)."""
    rows = []
    for K in model_counts:
        out = subprocess.run([sys.executable, str(HERE / "many.py"), "--probe", str(K), str(epochs)],
                             capture_output=True, text=True, check=True, env=dict(os.environ))
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["per_model_kib"] = r["peak_above_baseline_mib"] * 1024 / K
        if rows:
            before = rows[-1]
            r["growth_kib"] = ((r["peak_above_baseline_mib"] - before["peak_above_baseline_mib"]) * 1024
                               / (K - before["models"]))
        rows.append(r)
        growth = f"; {r['growth_kib']:.1f} KiB per added model" if "growth_kib" in r else ""
        log(f"  {K:>6,} models × {epochs:,} epochs: peak above baseline {r['peak_above_baseline_mib']:8.1f} MiB "
            f"({r['per_model_kib']:.1f} KiB per model{growth})")
    return rows


def run(cfg, results, target=None):
    """The many-models section of ``benchmarks/run.py``: adds ``results["many"]`` and a target."""
    K, epochs, n = cfg["many_models"], cfg["many_epochs"], cfg["many_separate"]
    print(f"\n== Many models at once: {K:,} copies of blog 000's network, {epochs:,} full-batch epochs; "
          f"train_many vs separate fits (timed: {n} fits, scaled to {K:,}) ==")
    kept = {}

    def stacked():
        kept["stacked"], kept["histories"], seconds = train_stacked(K, epochs)
        return seconds

    def separate():
        kept["separate"], seconds = train_separately(n, epochs)
        return seconds * K / n  # K fits take K times one fit's time

    times = run_rounds({"train_many": stacked, "separate fits": separate}, cfg["rounds"])
    ratio = paired(times, "separate fits", "train_many")
    per_model = {name: summary(t, per=K / 1e3) for name, t in times.items()}  # ms per model
    print(table([[name, f"{s['median'] * K / 1e3:.2f}", f"{s['median']:.3f}", f"{s['min']:.3f}..{s['max']:.3f}"]
                 for name, s in per_model.items()], ["", f"s for {K:,} models", "ms per model", "range"]))
    worst = agreement(kept["stacked"][:n], kept["separate"])
    n_solved = solved(kept["stacked"])
    print(f"paired (per-round) speed-up of train_many over separate fits: {ratio['median']:.1f}x "
          f"({ratio['min']:.1f}..{ratio['max']:.1f}); the {n} separately fitted models end where their stacked "
          f"copies do (largest relative difference {worst:.1e}); {n_solved} of {K:,} seeds solve XOR")
    print(f"\n== Many models at once: peak memory of train_many, {cfg['many_memory_epochs']:,} epochs, "
          "fresh process each ==")
    memory = peak_memory(cfg["many_memory_models"], cfg["many_memory_epochs"])
    results["many"] = {"models": K, "epochs": epochs, "separate_timed": n, "ms_per_model": per_model,
                       "paired_speedup": ratio, "max_relative_difference": worst, "solved": n_solved,
                       "memory": memory}
    if target is not None:
        target(results, f"many models: {K:,} separate fits' time / train_many's", ratio["median"], ">= 30",
               ratio["median"] >= 30, "train_many speed-up")


def markdown(results):
    """The many-models tables as Markdown lines (empty when the section did not run)."""
    if "many" not in results:
        return []
    m = results["many"]
    r = m["paired_speedup"]
    rows = [[name, f"{s['median'] * m['models'] / 1e3:.2f}", f"{s['median']:.3f}", f"{s['min']:.3f}..{s['max']:.3f}"]
            for name, s in m["ms_per_model"].items()]
    out = [f"**Many models at once: {m['models']:,} copies of blog 000's network, {m['epochs']:,} full-batch "
           f"epochs** (separate fits: {m['separate_timed']} timed, scaled to {m['models']:,}; train_many's "
           f"speed-up, paired per round: {r['median']:.1f}x, {r['min']:.1f}..{r['max']:.1f}; weights agree to "
           f"{m['max_relative_difference']:.1e}; {m['solved']} of {m['models']:,} seeds solve XOR):", "",
           table(rows, ["", f"s for {m['models']:,} models", "ms per model", "range"]), ""]
    if m["memory"]:
        out += [table([[f"{row['models']:,}", f"{row['epochs']:,}", f"{row['peak_above_baseline_mib']:.1f}",
                        f"{row['per_model_kib']:.1f}", f"{row['growth_kib']:.1f}" if "growth_kib" in row else "-"]
                       for row in m["memory"]],
                      ["models", "epochs", "peak above baseline MiB", "KiB per model",
                       "KiB per added model"]), ""]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=10000)
    p.add_argument("--separate", type=int, default=20, help="separate fits timed (scaled to --models)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--probe", nargs=2, type=int, metavar=("MODELS", "EPOCHS"),
                   help="(internal) measure one point's peak memory in this process and print it as JSON")
    args = p.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(*args.probe)))
        return 0
    run({"rounds": args.rounds, "many_models": args.models, "many_epochs": args.epochs,
         "many_separate": args.separate, "many_memory_models": [args.models // 4, args.models // 2, args.models],
         "many_memory_epochs": args.epochs}, {"notes": [], "targets": []})
    return 0


if __name__ == "__main__":
    sys.exit(main())
