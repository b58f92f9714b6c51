"""gradcheck: passes on every correct layer, fails naming the layer on broken backwards."""

import numpy as np
import pytest

import handprop
from handprop import (BCE, MSE, CrossEntropy, Dense, HalfSSE, Identity, LeakyReLU, ReLU, Sequential, Sigmoid,
                      Softmax, Tanh)
from handprop.errors import HandpropValueError
from handprop.gradcheck import (GradcheckReport, check_functions, check_layer, gradcheck, numerical_gradient,
                                relative_error)


def data(n=5, d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.uniform(0.1, 0.9, size=(n, k))


def away_from_zero(x, margin=0.05):
    """Inputs to ReLU kept away from the kink at 0 (cs231n's advice)."""
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin, x)


# -- the two original helpers keep working -----------------------------------------------------------
def test_numerical_gradient_of_a_quadratic():
    x = np.array([1.0, -2.0, 3.0])
    g = numerical_gradient(lambda: float(np.sum(x ** 2)), x)
    np.testing.assert_allclose(g, 2 * np.array([1.0, -2.0, 3.0]), rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # put back exactly


def test_relative_error():
    assert relative_error([1.0], [1.0]) == 0.0
    assert relative_error([0.0], [0.0]) == 0.0
    assert relative_error([1.0], [-1.0]) == pytest.approx(1.0)


# -- correct layers pass ----------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), ReLU(), LeakyReLU(0.1), Softmax(), Identity(),
                                   Dense(3, 4, rng=1), Dense(3, 3, rng=2)])
@pytest.mark.parametrize("n", [1, 6])
def test_every_correct_layer_passes_alone(layer, n):
    rng = np.random.default_rng(n)
    x = away_from_zero(rng.normal(size=(n, 3)))
    report = check_layer(layer, x)
    assert report.passed, str(report)
    assert "PASSED" in str(report)
    assert all(c.max_error < 1e-6 for c in report.layer_checks)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "leaky_relu"])
@pytest.mark.parametrize("loss,out", [(MSE(), "sigmoid"), (HalfSSE(), None), (BCE(), "sigmoid"),
                                      (BCE(from_logits=True), None)])
def test_whole_models_pass(act, loss, out):
    X, y = data()
    model = handprop.mlp([3, 4, 2], act, output=out, rng=3)
    report = gradcheck(model, loss, X, y)
    assert report.passed, str(report)
    names = {(c.layer_index, c.name) for c in report.checks}
    assert names == {(0, "W"), (0, "b"), (len(model.layers) - 1 - (out is not None), "W"),
                     (len(model.layers) - 1 - (out is not None), "b"), (-1, "X")}


def test_cross_entropy_model_passes_and_keeps_float32_model():
    X, _ = data(n=6)
    labels = np.array([0, 1, 2, 1, 0, 2])
    model = handprop.mlp([3, 5, 3], "tanh", rng=4).astype(np.float32)
    w_before = model.layers[0].W.copy()
    report = gradcheck(model, CrossEntropy(), X, labels)
    assert report.passed, str(report)
    assert model.dtype == np.float32
    np.testing.assert_array_equal(model.layers[0].W, w_before)


def test_report_lists_max_error_and_worst_entry_per_parameter():
    X, y = data()
    model = handprop.mlp([3, 4, 2], "tanh", output="sigmoid", rng=3)
    report = gradcheck(model, MSE(), X, y)
    errors = report.max_errors()
    assert ("layer 0 Dense(3, 4)", "W") in errors
    check = report.checks[0]
    assert check.worst == tuple(np.unravel_index(np.argmax(check.errors), check.errors.shape))
    assert check.max_error == check.errors[check.worst]
    assert bool(report) is True


# -- broken backwards fail and the report names the layer -------------------------------------------
class FlippedSigmoid(Sigmoid):
    """Sign error: -dL/da · a(1 − a)."""

    def backward(self, grad, need_input_grad=True):
        return -super().backward(grad)


