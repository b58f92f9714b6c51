"""`handprop doctor MODEL --data D`: the model file records what `handprop train` ran with, and every fix
is printed as a `handprop train` command line that runs as printed, writes a new file, and never
advises what already ran; findings caused by another finding say so instead of contradicting it."""

import csv
import json
import shlex
import zipfile

import numpy as np
import pytest

import handprop
from handprop import SGD, Adam
from handprop.cli import main, make_parser
from handprop.cli.advice import train_argv
from handprop.cli.xor import build_xor
from handprop.errors import FileFormatError, HandpropValueError
from handprop.io import ModelInfo, load, save


def write_csv(path, X, y, names=None, delimiter=",", extra=None, target="y"):
    names = names or [f"x{j}" for j in range(X.shape[1])]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow((["id"] if extra else []) + list(names) + [target])
        for i, (row, t) in enumerate(zip(X, y)):
            w.writerow(([i] if extra else []) + [repr(float(v)) for v in row] + [t if isinstance(t, str) else int(t)])
    return str(path)


def moons_csv(tmp_path, n=1000, **kw):
    X, y = handprop.data.make_dataset("moons", n=n, seed=0)
    return write_csv(tmp_path / "moons.csv", X, y, **kw)


def raw_config(path):
    """The JSON document inside a model file, read from the zip's bytes (not through handprop.io)."""
    with zipfile.ZipFile(path) as z:
        raw = z.read("__config__.npy")
    return json.loads(raw.split(b"\n", 1)[1].decode("utf-8"))  # after the .npy header's line


def advice(out):
    """The command lines printed under "try (each writes a new model file):"."""
    lines = out.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("try (each writes a new model file)")]
    return [line.strip() for i in at for line in lines[i + 1:] if line.startswith("  handprop ")]


def findings(out):
    return [line.split("]")[0][1:] for line in out.splitlines() if line.startswith("[")]


@pytest.fixture(scope="module")
def bad_lr(tmp_path_factory):
    """The issue's run: SGD with lr 2 kills most ReLUs of moons (He init, as train always uses for ReLU)."""
    tmp = tmp_path_factory.mktemp("bad")
    data = moons_csv(tmp)
    model = str(tmp / "bad.npz")
    assert main(["train", data, "--target", "y", "--optimizer", "sgd", "--lr", "2", "--epochs", "5",
                 "--out", model, "--quiet"]) == 0
    return tmp, data, model


# -- the record --------------------------------------------------------------------------------------
def test_train_records_its_settings_in_the_model_file(bad_lr):
    tmp, data, model = bad_lr
    record = raw_config(model)["info"]["training"]
    assert record["version"] == 1 and record["command"] == "train"
    s = record["settings"]
    assert s["data"] == data and s["target"] == "y" and s["optimizer"] == "sgd" and s["lr"] == 2.0
    assert s["epochs"] == 5 and s["layers"] == "128,64" and s["activation"] == "relu" and s["scale"] is True
    assert sorted(record["typed"]) == ["data", "epochs", "lr", "optimizer", "target"]
    assert "checkpoint" not in s and "log" not in s and "out" not in s  # never an output path
    assert load(model).info.training == record


def test_a_resumed_run_records_its_settings_without_knowing_what_was_typed(tmp_path, capsys):
    data = moons_csv(tmp_path, n=200)
    ck = str(tmp_path / "ck.npz")
    assert main(["train", data, "--epochs", "2", "--checkpoint", ck, "--out", str(tmp_path / "a.npz"),
                 "--quiet", "--lr", "0.01"]) == 0
    assert main(["train", "--resume", ck, "--epochs", "3", "--out", str(tmp_path / "b.npz"), "--quiet"]) == 0
    record = load(str(tmp_path / "b.npz")).info.training
    assert record["typed"] is None and record["settings"]["epochs"] == 3 and record["settings"]["lr"] == 0.01
    argv = train_argv(record["settings"], None)  # every setting that matters, as flags train accepts
    assert argv[:2] == ["train", data] and argv[argv.index("--lr") + 1] == "0.01"
    assert "--patience" not in argv and "--n" not in argv and "--momentum" not in argv
    make_parser().parse_args(argv)  # argparse accepts it (it exits on an unknown flag)


