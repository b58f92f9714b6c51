"""Issue 10, "Trust at the edges", the data-reading items: each test is named after its item and
asserts the exit code or error type, the words of the message, and for files the bytes that must not
change. The oracles are the data themselves (which rows, which lines), hand-counted values, or the
saved model's own arithmetic on the rows in the training order."""

import csv
import io
import shlex
import warnings

import numpy as np
import pytest

import handprop
from handprop.cli import main
from handprop.data import StandardScaler, load_data, read_csv
from handprop.errors import DataError

TRAIN = ["--epochs", "30", "--layers", "8", "--quiet", "--no-doctor", "--seed", "0"]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)
    return path


def scores(text):
    out = {}
    for line in text.splitlines():
        key, _, value = line.rpartition(": ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained on columns a, b, c (label from a and b only) and the rows it was trained on."""
    d = tmp_path_factory.mktemp("edges")
    rng = np.random.default_rng(3)
    X = rng.standard_normal((150, 3))
    X[:, 2] *= 5  # c: loud noise; a model fed c in a's place is wrong
    label = np.where(X[:, 0] - X[:, 1] > 0, "up", "down")
    write_csv(d / "train.csv", ["a", "b", "c", "label"], [[*r, k] for r, k in zip(X, label)])
    assert main(["train", str(d / "train.csv"), "--out", str(d / "m.npz"), "--epochs", "60", "--layers", "8",
                 "--quiet", "--no-doctor", "--lr", "0.01"]) == 0
    return d, X, label


# ------------------------------------------------------------------------------ item 1: column names
def test_item01_reordered_columns_are_matched_by_name(trained, capsys):
    d, X, label = trained
    # Columns in another order, the target in the middle: the answers are those of the training order.
    write_csv(d / "reordered.csv", ["c", "label", "b", "a"], [[r[2], k, r[1], r[0]] for r, k in zip(X, label)])
    capsys.readouterr()
    code, out, _ = run(["predict", d / "m.npz", d / "reordered.csv"], capsys)
    assert code == 0
    got = [row[0] for row in csv.reader(io.StringIO(out))][1:]
    model = handprop.load(d / "m.npz")
    assert got == model.info.predict(model, X).tolist()
    code, out, _ = run(["evaluate", d / "m.npz", d / "reordered.csv"], capsys)
    expected = float(np.mean(model.info.predict(model, X) == label))
    assert code == 0 and scores(out)["accuracy"] == pytest.approx(expected, abs=5e-5) and expected > 0.9


def test_item01_renamed_columns_are_refused_with_both_lists_and_the_printed_fix_runs(trained, capsys):
    d, X, label = trained
    write_csv(d / "renamed.csv", ["p", "q", "r", "label"], [[*r, k] for r, k in zip(X, label)])
    code, _, err = run(["evaluate", d / "m.npz", d / "renamed.csv"], capsys)
    assert code == 2
    assert "none of the model's feature columns is in the file" in err
    assert "the model takes 3 (a, b, c)" in err and "the file has: p, q, r, label" in err
    command = err.split("run: ")[1].strip()
    assert command.endswith("--by-position")
    argv = shlex.split(command)
    assert argv[0] == "handprop"
    code, out, _ = run(argv[1:], capsys)  # the advice, run as printed
    model = handprop.load(d / "m.npz")
    assert code == 0 and scores(out)["accuracy"] == pytest.approx(np.mean(model.info.predict(model, X) == label),
                                                                  abs=5e-5)


def test_item01_by_position_needs_the_same_count_and_partial_names_are_named(trained, capsys):
    d, X, label = trained
    write_csv(d / "two.csv", ["p", "q", "label"], [[r[0], r[1], k] for r, k in zip(X, label)])
    code, _, err = run(["evaluate", d / "m.npz", d / "two.csv", "--by-position"], capsys)
    assert code == 2 and "2 feature columns, but the model takes 3 (a, b, c)" in err
    code, _, err = run(["evaluate", d / "m.npz", d / "two.csv"], capsys)
    assert code == 2 and "--by-position" not in err  # not a fix here: the counts differ
    write_csv(d / "all_renamed.csv", ["p", "q", "r", "kind"], [[*r, k] for r, k in zip(X, label)])
    code, _, err = run(["evaluate", d / "m.npz", d / "all_renamed.csv"], capsys)
    assert code == 2 and "--by-position" not in err  # nor here: evaluate would not find the target
    code, _, err = run(["evaluate", d / "m.npz", d / "all_renamed.csv", "--target", "kind"], capsys)
    assert code == 2 and err.rstrip().endswith("all_renamed.csv --target kind --by-position")
    np.savez(d / "arrays.npz", X=X, y=np.zeros(len(X)))
    code, _, err = run(["predict", d / "m.npz", d / "arrays.npz", "--by-position"], capsys)
    assert code == 2 and "--by-position does nothing here: an array file has no column names" in err
    write_csv(d / "partial.csv", ["a", "b", "z", "label"], [[*r, k] for r, k in zip(X, label)])
    code, _, err = run(["predict", d / "m.npz", d / "partial.csv"], capsys)
    assert code == 2 and "no column(s) 'c' that the model was trained on" in err


def test_item01_a_first_row_of_numbers_is_no_header(trained, capsys):
    d, X, label = trained
    # The header is gone: the first row is data and must not be eaten as names.
    write_csv(d / "noheader.csv", None, [[*r, k] for r, k in zip(X, label)])
    before = (d / "noheader.csv").read_bytes()
    code, _, err = run(["evaluate", d / "m.npz", d / "noheader.csv"], capsys)
    assert code == 2 and "noheader.csv:1: no header" in err and "--no-header" in err
    code, out, _ = run(["evaluate", d / "m.npz", d / "noheader.csv", "--no-header"], capsys)
    assert code == 0 and scores(out)["samples"] == 150  # every row, the first one included
    # Whole numbers and a label: the first row could be names; none is the model's, so the advice
    # names --no-header, and the printed command runs.
    ints = np.round(X * 10).astype(int)
    write_csv(d / "ints.csv", None, [[*r, k] for r, k in zip(ints, label)])
    code, _, err = run(["evaluate", d / "m.npz", d / "ints.csv"], capsys)
    assert code == 2 and "The first row holds numbers" in err
    argv = shlex.split(err.split("if it is data, not a header, run: ")[1].strip())
    code, out, _ = run(argv[1:], capsys)
    assert code == 0 and scores(out)["samples"] == 150
    write_csv(d / "features.csv", None, X[:5].tolist())
    code, out, _ = run(["predict", d / "m.npz", d / "features.csv", "--no-header"], capsys)
    model = handprop.load(d / "m.npz")
    assert code == 0 and out.split()[1:] == model.info.predict(model, X[:5]).tolist()
    assert (d / "noheader.csv").read_bytes() == before


def test_item01_train_refuses_a_file_without_header_unless_told(tmp_path, capsys):
    rows = [[i % 7, (i * 3) % 5, i % 2] for i in range(40)]
    path = write_csv(tmp_path / "raw.csv", None, rows)
    code, _, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "no header: the first row (0,0,0) holds numbers, so it is data" in err
    assert not (tmp_path / "m.npz").exists()
    code, _, _ = run(["train", path, "--no-header", "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 0
    info = handprop.load(tmp_path / "m.npz").info
    assert info.feature_names == ["x0", "x1"] and info.target_name == "x2"
    ds = read_csv(path, header=False)
    assert ds.X.shape == (40, 2) and ds.X[0].tolist() == [0.0, 0.0]


# ------------------------------------------------------------------------ item 2: missing targets
def test_item02_missing_targets_are_refused_naming_the_lines(tmp_path, capsys):
    rows = [[i, 2.5 * i + 0.25] for i in range(30)]
    rows[4][1], rows[9][1] = "NA", "?"
    path = write_csv(tmp_path / "r.csv", ["x", "price"], rows)
    code, _, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2
    # header on line 1: rows 4 and 9 are lines 6 and 11
    assert "r.csv:6:2 (column 2 'price'): missing target value 'NA' at line(s) 6, 11: 2 row(s) have no target" in err
    assert "--drop-missing-target" in err and not (tmp_path / "m.npz").exists()
    code, out, err = run(["train", path, "--drop-missing-target", "--out", tmp_path / "m.npz",
                          "--epochs", "3", "--layers", "4", "--no-doctor", "--seed", "0"], capsys)
    assert code == 0
    assert "dropped 2 row(s) of" in err and "(lines 6, 11); 28 rows are left" in err
    assert "28 rows, 1 features" in out and "task: regression" in out  # "NA" is no class
    ds = read_csv(path, missing_target="drop")
    assert ds.dropped_lines == [6, 11] and ds.y.dtype == np.float64 and ds.class_names is None


def test_item02_evaluate_refuses_or_drops_missing_targets_and_predict_ignores_them(trained, capsys):
    d, X, label = trained
    rows = [[*r, k] for r, k in zip(X, label)]
    rows[0][3], rows[1][3] = "", "?"  # new rows whose label is not known yet
    write_csv(d / "unknown.csv", ["a", "b", "c", "label"], rows)
    code, out, _ = run(["predict", d / "m.npz", d / "unknown.csv"], capsys)
    model = handprop.load(d / "m.npz")
    assert code == 0 and out.split()[1:] == model.info.predict(model, X).tolist()
    code, _, err = run(["evaluate", d / "m.npz", d / "unknown.csv"], capsys)
    assert code == 2 and "empty target cell at line(s) 2, 3" in err and "--drop-missing-target" in err
    code, out, err = run(["evaluate", d / "m.npz", d / "unknown.csv", "--drop-missing-target"], capsys)
    assert code == 0 and scores(out)["samples"] == 148 and "dropped 2 row(s)" in err


def test_item02_nan_targets_in_an_npz_are_refused_or_dropped(tmp_path, capsys):
    y = np.arange(20) * 0.5
    y[[3, 17]] = np.nan
    np.savez(tmp_path / "n.npz", X=np.arange(40.0).reshape(20, 2), y=y)
    before = (tmp_path / "n.npz").read_bytes()
    code, _, err = run(["train", tmp_path / "n.npz", "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "n.npz: y holds NaN values in rows 3, 17 (0-based)" in err
    code, out, err = run(["train", tmp_path / "n.npz", "--drop-missing-target", "--out", tmp_path / "m.npz",
                          "--epochs", "1", "--no-doctor"], capsys)
    assert code == 0 and "dropped 2 row(s)" in err and "(rows 3, 17, 0-based); 18 rows are left" in err
    assert "18 rows, 2 features" in out and (tmp_path / "n.npz").read_bytes() == before


def test_item02_a_text_label_target_with_a_question_mark_is_refused(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["x", "kind"], [[1, "cat"], [2, "?"], [3, "dog"], [4, "N/A"]])
    with pytest.raises(DataError, match=r"c\.csv:3:2 \(column 2 'kind'\): missing target value '\?' at line\(s\) 3, 5"):
        read_csv(path)
    ds = read_csv(path, missing_target="drop")
    assert ds.class_names == ["cat", "dog"] and ds.X[:, 0].tolist() == [1.0, 3.0]


# ---------------------------------------------------------------------- item 3: degenerate targets
@pytest.mark.parametrize("values, shown", [(["yes"] * 20, "'yes'"), ([3.5] * 20, "3.5"), ([1] * 20, "1")])
def test_item03_a_constant_target_is_refused_before_training(tmp_path, capsys, values, shown):
    path = write_csv(tmp_path / "k.csv", ["x", "answer"], [[i, v] for i, v in enumerate(values)])
    code, out, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and out == ""
    assert f"target 'answer' holds one value ({shown}) in all 20 rows; there is nothing to learn" in err
    assert not (tmp_path / "m.npz").exists()


def test_item03_a_constant_column_of_several_targets_is_named(tmp_path, capsys):
    rows = [[i, i * 0.5, 7.0] for i in range(20)]
    path = write_csv(tmp_path / "k2.csv", ["x", "t1", "t2"], rows)
    code, _, err = run(["train", path, "--target", "t1,t2", "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "target 't2' holds one value (7.0) in all 20 rows" in err


# ----------------------------------------------------------------------- item 4: --task vs target
def test_item04_regression_on_text_labels_is_refused(tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", ["x", "kind"], [[i, ["ant", "bee", "cow"][i % 3]] for i in range(30)])
    code, _, err = run(["train", path, "--task", "regression", "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2
    assert "--task regression: target 'kind' holds text labels (ant, bee, cow); regression needs numbers" in err
    assert not (tmp_path / "m.npz").exists()


def test_item04_classification_of_hundreds_of_values_warns_with_the_count(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 300)
    path = write_csv(tmp_path / "c.csv", ["x", "v"], [[a, round(a * 1000, 3)] for a in x])
    n_distinct = len({round(a * 1000, 3) for a in x})
    code, _, err = run(["train", path, "--task", "classification", "--epochs", "1", "--layers", "4",
                        "--quiet", "--no-doctor", "--out", tmp_path / "m.npz"], capsys)
    assert code == 0
    assert f"warning: --task classification: target 'v' has {n_distinct} distinct values" in err
    assert n_distinct > 250


# ------------------------------------------------------------------- item 6: scaler overflow
def test_item06_the_scaler_refuses_values_it_cannot_represent_naming_the_column():
    X = np.column_stack([np.arange(10.0), np.linspace(1e200, 5e200, 10)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to the error
        with pytest.raises(DataError, match=r"'big' \(column 1, 0-based\) holds values up to 5e\+200 "
                                            r"in magnitude: their standard deviation overflows float64"):
            StandardScaler().fit(X, names=["small", "big"])
        with pytest.raises(DataError, match=r"column 1 \(0-based\) holds values up to 5e\+200"):
            StandardScaler().fit(X)
    # 1e150 is still representable: std ~1.4e150 and the scaled values are ordinary numbers.
    Z = StandardScaler().fit_transform(X / 1e50)
    assert np.all(np.isfinite(Z)) and abs(Z[:, 1].std() - 1) < 1e-12


def test_item06_train_names_an_overflowing_target(tmp_path, capsys):
    rows = [[i, 1e200 * (i % 3) + 0.5] for i in range(30)]
    path = write_csv(tmp_path / "p.csv", ["x", "price"], rows)
    code, _, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "p.csv: target 'price' (column 0, 0-based) holds values up to 2e+200" in err
    assert not (tmp_path / "m.npz").exists()


def test_item06_train_names_the_overflowing_column(tmp_path, capsys):
    rows = [[i, 1e200 * (1 + i % 3), i % 2] for i in range(30)]
    path = write_csv(tmp_path / "o.csv", ["id", "huge", "label"], rows)
    code, _, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "'huge' (column 1, 0-based) holds values up to 3e+200" in err
    assert "RuntimeWarning" not in err and not (tmp_path / "m.npz").exists()


# ------------------------------------------------------------- item 19: options that do nothing
@pytest.mark.parametrize("argv, words", [
    (["--dataset", "iris", "--n", "5"], "--n applies to generated data sets (moons, circles, ...); --dataset iris"),
    (["--dataset", "moons", "--target", "zzz"], "--target reads a data file; --dataset moons is built in"),
    (["--dataset", "moons", "--patience", "-1"], "--patience must be >= 0"),
    (["--dataset", "moons", "--patience", "5"], "--patience 5 does nothing without --val"),
    (["--dataset", "moons", "--checkpoint-every", "2"], "--checkpoint-every does nothing without --checkpoint"),
    (["{d}/f.csv", "--n", "50"], "--n applies to generated data sets (--dataset moons, ...), not to the data file"),
])
def test_item19_options_that_do_nothing_say_so(tmp_path, capsys, argv, words):
    write_csv(tmp_path / "f.csv", ["a", "y"], [[i, i % 2] for i in range(20)])
    argv = [a.replace("{d}", str(tmp_path)) for a in argv]
    code, out, err = run(["train", *argv, "--out", tmp_path / "m.npz", "--epochs", "1"], capsys)
    assert code == 2 and words in err and err.startswith("error: ")
    assert not (tmp_path / "m.npz").exists()


# ------------------------------------------------------------ item 14 (in process): headers first
def test_item14_the_model_column_count_is_checked_from_the_header(tmp_path):
    np.savez_compressed(tmp_path / "d.npz", X=np.zeros((50, 4)), y=np.zeros(50))
    with pytest.raises(handprop.ShapeError, match=r"d\.npz: 'X' has shape \(50, 4\): 4 feature columns, but 2 "
                                                  r"are expected"):
        load_data(tmp_path / "d.npz", n_features=2)
    np.savez(tmp_path / "s.npz", X=np.arange(12.0).reshape(6, 2), y=np.arange(6) % 2)
    ds = load_data(tmp_path / "s.npz", n_features=2)
    assert isinstance(ds.X, np.memmap) and ds.X.tolist() == np.arange(12.0).reshape(6, 2).tolist()


# ----------------------------------------------------------------- item 16: never exit 1 on input
@pytest.fixture(scope="module")
def moons_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("m16")
    assert main(["train", "--dataset", "moons", "--n", "100", "--epochs", "1", "--quiet", "--no-doctor",
                 "--out", str(d / "m.npz")]) == 0
    return d


@pytest.mark.parametrize("command, make, words", [
    ("train", lambda d: np.savez(d / "f.npz", X=np.ones((10, 2)), y=np.array(["a", "b"] * 4 + ["c", "c"])), None),
    ("train", lambda d: np.savez(d / "f.npz", X=np.arange(10.0), y=np.arange(10) % 2),
     "X has shape (10,); features need a 2-d table (rows, columns); one feature per row: save X.reshape(-1, 1)"),
    ("predict", lambda d: np.save(d / "f.npy", np.zeros((0, 2))), "f.npy: X has shape (0, 2): no data"),
    ("evaluate", lambda d: np.savez(d / "f.npz", X=np.zeros((0, 2)), y=np.zeros(0)), "f.npz: X has shape (0, 2): no data"),
    ("predict", lambda d: np.save(d / "f.npy", np.arange(5.0)), "'X' has shape (5,); features need a 2-d table"),
    ("predict", lambda d: np.savez(d / "f.npz", X=np.array([["a", "b"]]), y=np.array([1])),
     "f.npz: X has dtype <U1; features must be numbers"),
])
def test_item16_user_input_never_exits_1(tmp_path, capsys, moons_model, command, make, words):
    make(tmp_path)
    data = next(tmp_path.glob("f.*"))
    extra = ["--no-scale", "--epochs", "1", "--quiet", "--no-doctor", "--out", tmp_path / "o.npz"]
    argv = [command, data, *extra] if command == "train" else [command, moons_model / "m.npz", data]
    code, out, err = run(argv, capsys)
    assert "internal error" not in err and "Traceback" not in err
    if words is None:  # text labels in an .npz are class labels, as in a CSV file
        assert code == 0 and handprop.load(tmp_path / "o.npz").info.class_names == ["a", "b", "c"]
    else:
        assert code == 2 and words in err and err.startswith("error: ")


# ------------------------------------------- item 17: no RuntimeWarning; messages blame the right thing
def test_item17_no_runtime_warning_reaches_the_terminal(tmp_path, capsys):
    hostile = {
        "huge.csv": "a,b,y\n" + "".join(f"{1e308 * (i % 2 or -1)},{i},{i % 2}\n" for i in range(10)),
        "overflow.csv": "a,y\n" + "".join(f"1.7e308,{i % 2}\n" for i in range(10)),
        "inf.csv": "a,y\n1e999,0\n2,1\n3,0\n",
    }
    for name, text in hostile.items():
        (tmp_path / name).write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would become an internal error (exit 1)
        for name in hostile:
            code, _, err = run(["train", tmp_path / name, "--out", tmp_path / "m.npz", *TRAIN], capsys)
            assert code == 2 and "Warning" not in err and "internal error" not in err, (name, err)
    # an overflowing mean is not "your data holds NaN"
    code, _, err = run(["train", tmp_path / "overflow.csv", "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert "'a' (column 0, 0-based) holds values up to 1.7e+308" in err and "NaN" not in err
    code, _, err = run(["train", tmp_path / "inf.csv", "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert "inf.csv:2:1 (column 1 'a'): NaN or infinite value" in err


def test_item17_a_standardised_value_that_overflows_is_named_without_a_warning(tmp_path, capsys):
    # A column of tiny spread in training (std 2.9e-11), then a value of 1e300 to predict:
    # (1e300 - 1) / 2.9e-11 is beyond float64.
    rows = [[1 + 1e-11 * (i % 10), i % 3, i % 2] for i in range(40)]
    write_csv(tmp_path / "t.csv", ["fine", "b", "y"], rows)
    assert run(["train", tmp_path / "t.csv", "--out", tmp_path / "m.npz", *TRAIN], capsys)[0] == 0
    write_csv(tmp_path / "new.csv", ["fine", "b"], [[1.0, 0], [1e300, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = run(["predict", tmp_path / "m.npz", tmp_path / "new.csv"], capsys)
    assert code == 2 and out == "" and "Warning" not in err
    assert "X[1, 0] = 1e+300 is too far from the mean 1 of column 0 (0-based)" in err
    assert "the standardised value overflows float64" in err


def test_item17_a_device_or_a_pipe_is_not_called_a_directory(tmp_path, capsys):
    import os

    fifo = tmp_path / "stream.csv"
    os.mkfifo(fifo)
    code, _, err = run(["train", fifo, "--out", tmp_path / "m.npz"], capsys)
    assert code == 2 and "stream.csv: is a named pipe (FIFO), not a regular file" in err
    assert "directory" not in err
    code, _, err = run(["train", "/dev/zero", "--out", tmp_path / "m.npz"], capsys)
    assert code == 2 and "/dev/zero: is a character device, not a regular file" in err
    code, _, err = run(["train", tmp_path, "--out", tmp_path / "m.npz"], capsys)
    assert code == 2 and "is a directory, not a file" in err


# -------------------------------------------------------- item 18: text from files, made safe
def test_item18_control_characters_are_escaped_and_formulas_made_inert(tmp_path, capsys):
    rows = [[i % 5, (i * 3) % 7, ["=HYPERLINK(\"http://x\")", "+1+2", "@SUM(A1)", "plain"][i % 4]] for i in range(60)]
    path = write_csv(tmp_path / "t.csv", ["a", "b\x1b[31m", "la\nbel"], rows)
    code, out, err = run(["train", path, "--out", tmp_path / "m.npz", "--epochs", "2", "--layers", "4",
                          "--no-doctor"], capsys)
    assert code == 0 and "\x1b" not in out + err
    assert "target 'la\\nbel'" in out
    code, out, _ = run(["summary", tmp_path / "m.npz"], capsys)
    assert "features: 2 (a, b\\x1b[31m)" in out and "target: la\\nbel" in out and "\x1b" not in out
    code, out, _ = run(["predict", tmp_path / "m.npz", path, "--proba"], capsys)
    assert code == 0
    table = list(csv.reader(io.StringIO(out)))
    assert table[0][0] == "la\\nbel"
    assert 'p_=HYPERLINK("http://x")' in table[0]  # starts with "p": no formula
    labels = {row[0] for row in table[1:]}
    # every label a spreadsheet would run is written as text ('=...), the others as they are
    assert labels <= {"'=HYPERLINK(\"http://x\")", "'+1+2", "'@SUM(A1)", "plain"}
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in table for cell in row)
    code, out, _ = run(["evaluate", tmp_path / "m.npz", path], capsys)
    assert code == 0 and "'=HYPERLINK" not in out and '=HYPERLINK("http://x")' in out  # printed, not a CSV


@pytest.mark.parametrize("cell, written", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-1.5", "-1.5"), ("+3", "+3"), ("-inf", "-inf"), ("cat", "cat"), ("a=b", "a=b"),
    ("bell\x07", "bell\\x07"), ("=\x1b[2J", "'=\\x1b[2J"), ("tab\tin", "tab\\tin"),
])
def test_item18_spreadsheet_safe_cells(cell, written):
    from handprop.data.tables import spreadsheet_safe

    assert spreadsheet_safe(cell) == written


def test_item18_error_messages_escape_names_and_cells(tmp_path, capsys):
    path = write_csv(tmp_path / "e.csv", ["a\x1b[2J", "y"], [[1, 0], ["\x07x", 1]])
    code, _, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "\x1b" not in err and "\x07" not in err
    assert "e.csv:3:1 (column 1 'a\\x1b[2J'): cannot read '\\x07x' as a number" in err
    code, _, err = run(["train", path, "--target", "nope\x1b", "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "no target column 'nope\\x1b'; the columns are: a\\x1b[2J, y" in err


def test_item18_regression_output_keeps_negative_numbers(tmp_path, capsys):
    rows = [[i, -3.0 * i - 1.5] for i in range(30)]
    path = write_csv(tmp_path / "r.csv", ["x", "-y"], rows)
    assert run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)[0] == 0
    code, out, _ = run(["predict", tmp_path / "m.npz", path], capsys)
    table = list(csv.reader(io.StringIO(out)))
    assert code == 0 and table[0] == ["'-y"]
    assert all(float(row[0]) < 0 for row in table[5:])  # numbers stay numbers, signs included


# ------------------------------------------------------------------ item 20: CSV usability
def test_item20_semicolons_are_sniffed_and_decimal_commas_get_a_hint(tmp_path, capsys):
    path = tmp_path / "eu.csv"
    path.write_text("a;b;y\n" + "".join(f"{i}.5;{i % 3};{i % 2}\n" for i in range(20)))
    ds = load_data(path)
    assert ds.feature_names == ["a", "b"] and ds.X[3].tolist() == [3.5, 0.0]
    path.write_text("a;b;y\n" + "".join(f"{i},5;{i % 3};{i % 2}\n" for i in range(20)))
    code, _, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "eu.csv:2:1 (column 1 'a'): cannot read '0,5' as a number" in err
    assert "'0,5' looks like a decimal comma: numbers need a decimal point, '0.5'" in err


def test_item20_a_wrong_delimiter_gets_a_hint_that_runs(tmp_path, capsys):
    path = tmp_path / "semi.tsv"  # a .tsv is read on tabs, but this one uses semicolons
    path.write_text("a;b;y\n" + "".join(f"{i};{i % 3};{i % 2}\n" for i in range(20)))
    code, _, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "a column name holds semicolon characters" in err
    flag = err.split("read it with ")[1].split(" (Python")[0]
    assert flag == "--delimiter semicolon"
    code, _, _ = run(["train", path, *shlex.split(flag), "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 0 and handprop.load(tmp_path / "m.npz").info.feature_names == ["a", "b"]


def test_item20_columns_and_drop_choose_the_features(tmp_path, capsys):
    rows = [[f"id{i}", i % 4, (i * 7) % 5, ["ann", "bob"][i % 2], i % 2] for i in range(40)]
    path = write_csv(tmp_path / "p.csv", ["id", "a", "b", "name", "label"], rows)
    code, _, err = run(["train", path, "--out", tmp_path / "m.npz", *TRAIN], capsys)
    assert code == 2 and "p.csv:2:1 (column 1 'id'): cannot read 'id0' as a number" in err
    assert run(["train", path, "--drop", "id,name", "--out", tmp_path / "m.npz", *TRAIN], capsys)[0] == 0
    assert handprop.load(tmp_path / "m.npz").info.feature_names == ["a", "b"]
    assert run(["train", path, "--columns", "b,a", "--out", tmp_path / "m2.npz", *TRAIN], capsys)[0] == 0
    assert handprop.load(tmp_path / "m2.npz").info.feature_names == ["b", "a"]
    code, _, err = run(["train", path, "--columns", "a,zz", "--out", tmp_path / "m3.npz", *TRAIN], capsys)
    assert code == 2 and "no feature column 'zz'; the columns are: id, a, b, name, label" in err
    # evaluate picks the model's columns by name, and ignores id and name
    code, out, _ = run(["evaluate", tmp_path / "m2.npz", path], capsys)
    assert code == 0 and scores(out)["samples"] == 40


def test_item20_several_targets(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (80, 2))
    T = np.column_stack([X[:, 0] + X[:, 1], X[:, 0] - 2 * X[:, 1]])
    path = write_csv(tmp_path / "two.csv", ["x1", "t1", "x2", "t2"],
                     [[a[0], t[0], a[1], t[1]] for a, t in zip(X, T)])
    code, out, _ = run(["train", path, "--target", "t1,t2", "--out", tmp_path / "m.npz", "--epochs", "3",
                        "--layers", "none", "--no-doctor"], capsys)
    assert code == 0 and "task: regression (it has 2 columns)" in out and "2 features" in out
    code, out, _ = run(["predict", tmp_path / "m.npz", path], capsys)
    table = list(csv.reader(io.StringIO(out)))
    assert code == 0 and table[0] == ["t1", "t2"] and len(table) == 81
    model = handprop.load(tmp_path / "m.npz")
    np.testing.assert_allclose(np.array(table[1:], dtype=float), model.info.predict(model, X), rtol=1e-15)
    code, out, _ = run(["evaluate", tmp_path / "m.npz", path], capsys)
    assert code == 0 and "mse" in scores(out)
    with pytest.raises(DataError, match=r"target column 3 'c' holds text labels"):
        read_csv(write_csv(tmp_path / "m.csv", ["a", "b", "c"], [[1, 2, "x"], [2, 3, "y"]]), target=["b", "c"])