class TanhMissingFactor(Tanh):
    """Forgot the local derivative (1 − a²): passes the gradient straight through."""

    def backward(self, grad, need_input_grad=True):
        return grad


class DenseNoTranspose(Dense):
    """dx = delta @ W instead of delta @ W.T (shapes still fit: W is square)."""

    def backward(self, delta, need_input_grad=True):
        super().backward(delta, need_input_grad)
        return delta @ self.W


class DenseTransposedDW(Dense):
    """dW = (x.T @ delta).T: right shape (square), wrong matrix."""

    def backward(self, delta, need_input_grad=True):
        dx = super().backward(delta, need_input_grad)
        self.dW = self.dW.T
        return dx


class SoftmaxFlipped(Softmax):
    """Flipped sign: undetected with an all-ones upstream gradient, caught with a random one."""

    def backward(self, grad, need_input_grad=True):
        return -super().backward(grad)


BROKEN = [
    (lambda: [Dense(3, 3, rng=1), FlippedSigmoid(), Dense(3, 2, rng=2), Sigmoid()], 1, "FlippedSigmoid"),
    (lambda: [Dense(3, 3, rng=1), TanhMissingFactor(), Dense(3, 2, rng=2), Sigmoid()], 1, "TanhMissingFactor"),
    (lambda: [Dense(3, 3, rng=1), Tanh(), DenseNoTranspose(3, 3, rng=2), Tanh(), Dense(3, 2, rng=5)], 2,
     "DenseNoTranspose"),
    (lambda: [DenseTransposedDW(3, 3, rng=1), Tanh(), Dense(3, 2, rng=2), Sigmoid()], 0, "DenseTransposedDW"),
    (lambda: [Dense(3, 3, rng=1), Tanh(), Dense(3, 2, rng=2), SoftmaxFlipped()], 3, "SoftmaxFlipped"),
]


@pytest.mark.parametrize("make,index,name", BROKEN, ids=[b[2] for b in BROKEN])
def test_broken_backward_fails_and_names_the_layer(make, index, name):
    X, y = data()
    model = Sequential(make())
    report = gradcheck(model, MSE(), X, y)
    assert not report.passed
    assert [i for i, _ in report.culprits] == [index]
    text = str(report)
    assert "FAILED" in text
    assert f"layer {index} {name}" in text
    assert "has a wrong backward" in text


def test_layers_after_the_broken_one_still_pass():
    X, y = data()
    model = Sequential([Dense(3, 3, rng=1), FlippedSigmoid(), Dense(3, 2, rng=2), Sigmoid()])
    report = gradcheck(model, MSE(), X, y)
    by_name = {(c.layer_index, c.name): c for c in report.checks}
    assert not by_name[(0, "W")].passed      # before the broken layer: inherits the error
    assert by_name[(2, "W")].passed          # after it: untouched
    assert by_name[(0, "W")].max_error == pytest.approx(1.0)  # a sign flip: |a - n| / (|a| + |n|) = 1


def test_softmax_sign_flip_is_invisible_to_an_all_ones_upstream_gradient():
    """Why the layer checks use a random upstream gradient (STYLE.md)."""
    x = np.random.default_rng(0).normal(size=(4, 3))
    layer = SoftmaxFlipped()
    layer.forward(x)
    ones_grad = layer.backward(np.ones((4, 3)))
    np.testing.assert_allclose(ones_grad, 0.0, atol=1e-15)   # the true gradient of Σ softmax is 0 too
    assert not check_layer(SoftmaxFlipped(), x).passed


class MSEMissingTwo(MSE):
    def backward(self):
        pred, target = self._cached()
        return (pred - target) / pred.size


def test_broken_loss_fails_with_every_layer_passing():
    X, y = data()
    report = gradcheck(handprop.mlp([3, 3, 2], "tanh", output="sigmoid", rng=1), MSEMissingTwo(), X, y)
    assert not report.passed and report.culprits == []
    assert "check the loss's backward" in str(report)


