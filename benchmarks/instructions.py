"""Machine instructions per XOR epoch, counted by valgrind: a steady yardstick where timings are not.

On a shared 2-core machine the blog loop's time moves by ±25% from one run to the next, which hides
a change of a few per cent in ``fit``'s Python overhead. Counting the instructions one epoch executes
does not move: this script runs each contender under ``valgrind --tool=cachegrind`` for two numbers
of epochs and prints the difference per epoch (start-up and imports cancel out), with one BLAS
thread, a fixed hash seed and no address randomization, so that a rerun gives the same count to a
few instructions. Instructions are not time (a cache miss costs more than an add), so the targets
stay with ``run.py``; this is for telling whether a change to the engine made an epoch cheaper.

    python benchmarks/instructions.py                  # blog loop, in-place loop, method-per-layer loop, fit
    python benchmarks/instructions.py fit --src OTHER  # handprop from another checkout's src/

Needs ``valgrind`` (``apt-get install valgrind``) and ``setarch``; about a minute per contender.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTENDERS = {"blog": "blog_loop", "inplace": "inplace_loop", "methods": "method_loop", "fit": "handprop_fit"}
RUN = ("import sys; sys.path[:0] = [{src!r}, {here!r}]; import xor; xor.{func}({epochs})")


def instructions(func, epochs, src):
    """Instructions valgrind counts for a Python process that runs ``xor.func(epochs)``."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    code = RUN.format(src=str(src), here=str(HERE), func=func, epochs=epochs)
    cmd = ["setarch", os.uname().machine, "-R", "valgrind", "--tool=cachegrind", "--cache-sim=no",
           "--cachegrind-out-file=/dev/null", sys.executable, "-c", code]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stderr
    found = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{out[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("contenders", nargs="*", default=list(CONTENDERS), help=f"some of: {', '.join(CONTENDERS)}")
    p.add_argument("--src", default=str(HERE.parent / "src"), help="the src/ folder handprop is imported from")
    p.add_argument("--epochs", type=int, nargs=2, default=(1000, 5000), metavar=("FEW", "MANY"),
                   help="the two run lengths whose difference is counted (default 1000 5000)")
    args = p.parse_args(argv)
    unknown = [name for name in args.contenders if name not in CONTENDERS]
    if unknown:
        raise SystemExit(f"unknown contender {unknown[0]!r}; choose from {', '.join(CONTENDERS)}")
    few, many = args.epochs
    if not 0 < few < many:
        raise SystemExit(f"--epochs FEW MANY needs 0 < FEW < MANY, got {few} {many}")
    if not (Path(args.src) / "handprop" / "__init__.py").is_file():
        raise SystemExit(f"--src {args.src}: no handprop package there; give a checkout's src/ folder")
    missing = [tool for tool in ("valgrind", "setarch") if shutil.which(tool) is None]
    if missing:  # (setarch comes with util-linux)
        raise SystemExit(f"{' and '.join(missing)} not found: apt-get install valgrind util-linux")
    for name in args.contenders:
        func = CONTENDERS[name]
        per_epoch = (instructions(func, many, args.src) - instructions(func, few, args.src)) / (many - few)
        print(f"{name:8s} {per_epoch:10,.0f} instructions per epoch")


if __name__ == "__main__":
    main()
