"""Issue 10, "Trust at the edges": the API's errors and the training loop's promises.

One test (or table) per item of the issue, named after it: the error's type and the words of its
message, or a training number against an independent computation written out here.
"""

import copy
import warnings

import numpy as np
import pytest

import handprop as hp
from handprop import metrics

X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y4 = np.array([[0.0], [1.0], [1.0], [0.0]])


def net(seed=0, out="sigmoid"):
    return hp.mlp([2, 3, 1], "tanh", output=out, rng=seed)


# -- item 7: an optimizer is bound to the parameters it first stepped ------------------------------

@pytest.mark.parametrize("make", [lambda: hp.Adam(lr=0.01), lambda: hp.SGD(lr=0.1, momentum=0.9),
                                  lambda: hp.SGD(lr=0.1)])
def test_item07_optimizer_reused_on_another_model_is_refused(make):
    first, second = net(0), net(0)  # same shapes, same weights: only the identity differs
    opt = make()
    first.fit(X4, Y4, optimizer=opt, epochs=3)
    t_before, w_before = opt.t, second.layers[0].W.copy()
    with pytest.raises(hp.HandpropValueError, match=r"bound to the 4 parameters of the model it first "
                       r"stepped.*one optimizer per model; for this one: (Adam|SGD)\(lr="):
        second.fit(X4, Y4, optimizer=opt, epochs=3)
    # refused before anything ran: the other model and the optimizer are untouched
    np.testing.assert_array_equal(second.layers[0].W, w_before)
    assert opt.t == t_before


def test_item07_the_printed_fix_trains_the_other_model():
    first, second = net(0), net(0)
    opt = hp.Adam(lr=0.01)
    first.fit(X4, Y4, optimizer=opt, epochs=2)
    with pytest.raises(hp.HandpropValueError) as info:
        second.fit(X4, Y4, optimizer=opt, epochs=2)
    advice = str(info.value).rsplit("for this one: ", 1)[1]
    fresh = eval(advice, {"Adam": hp.Adam, "SGD": hp.SGD})  # the advice, run as printed
    second.fit(X4, Y4, optimizer=fresh, epochs=2)
    assert fresh.t == 2 and fresh.lr == 0.01


def test_item07_same_model_keeps_its_optimizer_state_across_fit_calls():
    model = net(0)
    opt = hp.Adam(lr=0.01)
    model.fit(X4, Y4, optimizer=opt, epochs=3)
    model.fit(X4, Y4, optimizer=opt, epochs=2)
    assert opt.t == 5  # continued: the moments and step count are this model's


def test_item07_hand_written_loop_refuses_the_second_model():
    a, b, loss = net(0), net(1), hp.MSE()
    opt = hp.SGD(lr=0.1, momentum=0.9)
    for _ in range(2):
        loss.forward(a(X4), Y4)
        a.backward(loss.backward())
        opt.step(a.parameters())
    loss.forward(b(X4), Y4)
    b.backward(loss.backward())
    w = b.layers[0].W.copy()
    with pytest.raises(hp.HandpropValueError, match="another model's"):
        opt.step(b.parameters())
    np.testing.assert_array_equal(b.layers[0].W, w)


def test_item07_a_deep_copy_is_unbound_and_keeps_the_state():
    a, b = net(0), net(0)
    opt = hp.Adam(lr=0.01)
    a.fit(X4, Y4, optimizer=opt, epochs=2)
    twin = copy.deepcopy(opt)
    b.fit(X4, Y4, optimizer=twin, epochs=1)
    assert twin.t == 3 and opt.t == 2


# -- item 8: the epoch loss of mini-batches is the sample-weighted mean of the batch losses ----------

def _hand_batch_losses(W1, b1, W2, b2, X, y, lr, batch, epochs):
    """Dense-Tanh-Dense, MSE, plain SGD, batches in order; the math written out, no handprop.
    Returns, for every epoch, the list of ``(batch loss before its update, rows in the batch)``."""
    epochs_out = []
    for _ in range(epochs):
        batches = []
        for start in range(0, len(X), batch):
            xb, yb = X[start:start + batch], y[start:start + batch]
            h = np.tanh(xb @ W1 + b1)
            out = h @ W2 + b2
            batches.append((np.mean((out - yb) ** 2), len(xb)))
            d_out = 2 * (out - yb) / out.size
            d_h = (d_out @ W2.T) * (1 - h ** 2)
            W2, b2 = W2 - lr * h.T @ d_out, b2 - lr * d_out.sum(0)
            W1, b1 = W1 - lr * xb.T @ d_h, b1 - lr * d_h.sum(0)
        epochs_out.append(batches)
    return epochs_out


class _OwnTanh(hp.Tanh):
    """A layer of the user's own: ``fit`` runs the readable loop (``train_step``), not the fused one."""


def _problem():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((23, 2))
    y = X[:, :1] - 2 * X[:, 1:] + 3.0  # an offset: the early batches' losses are the large ones
    weights = rng.standard_normal((2, 4)), rng.standard_normal(4), rng.standard_normal((4, 1)), rng.standard_normal(1)
    return X, y, weights


@pytest.mark.parametrize("activation", [hp.Tanh, _OwnTanh], ids=["fused-engine", "step-engine"])
def test_item08_minibatch_epoch_loss_is_the_sample_weighted_mean(activation):
    X, y, (W1, b1, W2, b2) = _problem()
    model = hp.Sequential([hp.Dense(2, 4, weight=W1, bias=b1), activation(), hp.Dense(4, 1, weight=W2, bias=b2)])
    history = model.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.05), epochs=3, batch_size=5, shuffle=False)
    by_hand = _hand_batch_losses(W1, b1, W2, b2, X, y, lr=0.05, batch=5, epochs=3)
    # 23 rows in batches of 5: four of 5 and a last one of 3, which weighs 3/23, not 1/5
    assert [n for _, n in by_hand[0]] == [5, 5, 5, 5, 3]
    weighted = [sum(v * n for v, n in batches) / 23 for batches in by_hand]
    plain = [np.mean([v for v, _ in batches]) for batches in by_hand]
    assert min(abs(w - p) for w, p in zip(weighted, plain)) > 1e-3  # the oracle tells them apart
    np.testing.assert_allclose(history.loss, weighted, rtol=1e-12)


def test_item08_full_batch_epoch_loss_is_the_one_batch_loss():
    X, y, (W1, b1, W2, b2) = _problem()
    model = hp.Sequential([hp.Dense(2, 4, weight=W1, bias=b1), hp.Tanh(), hp.Dense(4, 1, weight=W2, bias=b2)])
    history = model.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.05), epochs=2)
    by_hand = _hand_batch_losses(W1, b1, W2, b2, X, y, lr=0.05, batch=23, epochs=2)
    np.testing.assert_allclose(history.loss, [b[0][0] for b in by_hand], rtol=1e-12)
