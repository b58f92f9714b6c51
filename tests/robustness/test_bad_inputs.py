"""A table of bad inputs across the API and data files: each gives a HandpropError whose words
say what is wrong and where. (The command line's table is test_bad_cli.py; model files',
test_bad_model_files.py.)"""

import numpy as np
import pytest

import handprop as hp
from handprop import data

X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y4 = np.array([[0.0], [1.0], [1.0], [0.0]])


def model(out="sigmoid"):
    return hp.mlp([2, 3, 1], "tanh", output=out, rng=0)


def csv(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


API_CASES = [
    ("X with too many features", lambda t: model()(np.ones((4, 3))), hp.ShapeError, "X has 3 features"),
    ("1-D X", lambda t: model()(np.ones(2)), hp.ShapeError, r"reshape\(1, -1\)"),
    ("string X", lambda t: model()(np.array([["a", "b"]])), hp.HandpropValueError, "must be numeric"),
    ("y shorter than X", lambda t: model().fit(X4, Y4[:2]), hp.ShapeError, "X has 4 samples but y has 2"),
    ("targets wider than output", lambda t: model().fit(X4, np.ones((4, 2))), hp.ShapeError,
     r"target has shape \(4, 2\) but the model's output has shape \(4, 1\)"),
    ("empty data", lambda t: model().fit(X4[:0], Y4[:0]), hp.HandpropValueError, "empty"),
    ("zero epochs", lambda t: model().fit(X4, Y4, epochs=0), hp.HandpropValueError, "epochs must be a positive"),
    ("zero batch size", lambda t: model().fit(X4, Y4, batch_size=0), hp.HandpropValueError, "batch_size must be"),
    ("negative lr", lambda t: hp.SGD(lr=-1), hp.HandpropValueError, "lr must be in"),
    ("momentum 1", lambda t: hp.SGD(lr=0.1, momentum=1), hp.HandpropValueError, "momentum must be in"),
    ("adam beta 1", lambda t: hp.Adam(betas=(1.0, 0.9)), hp.HandpropValueError, r"betas\[0\] must be in"),
    ("unknown loss", lambda t: model().fit(X4, Y4, loss="hinge"), hp.HandpropValueError, "unknown loss 'hinge'"),
    ("unknown optimizer", lambda t: model().fit(X4, Y4, optimizer="lbfgs"), hp.HandpropValueError,
     "unknown optimizer 'lbfgs'"),
    ("softmax before CE", lambda t: hp.mlp([2, 3], output="softmax", rng=0).fit(X4, [0, 1, 2, 0], loss="ce"),
     hp.HandpropValueError, "remove that layer"),
    ("BCE on raw outputs", lambda t: model(out=None).fit(X4, Y4, loss="bce"), hp.HandpropValueError,
     "add a Sigmoid layer"),
    ("label out of range", lambda t: hp.mlp([2, 3], rng=0).fit(X4, [0, 1, 2, 3], loss="ce"),
     hp.HandpropValueError, "label 3 is out of range for 3 classes"),
    ("BCE target 2", lambda t: model().fit(X4, Y4 * 2, loss="bce"), hp.HandpropValueError, r"in \[0, 1\]"),
    ("mismatched layers", lambda t: hp.Sequential([hp.Dense(2, 3, rng=0), hp.Dense(4, 1, rng=0)]),
     hp.ShapeError, "takes 4 inputs, but the layer before it gives 3"),
    ("Dense size 0", lambda t: hp.Dense(0, 2), hp.HandpropValueError, "n_in must be a positive integer"),
    ("wrong weight shape", lambda t: hp.Dense(2, 3, weight=np.ones((3, 2))), hp.ShapeError, "weight has shape"),
    ("unknown activation", lambda t: hp.mlp([2, 2, 1], "swish"), hp.HandpropValueError, "unknown activation 'swish'"),
    ("backward first", lambda t: hp.Sigmoid().backward(np.ones((1, 1))), hp.HandpropError, "before forward"),
    ("bad rng", lambda t: hp.Dense(2, 2, rng="seed"), hp.HandpropValueError, "rng must be"),
    ("unknown dataset", lambda t: data.make_dataset("swissroll"), hp.HandpropValueError, "moons"),
    ("negative noise", lambda t: data.moons(noise=-1), hp.HandpropValueError, "noise"),
    ("unseen label", lambda t: data.LabelEncoder().fit(["a", "b"]).transform(["c"]), hp.DataError, "'c'"),
    ("one-hot out of range", lambda t: data.one_hot([0, 5], n_classes=3), hp.DataError, "5"),
    ("split size 1.5", lambda t: data.train_test_split(X4, Y4, test_size=1.5), hp.HandpropValueError, "test_size"),
    # non-finite data and labels, at fit and at evaluate
    ("NaN feature at fit", lambda t: model().fit(_with(X4, (2, 1), np.nan), Y4), hp.DataError,
     r"X holds NaN values in row 2 \(0-based\)"),
    ("inf targets at fit", lambda t: model().fit(X4, np.array([[0.0], [np.inf], [1.0], [np.nan]])),
     hp.DataError, r"y holds NaN and infinite values in rows 1, 3"),
    ("NaN in validation data", lambda t: model().fit(X4, Y4, validation_data=(_with(X4, (0, 0), np.nan), Y4)),
     hp.DataError, "X holds NaN values in row 0"),
    ("NaN feature at evaluate", lambda t: hp.evaluate(model(), _with(X4, (3, 0), np.nan), Y4), hp.DataError,
     "X holds NaN values in row 3"),
    ("unseen class at evaluate", lambda t: hp.evaluate(hp.mlp([2, 3], rng=0), X4, np.array([0, 1, 2, 7])),
     hp.DataError, r"class label\(s\) 7 in row 3, but the model predicts 3 classes"),
    ("evaluate rows differ", lambda t: hp.evaluate(model(), X4, Y4[:3]), hp.ShapeError, "X has 4 samples but y has 3"),
    ("save NaN weights", lambda t: hp.io.save(_nan_model(), t / "m.npz"), hp.HandpropValueError,
     "refusing to save .*holds NaN or infinite values"),
    ("save into a directory", lambda t: hp.io.save(model(), t), hp.errors.FileWriteError,
     "cannot write the file: it is a directory"),
    ("load a directory", lambda t: hp.load(t), hp.MissingFileError, "is a directory, not a file"),
    ("validation split 1", lambda t: model().fit(X4, Y4, validation_split=1.0), hp.HandpropValueError,
     r"validation_split must be in \(0, 1\)"),
    # data files
    ("missing CSV", lambda t: data.read_csv(t / "nope.csv"), hp.MissingFileError, "nope.csv: no such file"),
    ("non-numeric cell", lambda t: data.read_csv(csv(t, "a,b,y\n1,2,0\n3,abc,1\n"), target="y"), hp.DataError,
     r"data.csv:3:.*'b'.*abc"),
    ("ragged row", lambda t: data.read_csv(csv(t, "a,b,y\n1,2,0\n3,1\n"), target="y"), hp.DataError,
     r"data.csv:3.*expected 3.*got 2|data.csv:3.*2.*3"),
    ("missing target", lambda t: data.read_csv(csv(t, "a,b,y\n1,2,0\n"), target="label"), hp.DataError,
     r"'label'.*a, b, y|'label'.*\['a', 'b', 'y'\]"),
    ("NaN feature", lambda t: data.read_csv(csv(t, "a,b,y\n1,2,0\nnan,1,1\n"), target="y"), hp.DataError,
     r"data.csv:3"),
    ("wrong encoding", lambda t: data.read_csv(csv(t, "a,b,y\n1,2,é\n", encoding="latin-1"), target="y"),
     hp.DataError, "utf-8"),
    ("empty CSV", lambda t: data.read_csv(csv(t, "")), hp.DataError, "empty"),
    ("header only", lambda t: data.read_csv(csv(t, "a,b,y\n")), hp.DataError, "data.csv"),
    ("pickled npy", lambda t: data.load_array(_pickled(t)), hp.FileFormatError, "pickle|object"),
    ("truncated npy", lambda t: data.load_array(_truncated(t)), hp.FileFormatError, "bad.npy"),
    ("unknown extension", lambda t: data.load_data(csv(t, "x", name="data.xlsx")), hp.HandpropValueError, ".xlsx"),
]


def _with(a, where, value):
    a = np.array(a, dtype=float)
    a[where] = value
    return a


def _nan_model():
    m = model()
    m.layers[0].b[0] = np.nan
    return m


def _pickled(tmp_path):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return path


def _truncated(tmp_path):
    path = tmp_path / "bad.npy"
    np.save(path, np.arange(100.0))
    path.write_bytes(path.read_bytes()[:150])
    return path


@pytest.mark.parametrize("name,call,error,words", API_CASES, ids=[c[0] for c in API_CASES])
def test_bad_input_gets_a_clear_error(tmp_path, name, call, error, words):
    with pytest.raises(error, match=words):
        call(tmp_path)


def test_a_batch_larger_than_the_data_is_a_warning_not_an_error():
    with pytest.warns(hp.HandpropWarning, match="batch_size=10 is larger than the 4 training rows"):
        h = model().fit(X4, Y4, batch_size=10, epochs=2)
    assert len(h) == 2


def test_predict_refuses_nan_rows_instead_of_returning_nan():
    X = np.array([[0.0, 1.0], [np.nan, 1.0], [1.0, np.inf]])
    with pytest.raises(hp.DataError, match=r"X holds NaN and infinite values in rows 1, 2"):
        model().predict(X)


def test_the_data_package_comes_with_import_handprop():
    import subprocess
    import sys

    code = "import handprop; print(handprop.data.moons(n=10, seed=0)[0].shape)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(10, 2)"
