"""Crash safety: a training run with checkpoints is killed (SIGKILL: no cleanup, no finally) at
random moments, again and again. Each time the checkpoint on disk must load, and resuming from it
must finish the very same run as one that was never killed (bit-identical weights)."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from handprop.cli import main
from handprop.io import load_checkpoint

SRC = Path(__file__).resolve().parents[2] / "src"
EPOCHS = 40
FLAGS = ["train", "--dataset", "moons", "--n", "200", "--layers", "16", "--batch-size", "16",
         "--epochs", str(EPOCHS), "--quiet", "--no-doctor"]
KILLS = 10


def _start(tmp, ck):
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.Popen([sys.executable, "-m", "handprop", *FLAGS, "--checkpoint", str(ck),
                             "--out", str(tmp / "m.npz")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(ck, child, timeout=60):
    """Seconds until the first checkpoint appears (the interpreter and NumPy take a while to start)."""
    start = time.monotonic()
    while not ck.exists():
        if child.poll() is not None or time.monotonic() - start > timeout:
            raise AssertionError(f"no checkpoint was written: {child.stderr.read() if child.stderr else ''}")
        time.sleep(0.005)
    return time.monotonic() - start


def _weights(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "__config__"}


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_at_random_moments_leaves_a_checkpoint_that_resumes(tmp_path):
    # An uninterrupted run: the reference weights, and how long training lasts after its first
    # checkpoint (the window in which the kills land).
    ref = tmp_path / "ref"
    ref.mkdir()
    child = _start(ref, ref / "ck.npz")
    try:
        _wait_for(ref / "ck.npz", child)
        t0 = time.monotonic()
        assert child.wait(timeout=120) == 0, child.stderr.read()
        window = time.monotonic() - t0
    finally:
        child.kill()
        child.wait()
    expected = _weights(ref / "m.npz")

    rng = random.Random(6)  # fixed: a failure can be replayed
    seen = []
    for i in range(KILLS):
        run = tmp_path / f"kill{i}"
        run.mkdir()
        ck = run / "ck.npz"
        child = _start(run, ck)
        try:
            _wait_for(ck, child)
            time.sleep(rng.uniform(0, window))
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
        # Whatever the moment, the checkpoint is whole: the old one or the new one, never a mixture.
        saved = load_checkpoint(ck)
        assert 0 < saved.epochs_done <= EPOCHS
        seen.append(saved.epochs_done)
        # Leftovers of an interrupted write are hidden temporary files beside it, nothing else.
        names = sorted(p.name for p in run.iterdir())
        assert all(n in ("ck.npz", "m.npz") or n.startswith((".ck.npz.", ".m.npz.")) and n.endswith(".tmp")
                   for n in names), names
        assert main(["train", "--resume", str(ck), "--quiet", "--no-doctor", "--out", str(run / "b.npz")]) == 0
        got = _weights(run / "b.npz")
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=f"kill {i} at epoch {saved.epochs_done}")
    # The kills landed at different points of the run, not all at its start or end.
    assert len(set(seen)) >= 3, seen