BAD_RECORDS = [
    ({"version": 2, "command": "train", "settings": {}, "typed": None}, "must be {'version': 1"),
    ({"version": 1, "command": "xor", "settings": {}, "typed": None}, "must be {'version': 1"),
    ({"version": 1, "command": "train", "settings": [], "typed": None}, "settings must be an object"),
    ({"version": 1, "command": "train", "settings": {"lr": [1, 2]}, "typed": None}, "'lr' holds '\\[1, 2\\]'"),
    ({"version": 1, "command": "train", "settings": {"data": "x" * 5000}, "typed": None}, "at most 4096"),
    ({"version": 1, "command": "train", "settings": {f"k{i}": 1 for i in range(65)}, "typed": None}, "at most 64"),
    ({"version": 1, "command": "train", "settings": {"lr": 1.0}, "typed": ["epochs"]}, "typed must be null"),
    ({"version": 1, "command": "train", "settings": {}, "typed": None, "argv": []}, "unknown entries"),
]


@pytest.mark.parametrize("record, message", BAD_RECORDS, ids=[m for _, m in BAD_RECORDS])
def test_a_malformed_record_is_refused_on_save_and_on_load(record, message, tmp_path, bad_lr):
    with pytest.raises(HandpropValueError, match=message):
        ModelInfo(training=record)
    # a file altered to hold it: load names the file and the entry
    config = raw_config(bad_lr[2])
    config["info"]["training"] = record
    with np.load(bad_lr[2]) as f:
        arrays = {k: f[k] for k in f.files if k != "__config__"}
    altered = tmp_path / "altered.npz"
    np.savez(altered, __config__=np.frombuffer(json.dumps(config).encode(), dtype=np.uint8), **arrays)
    with pytest.raises(FileFormatError, match="info.training"):
        load(str(altered))


# -- the doctor on saved models ----------------------------------------------------------------------------
def test_the_issues_run_no_he_advice_and_vanishing_caused_by_the_dead_relus(bad_lr, capsys):
    tmp, data, model = bad_lr
    assert main(["doctor", model, "--data", data]) == 1
    out = capsys.readouterr().out
    assert findings(out) == ["dead_relu", "vanishing_gradients"], out
    assert "He initialisation" not in out and "he_uniform" not in out  # train used He init for ReLU
    assert "vanishing gradients (caused by the dead ReLUs above)" in out and "fewer layers" not in out
    assert "0 wherever a ReLU's z ≤ 0" in out and "sigmoid" not in out  # the why of this network's units
    cmds = advice(out)
    assert cmds == [f"handprop train {data} --target y --optimizer sgd --lr 0.1 --epochs 5 --out {tmp / 'bad-fix1.npz'}",
                    f"handprop train {data} --target y --optimizer sgd --lr 0.1 --epochs 5 --activation leaky_relu "
                    f"--out {tmp / 'bad-fix2.npz'}"]


def test_a_fix_never_overwrites_a_file(bad_lr, capsys):
    tmp, data, model = bad_lr
    taken = tmp / "bad-fix1.npz"
    taken.write_bytes(b"someone's file")
    try:
        main(["doctor", model, "--data", data])
        outs = [shlex.split(line)[-1] for line in advice(capsys.readouterr().out)]
    finally:
        taken.unlink()
    assert outs == [str(tmp / "bad-fix2.npz"), str(tmp / "bad-fix3.npz")]


def test_a_flat_loss_caused_by_dead_relus_gets_no_larger_learning_rate(bad_lr, capsys):
    """A flat log alone says "lr too low: ×10"; beside the dead ReLUs that a step of lr 2 caused, it says
    it is caused by them, and no command raises the learning rate."""
    tmp, data, model = bad_lr
    log = tmp / "flat.json"
    log.write_text(json.dumps({"loss": [0.9] * 30}), encoding="utf-8")
    assert main(["doctor", str(log)]) == 1
    assert "[lr_too_low]" in capsys.readouterr().out  # the log alone
    assert main(["doctor", model, "--data", data, "--log", str(log)]) == 1
    out = capsys.readouterr().out
    assert findings(out) == ["dead_relu", "lr_too_low", "vanishing_gradients"], out
    assert "(caused by the dead ReLUs above)" in out.split("[lr_too_low]")[1].splitlines()[0]
    assert "multiply the learning rate" not in out and "--lr 20" not in out
    assert advice(out) and all("--lr 0.1 " in c for c in advice(out))  # lr 2 killed them: every fix lowers it


@pytest.fixture(scope="module")
def blog_000_files(tmp_path_factory):
    """Blog 000's stuck XOR network saved from Python (no training record), told SGD or Adam trained it."""
    tmp = tmp_path_factory.mktemp("xor")
    args = make_parser().parse_args(["xor"])
    model, loss, opt, X, y = build_xor(args)
    model.fit(X, y, loss=loss, optimizer=opt, epochs=args.epochs)
    for name, o in (("sgd", SGD(lr=0.1)), ("adam", Adam(lr=0.1))):
        save(model, str(tmp / f"{name}.npz"), info=ModelInfo(loss=loss, optimizer=o))
    (tmp / "xor.csv").write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n", encoding="utf-8")
    return tmp