def test_wrong_entries_are_listed_exactly():
    """Only db is wrong (one column forgotten): the report lists exactly those entries."""

    class DenseForgetsLastBias(Dense):
        def backward(self, delta, need_input_grad=True):
            dx = super().backward(delta, need_input_grad)
            self.db = self.db.copy()
            self.db[-1] = 0.0
            return dx

    x = np.random.default_rng(1).normal(size=(4, 3))
    report = check_layer(DenseForgetsLastBias(3, 2, rng=0), x)
    bad = [c for c in report.layer_checks if not c.passed]
    assert [(c.name, c.wrong) for c in bad] == [("b", [(1,)])]
    assert "db[1]: backprop  0" in str(report)


def test_relu_kink_entries_are_skipped_not_failed():
    x = np.array([[1e-8, 1.0], [-0.5, 2.0]])
    report = check_layer(ReLU(), x)
    assert report.passed
    assert report.layer_checks[0].skipped == [(0, 0)]
    assert any("1 entries skipped" in note for note in report.notes)


class ReLUNoMask(ReLU):
    """Forgot the mask: passes every gradient through."""

    def backward(self, grad, need_input_grad=True):
        return grad


def test_a_broken_relu_still_fails_next_to_its_kink():
    x = np.array([[1e-8, 1.0], [-0.5, 2.0]])
    report = check_layer(ReLUNoMask(), x)
    assert not report.passed and report.layer_checks[0].wrong == [(1, 0)]
    X, y = data()
    model = Sequential([Dense(3, 4, rng=1), ReLUNoMask(), Dense(4, 2, rng=2)])
    report = gradcheck(model, MSE(), X, y)
    assert [i for i, _ in report.culprits] == [1]


# -- plug-in functions -----------------------------------------------------------------------------
def test_check_functions_right_and_wrong():
    def forward(x, W):
        return np.tanh(x @ W)

    def backward_right(grad, x, W):
        delta = grad * (1 - np.tanh(x @ W) ** 2)
        return delta @ W.T, {"W": x.T @ delta}

    def backward_wrong(grad, x, W):
        delta = grad * (1 - np.tanh(x @ W) ** 2)
        return delta @ W.T, {"W": x.T @ grad}  # forgot the tanh factor in dW

    x = np.random.default_rng(2).normal(size=(3, 2))
    W = np.random.default_rng(3).normal(size=(2, 2))
    assert check_functions(forward, backward_right, x, {"W": W}).passed
    report = check_functions(forward, backward_wrong, x, {"W": W})
    assert not report.passed
    assert [c.name for c in report.failures] == ["W"]


def test_bad_arguments():
    X, y = data()
    model = handprop.mlp([3, 2], None, rng=0)
    with pytest.raises(HandpropValueError, match="h must be a number between 0 and 1"):
        gradcheck(model, MSE(), X, y, h=0)
    with pytest.raises(HandpropValueError, match="must be a Layer"):
        check_layer(lambda x: x, X)
    with pytest.raises(HandpropValueError, match="2-D"):
        check_layer(Sigmoid(), np.ones(3))
    with pytest.raises(HandpropValueError, match="no gradient for W"):
        check_functions(lambda x, W: x @ W, lambda g, x, W: g @ W.T, X, {"W": np.ones((3, 3))})


def test_public_api():
    assert handprop.gradcheck is not None
    report = handprop.gradcheck(handprop.mlp([3, 2], "tanh", rng=0), "mse", *data())
    assert isinstance(report, GradcheckReport) and report.passed


# -- exercise mode ---------------------------------------------------------------------------------
EXAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples"


def load_exercise(name):
    import runpy

    return runpy.run_path(str(EXAMPLES / name), run_name="exercise")


