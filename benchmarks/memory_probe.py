"""Peak memory of one training epoch, measured in a fresh process (run by scaling.py).

Prints one JSON line: the data's size, the peak resident set size (VmHWM, or ``ru_maxrss``) and the peak
above the baseline taken after importing NumPy and handprop, before any data exist.
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (puts src/ on the path when run from a checkout)

import numpy as np  # noqa: E402

import handprop as hp  # noqa: E402

MiB = 2**20


def peak_mib():
    """Peak resident set size of this process so far, in MiB.

    Linux's VmHWM is the peak of this process image; ``ru_maxrss`` would do, except that Linux
    carries it over from the parent through fork and exec (a child of a big benchmark process
    would report the parent's peak).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MiB


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--mmap", default=None, help="a float32 .npy file to train from, memory-mapped")
    p.add_argument("--batch", type=int, default=256)
    args = p.parse_args()
    model = hp.mlp([args.features, 64, 10], "relu", dtype=np.float32, rng=0)
    baseline = peak_mib()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, args.rows, dtype=np.uint8)
    if args.mmap:
        X = np.load(args.mmap, mmap_mode="r")
        data_bytes = X.nbytes
    else:
        X = np.empty((args.rows, args.features), np.float32)
        for s in range(0, args.rows, 1 << 16):  # filled in slices: no float64 copy of the set
            rng.standard_normal(out=X[s:s + (1 << 16)], dtype=np.float32)
        data_bytes = X.nbytes + y.nbytes
    start = time.perf_counter()
    model.fit(X, y, loss="ce", optimizer=hp.SGD(lr=0.01), epochs=1, batch_size=args.batch, seed=0)
    seconds = time.perf_counter() - start
    peak = peak_mib()
    print(json.dumps({"rows": args.rows, "features": args.features, "mmap": bool(args.mmap),
                      "data_mib": data_bytes / MiB, "baseline_mib": baseline, "peak_mib": peak,
                      "peak_above_baseline_mib": peak - baseline, "seconds": seconds}))


if __name__ == "__main__":
    main()
