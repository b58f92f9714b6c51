"""Issue 10, item 17, for the doctor: a run on inputs near 1e200 (with --no-scale) overflows, and the
doctor's report says so in words, with finite statistics, and never lets a NumPy warning through."""

import warnings

import numpy as np

from handprop.cli import main


def test_item17_the_doctor_on_overflowing_inputs_warns_nothing_and_reports_their_real_scale(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)) * 1e200
    rows = ["a,b,c,label"] + [",".join(repr(float(v)) for v in r) + f",{int(r[0] > 0)}" for r in X]
    path = tmp_path / "huge.csv"
    path.write_text("\n".join(rows) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the run
        code = main(["train", str(path), "--target", "label", "--no-scale", "--epochs", "2",
                     "--out", str(tmp_path / "m.npz")])
    out = capsys.readouterr()
    assert code in (0, 2), out.err
    text = out.out + out.err
    assert "Warning" not in text
    assert "[unscaled_inputs]" in text  # and its numbers are the data's, not an overflowed inf
    seen = text.split("feature std from ")[1].split(",")[0]
    low, high = (float(v) for v in seen.split(" to "))
    assert 1e199 < low <= high < 1e201
