"""A small model on a busy machine: one core kept busy by a spinning process, a 40-100-100-10 MLP at batch 100.

OpenBLAS's threads spin while they wait for each other; with the other core busy, that wait becomes a
time slice of the scheduler, and two BLAS threads run a small model many times slower than one.
``model.fit`` picks the thread count per model size (``handprop.blas``); this times it against one
thread and against every thread, in paired rounds, and prints the ratios to the one-thread time.

    python benchmarks/busy.py [--rounds 5] [--epochs 50]
"""

import argparse
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (also puts src/ on the path when run from a checkout)
from common import paired, run_rounds, summary, table  # noqa: E402

SIZES, BATCH, ROWS = [40, 100, 100, 10], 100, 1000


@contextmanager
def spinner():
    """One other process that keeps a core busy (``while True: pass``) until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def contenders(epochs):
    """name -> function timing ``epochs`` epochs of fit; None when threadpoolctl is missing."""
    import time

    import numpy as np

    import handprop as hp
    from handprop import training

    tpc = common.optional("threadpoolctl")
    if tpc is None:
        return None
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(ROWS, SIZES[0])), rng.integers(0, SIZES[-1], ROWS)
    n_all = max(info["num_threads"] for info in tpc.threadpool_info() if info["user_api"] == "blas")

    def timed(threads):
        def run():
            model = hp.mlp(SIZES, rng=np.random.default_rng(1))
            start = time.perf_counter()
            if threads is None:  # what a user gets: model.fit chooses
                model.fit(X, y, loss="ce", optimizer=hp.SGD(lr=0.01), epochs=epochs, batch_size=BATCH, seed=0)
            else:
                with tpc.threadpool_limits(threads, user_api="blas"):
                    training.fit(model, X, y, loss="ce", optimizer=hp.SGD(lr=0.01), epochs=epochs,
                                 batch_size=BATCH, seed=0)
            return time.perf_counter() - start
        return run

    return {"handprop's choice": timed(None), "one thread": timed(1), f"{n_all} threads": timed(n_all)}


def run(cfg, results, target=None):
    """The busy-machine section of ``benchmarks/run.py``: adds ``results["busy"]`` and a target."""
    epochs = cfg.get("busy_epochs", 50)
    print(f"\n== Busy machine: {'-'.join(map(str, SIZES))} MLP, batch {BATCH}, {epochs} epochs of {ROWS} rows, "
          "one core kept busy by a spinning process ==")
    funcs = contenders(epochs)
    if funcs is None:
        results["notes"].append("busy machine: skipped (pip install threadpoolctl)")
        return
    import numpy as np

    import handprop as hp
    from handprop.blas import threads_for

    with spinner():
        times = run_rounds(funcs, cfg["rounds"])
    per_epoch = {n: summary(t, per=epochs / 1e3) for n, t in times.items()}  # ms per epoch
    ratios = {n: paired(times, n, "one thread") for n in times}
    print(table([[n, f"{s['median']:.2f}", f"{s['min']:.2f}..{s['max']:.2f}",
                  f"{ratios[n]['median']:.2f}x ({ratios[n]['min']:.2f}..{ratios[n]['max']:.2f})"]
                 for n, s in per_epoch.items()], ["", "ms/epoch", "range", "time vs one thread"]))
    chosen = threads_for(hp.mlp(SIZES, rng=np.random.default_rng(1)), BATCH)
    results["busy"] = {"sizes": SIZES, "batch": BATCH, "epochs": epochs, "ms_per_epoch": per_epoch,
                       "paired_vs_one_thread": ratios, "threads_chosen": chosen or "all"}
    if target is not None:
        ratio = ratios["handprop's choice"]["median"]
        target(results, "busy machine: 40-100-100-10 fit time / one-thread time", ratio, "<= 1.1", ratio <= 1.1,
               "busy: fit / one thread")


def markdown(results):
    """The busy-machine table as Markdown lines (empty when the section did not run)."""
    if "busy" not in results:
        return []
    b = results["busy"]
    r = b["paired_vs_one_thread"]
    return [f"**Busy machine: {'-'.join(map(str, b['sizes']))} MLP, batch {b['batch']}, one core kept busy by a "
            f"spinning process** (handprop chose {b['threads_chosen']} BLAS thread(s); time ÷ the one-thread "
            "time in the same round, median and range over rounds):", "",
            table([[n, f"{s['median']:.2f}", f"{s['min']:.2f}..{s['max']:.2f}",
                    f"{r[n]['median']:.2f}x ({r[n]['min']:.2f}..{r[n]['max']:.2f})"]
                   for n, s in b["ms_per_epoch"].items()], ["", "ms/epoch", "range", "time vs one thread"]), ""]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=50)
    args = p.parse_args(argv)
    results = {"notes": []}
    run({"rounds": args.rounds, "busy_epochs": args.epochs}, results)
    for note in results["notes"]:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