def test_no_use_adam_when_adam_ran_and_an_old_file_says_why_there_is_no_command(blog_000_files, capsys):
    tmp = blog_000_files
    assert main(["doctor", str(tmp / "sgd.npz"), "--data", str(tmp / "xor.csv")]) == 1
    out = capsys.readouterr().out
    assert "[merged_samples]" in out and "or Adam (lr 0.1)" in out
    assert main(["doctor", str(tmp / "adam.npz"), "--data", str(tmp / "xor.csv")]) == 1
    out = capsys.readouterr().out
    assert "[merged_samples]" in out and "Adam" not in out
    no_cmd = [line for line in out.splitlines() if line.startswith("no command to print")]
    assert no_cmd == [f"no command to print: {tmp / 'adam.npz'} does not record the settings it was trained with "
                      "(saved from Python, or by an older handprop); train it again with `handprop train` to get "
                      "the fixes as commands"]
    assert "handprop train" not in out.replace("`handprop train`", "")


def test_a_damaged_record_gets_one_line_not_a_command(bad_lr, tmp_path, capsys):
    tmp, data, model = bad_lr
    m = load(model)
    m.info.training = {**m.info.training, "settings": {**m.info.training["settings"], "optimizer": "rmsprop"}}
    save(m, str(tmp_path / "odd.npz"))
    assert main(["doctor", str(tmp_path / "odd.npz"), "--data", data]) == 1
    out = capsys.readouterr().out
    assert advice(out) == [] and "try" not in out
    assert f"no command to print: {tmp_path / 'odd.npz'}: the model file's training setting optimizer is " \
           "'rmsprop', not a valid value; no command can be rebuilt from them" in out


def test_doctor_on_a_model_whose_training_file_moved_uses_the_data_it_was_given(bad_lr, tmp_path, capsys):
    tmp, data, model = bad_lr
    m = load(model)
    m.info.training = {**m.info.training, "settings": {**m.info.training["settings"], "data": "/nowhere/moons.csv"}}
    save(m, str(tmp_path / "moved.npz"))
    main(["doctor", str(tmp_path / "moved.npz"), "--data", data])
    assert all(shlex.split(c)[2] == data for c in advice(capsys.readouterr().out))


# -- every printed fix runs as printed -------------------------------------------------------------------
def _breast_cancer_csv(tmp_path):
    ds = handprop.data.load_sklearn("breast_cancer")
    labels = [str(c) for c in np.asarray(ds.class_names)[ds.y]]  # the labels train saw: benign, malignant
    return write_csv(tmp_path / "bc.csv", ds.X, labels, names=ds.feature_names, target=ds.target_name)


def _xor_csv(tmp_path):
    X, y = handprop.data.make_dataset("xor", n=200, seed=0)
    return write_csv(tmp_path / "xor.csv", X, y)


