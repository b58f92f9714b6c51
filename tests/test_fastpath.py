"""The engine's fast path (train_step with reused arrays) gives the numbers of forward/backward.

Every test trains two copies of a model: one through ``train_step`` (fast path) and one through the
readable loop written out below (public forward, loss, backward, optimizer). The weights must agree
to 1e-12 (they agree exactly on this machine: the same NumPy operations in the same order).
"""

import copy

import numpy as np
import pytest

from handprop import (BCE, MSE, SGD, Adam, CrossEntropy, Dense, HalfSSE, Identity, LeakyReLU, ReLU,
                      Sequential, Sigmoid, Softmax, Tanh)
from handprop.training import _train_plan, iter_batches, train_step  # noqa: F401


def readable_step(model, loss, optimizer, params, X, y):
    out = model.forward(X)
    value = loss.forward(out, y)
    model.backward(loss.backward(), need_input_grad=False)
    optimizer.step(params)
    return value


def train_both(model, loss, optimizer, X, y, steps=5, batch=None):
    twin, twin_loss, twin_opt = copy.deepcopy((model, loss, optimizer))
    p_fast, p_slow = model.parameters(), twin.parameters()
    rng_fast, rng_slow = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(steps):
        for (Xb, yb), (Xs, ys) in zip(iter_batches(X, y, batch, True, rng_fast),
                                      iter_batches(X, y, batch, True, rng_slow)):
            v_fast = train_step(model, loss, optimizer, p_fast, Xb, yb)
            v_slow = readable_step(twin, twin_loss, twin_opt, p_slow, Xs.copy(), ys.copy())
            np.testing.assert_allclose(v_fast, v_slow, rtol=1e-12)
    for a, b in zip(p_fast, p_slow):
        assert a.value.dtype == b.value.dtype == X.dtype
        np.testing.assert_allclose(a.value, b.value, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-14)
    return model


def net(hidden_act, out_act, sizes=(3, 5, 4, 2), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(a, b, rng=rng, dtype=dtype, bias_init="normal"))
        act = out_act if i == len(sizes) - 2 else hidden_act
        if act is not None:
            layers.append(act())
    return Sequential(layers)


ACTS = [Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_activation_matches_the_readable_step(act, dtype):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 3)).astype(dtype)
    y = rng.standard_normal((20, 2)).astype(dtype)
    model = net(act, None, dtype=dtype)
    assert _train_plan(model, MSE()) is not None
    train_both(model, MSE(), SGD(lr=0.1), X, y, batch=8)


@pytest.mark.parametrize("act", ACTS)
def test_activations_that_must_not_work_in_place(act):
    # first layer (its input is the user's data) and after another activation (whose output that
    # activation keeps): these get arrays of their own
    rng = np.random.default_rng(6)
    X = rng.standard_normal((9, 3))
    X_before = X.copy()
    model = Sequential([act(), Dense(3, 4, rng=rng), Sigmoid(), act(), Dense(4, 2, rng=rng)])
    assert [inplace for _, inplace in _train_plan(model, MSE())[2]] == [False, False, True, False, False]
    train_both(model, MSE(), SGD(lr=0.1), X, rng.standard_normal((9, 2)), batch=None)
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("loss,out_act,target", [
    (MSE(), Sigmoid, "float"), (HalfSSE(), Tanh, "float"), (BCE(), Sigmoid, "binary"),
    (BCE(from_logits=True), None, "binary"), (CrossEntropy(), None, "labels"),
    (CrossEntropy(), None, "onehot"),
])
def test_every_loss_matches_the_readable_step(loss, out_act, target):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((16, 3))
    labels = rng.integers(0, 2, 16)
    y = {"float": rng.random((16, 2)), "binary": np.eye(2)[labels], "labels": labels,
         "onehot": np.eye(2)[labels]}[target]
    train_both(net(ReLU, out_act), loss, SGD(lr=0.05), X, y, batch=5)


@pytest.mark.parametrize("optimizer", [
    SGD(lr=0.1), SGD(lr=0.1, momentum=0.9), SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    SGD(lr=0.1, weight_decay=0.1), Adam(lr=0.01), Adam(lr=0.01, weight_decay=0.1),
])
def test_every_optimizer_matches_the_readable_step(optimizer):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    train_both(net(Tanh, None), CrossEntropy(), optimizer, X, y, steps=4, batch=None)


def test_parameters_stay_the_same_arrays_and_gradients_stay_on_the_layer():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((10, 3)), rng.random((10, 2))
    model, loss, opt = net(Sigmoid, Sigmoid), MSE(), SGD(lr=0.1)
    params = model.parameters()
    before = [p.value for p in params]
    train_step(model, loss, opt, params, X, y)
    assert all(p.value is w for p, w in zip(params, before))
    dense = model.layers[0]
    assert dense.dW.shape == dense.W.shape and dense.db.shape == dense.b.shape
    # the gradients left on the layers are those of the readable backward
    model2 = copy.deepcopy(model)
    loss.forward(model2.forward(X), y)
    model2.backward(loss.backward(), need_input_grad=False)
    train_step(model, loss, SGD(lr=0.0), params, X, y)
    np.testing.assert_array_equal(model.layers[0].dW, model2.layers[0].dW)


