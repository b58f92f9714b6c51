"""ONNX out: onnx.checker passes, and ONNX Runtime computes what handprop's predict computes."""

import itertools
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import handprop as hp  # noqa: E402
from handprop.data.preprocessing import LabelEncoder, StandardScaler  # noqa: E402

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "softmax", "identity"]
# (loss, output layer, outputs, task): every loss with each output layer it accepts (losses.check_pairing)
HEADS = [("mse", None, 2, "regression"), ("mse", None, 1, None), ("halfsse", "sigmoid", 1, "regression"),
         ("bce", "sigmoid", 1, "classification"), ("bce", "softmax", 3, "classification"),
         ("bce_logits", None, 1, "classification"), ("bce_logits", None, 3, "classification"),
         ("ce", None, 3, "classification"), ("ce", None, 2, "classification"), (None, "tanh", 2, None)]
LABELS = {"text": ["cat", "dog", "emu"], "int": [3, 7, 11], "none": None}


def build(hidden, head, dtype=np.float64, labels="text", seed=0):
    """A 4-5-k network with ``hidden`` between its layers and ``head``'s loss, preprocessing and labels."""
    loss, out, k, task = head
    rng = np.random.default_rng(seed)
    act = hp.LeakyReLU(alpha=0.2) if hidden == "leaky_relu" else hidden
    layers = [hp.Dense(4, 5, rng=rng), hp.activations.get(act), hp.Dense(5, k, rng=rng)]
    if out is not None:
        layers.append(hp.activations.get(out))
    model = hp.Sequential(layers).astype(dtype)
    info = {"x_scaler": StandardScaler().fit(rng.normal(3.0, 2.0, size=(50, 4)))}
    if task == "regression":
        info["y_scaler"] = StandardScaler().fit(rng.normal(10, 4, size=(50, k)))
    elif task == "classification" and LABELS[labels] is not None:
        info["label_encoder"] = LabelEncoder().fit(LABELS[labels][:max(k, 2)])
    model.info = hp.io.ModelInfo(loss=loss, task=task, **info)
    return model, rng.normal(3.0, 2.0, size=(64, 4)).astype(dtype)


def run(path, X):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X})))


# Every pairing runs with --runslow (CI); a bare pytest runs the ReLU-family ones (all heads).
PAIRS = [pytest.param(h, d, id=f"{h}-{d[0]}-{d[1]}-{d[2]}",
                      marks=() if h in ("relu", "leaky_relu") else pytest.mark.slow)
         for h, d in itertools.product(HIDDEN, HEADS)]


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-9)])
@pytest.mark.parametrize("hidden, head", PAIRS)
def test_onnx_runtime_equals_handprop_predict(tmp_path, hidden, head, dtype, tol):
    model, X = build(hidden, head, dtype)
    path = hp.export_onnx(model, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)
    got = run(path, X)
    info = model.info
    np.testing.assert_allclose(got["output"], model.predict(info.prepare(X)), rtol=tol, atol=tol)
    if info.task == "classification":
        assert set(got) == {"output", "probabilities", "label"}
        np.testing.assert_allclose(got["probabilities"], info.predict(model, X, proba=True), rtol=tol, atol=tol)
        labels = got["label"].astype(str) if got["label"].dtype == object else got["label"]
        np.testing.assert_array_equal(labels, info.predict(model, X))
    elif info.task == "regression":
        assert set(got) == {"output", "value"}
        expected = info.predict(model, X)  # un-scaled to ~10: rounding of that size, hence the atol
        np.testing.assert_allclose(got["value"], expected, rtol=tol, atol=tol * np.abs(expected).max())
    else:
        assert set(got) == {"output"}


@pytest.mark.parametrize("labels", ["int", "none"])
def test_labels_as_numbers_or_indices(tmp_path, labels):
    model, X = build("relu", HEADS[7], labels=labels)
    got = run(hp.export_onnx(model, tmp_path / "m.onnx"), X)
    assert got["label"].dtype == np.int64
    np.testing.assert_array_equal(got["label"], model.info.predict(model, X))


def test_a_model_without_info_takes_rows_as_they_are(tmp_path):
    model = hp.mlp([3, 4, 2], "tanh", rng=0)
    X = np.random.default_rng(1).normal(size=(5, 3))
    got = run(hp.export_onnx(model, tmp_path / "m.onnx"), X)
    np.testing.assert_allclose(got["output"], model.predict(X), rtol=1e-12, atol=1e-12)


def test_the_graph_says_what_it_holds(tmp_path):
    model, _ = build("leaky_relu", HEADS[7], dtype=np.float32)
    proto = onnx.load(hp.export_onnx(model, tmp_path / "m.onnx"))
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Sub", "Div", "MatMul", "Add", "LeakyRelu", "MatMul", "Add", "Softmax", "Identity",
                   "ArgMax", "Gather"]
    # float64 with alpha 0.2, which a float32 attribute cannot hold: max(z, 0.2 z) in float64
    model64, _ = build("leaky_relu", HEADS[7])
    ops = [n.op_type for n in onnx.load(hp.export_onnx(model64, tmp_path / "m64.onnx")).graph.node]
    assert ops[4:6] == ["Mul", "Max"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["classes"] == "cat,dog,emu" and meta["task"] == "classification"
    W = onnx.numpy_helper.to_array(next(t for t in proto.graph.initializer if t.name == "layers.0.W"))
    np.testing.assert_array_equal(W, model.layers[0].W)


def test_the_sklearn_estimator_exports(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris

    from handprop.sklearn import HandpropClassifier

    X, y = load_iris(return_X_y=True)
    clf = HandpropClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=0).fit(X, np.array(["a", "b", "c"])[y])
    got = run(hp.export_onnx(clf.model_, tmp_path / "iris.onnx"), X)
    np.testing.assert_array_equal(got["label"].astype(str), clf.predict(X))
    np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X), rtol=1e-9, atol=1e-12)


def test_export_refuses_what_it_cannot_write_by_name(tmp_path):
    class Doubler(hp.Layer):
        def forward(self, x):
            return 2 * x

    with pytest.raises(hp.HandpropValueError, match=r"cannot export layer 1 \(Doubler\(\), class .*Doubler\) to ONNX"):
        hp.export_onnx(hp.Sequential([hp.Dense(2, 3), Doubler(), hp.Dense(3, 1)]), tmp_path / "m.onnx")
    with pytest.raises(hp.HandpropValueError, match=r"must be written to a \.onnx file, got .*m\.npz'"):
        hp.export_onnx(hp.Sequential([hp.Dense(2, 1)]), tmp_path / "m.npz")
    with pytest.raises(hp.HandpropValueError, match=r"the model is float16; export float32 or float64"):
        hp.export_onnx(hp.Sequential([hp.Dense(2, 1, dtype=np.float16)]), tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []
