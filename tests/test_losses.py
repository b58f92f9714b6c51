"""Losses: values, gradients (finite differences), target shapes, and the pairings they refuse."""

import warnings

import numpy as np
import pytest
from _gradients import check_loss_gradient
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handprop import (BCE, MSE, CrossEntropy, Dense, HalfSSE, HandpropValueError, Identity, Sequential,
                      ShapeError, Sigmoid, Softmax)
from handprop.losses import check_pairing, get


@pytest.mark.parametrize("n", [1, 9])
@pytest.mark.parametrize("make", [MSE, HalfSSE])
def test_squared_error_gradients(make, n):
    rng = np.random.default_rng(n)
    check_loss_gradient(make(), rng.standard_normal((n, 3)), rng.standard_normal((n, 3)))


@pytest.mark.parametrize("n", [1, 9])
def test_bce_gradients_on_probabilities_and_logits(n):
    rng = np.random.default_rng(n)
    target = rng.integers(0, 2, size=(n, 2)).astype(float)
    check_loss_gradient(BCE(), rng.uniform(0.05, 0.95, size=(n, 2)), target)
    check_loss_gradient(BCE(from_logits=True), 3 * rng.standard_normal((n, 2)), target)


@pytest.mark.parametrize("n", [1, 9])
def test_cross_entropy_gradient_with_labels_and_one_hot(n):
    rng = np.random.default_rng(n)
    labels = rng.integers(0, 4, size=n)
    logits = 2 * rng.standard_normal((n, 4))
    check_loss_gradient(CrossEntropy(), logits, labels)
    check_loss_gradient(CrossEntropy(), logits, np.eye(4)[labels])


def test_values_follow_their_formulas():
    pred = np.array([[0.2], [0.9]])
    y = np.array([[0.0], [1.0]])
    assert MSE().forward(pred, y) == pytest.approx(((0.2) ** 2 + 0.1 ** 2) / 2)
    assert HalfSSE().forward(pred, y) == pytest.approx(0.5 * (0.2 ** 2 + 0.1 ** 2))
    assert BCE().forward(pred, y) == pytest.approx(-(np.log(0.8) + np.log(0.9)) / 2)
    logits = np.array([[1.0, 2.0, 3.0]])
    assert CrossEntropy().forward(logits, [2]) == pytest.approx(-np.log(np.exp(3) / np.exp([1, 2, 3]).sum()))


def test_mse_backward_is_blog_000s_two_over_n():
    pred = np.array([[0.5], [0.25], [0.75], [1.0]])
    y = np.array([[0], [1], [1], [0]])
    loss = MSE()
    loss.forward(pred, y)
    np.testing.assert_array_equal(loss.backward(), 2 * (pred - y) / y.size)


def test_targets_of_shape_n_fit_a_single_output():
    pred = np.array([[0.2], [0.9]])
    assert MSE().forward(pred, np.array([0, 1])) == MSE().forward(pred, np.array([[0], [1]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss,pred,target", [
    (BCE(), np.array([[0.0], [1.0], [1.0]]), np.array([[1.0], [0.0], [1.0]])),
    (BCE(from_logits=True), np.array([[-1e4], [1e4], [0.0]]), np.array([[1.0], [0.0], [1.0]])),
    (CrossEntropy(), np.array([[-1e4, 1e4], [1e4, -1e4], [0.0, 0.0]]), np.array([0, 0, 1])),
])
def test_extreme_values_give_finite_loss_and_gradient_without_warnings(loss, pred, target, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.forward(pred.astype(dtype), target)
        grad = loss.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad)) and grad.dtype == dtype