def test_public_forward_still_returns_new_arrays():
    model = net(ReLU, None)
    X = np.ones((4, 3))
    a, b = model.forward(X), model.forward(X)
    assert a is not b and not np.shares_memory(a, b)


def test_backward_still_returns_input_gradient():
    model = net(Sigmoid, None)
    X = np.random.default_rng(5).standard_normal((4, 3))
    model.forward(X)
    dX = model.backward(np.ones((4, 2)))
    assert dX.shape == X.shape


def test_subclassed_layers_and_losses_take_the_readable_path():
    class MyReLU(ReLU):
        pass

    class MyMSE(MSE):
        pass

    model = Sequential([Dense(3, 2, rng=0), MyReLU()])
    assert _train_plan(model, MSE()) is None
    assert _train_plan(net(ReLU, None), MyMSE()) is None
    X, y = np.ones((4, 3)), np.ones((4, 2))
    train_step(model, MyMSE(), SGD(lr=0.1), model.parameters(), X, y)


def test_plan_follows_changes_to_the_layer_list():
    model, loss = net(Sigmoid, None), MSE()
    first = _train_plan(model, loss)
    assert _train_plan(model, loss) is first
    model.layers.append(Tanh())
    assert _train_plan(model, loss) is not first and len(_train_plan(model, loss)[0]) == len(model.layers)


def test_mixed_precision_falls_back_to_numpys_promotion():
    model = net(Sigmoid, None)                          # float64 weights
    X, y = np.ones((4, 3), np.float32), np.ones((4, 2))
    train_step(model, MSE(), SGD(lr=0.1), model.parameters(), X, y)
    assert model.layers[0].W.dtype == np.float64


@pytest.mark.parametrize("shuffle", [True, False])
def test_iter_batches_covers_every_row_once_without_copying_the_data(shuffle):
    X = np.arange(30.0).reshape(10, 3)
    y = np.arange(10)
    rows, labels = [], []
    for Xb, yb in iter_batches(X, y, 4, shuffle, np.random.default_rng(0)):
        assert len(Xb) == len(yb) <= 4
        rows.append(Xb.copy())
        labels.append(yb.copy())
    rows, labels = np.concatenate(rows), np.concatenate(labels)
    np.testing.assert_array_equal(rows[:, 0] / 3, labels)
    assert sorted(labels) == list(range(10))
    if shuffle:  # the same order as the permutation drawn from the same seed
        np.testing.assert_array_equal(labels, np.random.default_rng(0).permutation(10))


def test_iter_batches_reads_a_memory_mapped_file(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.arange(40.0).reshape(20, 2))
    X = np.load(path, mmap_mode="r")
    y = np.arange(20)
    got = np.concatenate([yb.copy() for _, yb in iter_batches(X, y, 6, True, np.random.default_rng(1))])
    assert sorted(got) == list(range(20))
    model = Sequential([Dense(2, 1, rng=0)])
    model.fit(X, X[:, :1] * 0.01, loss="mse", optimizer=SGD(lr=0.001), epochs=2, batch_size=6, seed=0)



@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("mode", ["r", "r+", "c"])
def test_rows_of_a_memory_mapped_file_are_read_from_the_file(tmp_path, shuffle, mode):
    from handprop._gather import Rows

    path = tmp_path / "X.npy"
    data = np.random.default_rng(2).standard_normal((50, 4)).astype(np.float32)
    np.save(path, data)
    X = np.load(path, mmap_mode=mode)
    y = np.load(path, mmap_mode=mode)[:, 0]  # 1-D, strided: read through the mapping
    assert (Rows(np.asarray(X)).file is not None) == (mode != "c")  # copy-on-write: the mapping
    assert Rows(y).file is None and Rows(X[:, :2]).file is None
    rng = np.random.default_rng(3)
    got = [(Xb.copy(), yb.copy()) for Xb, yb in iter_batches(X, y, 8, shuffle, rng)]
    order = np.random.default_rng(3).permutation(50) if shuffle else np.arange(50)
    np.testing.assert_array_equal(np.concatenate([g[0] for g in got]), data[order])
    np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), data[order, 0])


def test_chunks_cover_a_memory_mapped_array_without_its_mapping(tmp_path):
    from handprop._gather import Rows

    path = tmp_path / "X.npy"
    data = np.random.default_rng(4).standard_normal((70, 3)).astype(np.float32)
    np.save(path, data)
    for X in (np.load(path, mmap_mode="r"), data):
        parts = [c.copy() for c in Rows(X).chunks(16)]
        assert [len(c) for c in parts] == [16, 16, 16, 16, 6]
        np.testing.assert_array_equal(np.concatenate(parts), data)
