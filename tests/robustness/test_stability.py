"""Numerical stability at the model level: a whole network, forward and backward, on inputs up to
±1e4 in float32 and float64 gives a finite loss and finite gradients, and NumPy warns about nothing.

(tests/test_activations.py and tests/test_losses.py check each function alone; here the saturated
activations feed each other and the losses, as they do in training.)"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import handprop as hp

HEADS = {
    # name: (output layer, loss, targets for 5 rows)
    "softmax logits + CE": (None, hp.CrossEntropy(), np.array([0, 1, 2, 0, 1])),
    "sigmoid + BCE": ("sigmoid", hp.BCE(), np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])),
    "logit + BCE(from_logits)": (None, hp.BCE(from_logits=True), np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])),
    "softmax + MSE": ("softmax", hp.MSE(), np.eye(3)[[0, 1, 2, 0, 1]]),
    "tanh + MSE": ("tanh", hp.MSE(), np.array([[-1.0], [1.0], [0.5], [0.0], [1.0]])),
}


def _model(hidden, head, dtype):
    out, loss, y = HEADS[head]
    n_out = 3 if y.ndim == 1 or y.shape[1] == 3 else 1
    model = hp.mlp([4, 6, n_out], hidden, output=out, rng=0).astype(dtype)
    # Large weights: the pre-activations reach thousands, far into saturation.
    model.layers[-2 if out else -1].W *= 1e3
    return model, loss, y


@settings(max_examples=25, deadline=2000)
@given(X=arrays(np.float64, (5, 4), elements=st.floats(-1e4, 1e4)),
       hidden=st.sampled_from(["sigmoid", "tanh"]), head=st.sampled_from(sorted(HEADS)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_a_saturated_network_has_finite_loss_and_gradients_without_warnings(X, hidden, head, dtype):
    model, loss, y = _model(hidden, head, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (overflow, invalid value) fails the test
        out = model.forward(X.astype(dtype))
        value = loss.forward(out, y)
        grad_x = model.backward(loss.backward())
    assert np.isfinite(value) and value >= 0
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad_x))
    for p in model.parameters():
        assert p.grad.dtype == dtype and np.all(np.isfinite(p.grad)), p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_on_extreme_inputs_stays_finite(dtype):
    X = np.array([[-1e4, 1e4], [1e4, 1e4], [-1e4, -1e4], [1e4, -1e4]], dtype=dtype)
    y = np.array([0, 1, 1, 0])
    model = hp.mlp([2, 4, 2], "tanh", rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = model.fit(X, y, loss="ce", optimizer="adam", epochs=20)
    assert all(np.isfinite(h.loss)) and all(np.all(np.isfinite(p.value)) for p in model.parameters())