def test_cross_entropy_of_a_class_with_probability_zero_counts_only_the_targets_terms():
    """A logit of −inf gives that class log p = −inf: where it is not the target, 0 · −inf is no
    term (the loss is the target's −log p, by hand); where it is, the loss is +inf, as PyTorch's."""
    logits = np.array([[0.0, -np.inf, np.log(3.0)], [1.0, 1.0, 1.0]])
    ce = CrossEntropy()
    assert ce.forward(logits, [2, 0]) == pytest.approx((-np.log(3 / 4) + np.log(3)) / 2, rel=1e-15)
    np.testing.assert_allclose(ce.backward(), np.array([[1 / 4, 0, 3 / 4 - 1], [1 / 3 - 1, 1 / 3, 1 / 3]]) / 2,
                               rtol=1e-15, atol=1e-17)
    soft = np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])  # probability rows as targets
    assert ce.forward(logits, soft) == pytest.approx(
        -(0.5 * np.log(1 / 4) + 0.5 * np.log(3 / 4) + np.log(1 / 3)) / 2, rel=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (and without a warning)
        assert ce.forward(logits, [1, 0]) == np.inf


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (4, 3), elements=st.floats(-50, 50)), st.integers(0, 2))
def test_losses_are_never_negative(logits, label):
    labels = np.full(4, label)
    assert CrossEntropy().forward(logits, labels) >= 0
    assert BCE(from_logits=True).forward(logits, (logits > 0).astype(float)) >= 0
    assert MSE().forward(logits, np.zeros_like(logits)) >= 0


def test_float32_predictions_keep_float32_gradients():
    for loss, target in [(MSE(), np.ones((2, 1))), (HalfSSE(), np.ones((2, 1))), (BCE(), np.ones((2, 1)))]:
        loss.forward(np.full((2, 1), 0.5, dtype=np.float32), target)
        assert loss.backward().dtype == np.float32


@pytest.mark.parametrize("call,error,words", [
    (lambda: MSE().forward(np.ones((3, 2)), np.ones((3, 1))), ShapeError, r"target has shape \(3, 1\).*\(3, 2\)"),
    (lambda: BCE().forward(np.array([[1.5]]), np.array([[1.0]])), HandpropValueError, "must be probabilities"),
    (lambda: BCE().forward(np.array([[0.5]]), np.array([[2.0]])), HandpropValueError, r"targets must lie in \[0, 1\]"),
    (lambda: CrossEntropy().forward(np.ones((2, 3)), [0, 3]), HandpropValueError, "label 3 is out of range for 3 classes"),
    (lambda: CrossEntropy().forward(np.ones((2, 3)), [0.5, 1]), HandpropValueError, "whole numbers"),
    (lambda: CrossEntropy().forward(np.ones((2, 3)), [0, 1, 2]), ShapeError, "3 labels for 2 rows"),
    (lambda: get("hinge"), HandpropValueError, "unknown loss 'hinge'"),
    (lambda: MSE().backward(), Exception, "before forward"),
])
def test_bad_inputs_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call()


def _model(last):
    return Sequential([Dense(2, 3, rng=0)] + ([last] if last else []))


@pytest.mark.parametrize("loss,last,words", [
    (CrossEntropy(), Softmax(), "remove that layer"),
    (CrossEntropy(), Sigmoid(), "applies softmax itself"),
    (BCE(), None, "add a Sigmoid layer"),
    (BCE(), Identity(), "expects probabilities"),
    (BCE(from_logits=True), Sigmoid(), "applies the sigmoid itself"),
])
def test_wrong_output_layer_pairings_are_refused(loss, last, words):
    with pytest.raises(HandpropValueError, match=words):
        check_pairing(_model(last), loss)
    X, y = np.zeros((3, 2)), np.zeros((3, 3))
    with pytest.raises(HandpropValueError, match=words):
        _model(last).fit(X, y, loss=loss, epochs=1)


@pytest.mark.parametrize("loss,last", [(CrossEntropy(), None), (BCE(), Sigmoid()),
                                       (BCE(from_logits=True), None), (MSE(), Sigmoid()), (HalfSSE(), None)])
def test_right_pairings_are_accepted(loss, last):
    check_pairing(_model(last), loss)


def test_softmax_probabilities_fed_to_cross_entropy_by_hand_are_flagged():
    from handprop import HandpropWarning

    probabilities = Softmax().forward(np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]]))
    with pytest.warns(HandpropWarning, match="expects logits"):
        CrossEntropy().forward(probabilities, [1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # real logits: silent
        CrossEntropy().forward(np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]]), [1, 2])


# -- fit_target: a training set's targets converted once, as forward would convert every batch ----------

@pytest.mark.parametrize("make", [MSE, HalfSSE, BCE])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_target_converts_integer_targets_once_as_forward_would(make, dtype):
    labels = np.array([0, 1, 1, 0])
    pred = np.array([[0.2], [0.7], [0.9], [0.4]], dtype=dtype)
    converted = make().fit_target(labels, 1, np.dtype(dtype))
    assert converted.shape == (4, 1) and converted.dtype == dtype
    np.testing.assert_array_equal(converted.ravel(), [0.0, 1.0, 1.0, 0.0])
    # the loss of the converted targets is the loss of the targets as given, to the last bit
    assert make().forward(pred, converted) == make().forward(pred, labels)
    two_columns = np.array([[0, 1], [1, 0]])  # (n, 2) for two outputs: only the type changes
    assert make().fit_target(two_columns, 2, np.dtype(dtype)).dtype == dtype


def test_fit_target_leaves_what_forward_must_refuse_and_what_other_losses_read():
    wrong = np.zeros((3, 3))
    assert MSE().fit_target(wrong, 2, np.dtype(np.float64)) is wrong  # forward names the shapes
    with pytest.raises(ShapeError, match=r"target has shape \(3, 3\) but logits have shape \(3, 2\)"):
        CrossEntropy().fit_target(wrong, 2, np.dtype(np.float64))  # refused at once, as forward would
    with pytest.raises(ShapeError, match=r"target has shape \(3, 3\) but the model's output has shape \(3, 2\)"):
        MSE().forward(np.zeros((3, 2)), MSE().fit_target(wrong, 2, np.dtype(np.float64)))


def test_fit_target_refuses_integers_beyond_the_float_type():
    from handprop.errors import DataError

    with pytest.raises(DataError, match="beyond the range of float16"):
        MSE().fit_target(np.array([70000]), 1, np.dtype(np.float16))


def test_cross_entropy_fit_target_makes_labels_one_hot_rows_once():
    labels = np.array([0, 2, 1, 2])
    rows = CrossEntropy().fit_target(labels, 3, np.dtype(np.float32))
    assert rows.dtype == np.float32
    np.testing.assert_array_equal(rows, [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]])
    # a batch of those rows gives the loss and gradient of the labels themselves, to the last bit
    z = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    a, b = CrossEntropy(), CrossEntropy()
    assert a.forward(z, labels) == b.forward(z, rows)
    np.testing.assert_array_equal(a.backward(), b.backward())
    float_labels = np.array([1.0, 0.0])
    np.testing.assert_array_equal(CrossEntropy().fit_target(float_labels, 2, np.dtype(np.float64)), [[0, 1], [1, 0]])


def test_cross_entropy_fit_target_refuses_a_bad_label_before_training():
    with pytest.raises(HandpropValueError, match=r"label 3 is out of range for 3 classes \(0..2\)"):
        CrossEntropy().fit_target(np.array([0, 3, 1]), 3, np.dtype(np.float64))
    with pytest.raises(HandpropValueError, match="class labels must be whole numbers"):
        CrossEntropy().fit_target(np.array([0.5, 1.0]), 2, np.dtype(np.float64))


def test_cross_entropy_fit_target_keeps_labels_whose_rows_would_be_too_large():
    ce = CrossEntropy()
    ce.ONE_HOT_BYTES = 4 * 3 * 8 - 1  # one byte less than 4 rows of 3 float64
    labels = np.array([0, 2, 1, 2])
    assert ce.fit_target(labels, 3, np.dtype(np.float64)) is labels  # encoded batch by batch instead
    ce.ONE_HOT_BYTES = 4 * 3 * 8
    assert ce.fit_target(labels, 3, np.dtype(np.float64)).shape == (4, 3)


def test_a_loss_is_quiet_only_while_fit_runs_it_inside_its_own_errstate():
    """Loss.quiet: set by fit's engine for the run (fit's np.errstate is in force), reset after it,
    also when the run fails; outside fit an overflowing MSE still says nothing and gives inf."""
    import handprop as hp

    seen = []

    class Spy(MSE):
        def forward(self, pred, target):
            seen.append((self.quiet, np.geterr()["over"]))
            return super().forward(pred, target)

    loss = Spy()
    model = Sequential([Dense(1, 1, rng=0)])
    X, y = np.ones((3, 1)), np.ones(3)
    model.fit(X, y, loss=loss, optimizer=hp.SGD(lr=0.1), epochs=2)
    assert seen == [(True, "ignore"), (True, "ignore")] and loss.quiet is False
    with pytest.raises(hp.DivergenceError):
        model.fit(X * 1e200, y, loss=loss, optimizer=hp.SGD(lr=0.1), epochs=2)
    assert loss.quiet is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would fail here
        assert MSE().forward(np.array([1e200]), np.array([-1e200])) == np.inf
