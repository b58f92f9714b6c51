"""The Conv1D benchmark runs end to end on a tiny size and reports what it measured (never judged
on speed: tests do not time)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_conv1d_benchmark_reports_samples_per_second_and_the_paired_ratio():
    pytest.importorskip("torch")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "conv1d.py"), "--rows", "200", "--rounds", "1"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Conv1D (MNIST-1D CNN), 200 rows, batch 100, float32" in proc.stdout
    assert "handprop / torch samples/s:" in proc.stdout and "goal >= 1.0x" in proc.stdout


def test_the_benchmarks_cnn_is_the_mnist1d_recipe():
    # Conv(1→25, k5, s2, p1) → 19, Conv(25→25, k3, s2, p1) → 10, again → 5: 25·5 = 125 features.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import conv1d
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    model = conv1d.handprop_model()
    assert model.predict(conv1d.make_data(3)[0]).shape == (3, 10)
    assert model.layers[-1].n_in == 125
