"""Sequential with shaped samples: a Reshape declares the input, shapes are followed through every
layer, mismatches are refused when the model is built, and the summary shows each shape."""

import numpy as np
import pytest

import handprop as hp
from handprop.conv import Conv1D, MaxPool1D
from handprop.errors import ShapeError
from handprop.shape import Flatten, Reshape


def issue_model(rng=0):
    return hp.Sequential([Reshape((1, 40)), Conv1D(1, 25, 5, stride=2, rng=rng), hp.ReLU(), Flatten(),
                          hp.Dense(25 * 18, 10, rng=rng)])


def test_reshaped_model_declares_rows_of_40_and_gives_10():
    model = issue_model()
    assert model.n_inputs == 40 and model.n_outputs == 10
    out = model.predict(np.random.default_rng(0).standard_normal((3, 40)))
    assert out.shape == (3, 10)


def test_summary_shows_each_samples_shape():
    lines = issue_model().summary().splitlines()
    assert "Reshape((1, 40))" in lines[2] and "(batch, 1, 40)" in lines[2]
    assert "(batch, 25, 18)" in lines[3] and "150" in lines[3]  # 25·1·5 weights + 25 biases
    assert "(batch, 450)" in lines[5] and "4,510" in lines[6]


def test_rows_of_the_wrong_width_are_refused_naming_the_reshape():
    with pytest.raises(ShapeError, match=r"X has 39 features .* expects 40"):
        issue_model().predict(np.zeros((2, 39)))


@pytest.mark.parametrize("layers,match", [
    ([Conv1D(1, 2, 3), Flatten()], r"layer 0 Conv1D\(1, 2, 3\) needs to know the shape of its input.*Reshape\(\(1, 40\)\)"),
    ([Reshape((2, 10)), Conv1D(1, 2, 3)], r"layer 1: Conv1D\(1, 2, 3\) takes 1 channels, but the layer before it gives 2"),
    ([Reshape((1, 10)), Conv1D(1, 2, 3), Flatten(), hp.Dense(9, 1)], r"layer 3 Dense\(9, 1\) takes 9 inputs, but the layer before it gives 16"),
    ([Reshape((1, 10)), Conv1D(1, 2, 3), hp.Dense(8, 1)], r"layer 2 Dense\(8, 1\) takes 8 inputs, but the layer before it gives \(2, 8\)"),
    ([hp.Dense(4, 6), Reshape((4, 2))], r"layer 1: Reshape\(\(4, 2\)\) takes samples of 8 values, but the layer before it gives 6"),
    ([Reshape((1, 4)), MaxPool1D(5)], r"layer 1: MaxPool1D\(5\): a length of 4 is shorter than the kernel \(5\)"),
])
def test_layers_that_do_not_fit_together_are_refused_when_built(layers, match):
    with pytest.raises(ShapeError, match=match):
        hp.Sequential(layers)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_handprop_gradcheck_passes_on_a_model_with_every_new_layer(mode):
    # in training mode a dropout draws a new mask each forward, so finite differences see p = 0 there
    rng = np.random.default_rng(6)
    model = hp.Sequential([
        Reshape((2, 10)), hp.Conv1D(2, 3, 3, stride=2, padding=1, dilation=2, rng=rng), hp.Tanh(),
        hp.BatchNorm1d(3), hp.AvgPool1D(2, stride=1), MaxPool1D(2), Flatten(),
        hp.Dropout(0.0 if mode == "train" else 0.5, rng=0), hp.Dense(3, 3, rng=rng)])  # lengths 20 -> 4 -> 3 -> 1
    getattr(model, mode)()
    X, y = rng.standard_normal((5, 20)), rng.integers(0, 3, 5)
    report = hp.gradcheck(model, "cross_entropy", X, y)
    assert report.passed, str(report)


def test_the_advice_to_start_with_reshape_or_declare_n_in_works():
    with pytest.raises(ShapeError, match=r"start the model with Reshape.*Reshape\(\(1, 40\)\).*n_in attribute"):
        hp.Sequential([Conv1D(1, 2, 3), Flatten(), hp.Dense(76, 2)])
    assert hp.Sequential([Reshape((1, 40)), Conv1D(1, 2, 3), Flatten(), hp.Dense(76, 2)]).n_inputs == 40

    class Doubler(hp.Layer):  # a layer of one's own that changes sizes
        n_in = 3

        def forward(self, x):
            return np.concatenate([x, x], axis=1)

        def output_size(self, n_in):
            return 2 * n_in

    model = hp.Sequential([Doubler(), hp.Dense(6, 1)])
    assert model.n_inputs == 3 and model.n_outputs == 1
