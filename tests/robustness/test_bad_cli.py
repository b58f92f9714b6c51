"""The command line under bad input: each row is argv, the exit code, and words the one-line
``error:`` message must hold. Exit 2 is the user's input or usage; 1 an internal fault."""

import os

import numpy as np
import pytest

import handprop
from handprop.cli import main

from _hostile import rezip, members, npy, saved_model


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    """A directory of good and bad files, and a model trained on good.csv."""
    d = tmp_path_factory.mktemp("cli")
    rows = "".join(f"{i % 3},{(i * 7) % 5},{'xy'[i % 2]}\n" for i in range(24))
    files = {
        "good.csv": "a,b,label\n" + rows,
        "nan.csv": "a,b,label\n1,2,x\n3,nan,y\n",
        "inf.csv": "a,b,label\n1,2,x\n3,4,y\n5,inf,x\n",
        "ragged.csv": "a,b,label\n1,2,x\n3,y\n",
        "text.csv": "a,b,label\n1,2,x\n3,four,y\n",
        "empty.csv": "",
        "header.csv": "a,b,label\n",
        "other_cols.csv": "a,c,label\n1,2,x\n3,4,y\n",
        "unseen.csv": "a,b,label\n1,2,x\n3,4,z\n",
        "few_cols.csv": "a,label\n1,x\n",
    }
    for name, text in files.items():
        (d / name).write_text(text)
    (d / "latin1.csv").write_bytes("a,b,label\n1,2,caf\xe9\n".encode("latin-1"))
    (d / "utf16.csv").write_bytes("a,b,label\n1,2,x\n".encode("utf-16"))
    (d / "random.npz").write_bytes(np.random.default_rng(0).bytes(500))
    X = np.arange(20.0).reshape(10, 2)
    X[7, 1] = np.nan
    np.savez(d / "nan_x.npz", X=X, y=np.arange(10) % 2)
    np.savez(d / "inf_y.npz", X=np.ones((10, 2)), y=np.where(np.arange(10) == 4, np.inf, 1.0))
    good = saved_model(d / "xor.npz")
    (d / "truncated.npz").write_bytes(good[: len(good) // 2])
    (d / "pickle.npz").write_bytes(rezip({**members(good), "layers.0.W.npy": npy(np.array([{}], dtype=object), True)}))
    (d / "adir").mkdir()
    assert main(["train", str(d / "good.csv"), "--epochs", "2", "--quiet", "--no-doctor",
                 "--out", str(d / "m.npz")]) == 0
    return d


TRAIN = ["train", "{d}/good.csv", "--epochs", "2", "--quiet", "--no-doctor", "--out", "{d}/out.npz"]

CASES = [
    # usage
    ("no such command", ["fly"], 2, "invalid choice: 'fly'"),
    ("epochs not a number", TRAIN + ["--epochs", "many"], 2, "invalid int value: 'many'"),
    ("unknown flag", TRAIN + ["--learning-rate", "1"], 2, "unrecognized arguments: --learning-rate"),
    ("bad choice", TRAIN + ["--loss", "hinge"], 2, "invalid choice: 'hinge'"),
    ("no data", ["train"], 2, "train needs DATA (a file) or --dataset NAME"),
    ("data and dataset", TRAIN + ["--dataset", "moons"], 2, "exactly one of them"),
    # hyperparameters
    ("negative lr", TRAIN + ["--lr", "-1"], 2, "lr must be in [0.0, inf), got -1.0"),
    ("momentum 1", TRAIN + ["--optimizer", "sgd", "--momentum", "1"], 2, "momentum must be in [0.0, 1.0), got 1.0"),
    ("batch size 0", TRAIN + ["--batch-size", "0"], 2, "--batch-size must be a positive integer, got 0"),
    ("zero epochs", TRAIN + ["--epochs", "0"], 2, "--epochs must be a positive integer, got 0"),
    ("checkpoint every -1", TRAIN + ["--checkpoint-every", "-1"], 2, "--checkpoint-every must be a positive integer"),
    ("val 1.5", TRAIN + ["--val", "1.5"], 2, "--val must be a fraction of the rows in [0, 1), got 1.5"),
    ("bad layers", TRAIN + ["--layers", "8,x"], 2, "--layers must be comma-separated"),
    ("unknown dataset", ["train", "--dataset", "swissroll"], 2, "unknown dataset 'swissroll'"),
    # data files
    ("missing data", ["train", "{d}/nope.csv"], 2, "nope.csv: no such file"),
    ("data is a directory", ["train", "{d}/adir"], 2, "adir: is a directory, not a file"),
    ("missing target", TRAIN + ["--target", "price"], 2, "no target column 'price'; the columns are: a, b, label"),
    ("NaN cell", ["train", "{d}/nan.csv", "--quiet"], 2, "nan.csv:3:2 (column 2 'b'): NaN or infinite value"),
    ("inf cell", ["train", "{d}/inf.csv", "--quiet"], 2, "inf.csv:4:2"),
    ("NaN in an .npz", ["train", "{d}/nan_x.npz", "--quiet"], 2, "nan_x.npz: X holds NaN values in row 7 (0-based)"),
    ("inf target in an .npz", ["train", "{d}/inf_y.npz", "--quiet"], 2, "inf_y.npz: y holds infinite values in row 4"),
    ("NaN in an .npz at predict", ["predict", "{d}/m.npz", "{d}/nan_x.npz"], 2,
     "nan_x.npz: X holds NaN values in row 7"),
    ("ragged row", ["train", "{d}/ragged.csv", "--quiet"], 2, "ragged.csv:3"),
    ("text cell", ["train", "{d}/text.csv", "--quiet"], 2, "text.csv:3:2"),
    ("latin-1 file", ["train", "{d}/latin1.csv", "--quiet"], 2, "utf-8"),
    ("utf-16 file", ["train", "{d}/utf16.csv", "--quiet"], 2, "utf16.csv"),
    ("empty file", ["train", "{d}/empty.csv", "--quiet"], 2, "empty"),
    ("header only", ["train", "{d}/header.csv", "--quiet"], 2, "header.csv"),
    ("unknown extension", ["train", "{d}/data.xlsx"], 2, "data.xlsx: unknown file extension '.xlsx'; known: .csv"),
    # output files: reported before training, never after it
    ("out is a directory", TRAIN + ["--out", "{d}/adir"], 2, "adir: cannot write the file: it is a directory"),
    ("out in no directory", TRAIN + ["--out", "{d}/nodir/m.npz"], 2, "nodir does not exist"),
    ("out under a file", TRAIN + ["--out", "{d}/good.csv/m.npz"], 2, "good.csv is not a directory"),
    ("checkpoint is a directory", TRAIN + ["--checkpoint", "{d}/adir"], 2, "adir: cannot write the file"),
    ("log in no directory", TRAIN + ["--log", "{d}/nodir/log.csv"], 2, "nodir does not exist"),
    # model files
    ("missing model", ["evaluate", "{d}/nope.npz", "{d}/good.csv"], 2, "nope.npz: no such file"),
    ("model is a directory", ["summary", "{d}/adir"], 2, "adir: is a directory, not a file"),
    ("random bytes model", ["summary", "{d}/random.npz"], 2, "random.npz: not a readable .npz file"),
    ("truncated model", ["predict", "{d}/truncated.npz", "{d}/good.csv"], 2, "truncated.npz: not a readable .npz"),
    ("pickled model", ["evaluate", "{d}/pickle.npz", "{d}/good.csv"], 2, "never unpickles"),
    ("csv as a model", ["summary", "{d}/good.csv"], 2, "good.csv: not a readable .npz file"),
    ("resume a model", ["train", "--resume", "{d}/m.npz"], 2, "a saved model, not a checkpoint"),
    # data that does not fit the model
    ("other columns", ["evaluate", "{d}/m.npz", "{d}/other_cols.csv"], 2,
     "no column(s) 'b' that the model was trained on"),
    ("too few columns", ["predict", "{d}/m.npz", "{d}/few_cols.csv"], 2, "few_cols.csv"),
    ("unseen class", ["evaluate", "{d}/m.npz", "{d}/unseen.csv"], 2, "unseen label 'z'"),
    ("NaN at predict", ["predict", "{d}/m.npz", "{d}/nan.csv"], 2, "nan.csv:3:2"),
    ("no target to score", ["evaluate", "{d}/m.npz", "{d}/good.csv", "--target", "c"], 2, "no target column 'c'"),
]


@pytest.mark.parametrize("name,argv,code,words", CASES, ids=[c[0] for c in CASES])
def test_bad_cli_input_gets_one_clear_line(d, capsys, name, argv, code, words):
    argv = [a.replace("{d}", str(d)) for a in argv]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert words in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err  # one line, no traceback
    assert "Traceback" not in err
    assert not (d / "out.npz").exists()  # nothing was written for a failed command


def test_an_internal_fault_is_exit_1_with_the_traceback_only_under_debug(d, capsys, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("a bug in handprop")

    monkeypatch.setattr(handprop.Sequential, "summary", broken)
    argv = ["summary", str(d / "m.npz")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("internal error: RuntimeError: a bug in handprop "
                           "(run with --debug for the traceback)")
    with pytest.raises(RuntimeError, match="a bug in handprop"):
        main(["--debug"] + argv)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_permission_denied_is_a_clear_error(d, capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        argv = [a.replace("{d}", str(d)) for a in TRAIN[:-1]] + [str(locked / "m.npz")]
        assert main(argv) == 2
        assert "cannot write the file: no permission to write in" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_an_os_error_from_a_command_is_exit_2(d, capsys, monkeypatch):
    # Whatever the file system answers (here: a full disk while saving) is an error line, not a crash.
    import handprop.io as hio

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(d / "out.npz"))

    monkeypatch.setattr(hio, "_write", full)
    argv = [a.replace("{d}", str(d)) for a in TRAIN]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().endswith("out.npz: No space left on device")


def test_permission_denied_when_writing_is_a_clear_error_even_as_root(tmp_path, monkeypatch):
    # Root may write anywhere, so the refusal is simulated where the file system would give it.
    from handprop import files

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(handprop.errors.FileWriteError,
                       match=r"m.npz: cannot write the file: no permission to write in"):
        handprop.io.save(handprop.mlp([2, 1], rng=0), tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []
