"""Issue 10, "trust at the edges": model files, output paths and sizes (items 5, 6, 9-12, 15, 16).

Each test is named after its item. Files that must survive are compared byte for byte with what
they held before; refusals are checked for their type (or exit code 2) and for the words that tell
the user what is wrong."""

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import handprop as hp
from handprop import io as hio
from handprop.files import atomic_write, writable_in_place
from handprop.cli import main
from handprop.data import StandardScaler
from handprop.errors import FileFormatError, FileWriteError, HandpropTypeError, HandpropValueError

from _hostile import config_of, members, rezip, saved_model, with_config

SRC = Path(__file__).resolve().parents[2] / "src"
QUIET = ["--quiet", "--no-doctor"]
MOONS = ["train", "--dataset", "moons", "--n", "60", "--layers", "4", "--epochs", "2"] + QUIET


def _xor():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def _snapshot(directory):
    """``{name: bytes}`` of every file in ``directory``."""
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()}


# ----------------------------------------------------------------------------------- item 5
def test_item5_softmax_before_cross_entropy_is_refused_at_save(tmp_path):
    good = tmp_path / "m.npz"
    before = saved_model(good)
    model = hp.Sequential([hp.Dense(2, 3, rng=0), hp.Softmax()])
    with pytest.raises(HandpropValueError, match="CrossEntropy takes logits and applies softmax itself, "
                                                 "but the model ends with Softmax") as info:
        hio.save(model, good, loss="ce")
    assert "refusing to save" in str(info.value) and "left as it was" in str(info.value)
    assert good.read_bytes() == before


