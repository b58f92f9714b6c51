"""Scaling report: time per sample against batch size and width; peak memory against data size.

Time: the MNIST-shaped model (784-256-128-10, float32, SGD, cross-entropy) trained one epoch over
enough random samples to take a measurable time, for batch sizes 1..4096; then 784-w-w-10 for
widths w = 16..2048 at batch 128. handprop and PyTorch (same threads) are measured alternately.

Memory: each point runs in a fresh subprocess (``memory_probe.py``) that builds a data set, trains
one epoch and reports its peak resident set size (VmHWM, or ``resource.getrusage``), and the part of it
above what the interpreter, NumPy and handprop used before the data were made.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import mnist
from common import SETTLE_S, optional

HERE = Path(__file__).resolve().parent


def _best_of(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        time.sleep(SETTLE_S)
        times.append(fn())
    return min(times)


def time_per_sample(batches, widths, samples, repeats, width_flops=2e10, log=print):
    """{"batch": [...], "width": [...]} rows of seconds per sample, handprop and torch."""
    has_torch = optional("torch") is not None
    result = {"batch": [], "width": []}
    for batch in batches:
        n = max(samples(batch), 2 * batch)
        X, y = mnist.make_data(n)
        row = {"batch": batch, "samples": n,
               "handprop": _best_of(lambda: mnist.handprop_epoch(X, y, batch=batch), repeats) / n}
        if has_torch:
            row["torch"] = _best_of(lambda: mnist.torch_epoch(X, y, batch=batch), repeats) / n
        result["batch"].append(row)
        log(f"  batch {batch:5d}: " + _fmt(row))
    for width in widths:
        sizes = (784, width, width, 10)
        flops_per_sample = 6 * (784 * width + width * width + 10 * width)  # 3 GEMMs each way
        n = int(min(32768, max(256, width_flops / flops_per_sample)))
        X, y = mnist.make_data(n, sizes)
        row = {"width": width, "samples": n,
               "handprop": _best_of(lambda: mnist.handprop_epoch(X, y, sizes=sizes), repeats) / n}
        if has_torch:
            row["torch"] = _best_of(lambda: mnist.torch_epoch(X, y, sizes=sizes), repeats) / n
        result["width"].append(row)
        log(f"  width {width:5d}: " + _fmt(row))
    return result


def _fmt(row):
    parts = [f"handprop {row['handprop'] * 1e6:8.2f} us/sample"]
    if "torch" in row:
        parts.append(f"torch {row['torch'] * 1e6:8.2f} us/sample ({row['torch'] / row['handprop']:.2f}x)")
    return ", ".join(parts)


def _probe(args):
    out = subprocess.run([sys.executable, str(HERE / "memory_probe.py"), *map(str, args)],
                         capture_output=True, text=True, check=True, env=dict(os.environ))
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_memory(row_counts, features, mmap_factor=4, log=print):
    """Peak RSS training on in-memory data sets, and on a memory-mapped .npy ``mmap_factor``× the
    largest of them (written here, read by the subprocess)."""
    rows = []
    for n in row_counts:
        r = _probe(["--rows", n, "--features", features])
        rows.append(r)
        log(f"  in memory {n:>9,} rows: data {r['data_mib']:8.1f} MiB, peak above baseline "
            f"{r['peak_above_baseline_mib']:8.1f} MiB (limit {r['data_mib'] + 64:8.1f})")
    n_map = mmap_factor * max(row_counts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "X.npy"
        X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_map, features))
        rng = np.random.default_rng(0)
        for s in range(0, n_map, 1 << 18):  # written in slices: this process stays small too
            X[s:s + (1 << 18)] = rng.standard_normal((min(1 << 18, n_map - s), features), dtype=np.float32)
        X.flush()
        del X
        r = _probe(["--rows", n_map, "--features", features, "--mmap", path])
    limit = max(row["data_mib"] for row in rows) + 64
    r["limit_mib"] = limit
    rows.append(r)
    log(f"  memory-mapped {n_map:>9,} rows: file {r['data_mib']:8.1f} MiB, peak above baseline "
        f"{r['peak_above_baseline_mib']:8.1f} MiB (limit: largest in-memory set + 64 MiB = {limit:.1f})")
    return rows