def test_exercise_dense_lists_the_wrong_entries_and_passes_once_fixed(capsys):
    ns = load_exercise("exercise_dense.py")
    assert ns["main"]() == 1
    out = capsys.readouterr().out
    assert "gradcheck FAILED" in out
    failing = [line.split()[5] for line in out.splitlines() if line.startswith("  FAIL layer 0 MyDense(3, 3)")]
    assert failing == ["input", "W", "b"]
    assert "db[1]: backprop" in out and "... and 7 more" in out  # the wrong entries, listed
    rng = np.random.default_rng(0)
    layer = ns["MyDense"](3, 3, rng=rng)
    x = rng.normal(size=(5, 3))
    report = check_layer(layer, x)
    assert {c.name for c in report.failures} == {"input", "W", "b"}

    class Fixed(ns["MyDense"]):  # what the learner writes
        def backward(self, delta, need_input_grad=True):
            self.dW = self.x.T @ delta
            self.db = delta.sum(axis=0)
            return delta @ self.W.T

    assert check_layer(Fixed(3, 3, rng=np.random.default_rng(0)), x).passed


def test_exercise_sigmoid_plug_in_function(capsys):
    ns = load_exercise("exercise_sigmoid.py")
    assert ns["main"]() == 1
    assert "gradcheck FAILED" in capsys.readouterr().out
    x = np.random.default_rng(1).normal(size=(4, 3))

    def fixed(grad, x):
        a = ns["sigmoid_forward"](x)
        return grad * a * (1 - a)

    report = check_functions(ns["sigmoid_forward"], fixed, x)
    assert report.passed
    wrong = check_functions(ns["sigmoid_forward"], ns["sigmoid_backward"], x).failures[0]
    assert len(wrong.wrong) == x.size  # every entry is off, and each one is listed


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_gradcheck_passes_on_blog_000(capsys):
    from handprop.cli import main

    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gradcheck PASSED") and "layer 2 Dense(2, 1)      W" in out
    assert main(["gradcheck", "--activation", "tanh", "--hidden", "5", "--loss", "ce"]) == 0


