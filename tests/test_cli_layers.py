"""``handprop train --layers`` writes out a whole network (handprop.layerspec's grammar): trained,
saved, resumed and refused in words like the hidden-sizes form."""

import numpy as np
import pytest

import handprop
from handprop.cli import main

SPEC = "reshape:1x12,conv:4x3/2+1,relu,maxpool:2,flatten,dense:8,tanh,dense"


@pytest.fixture
def waves(tmp_path):
    # Rows of 12 samples of a wave; the class is whether it rises or falls: a 1-D pattern.
    rng = np.random.default_rng(0)
    t = np.arange(12)
    rows = [",".join(f"s{i}" for i in range(12)) + ",kind"]
    for _ in range(120):
        up = rng.integers(2)
        x = (t if up else -t) * 0.1 + rng.normal(0, 0.3, 12)
        rows.append(",".join(f"{v:.5f}" for v in x) + ("," + ("up" if up else "down")))
    path = tmp_path / "waves.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_written_out_network_trains_saves_and_predicts(waves, tmp_path, capsys):
    out = tmp_path / "cnn.npz"
    assert main(["train", str(waves), "--target", "kind", "--layers", SPEC, "--epochs", "30", "--lr", "0.01",
                 "--out", str(out), "--no-doctor"]) == 0
    printed = capsys.readouterr().out
    assert f"model: 12 -> {SPEC} -> 2, logits, softmax cross-entropy (ce)" in printed
    model = handprop.load(out)
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Reshape", "Conv1D", "ReLU", "MaxPool1D", "Flatten", "Dense", "Tanh", "Dense"]
    conv = model.layers[1]
    assert conv.W.shape == (4, 1, 3) and (conv.stride, conv.padding) == (2, 1)
    assert model.layers[5].n_in == 4 * 3  # 12 → conv (k3, s2, p1) → 6 → maxpool 2 → 3; 4 channels
    assert main(["evaluate", str(out), str(waves)]) == 0
    accuracy = float(capsys.readouterr().out.split("accuracy: ")[1].split()[0])
    assert accuracy >= 0.9, "a rising or falling wave is an easy pattern for a convolution"


def test_a_resumed_run_of_a_written_out_network_equals_an_uninterrupted_one(waves, tmp_path, capsys):
    common = ["train", str(waves), "--target", "kind", "--layers", SPEC, "--quiet", "--no-doctor"]
    assert main(common + ["--epochs", "4", "--out", str(tmp_path / "a.npz")]) == 0
    assert main(common + ["--epochs", "2", "--checkpoint", str(tmp_path / "ck.npz"),
                          "--out", str(tmp_path / "x.npz")]) == 0
    assert main(["train", "--resume", str(tmp_path / "ck.npz"), "--epochs", "4", "--quiet", "--no-doctor",
                 "--out", str(tmp_path / "b.npz")]) == 0
    capsys.readouterr()
    a, b = handprop.load(tmp_path / "a.npz"), handprop.load(tmp_path / "b.npz")
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.value, pb.value)


@pytest.mark.parametrize("extra, words", [
    (["--layers", SPEC, "--activation", "tanh"],
     "--activation does nothing when --layers writes out the network: put the activations in --layers itself"),
    (["--layers", "reshape:1x12,conv:4x3,relu,flatten,dense:3"],
     "gives 3 outputs per sample, but the data needs 2; end with dense:2"),
    (["--layers", "reshape:1x12,conv:4y3,relu,flatten,dense"], "--layers item 2 'conv:4y3' (column 14): expected conv:OxK"),
    (["--layers", "conv:4x3,relu,flatten,dense"], "--layers item 1 'conv:4x3' (column 1)"),
])
def test_a_network_that_cannot_be_built_is_refused_in_one_line(waves, tmp_path, capsys, extra, words):
    out = tmp_path / "never.npz"
    assert main(["train", str(waves), "--target", "kind", "--epochs", "1", "--out", str(out)] + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert words in err
    assert not out.exists()


def test_l1_and_l2_reach_every_dense_layer_and_are_kept_by_resume(waves, tmp_path, capsys):
    common = ["train", str(waves), "--target", "kind", "--layers", "8", "--l1", "0.001", "--l2", "0.01",
              "--quiet", "--no-doctor"]
    assert main(common + ["--epochs", "2", "--checkpoint", str(tmp_path / "ck.npz"), "--out", str(tmp_path / "a.npz")]) == 0
    model = handprop.load(tmp_path / "a.npz")
    dense = [layer for layer in model.layers if isinstance(layer, handprop.Dense)]
    assert len(dense) == 2 and all((d.l1, d.l2) == (0.001, 0.01) for d in dense)
    assert main(["train", "--resume", str(tmp_path / "ck.npz"), "--epochs", "3", "--quiet", "--no-doctor",
                 "--out", str(tmp_path / "b.npz")]) == 0
    assert all(getattr(layer, "l2", 0.01) == 0.01 for layer in handprop.load(tmp_path / "b.npz").layers)
    assert main(["train", "--resume", str(tmp_path / "ck.npz"), "--l2", "0.5", "--out", str(tmp_path / "c.npz")]) == 2
    assert "--resume: l2 is 0.5 here but 0.01 in the checkpoint" in capsys.readouterr().err
    assert main(["train", str(waves), "--target", "kind", "--l1", "-1", "--out", str(tmp_path / "d.npz")]) == 2
    assert "--l1 must be a number >= 0 (the penalty's rate), got -1.0" in capsys.readouterr().err