def test_item5_softmax_before_cross_entropy_is_refused_at_load_and_by_predict(tmp_path, capsys):
    entries = members(saved_model(tmp_path / "good.npz"))
    config = config_of(entries)
    config["layers"].append({"class": "Softmax", "config": {}, "params": {}})  # a file saved by an older handprop
    bad = tmp_path / "softmax.npz"
    bad.write_bytes(rezip(with_config(entries, config)))
    with pytest.raises(FileFormatError, match=r"softmax.npz: saved with the loss CrossEntropy\(\), which does "
                                              "not fit its last layer: CrossEntropy takes logits"):
        hp.load(bad)
    (tmp_path / "x.csv").write_text("a,b\n0,1\n1,1\n")
    assert main(["predict", str(bad), str(tmp_path / "x.csv"), "--proba"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no probabilities at all rather than softmax applied twice
    assert "applies softmax itself, but the model ends with Softmax" in err


# ----------------------------------------------------------------------------------- item 6
def _overflowed_scaler():
    # What fitting columns near 1e200 gives: the variance overflows. (The scaler itself now refuses
    # such columns at fit time; save must not rely on that.)
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = np.array([0.0, 1e200]), np.array([1.0, np.inf])
    return scaler


def test_item6_non_finite_scaler_statistics_never_replace_a_good_model(tmp_path):
    good = tmp_path / "m.npz"
    before = saved_model(good)
    model = hp.mlp([2, 3, 2], "tanh", rng=0)
    with pytest.raises(HandpropValueError) as info:
        hio.save(model, good, loss="ce", x_scaler=_overflowed_scaler(), feature_names=["a", "b"])
    assert str(info.value) == (
        f"refusing to save {good}: x_scaler: column 1 ('b') has mean 1e+200 and scale inf (1 of 2 columns "
        "are so); a model file needs finite statistics and a scale > 0, and values near 1e200 overflow the "
        "standard deviation; the existing file, if any, is left as it was")
    assert good.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # nothing opened: no temporary file either


def test_item6_a_checkpoint_that_could_not_be_loaded_is_not_written(tmp_path):
    ck = tmp_path / "ck.npz"
    before = saved_model(ck, checkpoint=True)
    info = hp.io.ModelInfo(loss="ce", x_scaler=_overflowed_scaler())
    X, y = _xor()
    with pytest.raises(HandpropValueError, match=r"refusing to save .*ck.npz: x_scaler: column 1 has mean "
                                                 r"1e\+200 and scale inf"):
        hp.fit(hp.mlp([2, 3, 2], "tanh", rng=0), X, y, loss="ce", epochs=2,
               callbacks=[hp.callbacks.ModelCheckpoint(ck, info=info)])
    assert ck.read_bytes() == before
    assert hio.load_checkpoint(ck).epochs_done == 2  # the good checkpoint still resumes


def test_item6_whatever_load_would_refuse_is_refused_before_writing(tmp_path):
    # The last check before a write is load's own, run on the config and arrays in memory: here a
    # loss/last-layer pair (BCE on probabilities after no Sigmoid) that load refuses.
    good = tmp_path / "m.npz"
    before = saved_model(good)
    with pytest.raises(HandpropValueError, match=r"refusing to save .*m.npz: the file could not be loaded back: "
                                                 r"saved with the loss BCE\(\), which does not fit its last layer: "
                                                 r"BCE\(\) expects probabilities.*left as it was"):
        hio.save(hp.mlp([2, 1], rng=0), good, loss="bce")
    assert good.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.npz"]


def test_item6_nan_weights_never_replace_a_good_model(tmp_path):
    good = tmp_path / "m.npz"
    before = saved_model(good)
    model = hp.mlp([2, 3, 2], "tanh", rng=0)
    model.layers[0].W[0, 0] = np.nan
    with pytest.raises(HandpropValueError, match="array 'layers.0.W' holds NaN or infinite values"):
        hio.save(model, good)
    assert good.read_bytes() == before


# ----------------------------------------------------------------------------------- item 9
def test_item9_resume_never_writes_to_paths_stored_in_the_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    ck = run / "ck.npz"
    assert main(MOONS + ["--out", str(run / "m.npz"), "--checkpoint", str(ck)]) == 0
    victims = tmp_path / "victims"
    victims.mkdir()
    (victims / "precious.txt").write_bytes(b"do not overwrite\n")
    (victims / "other.npz").write_bytes(b"also precious\n")
    entries = members(ck.read_bytes())
    config = config_of(entries)
    settings = config["checkpoint"]["settings"]
    assert "log" not in settings and "checkpoint" not in settings  # a written file names no outputs
    settings.update(log=str(victims / "precious.txt"), checkpoint=str(victims / "other.npz"))  # a hostile edit
    ck.write_bytes(rezip(with_config(entries, config)))
    victims_before = _snapshot(victims)
    assert main(["train", "--resume", str(ck), "--epochs", "4", "--out", str(run / "b.npz")] + QUIET) == 0
    capsys.readouterr()
    assert _snapshot(victims) == victims_before
    assert sorted(os.listdir(run)) == ["b.npz", "ck.npz", "m.npz"]
    assert hio.load_checkpoint(ck).epochs_done == 4  # checkpoints go back to the --resume file itself
    # Given on this command line, the outputs are used.
    assert main(["train", "--resume", str(ck), "--epochs", "5", "--out", str(run / "c.npz"),
                 "--log", str(run / "log.csv"), "--checkpoint", str(run / "ck2.npz")] + QUIET) == 0
    assert (run / "log.csv").read_text().count("\n") == 6  # header + 5 epochs
    assert hio.load_checkpoint(run / "ck2.npz").epochs_done == 5
    assert _snapshot(victims) == victims_before


# ----------------------------------------------------------------------------------- item 10
@pytest.fixture
def csv_data(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i * 7 % 5},{i % 2}\n" for i in range(20)))
    return path


@pytest.mark.parametrize("flags,words", [
    (["--out", "{data}"], "--out {data} is the DATA file this run reads; writing it would destroy it: give --out another path"),
    (["--log", "{data}"], "--log {data} is the DATA file this run reads"),
    pytest.param(["--plot", "{data}"], "--plot {data} is the DATA file this run reads",
                 marks=pytest.mark.matplotlib),  # (--plot checks that matplotlib imports)
    (["--checkpoint", "{data}"], "--checkpoint {data} is the DATA file this run reads"),
    (["--out", "{dir}/m.npz", "--checkpoint", "{dir}/m.npz"],
     "--out and --checkpoint are the same file {dir}/m.npz; one would overwrite the other"),
    (["--out", "{dir}/m.npz", "--log", "{dir}/./m.npz"], "--out and --log are the same file"),
])
def test_item10_outputs_that_are_inputs_or_each_other_are_refused_before_training(
        tmp_path, csv_data, capsys, flags, words):
    if "--plot" in flags:
        pytest.importorskip("matplotlib")  # (without it, --plot is refused for that first)
    fill = lambda t: t.replace("{data}", str(csv_data)).replace("{dir}", str(tmp_path))
    before = _snapshot(tmp_path)
    argv = ["train", str(csv_data), "--epochs", "2"] + QUIET + [fill(f) for f in flags]
    if "--out" not in flags:
        argv += ["--out", str(tmp_path / "m.npz")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fill(words) in err
    assert _snapshot(tmp_path) == before  # nothing trained, nothing written


def test_item10_out_equal_to_the_resumed_checkpoint_is_refused(tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    assert main(MOONS + ["--out", str(tmp_path / "m.npz"), "--checkpoint", str(ck)]) == 0
    before = _snapshot(tmp_path)
    assert main(["train", "--resume", str(ck), "--out", str(ck)] + QUIET) == 2
    assert f"--out {ck} is the --resume file this run reads" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


# ----------------------------------------------------------------------------------- item 11
def test_item11_a_read_only_file_is_not_replaced(tmp_path):
    path = tmp_path / "m.npz"
    before = saved_model(path)
    path.chmod(0o444)
    # Decided by the mode bits, as for any user but root; the tests run as root, who could write it.
    assert not writable_in_place(path)
    with pytest.raises(FileWriteError) as info:
        hio.save(hp.mlp([2, 2], rng=0), path)
    message = str(info.value)
    assert "m.npz: cannot write the file: it is read-only (mode 0444)" in message
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.npz"]
    # The advice is a command: run it as printed, and the save goes through.
    command = re.search(r"\((chmod [^)]*)\)", message).group(1)
    subprocess.run(command, shell=True, check=True)
    assert writable_in_place(path)
    hio.save(hp.mlp([2, 2], rng=0), path)
    assert path.read_bytes() != before
    assert hp.load(path).layers[0].W.shape == (2, 2)


def test_item11_train_refuses_a_read_only_out_before_training(tmp_path, capsys):
    out = tmp_path / "m.npz"
    out.write_bytes(b"keep me")
    out.chmod(0o400)
    assert main(MOONS + ["--out", str(out)]) == 2
    assert "cannot write the file: it is read-only (mode 0400)" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"


def test_item11_writable_in_place_follows_the_mode_bits(tmp_path):
    # Our own file: the owner's bit decides, for root as for anyone (root, who may write anything,
    # is held to "some write bit is set"; with the owner's bit set or no bit at all, both agree).
    path = tmp_path / "f"
    path.write_bytes(b"")
    for mode, expected in ((0o644, True), (0o600, True), (0o200, True), (0o444, False), (0o555, False),
                           (0o400, False), (0o000, False)):
        path.chmod(mode)
        assert writable_in_place(path) is expected, oct(mode)
    assert writable_in_place(tmp_path / "absent")


# ----------------------------------------------------------------------------------- item 12
_KILLED_WRITER = """
import sys, time
from handprop.files import atomic_write
def write(f):
    f.write(b"half a model")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
atomic_write(sys.argv[1], write)
"""


def test_item12_temporary_files_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    path = tmp_path / "m.npz"
    env = dict(os.environ, PYTHONPATH=str(SRC))
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "writing\n"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.wait()
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert leftovers == [n for n in leftovers if n.startswith(f".m.npz.{child.pid}.")] and len(leftovers) == 1
    # A writer that still runs keeps its temporary file.
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live_tmp = tmp_path / f".m.npz.{alive.pid}.abcd1234.tmp"
        live_tmp.write_bytes(b"in progress")
        hio.save(hp.mlp([2, 2], rng=0), path)
        assert sorted(os.listdir(tmp_path)) == sorted(["m.npz", live_tmp.name])
    finally:
        alive.kill()
        alive.wait()
    assert hp.load(path).layers[0].W.shape == (2, 2)
    # Its process gone, the next write removes it too.
    atomic_write(path, lambda f: f.write(b"x"))
    assert os.listdir(tmp_path) == ["m.npz"]


# ----------------------------------------------------------------------------------- item 15
@pytest.mark.parametrize("argv,words", [
    (["train", "--dataset", "moons", "--layers", "1000000000"] + QUIET,
     "training layers of sizes 2-1000000000-2 for 100 epochs needs at least"),
    (["xor", "--hidden", "100000000000"], "training layers of sizes 2-100000000000-1 for 10000 epochs needs at least"),
    (["train", "--dataset", "moons", "--n", "1000000000000"] + QUIET, "--n 1000000000000 rows needs at least"),
    (["xor", "--epochs", "1000000000000"], "for 1000000000000 epochs needs at least"),
])
def test_item15_sizes_that_cannot_fit_are_refused_with_the_estimate(argv, words, tmp_path, capsys):
    argv = argv + (["--out", str(tmp_path / "m.npz")] if argv[0] == "train" else [])
    start = time.monotonic()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "of memory, and this machine has" in err and "available" in err
    assert time.monotonic() - start < 5  # refused before allocating, not after swapping
    assert os.listdir(tmp_path) == []


@pytest.mark.slow  # 0.7 s
def test_item15_a_run_that_fits_in_memory_but_would_take_years_is_refused(tmp_path, capsys):
    # 16 million parameters, 800 000 training rows, a million epochs: 0.7 GiB of memory, but
    # 6 * 16e6 * 8e5 * 1e6 = 7.7e19 operations: at 1e12 a second (faster than any CPU), 891 days.
    argv = ["train", "--dataset", "moons", "--n", "1000000", "--layers", "4000,4000", "--epochs", "1000000",
            "--out", str(tmp_path / "m.npz")] + QUIET
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert ("error: training layers of sizes 2-4000-4000-2 on 800000 rows for 1000000 epochs would take at least "
            "891 days (at 1e+12 operations per second, faster than any CPU); use fewer or smaller --layers, "
            "or fewer --epochs") in err
    assert os.listdir(tmp_path) == []


def test_item15_a_checkpoint_asking_for_10_to_the_12_epochs_is_refused(tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    assert main(MOONS + ["--out", str(tmp_path / "m.npz"), "--checkpoint", str(ck)]) == 0
    entries = members(ck.read_bytes())
    config = config_of(entries)
    config["checkpoint"]["settings"]["epochs"] = 10**12
    ck.write_bytes(rezip(with_config(entries, config)))
    assert main(["train", "--resume", str(ck), "--out", str(tmp_path / "b.npz")] + QUIET) == 2
    assert "for 1000000000000 epochs needs at least" in capsys.readouterr().err
    config["checkpoint"]["epochs"] = 10**12
    ck.write_bytes(rezip(with_config(entries, config)))
    with pytest.raises(FileFormatError, match="checkpoint.epochs: a run of 1000000000000 epochs needs at least"):
        hio.load_checkpoint(ck)
    assert not (tmp_path / "b.npz").exists()


# ----------------------------------------------------------------------------------- item 16
@pytest.mark.parametrize("seed", ["-1", "4294967296", "abc", "1.5"])
def test_item16_a_bad_seed_is_a_usage_error(seed, capsys):
    for command in (["train", "--dataset", "moons"], ["xor"]):
        assert main(command + ["--seed", seed]) == 2
        assert "argument --seed: must be a whole number from 0 to 4294967295, got" in capsys.readouterr().err


@pytest.mark.parametrize("change,words", [
    (lambda s: s.pop("seed"), "the checkpoint's settings lack seed; it cannot be resumed with handprop train"),
    (lambda s: s.update(layers=5), "the checkpoint's setting layers is 5, not a valid value"),
    (lambda s: s.update(epochs=True), "the checkpoint's setting epochs is True, not a valid value"),
    (lambda s: s.update(seed=-3), "the checkpoint's settings: seed -3 or n 60 is out of range"),
    (lambda s: s.update(val=2.0), "the checkpoint's settings: --val must be a fraction"),
    (lambda s: s.update(layers="4,x"), "the checkpoint's settings: --layers must be comma-separated sizes"),
    (lambda s: s.update(layers="64"), "the checkpoint's settings say layers [64], but it holds [4]; the file "
                                      "was altered or damaged"),
    (lambda s: s.update(loss="bce"), "the checkpoint's settings say loss 'bce', but it holds 'ce'"),
    (lambda s: s.update(optimizer="sgd"), "the checkpoint's settings say optimizer 'sgd', but it holds 'adam'"),
])
def test_item16_a_checkpoint_with_missing_or_bad_settings_is_exit_2(tmp_path, capsys, change, words):
    ck = tmp_path / "ck.npz"
    assert main(MOONS + ["--out", str(tmp_path / "m.npz"), "--checkpoint", str(ck)]) == 0
    entries = members(ck.read_bytes())
    config = config_of(entries)
    change(config["checkpoint"]["settings"])
    ck.write_bytes(rezip(with_config(entries, config)))
    assert main(["train", "--resume", str(ck), "--out", str(tmp_path / "b.npz")] + QUIET) == 2
    assert f"error: {ck}: {words}" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [None, io.BytesIO(b"PK"), 42, b"", ""])
def test_item16_load_and_save_need_a_file_name(bad, tmp_path):
    expected = (HandpropValueError, "is empty: give a file name") if bad in (b"", "") else (
        HandpropTypeError, "path must be a file name (a str or os.PathLike), got")
    for call in (lambda: hp.load(bad), lambda: hio.load_checkpoint(bad),
                 lambda: hio.save(hp.mlp([2, 2], rng=0), bad)):
        with pytest.raises(expected[0], match=re.escape(expected[1])) as info:
            call()
        assert isinstance(info.value, hp.HandpropError)
    if isinstance(bad, io.BytesIO):
        with pytest.raises(TypeError, match="write the bytes to a file and pass its name"):
            hp.load(bad)
    assert os.listdir(tmp_path) == []


_OTHER_USER_SAVES = """
import os, sys
import handprop, handprop.data
from handprop import io as hio
# Every module a save uses is imported as root (the interpreter's files may not be readable by
# nobody), by a save of the same model next to this script's other input.
model = handprop.mlp([2, 2], rng=0)
hio.save(model, sys.argv[2])
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
try:
    hio.save(model, sys.argv[1])
except handprop.errors.FileWriteError as exc:
    print(exc)
"""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="acts as another user: needs root")
def test_item11_another_users_file_in_a_shared_directory_is_not_replaced(tmp_path):
    # A world-writable directory (no sticky bit) lets anybody rename over anybody's file: the rename
    # would replace root's file, which the user "nobody" could not write in place.
    import shutil
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="handprop-shared-"))  # pytest's own tmp is private to root
    request_cleanup = lambda: shutil.rmtree(shared, ignore_errors=True)
    shared.chmod(0o777)
    path = shared / "m.npz"
    before = saved_model(path)
    path.chmod(0o644)
    env = dict(os.environ, PYTHONPATH=str(SRC))
    try:
        done = subprocess.run([sys.executable, "-c", _OTHER_USER_SAVES, str(path), str(tmp_path / "warm.npz")],
                              env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.stdout.strip() == (f"{path}: cannot write the file: it is read-only to you (mode 0644) and "
                                       "belongs to another user; handprop does not replace a file you could "
                                       "not write in place: write elsewhere"), done.stderr
        assert path.read_bytes() == before and sorted(os.listdir(shared)) == ["m.npz"]
    finally:
        request_cleanup()