def test_cli_gradcheck_relu_at_its_kink_is_flagged(capsys):
    """Blog 000's data has the row [0, 0] and zero biases: z1 = 0 exactly, ReLU's kink. Finite
    differences cannot check a derivative there; those entries are set aside and counted."""
    from handprop.cli import main

    assert main(["gradcheck", "--activation", "relu"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gradcheck PASSED") and "at a kink, skipped" in out and "entries skipped" in out


def test_cli_gradcheck_fails_with_exit_1_on_a_too_tight_tolerance(capsys):
    from handprop.cli import main

    assert main(["gradcheck", "--tol", "1e-15"]) == 1
    assert "gradcheck FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs,match", [({"h": -1e-6}, "h must be"), ({"tol": 0}, "tol must be"),
                                          ({"tol": "1e-5"}, "tol must be"), ({"h": 2.0}, "h must be")])
def test_bad_steps_and_tolerances(kwargs, match):
    X, y = data()
    with pytest.raises(HandpropValueError, match=match):
        gradcheck(handprop.mlp([3, 2], None, rng=0), MSE(), X, y, **kwargs)
    with pytest.raises(HandpropValueError, match=match):
        check_layer(Sigmoid(), X, **kwargs)


# -- the pass rule: no false alarms on tiny gradients, settable --------------------------------------
def test_rule_is_absolute_plus_relative_and_settable():
    """An error of 3e-11 on a gradient of 7e-8 (rounding, as on a trained model) passes by default;
    the same entry fails when atol is tightened below it, and a halved gradient fails either way."""
    from handprop.gradcheck import Check, Rule

    a, n = np.array([-6.88073e-08]), np.array([-6.88408e-08])
    assert Check("w", 0, "W", a, n, 0.5, Rule()).passed
    assert not Check("w", 0, "W", a, n, 0.5, Rule(atol=1e-12, rtol=1e-6)).passed
    assert not Check("w", 0, "W", np.array([0.5]), np.array([1.0]), 0.5, Rule()).passed
    # the absolute part grows with the size of the function checked (rounding grows with it)
    assert Check("w", 0, "W", np.array([1e-3]), np.array([1e-3 + 5e-6]), 10.0, Rule()).passed
    assert not Check("w", 0, "W", np.array([1e-3]), np.array([1e-3 + 5e-6]), 1.0, Rule()).passed


@pytest.mark.slow
def test_trained_model_with_tiny_gradients_passes_in_float32_and_float64():
    """A model fitted until its gradients are ~1e-7: rounding noise is then as large as the gradient
    itself, the old relative rule cried wolf, the absolute + relative rule does not."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 4))
    labels = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = handprop.mlp([4, 16, 8, 2], "relu", rng=6)
    model.fit(X, labels, loss="ce", optimizer="adam", lr=0.05, epochs=300, seed=0)
    for dtype in (np.float64, np.float32):
        model.astype(dtype)
        before = [p.value.copy() for p in model.parameters()]
        for rows in (1, 2, 3, 5, 30):
            report = gradcheck(model, CrossEntropy(), X[:rows], labels[:rows])
            assert report.passed, str(report)
        assert model.dtype == dtype  # checked on a float64 copy, the model is untouched
        for p, b in zip(model.parameters(), before):
            np.testing.assert_array_equal(p.value, b)


# -- broken layers are named in every position, first included ---------------------------------------
class DenseSignFlipDW(Dense):
    def backward(self, delta, need_input_grad=True):
        dx = super().backward(delta, need_input_grad)
        self.dW = -self.dW
        return dx


class DenseHalvedDW(Dense):
    def backward(self, delta, need_input_grad=True):
        dx = super().backward(delta, need_input_grad)
        self.dW = self.dW / 2
        return dx


class StudentDenseTransposedDW(Dense):
    """Written the blogs' way, ``backward(self, grad)`` with no extra keyword, and wrong: dW transposed."""

    def backward(self, grad):
        self.dW = (self.x.T @ grad).T
        self.db = grad.sum(axis=0)
        return grad @ self.W.T


DENSE_BUGS = {"sign flip": DenseSignFlipDW, "halved dW": DenseHalvedDW, "transposed dW": DenseTransposedDW,
              "transposed dW, student's signature": StudentDenseTransposedDW}
ACTIVATION_BUGS = {"sign flip": FlippedSigmoid, "missing factor": TanhMissingFactor}


def _stack(broken_at, make_broken):
    layers = []
    for i in range(6):
        if i % 2 == 0:
            cls = make_broken if i == broken_at and issubclass(make_broken, Dense) else Dense
            layers.append(cls(3, 3, rng=10 + i))
        else:
            layers.append(make_broken() if i == broken_at else Tanh())
    return Sequential(layers)


@pytest.mark.parametrize("position", [0, 2, 4])
@pytest.mark.parametrize("bug", sorted(DENSE_BUGS))
def test_broken_dense_is_named_in_every_position(bug, position):
    X, y = data(n=4, d=3, k=3, seed=position)
    report = gradcheck(_stack(position, DENSE_BUGS[bug]), MSE(), X, y)
    assert not report.passed
    assert [i for i, _ in report.culprits] == [position], str(report)
    assert f"=> layer {position} {DENSE_BUGS[bug].__name__}" in str(report)


@pytest.mark.parametrize("position", [1, 3, 5])
@pytest.mark.parametrize("bug", sorted(ACTIVATION_BUGS))
def test_broken_activation_is_named_in_every_position(bug, position):
    X, y = data(n=4, d=3, k=3, seed=position)
    report = gradcheck(_stack(position, ACTIVATION_BUGS[bug]), MSE(), X, y)
    assert [i for i, _ in report.culprits] == [position], str(report)


@pytest.mark.parametrize("n", [2, 5])
def test_loss_missing_one_over_n_is_named(n):
    class MSEMissingMean(MSE):
        def backward(self):
            pred, target = self._cached()
            return 2 * (pred - target)

    X, y = data(n=n)
    report = gradcheck(handprop.mlp([3, 3, 2], "tanh", rng=1), MSEMissingMean(), X, y)
    assert not report.passed and report.culprits == [] and report.loss_wrong
    assert "the loss's own backward is wrong" in str(report)


# -- every model the CLI trains from the bundled datasets: no false alarm ----------------------------
BUNDLED = ["xor", "moons", "circles", "spirals", "blobs", "iris", "wine", "breast_cancer", "digits", "regression"]


def write_bundled_csv(name, path):
    """The dataset `handprop train --dataset NAME` trains on, as a CSV with its column names and, for
    scikit-learn's sets, its text labels."""
    import csv

    from handprop.data import load_sklearn, make_dataset

    if name in ("iris", "wine", "breast_cancer", "digits"):
        ds = load_sklearn(name)
        X, y, names, target = ds.X, np.asarray(ds.class_names)[ds.y], ds.feature_names, ds.target_name
    else:
        X, y = make_dataset(name, n=1000, seed=0)
        y = np.asarray(y).reshape(len(y), -1)[:, 0]
        names, target = [f"x{j}" for j in range(X.shape[1])], "y"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(names) + [target])
        for row, label in zip(X, y.tolist()):
            w.writerow([repr(float(v)) for v in row] + [label])


