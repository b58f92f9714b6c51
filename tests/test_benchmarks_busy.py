"""benchmarks/busy.py: the busy-machine row (timings are reported, never judged; the shape is checked)."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
busy = pytest.importorskip("busy")
pytest.importorskip("threadpoolctl")


def test_spinner_keeps_a_process_running_and_ends_it():
    with busy.spinner() as proc:
        assert proc.poll() is None  # spinning
    assert proc.poll() is not None  # killed and reaped when the block ends


@pytest.mark.slow  # 1.6 s: the 2-thread run against a busy core is the slow part
def test_busy_row_times_the_choice_against_one_thread_and_all_threads(capsys):
    results, targets = {"notes": []}, []
    busy.run({"rounds": 1, "busy_epochs": 1}, results, lambda r, *args, **kw: targets.append(args))
    row = results["busy"]
    assert row["sizes"] == [40, 100, 100, 10] and row["batch"] == 100
    assert row["threads_chosen"] == 1  # 100 × (40·100 + 100·100 + 100·10) = 1.5e6 multiply-adds: small
    names = list(row["ms_per_epoch"])
    assert names[:2] == ["handprop's choice", "one thread"] and names[2].endswith("threads")
    assert row["paired_vs_one_thread"]["one thread"]["median"] == 1.0
    assert all(math.isfinite(s["median"]) and s["median"] > 0 for s in row["ms_per_epoch"].values())
    assert targets and targets[0][0].startswith("busy machine") and targets[0][2] == "<= 1.1"
    assert "time vs one thread" in capsys.readouterr().out
    assert "Busy machine" in "\n".join(busy.markdown(results))
