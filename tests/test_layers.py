"""Dense: z = x @ W + b, and its backward dW = x.T @ delta, db = sum(delta), dx = delta @ W.T."""

import numpy as np
import pytest
from _gradients import check_layer_gradients

from handprop import DataError, Dense, HandpropError, HandpropValueError, ShapeError
from handprop.layers import MATMUL_FROM


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("n_in,n_out", [(1, 1), (3, 4), (5, 2)])
def test_dense_gradients_match_finite_differences(batch, n_in, n_out):
    rng = np.random.default_rng(batch * 100 + n_in * 10 + n_out)
    layer = Dense(n_in, n_out, init="normal", bias_init="normal", rng=rng)
    check_layer_gradients(layer, rng.standard_normal((batch, n_in)), rng)


def test_forward_is_x_at_W_plus_b():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[0.5, -0.5]])  # the blogs' (1, n_out) bias shape is accepted
    layer = Dense(2, 2, weight=W, bias=b)
    x = np.array([[1.0, 1.0], [2.0, 0.0]])
    np.testing.assert_array_equal(layer.forward(x), [[4.5, 5.5], [2.5, 3.5]])


def test_backward_sets_the_blog_gradients():
    rng = np.random.default_rng(0)
    layer = Dense(3, 2, rng=rng)
    x = rng.standard_normal((4, 3))
    delta = rng.standard_normal((4, 2))
    layer.forward(x)
    dx = layer.backward(delta)
    np.testing.assert_allclose(layer.dW, x.T @ delta, rtol=1e-15)
    np.testing.assert_allclose(layer.db, delta.sum(axis=0), rtol=1e-15)
    np.testing.assert_allclose(dx, delta @ layer.W.T, rtol=1e-15)
    assert layer.backward(delta, need_input_grad=False) is None


@pytest.mark.parametrize("rows,n_in,n_out", [(4, 3, 2), (128, 300, 60)])  # np.dot, then np.matmul (MATMUL_FROM)
def test_large_and_small_layers_compute_the_blog_formulas_while_fit_steps_and_outside(rows, n_in, n_out):
    """Whichever NumPy product a layer's size picks, forward and backward give x @ W + b, x.T @ delta,
    delta.sum(axis=0) and delta @ W.T, in fit's workspaces and in fresh arrays alike."""
    rng = np.random.default_rng(rows)
    x, delta = rng.standard_normal((rows, n_in)), rng.standard_normal((rows, n_out))
    layer = Dense(n_in, n_out, bias_init="normal", rng=rng)
    for buffers in (None, {}):  # fresh arrays; a workspace, as while fit steps
        layer.buffers = buffers
        np.testing.assert_allclose(layer.forward(x), x @ layer.W + layer.b, rtol=1e-13, atol=1e-13)
        dx = layer.backward(delta)
        np.testing.assert_allclose(layer.dW, x.T @ delta, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(layer.db, delta.sum(axis=0), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(dx, delta @ layer.W.T, rtol=1e-13, atol=1e-13)
    assert (max(rows * n_out, n_in * n_out, rows * n_in) >= MATMUL_FROM) == (rows == 128)


def test_a_memory_mapped_input_and_a_list_or_memory_mapped_gradient_give_the_blog_formulas(tmp_path):
    """The products are the arrays' own ``dot`` (np.dot without its dispatch): a memory-mapped input,
    and a gradient given as a list or memory-mapped, still give the blog's formulas (against np.dot),
    in fresh arrays and in fit's workspaces."""
    rng = np.random.default_rng(3)
    x, delta = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    mapped = {}
    for name, a in (("x", x), ("delta", delta)):
        mapped[name] = np.memmap(tmp_path / f"{name}.bin", dtype=np.float64, mode="w+", shape=a.shape)
        mapped[name][...] = a
    layer = Dense(3, 2, bias_init="normal", rng=rng)
    for buffers in (None, {}):
        layer.buffers = buffers
        for given in (delta.tolist(), mapped["delta"]):
            np.testing.assert_array_equal(layer.forward(mapped["x"]), np.dot(x, layer.W) + layer.b)
            dx = layer.backward(given)
            np.testing.assert_array_equal(dx, np.dot(delta, layer.W.T))
            np.testing.assert_array_equal(layer.dW, np.dot(x.T, delta))
            np.testing.assert_array_equal(layer.db, np.dot(np.ones(4), delta))


def test_given_weights_are_copied_not_shared():
    W1 = np.ones((2, 2))
    layer = Dense(2, 2, weight=W1, bias=np.zeros((1, 2)))
    layer.W -= 1.0
    assert W1[0, 0] == 1.0


def test_initial_weights_follow_the_blog_draws():
    np.random.seed(42)
    W1 = np.random.randn(2, 2)
    W2 = np.random.randn(2, 1)
    rng = np.random.RandomState(42)
    d1 = Dense(2, 2, init="normal", rng=rng)
    d2 = Dense(2, 1, init="normal", rng=rng)
    np.testing.assert_array_equal(d1.W, W1)
    np.testing.assert_array_equal(d2.W, W2)
    np.testing.assert_array_equal(d1.b, np.zeros(2))


def test_same_seed_same_weights_and_float32_kept():
    a = Dense(4, 3, rng=np.random.default_rng(5), dtype=np.float32)
    b = Dense(4, 3, rng=np.random.default_rng(5), dtype=np.float32)
    np.testing.assert_array_equal(a.W, b.W)
    assert a.W.dtype == np.float32 and a.b.dtype == np.float32
    x = np.ones((2, 4), dtype=np.float32)
    assert a.forward(x).dtype == np.float32
    a.backward(np.ones((2, 3), dtype=np.float32))
    assert a.dW.dtype == np.float32 and a.db.dtype == np.float32


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(n_in=0, n_out=2), HandpropValueError, "n_in must be a positive integer"),
    (dict(n_in=2, n_out=2.5), HandpropValueError, "n_out must be a positive integer"),
    (dict(n_in=2, n_out=3, weight=np.ones((3, 2))), ShapeError, r"weight has shape \(3, 2\), expected \(2, 3\)"),
    (dict(n_in=2, n_out=3, bias=np.ones(2)), ShapeError, r"bias has shape \(2,\), expected \(3,\)"),
    (dict(n_in=2, n_out=3, init="gaussian"), HandpropValueError, "unknown initializer 'gaussian'"),
])
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        Dense(**kwargs)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(HandpropError, match="before forward"):
        Dense(2, 2, rng=0).backward(np.ones((1, 2)))