@pytest.fixture(scope="module")
def cli_trained(tmp_path_factory):
    """``cli_trained(name) -> (model path, data path)``: trained once per dataset by `handprop train`."""
    from handprop.cli import main

    made = {}

    def get(name):
        if name not in made:
            folder = tmp_path_factory.mktemp(name)
            data_path, model_path = folder / f"{name}.csv", folder / f"{name}.npz"
            write_bundled_csv(name, data_path)
            assert main(["train", "--dataset", name, "--epochs", "2", "--out", str(model_path), "--quiet"]) == 0
            made[name] = (str(model_path), str(data_path))
        return made[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("rows", [1, 2, 3, 5, 10, 50])
@pytest.mark.parametrize("name", BUNDLED)
def test_gradcheck_and_explain_pass_on_every_cli_trained_model(name, rows, cli_trained, capsys):
    from handprop.cli import main

    model_path, data_path = cli_trained(name)
    capsys.readouterr()
    rc = main(["gradcheck", "--model", model_path, "--data", data_path, "--rows", str(rows)])
    out = capsys.readouterr().out
    assert rc == 0 and out.startswith("gradcheck PASSED"), f"{name} --rows {rows}:\n{out[-3000:]}"
    assert main(["explain", "--model", model_path, "--data", data_path, "--rows", str(rows)]) == 0
    out = capsys.readouterr().out
    assert "WRONG" not in out and "-0 " not in out and "-0]" not in out, f"{name} --rows {rows}"


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("name,loss", [("moons", "ce"), ("moons", "bce"), ("iris", "ce"), ("regression", "mse")])
def test_every_activation_and_loss_the_cli_trains_passes(name, loss, activation, tmp_path, capsys):
    from handprop.cli import main

    data_path, model_path = str(tmp_path / "d.csv"), str(tmp_path / "m.npz")
    write_bundled_csv(name, data_path)
    assert main(["train", "--dataset", name, "--activation", activation, "--loss", loss, "--layers", "16,8",
                 "--epochs", "3", "--out", model_path, "--quiet"]) == 0
    for rows in (1, 2, 5, 50):
        capsys.readouterr()
        assert main(["gradcheck", "--model", model_path, "--data", data_path, "--rows", str(rows)]) == 0, \
            capsys.readouterr().out[-2000:]
        assert main(["explain", "--model", model_path, "--data", data_path, "--rows", str(rows)]) == 0
        assert "WRONG" not in capsys.readouterr().out