BROKEN = {  # a broken saved model each: (how its data file is made, train's flags, the finding expected)
    "sgd lr 2 (dead ReLUs)": (moons_csv, ["--target", "y", "--optimizer", "sgd", "--lr", "2", "--epochs", "5"],
                              "dead_relu"),
    "semicolons, an id column, lr 3": (
        lambda t: moons_csv(t, n=400, delimiter=";", extra=True),
        ["--delimiter", "semicolon", "--drop", "id", "--optimizer", "sgd", "--lr", "3", "--epochs", "3", "--seed", "7"],
        "dead_relu"),
    "--dataset breast_cancer --no-scale": (_breast_cancer_csv, ["--no-scale", "--epochs", "3"], "unscaled_inputs"),
    "one sigmoid unit, sgd (saturated)": (
        _xor_csv, ["--layers", "1", "--activation", "sigmoid", "--optimizer", "sgd", "--lr", "0.5", "--epochs", "30"],
        "saturated"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", BROKEN)
def test_every_fix_printed_for_a_saved_model_runs_as_printed(name, tmp_path, capsys, monkeypatch):
    make_data, flags, code = BROKEN[name]
    data = make_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    source = ["--dataset", "breast_cancer"] if "--dataset" in name else [data]
    assert main(["train", *source, *flags, "--out", "m.npz", "--quiet"]) == 0
    before = (tmp_path / "m.npz").read_bytes()
    assert main(["doctor", "m.npz", "--data", data]) == 1
    out = capsys.readouterr().out
    assert code in findings(out), out
    cmds = advice(out)
    assert cmds, out
    for line in cmds:
        words = shlex.split(line)
        assert words[:2] == ["handprop", "train"] and words[-2] == "--out" and words[-1] != "m.npz"
        assert main(words[1:] + ["--quiet"]) == 0, line
        err = capsys.readouterr().err
        assert "unrecognized arguments" not in err and "error" not in err, (line, err)
        assert load(words[-1]).info.training["settings"] != load("m.npz").info.training["settings"]
    assert (tmp_path / "m.npz").read_bytes() == before  # the diagnosed model is untouched


def test_the_readmes_saved_model_doctor_is_real_output(tmp_path, capsys, monkeypatch):
    """The README's `handprop doctor bad.npz` block: its commands run here, every line it quotes printed."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("$ handprop doctor bad.npz --data moons.csv\n")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    X, y = handprop.data.make_dataset("moons", n=1000, seed=0)  # the README's python -c line
    np.savetxt("moons.csv", np.column_stack([X, y]), delimiter=",", header="x0,x1,y", comments="", fmt="%.17g")
    assert main(["train", "moons.csv", "--optimizer", "sgd", "--lr", "2", "--epochs", "5", "--out", "bad.npz",
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["doctor", "bad.npz", "--data", "moons.csv"]) == 1
    printed = capsys.readouterr().out.replace(str(tmp_path / "moons.csv"), "/home/me/moons.csv").splitlines()
    quoted = [line for line in block.splitlines() if line.strip() not in ("", "...")]
    assert len(quoted) >= 8
    for line in quoted:
        assert line in printed, line


def test_no_init_or_scaling_advice_when_train_did_both(tmp_path, capsys):
    """train draws sigmoid/tanh layers with Glorot and standardises the inputs: the saturated finding then
    advises neither, and its printed fix is the activation flag."""
    data = _xor_csv(tmp_path)
    flags = ["--layers", "1", "--activation", "sigmoid", "--optimizer", "sgd", "--lr", "0.5", "--epochs", "30"]
    assert main(["train", data, *flags, "--out", str(tmp_path / "m.npz"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["doctor", str(tmp_path / "m.npz"), "--data", data]) == 1
    out = capsys.readouterr().out
    assert "[saturated]" in out and "glorot" not in out.lower() and "scale the inputs" not in out, out
    assert advice(out) == [f"handprop train {data} {' '.join(flags).replace('sigmoid', 'tanh')} "
                           f"--out {tmp_path / 'm-fix1.npz'}"]


def test_a_model_that_learned_nothing_is_not_called_healthy(tmp_path, capsys):
    """SGD at lr 0.01 without momentum for 20 epochs leaves XOR at chance: no check sees a cause, and the
    doctor says so instead of "nothing wrong found"; its commands run."""
    data = _xor_csv(tmp_path)
    flags = ["--layers", "2", "--activation", "sigmoid", "--optimizer", "sgd", "--lr", "0.01", "--epochs", "20",
             "--momentum", "0"]
    assert main(["train", data, *flags, "--out", str(tmp_path / "m.npz"), "--quiet"]) == 0
    assert "train accuracy: 0.5000" in capsys.readouterr().out
    assert main(["doctor", str(tmp_path / "m.npz"), "--data", data]) == 1
    out = capsys.readouterr().out
    assert findings(out) == ["no_learning"] and "raise the learning rate ×10 (lr = 0.1)" in out, out
    cmds = advice(out)
    assert [c.split(" --out ")[0] for c in cmds] == [
        f"handprop train {data} --layers 2 --activation sigmoid --optimizer sgd --lr 0.1 --momentum 0 --epochs 20",
        f"handprop train {data} --layers 2 --activation sigmoid --optimizer adam --lr 0.01 --momentum 0 --epochs 20"]
    for line in cmds:
        assert main(shlex.split(line)[1:] + ["--quiet"]) == 0, line


def test_an_untrained_network_with_a_short_history_is_not_judged_yet():
    X, y = handprop.data.make_dataset("xor", n=100, seed=0)
    model = handprop.mlp([2, 2, 2], "sigmoid", rng=0)
    history = handprop.History()
    assert "no_learning" in handprop.diagnose(model, X, y, loss="ce")  # no history: a finished model
    for epoch in range(4):
        history.record(epoch, loss=0.7)
    assert "no_learning" not in handprop.diagnose(model, X, y, loss="ce", history=history)
