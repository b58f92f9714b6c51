"""Gradient clipping equal to torch.nn.utils.clip_grad_norm_ / clip_grad_value_, inputs untouched."""

import numpy as np
import pytest

from _lazy import torch
from handprop.clipping import clip_norm, clip_value, grad_norm
from handprop.errors import DivergenceError, HandpropValueError

pytestmark = pytest.mark.torch  # compares with PyTorch (tests/_lazy.py)


def grads(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((2, 3, 5))]


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, np.inf])
def test_clip_norm_equals_torch(max_norm, norm_type):
    gs = grads()
    before = [g.copy() for g in gs]
    ts = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for t, g in zip(ts, gs):
        t.grad = torch.tensor(g)
    total_t = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
    clipped, total = clip_norm(gs, max_norm, norm_type)
    assert total == pytest.approx(total_t.item(), rel=1e-13)
    for c, t in zip(clipped, ts):
        np.testing.assert_allclose(c, t.grad.numpy(), rtol=1e-13, atol=0)
    for g, b in zip(gs, before):
        np.testing.assert_array_equal(g, b)  # pure: the inputs are left alone


def test_hand_worked_norm():
    # [3, 4] has norm 5: clipped to 1 it becomes [3, 4] / (5 + 1e-6)
    clipped, total = clip_norm([np.array([3.0, 4.0])], 1.0)
    assert total == 5.0
    np.testing.assert_allclose(clipped[0], np.array([3.0, 4.0]) / (5 + 1e-6), rtol=1e-15)
    assert grad_norm([np.array([3.0, -4.0])], np.inf) == 4.0


def test_clip_value_equals_torch():
    gs = grads(1)
    ts = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for t, g in zip(ts, gs):
        t.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(ts, 0.7)
    for c, t in zip(clip_value(gs, 0.7), ts):
        np.testing.assert_array_equal(c, t.grad.numpy())


@pytest.mark.parametrize("call,error,match", [
    (lambda: clip_norm(grads(), 0), HandpropValueError, "clip_norm must be a positive number, got 0"),
    (lambda: clip_norm(grads(), 1, norm_type=-1), HandpropValueError, "norm_type must be a positive number"),
    (lambda: clip_value(grads(), float("nan")), HandpropValueError, "clip_value must be a positive number, got nan"),
    (lambda: clip_value(np.ones(3), 1.0), HandpropValueError, "grads must be a list of gradient arrays"),
    (lambda: clip_norm([np.array([np.inf, 1.0])], 1.0), DivergenceError, "total 2.0-norm is inf: training diverged"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