def test_parameters_follow_reassignment():
    layer = Dense(2, 2, rng=0)
    W, b = layer.parameters()
    layer.W = np.zeros((2, 2))
    assert W.value is layer.W and W.grad is layer.dW and b.name == "b"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
def test_scalar_computes_what_a_python_number_computes_to_the_last_bit(dtype):
    """``Scalar(v)[a.dtype]``: ``v`` as a 0-d array of ``a``'s float type (float64 for integers), made
    once; the ufunc gives the very result, type and bits that it gives with the Python number."""
    from handprop.activations import Scalar

    a = (np.random.default_rng(0).standard_normal((5, 3)) * 10).astype(dtype)
    for value in (1.0, 0.1, -700.0, 1 / 3):
        c = Scalar(value)[a.dtype]
        assert c.ndim == 0
        for ufunc in (np.add, np.subtract, np.multiply, np.maximum):
            with np.errstate(over="ignore"):
                mine, numpy_s = ufunc(a, c), ufunc(a, value)
            assert mine.dtype == numpy_s.dtype
            np.testing.assert_array_equal(mine, numpy_s)
    one = Scalar(1.0)
    assert one[a.dtype] is one[a.dtype]  # made once per dtype


def test_calling_a_layer_whose_huge_weights_overflow_names_the_weights():
    """``layer(x)`` refuses a non-finite output in words; with finite but huge weights (a diverged
    run's) and ordinary inputs, the words blame the weights, not the inputs."""
    layer = Dense(2, 1, weight=[[1e308], [1e308]])
    with pytest.raises(DataError, match=r"for inputs up to 1, because its weights reach 1e\+308: training "
                       r"diverged toward huge weights; retrain with a smaller learning rate"):
        layer(np.array([[1.0, 1.0]]))
    with pytest.raises(DataError, match=r"for inputs up to 1e\+308; scale the inputs down"):
        Dense(2, 1, weight=[[2.0], [2.0]])(np.array([[1e308, 1e308]]))
