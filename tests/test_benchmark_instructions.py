"""``benchmarks/instructions.py``: instructions per XOR epoch, the same number when run again."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "instructions.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_rerun_counts_the_same_instructions_per_epoch():
    """What the script is for: a count that does not move between runs (to 0.5%), where a timing
    moves by a quarter. Two tiny runs of handprop's fit, each the difference of 20 and 60 epochs."""
    counts = []
    for _ in range(2):
        proc = run("fit", "--epochs", "20", "60")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        found = re.fullmatch(r"fit\s+([\d,]+) instructions per epoch\n", proc.stdout)
        assert found, proc.stdout
        counts.append(int(found.group(1).replace(",", "")))
    assert 10_000 < counts[0] < 10_000_000  # an XOR epoch: tens of NumPy calls, not nothing, not a hang
    assert abs(counts[0] - counts[1]) <= 0.005 * counts[0]


def test_bad_arguments_are_refused_by_name():
    proc = run("fast")
    assert proc.returncode != 0 and "unknown contender 'fast'; choose from blog, inplace, methods, fit" in proc.stderr
    proc = run("fit", "--epochs", "50", "10")
    assert proc.returncode != 0 and "needs 0 < FEW < MANY, got 50 10" in proc.stderr
    proc = run("fit", "--src", str(ROOT / "benchmarks"))
    assert proc.returncode != 0 and "no handprop package there; give a checkout's src/ folder" in proc.stderr
