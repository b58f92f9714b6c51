"""Shared pieces of the benchmarks: timing rounds, environment, thread counts, optional peers.

Timing rule: every contender of a suite runs in the same process, interleaved (round 1: A, B, C;
round 2: B, C, A; ...), after one untimed warm-up run each. We report the median of the rounds and
their range (min..max). Between two runs we sleep a little: OpenBLAS and OpenMP worker threads
spin for a while after their last job, and on 2 cores a spinning pool of one library would steal
time from the next contender.
"""

import importlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
try:
    import handprop  # noqa: F401  (installed, or on PYTHONPATH)
except ImportError:  # running from a checkout: use its src/
    sys.path.insert(0, str(ROOT / "src"))

import numpy as np

SETTLE_S = 0.2


def optional(name):
    """The module ``name``, or None when it is not installed (the peer is then skipped)."""
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install that fails while importing
        return None


def blas_threads():
    """(number of BLAS threads NumPy uses, description of its BLAS) via threadpoolctl if present."""
    tpc = optional("threadpoolctl")
    if tpc is None:
        return None, "unknown (threadpoolctl not installed)"
    for info in tpc.threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            desc = (f"{info.get('internal_api')} {info.get('version')} "
                    f"kernel {info.get('architecture')} ({info.get('threading_layer')})")
            return info.get("num_threads"), desc
    return None, "unknown"


def setup_threads():
    """Make PyTorch use as many threads as NumPy's BLAS; returns the count (or None)."""
    n, _ = blas_threads()
    torch = optional("torch")
    if torch is not None and n:
        torch.set_num_threads(n)
    return n


def environment():
    """Machine, versions and thread counts, for the report."""
    n, blas = blas_threads()
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "blas": blas,
        "numpy_blas_threads": n,
        "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                      "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
                         if k in os.environ},
    }
    import handprop
    env["handprop"] = handprop.__version__
    from importlib import metadata
    for name, dist in (("torch", "torch"), ("sklearn", "scikit-learn"), ("micrograd", "micrograd"),
                       ("matplotlib", "matplotlib"), ("threadpoolctl", "threadpoolctl")):
        try:
            env[name] = metadata.version(dist) if optional(name) is not None else None
        except metadata.PackageNotFoundError:
            env[name] = "installed"
    torch = optional("torch")
    env["torch_threads"] = torch.get_num_threads() if torch is not None else None
    return env


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_rounds(contenders, rounds, settle=SETTLE_S, log=print):
    """Time each contender ``rounds`` times, interleaved; returns {name: [seconds, ...]}.

    ``contenders`` maps a name to a function that runs the workload once and returns the seconds it
    took (each function times only its own work, not its setup).
    """
    names = list(contenders)
    for name in names:  # warm-up: imports, thread pools, caches, first-touch of memory
        contenders[name]()
        time.sleep(settle)
    times = {name: [] for name in names}
    for r in range(rounds):
        LOADS.append(load())
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(contenders[name]())
            time.sleep(settle)
        log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {times[n][-1] * 1e3:.1f} ms" for n in names))
    return times


LOADS = []  # 1-minute load averages seen at the start of each round: other processes at work?


def load():
    """The 1-minute load average (processes running or waiting), or None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def summary(seconds, per=1.0):
    """Median and range of ``seconds`` divided by ``per`` (e.g. per epoch or per sample)."""
    values = [s / per for s in seconds]
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values)}


def paired(times, a, b):
    """Median and range of the per-round ratios ``times[a][i] / times[b][i]``.

    ``a`` and ``b`` ran in the same round, close in time, so a slow moment of a shared machine
    slows both; the targets use this paired ratio, which is steadier than a ratio of two medians.
    """
    ratios = sorted(x / y for x, y in zip(times[a], times[b]))
    return {"median": statistics.median(ratios), "min": ratios[0], "max": ratios[-1], "runs": len(ratios)}


def table(rows, headers):
    """A plain text table (also valid Markdown)."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(r) for r in rows])
