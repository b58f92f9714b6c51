"""handprop's benchmarks: one command runs them all, prints tables and ratios, writes JSON and a plot.

    python benchmarks/run.py            # full run, a few minutes on 2 cores
    python benchmarks/run.py --quick    # fewer rounds, smaller sizes (about a minute)
    python benchmarks/run.py --smoke    # tiny sizes, seconds: checks that everything runs

Peers that are not installed (torch, scikit-learn, micrograd, matplotlib for the plot) are skipped
with a note: ``pip install handprop[bench]`` installs them. PyTorch is given NumPy's BLAS thread
count. No result here is a test: the targets are reported, never asserted.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import busy as busy_machine  # noqa: E402
import common  # noqa: E402  (also puts src/ on the path when run from a checkout)
import many as many_models  # noqa: E402
import mnist  # noqa: E402
import scaling  # noqa: E402
import xor  # noqa: E402
from common import paired, run_rounds, summary, table  # noqa: E402

MODES = {
    # rounds, XOR epochs (blog, handprop), XOR epochs for the slow peers, MNIST samples, rounds of
    # the two-thread MNIST run (more: on a shared host one round in three or four can run a third
    # slower, for every contender or for one alone, and a median of five does not stand that), batch
    # sizes, widths, samples per batch point, width flop budget, memory rows; train_many: models,
    # epochs, separate fits timed (scaled to the models), models and epochs of the memory points
    "full": dict(rounds=5, busy_epochs=50, xor_epochs=10000, peer_epochs=2000, mnist_n=60000, mnist_rounds=9,
                 batches=[1, 4, 16, 64, 256, 1024, 4096], widths=[16, 64, 256, 1024, 2048],
                 batch_samples=lambda b: 4096 if b < 16 else 16384, width_flops=2e10, repeats=3,
                 memory_rows=[10**4, 10**5, 10**6], many_models=1000, many_epochs=10000, many_separate=20,
                 many_memory_models=[250, 500, 1000], many_memory_epochs=10000),
    "quick": dict(rounds=3, busy_epochs=30, xor_epochs=10000, peer_epochs=1000, mnist_n=20000, mnist_rounds=3,
                  batches=[1, 16, 128, 1024, 4096], widths=[16, 128, 1024], repeats=1,
                  batch_samples=lambda b: 1024 if b < 16 else 8192, width_flops=5e9,
                  memory_rows=[10**4, 10**5], many_models=1000, many_epochs=2000, many_separate=10,
                  many_memory_models=[250, 500, 1000], many_memory_epochs=2000),
    "smoke": dict(rounds=1, busy_epochs=2, xor_epochs=1001, peer_epochs=10, mnist_n=300, mnist_rounds=1,
                  batches=[1, 64], widths=[16], repeats=1,
                  batch_samples=lambda b: 64, width_flops=1e6, memory_rows=[1000], many_models=20,
                  many_epochs=100, many_separate=2, many_memory_models=[10, 20], many_memory_epochs=100),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer rounds and smaller sizes")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it all runs")
    p.add_argument("--json", default=str(common.ROOT / "benchmarks" / "results.json"),
                   help="where to write the results (default benchmarks/results.json)")
    p.add_argument("--plot", default=str(common.ROOT / "docs" / "benchmarks.png"),
                   help="where to draw the figure (default docs/benchmarks.png; '' for none)")
    p.add_argument("--markdown", default="", help="also write the tables as Markdown to this file")
    p.add_argument("--only", nargs="*", default=None, choices=["xor", "mnist", "scaling", "memory", "busy", "many"],
                   help="run only these parts")
    args = p.parse_args(argv)
    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    cfg = MODES[name]
    parts = set(args.only or ["xor", "mnist", "scaling", "memory", "busy", "many"])
    started = time.perf_counter()
    threads = common.setup_threads()
    load_start = common.load()
    results = {"mode": name, "environment": common.environment(), "notes": [], "targets": []}
    notes = results["notes"]
    env = results["environment"]
    print(f"handprop benchmarks ({name}): {env['cpu']}, {env['cores']} cores; NumPy {env['numpy']} "
          f"({env['blas']}, {threads} threads); torch {env['torch']} ({env['torch_threads']} threads); "
          f"scikit-learn {env['sklearn']}")
    if env["openblas_env"]:
        notes.append(f"OpenBLAS environment: {env['openblas_env']} (OPENBLAS_CORETYPE can select a "
                     "slower kernel; see docs/benchmarks.md)")

    if "xor" in parts:
        run_xor(cfg, results)
    if "mnist" in parts:
        run_mnist(cfg, results)
        run_mnist_one_thread(cfg, results)
    if "scaling" in parts:
        print("\n== Scaling: time per sample (best of runs) ==")
        results["scaling"] = scaling.time_per_sample(cfg["batches"], cfg["widths"], cfg["batch_samples"],
                                                     cfg["repeats"], width_flops=cfg["width_flops"])
    if "memory" in parts:
        run_memory(cfg, results)
    if "busy" in parts:
        busy_machine.run(cfg, results, target)
    if "many" in parts:
        many_models.run(cfg, results, target)

    results["seconds"] = time.perf_counter() - started
    loads = [x for x in common.LOADS if x is not None]
    results["load_average"] = {"start": load_start, "rounds_max": max(loads) if loads else None,
                               "end": common.load()}
    busy = max([x for x in (load_start, results["load_average"]["end"], *loads) if x is not None], default=0)
    if env["cores_usable"] and busy > 0.5 + 1:  # our own process accounts for about 1
        notes.append(f"the load average reached {busy} on {env['cores_usable']} cores: other processes "
                     "were running, and timings of multi-threaded BLAS suffer from that; rerun on a quiet "
                     "machine for stable numbers")
    print("\n== Targets ==")
    for t in results["targets"]:
        print(f"  {'met ' if t['met'] else 'MISS'}  {t['name']}: {t['value']:.3f} (goal {t['goal']})")
    for note in notes:
        print(f"  note: {note}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
        print(f"\nresults: {args.json}")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results))
        print(f"tables: {args.markdown}")
    if args.plot:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        from plot import plot
        if plot(results, args.plot):
            print(f"plot: {args.plot}")
        else:
            print("plot: skipped (pip install matplotlib)")
    print(f"total {results['seconds']:.0f} s")
    return 0


def markdown(results):
    """The results as Markdown tables (for docs/benchmarks.md and the README)."""
    env = results["environment"]
    out = [f"Machine: {env['cpu']}, {env['cores']} cores ({env['cores_usable']} usable), {env['platform']}. "
           f"Python {env['python']}, NumPy {env['numpy']} with {env['blas']}, "
           f"{env['numpy_blas_threads']} BLAS threads; torch {env['torch']} with {env['torch_threads']} "
           f"threads; scikit-learn {env['sklearn']}; micrograd {env['micrograd']}. "
           f"Mode: {results['mode']}; OpenBLAS variables: {env['openblas_env'] or 'none set'}; "
           f"load average (start / max over rounds / end): {results['load_average']['start']} / "
           f"{results['load_average']['rounds_max']} / {results['load_average']['end']}.", ""]
    if "xor" in results:
        per, vs = results["xor"]["per_epoch_us"], results["xor"]["paired_vs_blog"]
        out += ["**XOR, blog 000's run** (µs per epoch, median of interleaved rounds, min..max; time ÷ the "
                "blog loop's in the same round, median and range over rounds):", "",
                table([[n, f"{s['median']:.1f}", f"{s['min']:.1f}..{s['max']:.1f}",
                        f"{vs[n]['median']:.2f}x ({vs[n]['min']:.2f}..{vs[n]['max']:.2f})",
                        results["xor"]["epochs"][n]] for n, s in per.items()],
                      ["", "µs/epoch", "range", "time vs blog loop", "epochs timed"]), ""]
    if "mnist" in results:
        sps = results["mnist"]["samples_per_s"]
        secs, up = results["mnist"]["seconds"], results["mnist"]["paired_speedup"]
        up = dict(up, **{"handprop fit": {"median": 1.0, "min": 1.0, "max": 1.0}})
        out += [f"**784-256-128-10 MLP, one epoch of {results['mnist']['samples']} float32 samples, batch 128** "
                "(handprop's speed-up: this one's time ÷ handprop's in the same round, median and range over "
                "rounds):", "",
                table([[n, f"{s['median']:,.0f}", f"{s['min']:,.0f}..{s['max']:,.0f}",
                        f"{secs[n]['median'] * 1e3:.0f}",
                        f"{up[n]['median']:.2f}x ({up[n]['min']:.2f}..{up[n]['max']:.2f})"] for n, s in sps.items()],
                      ["", "samples/s", "range", "ms/epoch", "handprop's speed-up"]), ""]
    if "mnist_one_thread" in results:
        one = results["mnist_one_thread"]
        secs, up = one["seconds"], dict(one["paired_speedup"], **{"handprop fit": {"median": 1.0, "min": 1.0, "max": 1.0}})
        out += [f"**The same, one BLAS thread (and one torch thread) for every contender** ({one['samples']} samples; "
                "not a target: with one thread no thread waits for another, so a busy machine disturbs it less):", "",
                table([[n, f"{s['median'] * 1e3:.0f}", f"{s['min'] * 1e3:.0f}..{s['max'] * 1e3:.0f}",
                        f"{up[n]['median']:.2f}x ({up[n]['min']:.2f}..{up[n]['max']:.2f})"] for n, s in secs.items()],
                      ["", "ms/epoch", "range", "handprop's speed-up"]), ""]
    if "scaling" in results:
        for key, label in (("batch", "batch size"), ("width", "width w (784-w-w-10)")):
            rows = results["scaling"][key]
            if rows:
                out += [table([[r[key], f"{r['handprop'] * 1e6:.2f}",
                                f"{r['torch'] * 1e6:.2f}" if "torch" in r else "-",
                                f"{r['torch'] / r['handprop']:.2f}x" if "torch" in r else "-"] for r in rows],
                              [label, "handprop µs/sample", "torch µs/sample", "handprop speed-up"]), ""]
    if "memory" in results:
        out += [table([[f"{r['rows']:,}", "memory-mapped .npy" if r["mmap"] else "in memory",
                        f"{r['data_mib']:.1f}", f"{r['peak_mib']:.1f}", f"{r['peak_above_baseline_mib']:.1f}"]
                       for r in results["memory"]],
                      ["rows × 64 float32", "data", "data MiB", "peak RSS MiB", "peak above baseline MiB"]), ""]
    out += busy_machine.markdown(results)
    out += many_models.markdown(results)
    out += [table([["met" if t["met"] else "**missed**", t["name"], f"{t['value']:.2f}", t["goal"]]
                   for t in results["targets"]], ["", "target", "value", "goal"]), ""]
    return "\n".join(out)


def target(results, name, value, goal, met, short=None):
    results["targets"].append({"name": name, "short": short or name, "value": value, "goal": goal,
                               "met": bool(met)})


def run_xor(cfg, results):
    print(f"\n== XOR, blog 000 ({cfg['xor_epochs']} epochs; slow peers fewer), per epoch ==")
    found = xor.contenders(cfg["xor_epochs"], cfg["peer_epochs"], results["notes"])
    funcs = {n: (lambda f=f, e=e: f(e)[0]) for n, (f, e) in found.items()}
    times = run_rounds(funcs, cfg["rounds"])
    per_epoch = {n: summary(times[n], per=found[n][1] / 1e6) for n in found}  # µs per epoch
    ref = per_epoch["blog loop"]["median"]
    print(table([[n, f"{s['median']:.1f}", f"{s['min']:.1f}..{s['max']:.1f}", f"{s['median'] / ref:.2f}x"]
                 for n, s in per_epoch.items()], ["", "µs/epoch", "range", "vs blog loop"]))
    check = xor.check_outputs(cfg["xor_epochs"])
    print(f"handprop prints the blog's losses: {check['same_printed_losses']}; final predictions "
          f"{check['predictions']} (max difference to the blog's {check['max_prediction_difference']:.1e})")
    # per epoch: the contenders that ran fewer epochs are scaled to the blog loop's count
    scaled = {n: [t * cfg["xor_epochs"] / found[n][1] for t in times[n]] for n in found}
    vs_blog = {n: paired(scaled, n, "blog loop") for n in found}
    print("paired (per-round) time ratio vs blog loop, median (min..max): " + "; ".join(
        f"{n} {r['median']:.2f} ({r['min']:.2f}..{r['max']:.2f})" for n, r in vs_blog.items() if n != "blog loop"))
    results["xor"] = {"per_epoch_us": per_epoch, "epochs": {n: e for n, (_, e) in found.items()},
                      "check": check, "paired_vs_blog": vs_blog}
    ratio = vs_blog["handprop fit"]["median"]
    target(results, "XOR handprop fit time / blog loop time", ratio, "<= 0.6", ratio <= 0.6,
           "XOR fit / blog loop")
    target(results, "XOR handprop prints the blog's numbers", float(check["same_printed_losses"]),
           "== 1", check["same_printed_losses"] and check["max_prediction_difference"] <= 1e-12,
           "XOR prints the blog's numbers")


def run_mnist(cfg, results):
    n = cfg["mnist_n"]
    print(f"\n== MNIST-shaped MLP, one epoch of {n} samples ==")
    X, y = mnist.make_data(n)
    funcs = mnist.contenders(X, y, results["notes"])
    times = run_rounds(funcs, cfg["mnist_rounds"])
    secs = {k: summary(v) for k, v in times.items()}
    sps = {k: {"median": n / s["median"], "min": n / s["max"], "max": n / s["min"], "runs": s["runs"]}
           for k, s in secs.items()}
    hp = sps["handprop fit"]["median"]
    print(table([[k, f"{s['median']:,.0f}", f"{s['min']:,.0f}..{s['max']:,.0f}",
                  f"{secs[k]['median'] * 1e3:.0f}", f"{hp / s['median']:.2f}x"] for k, s in sps.items()],
                ["", "samples/s", "range", "ms/epoch", "handprop speed-up"]))
    # handprop's speed-up over each peer, round by round: the peer's time / handprop's time
    speedup = {k: paired(times, k, "handprop fit") for k in times if k != "handprop fit"}
    print("paired (per-round) handprop speed-up, median (min..max): " + "; ".join(
        f"{k} {r['median']:.2f} ({r['min']:.2f}..{r['max']:.2f})" for k, r in speedup.items()))
    results["mnist"] = {"samples": n, "seconds": secs, "samples_per_s": sps, "paired_speedup": speedup}
    if "torch" in sps:
        r = speedup["torch"]["median"]
        target(results, "MNIST handprop samples/s / torch", r, ">= 1.3", r >= 1.3, "MNIST speed vs torch")
    if "sklearn MLPClassifier" in sps:
        r = speedup["sklearn MLPClassifier"]["median"]
        target(results, "MNIST handprop samples/s / scikit-learn", r, ">= 1.6", r >= 1.6,
               "MNIST speed vs sklearn")
    r = 1 / speedup["GEMM floor"]["median"]
    target(results, "MNIST handprop epoch / GEMM-only floor", r, "<= 1.3", r <= 1.3,
           "MNIST epoch / GEMM floor")


def run_mnist_one_thread(cfg, results):
    """The MNIST-shaped epoch again with one BLAS thread (and one torch thread) for every contender:
    no thread waits for another, so a busy machine disturbs it far less; it shows what each adds to
    the same single-threaded GEMMs. Reported, not a target (the targets use every thread)."""
    tpc, torch = common.optional("threadpoolctl"), common.optional("torch")
    if tpc is None:
        results["notes"].append("mnist, one thread: skipped (pip install threadpoolctl)")
        return
    n = cfg["mnist_n"]
    print(f"\n== MNIST-shaped MLP, one epoch of {n} samples, one BLAS thread for every contender ==")
    X, y = mnist.make_data(n)
    funcs = mnist.contenders(X, y, [])
    before = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(1)
        with tpc.threadpool_limits(1, user_api="blas"):
            times = run_rounds(funcs, cfg["rounds"])
    finally:
        if torch is not None:
            torch.set_num_threads(before)
    secs = {k: summary(v) for k, v in times.items()}
    speedup = {k: paired(times, k, "handprop fit") for k in times if k != "handprop fit"}
    print(table([[k, f"{secs[k]['median'] * 1e3:.0f}", f"{speedup[k]['median']:.2f}x" if k in speedup else "1.00x"]
                 for k in secs], ["", "ms/epoch", "handprop speed-up"]))
    results["mnist_one_thread"] = {"samples": n, "seconds": secs, "paired_speedup": speedup}


def run_memory(cfg, results):
    print("\n== Peak memory (RSS), one epoch, rows × 64 float32 features, fresh process each ==")
    rows = scaling.peak_memory(cfg["memory_rows"], 64)
    results["memory"] = rows
    worst = max(r["peak_above_baseline_mib"] - r["data_mib"] for r in rows if not r["mmap"])
    target(results, "memory: in-memory peak above baseline minus data size (MiB)", worst, "<= 64",
           worst <= 64, "memory over data, MiB")
    mm = rows[-1]
    target(results, "memory: memory-mapped (4x) peak above baseline (MiB)", mm["peak_above_baseline_mib"],
           f"<= {mm['limit_mib']:.1f} (largest in-memory set + 64)",
           mm["peak_above_baseline_mib"] <= mm["limit_mib"], "memory, 4x mmap file, MiB")


if __name__ == "__main__":
    sys.exit(main())
