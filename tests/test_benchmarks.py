"""The benchmark runs end to end on tiny sizes and writes sane results (never judged on speed)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke",
         "--json", str(out / "results.json"), "--plot", str(out / "benchmarks.png")],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "results.json") as f:
        return json.load(f), proc.stdout, out


def _positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_environment_names_machine_versions_and_threads(smoke):
    results, stdout, _ = smoke
    env = results["environment"]
    for key in ("python", "numpy", "cpu", "cores", "blas", "numpy_blas_threads", "handprop"):
        assert key in env
    assert results["mode"] == "smoke"
    assert "handprop benchmarks (smoke)" in stdout


def test_xor_rows_and_the_blogs_numbers(smoke):
    results, stdout, _ = smoke
    xor = results["xor"]
    assert {"blog loop", "handprop fit", "NumPy in-place loop", "method-per-layer loop"} <= set(xor["per_epoch_us"])
    for stats in xor["per_epoch_us"].values():
        assert _positive(stats["median"]) and stats["min"] <= stats["median"] <= stats["max"]
    assert xor["check"]["same_printed_losses"] is True
    assert xor["check"]["max_prediction_difference"] <= 1e-12
    assert "vs blog loop" in stdout


def test_the_yardstick_loops_compute_the_blogs_numbers():
    """The two loops the XOR row compares handprop with (the NumPy in-place loop, the method-per-layer
    loop) are the blog's math: they print its losses; the method-per-layer loop's trained network
    predicts what the blog's does."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import xor
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    _, printed, predictions = xor.blog_loop(2001)
    for loop in (xor.inplace_loop, xor.method_loop):
        assert loop(2001)[1] == printed and printed.count("Epoch") == 3
    np.testing.assert_allclose(xor.method_loop(2001)[2], predictions, rtol=0, atol=1e-12)


def test_mnist_rows_and_ratios(smoke):
    results, _, _ = smoke
    sps = results["mnist"]["samples_per_s"]
    assert {"handprop fit", "GEMM floor"} <= set(sps)
    assert all(_positive(s["median"]) for s in sps.values())
    names = [t["name"] for t in results["targets"]]
    assert any("GEMM-only floor" in n for n in names)
    assert all(isinstance(t["met"], bool) and math.isfinite(t["value"]) for t in results["targets"])


def test_scaling_and_memory_rows(smoke):
    results, _, _ = smoke
    assert [r["batch"] for r in results["scaling"]["batch"]] == [1, 64]
    assert all(_positive(r["handprop"]) for r in results["scaling"]["batch"] + results["scaling"]["width"])
    memory = results["memory"]
    assert [r["mmap"] for r in memory] == [False, True]
    assert memory[1]["rows"] == 4 * memory[0]["rows"]
    assert all(_positive(r["peak_mib"]) and r["peak_mib"] >= r["baseline_mib"] for r in memory)


def test_plot_is_drawn_when_matplotlib_is_installed(smoke):
    _, stdout, out = smoke
    pytest.importorskip("matplotlib")
    png = out / "benchmarks.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_draws_a_run_that_left_sections_out(smoke, tmp_path):
    # ``run.py --only busy`` writes no "xor" or "mnist" results: the figure leaves those panels out
    results, _, _ = smoke
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from plot import plot
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    partial = {key: value for key, value in results.items() if key not in ("xor", "mnist")}
    assert plot(partial, tmp_path / "partial.png") is True
    assert (tmp_path / "partial.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
