"""Dense(l1=, l2=): penalty = l1·Σ|W| + l2·ΣW² on the weights (not the bias), Keras' convention.
Its gradient is in dW as backward leaves it, its value in the loss History records, its terms in
explain; equal to a PyTorch loop that adds the same penalty to its loss (float64)."""

import numpy as np
import pytest

import handprop as hp


def data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 3))
    return X, np.tanh(X @ np.array([[1.0], [-2.0], [0.5]]))


def model(l1=0.02, l2=0.1):
    return hp.Sequential([hp.Dense(3, 4, rng=0, l1=l1, l2=l2), hp.Tanh(), hp.Dense(4, 1, rng=1, l2=l2)])


def test_penalty_and_its_gradient_by_hand():
    m = model()
    W1, W2 = m.layers[0].W, m.layers[2].W
    assert m.penalty() == pytest.approx(0.02 * np.abs(W1).sum() + 0.1 * (W1 ** 2).sum() + 0.1 * (W2 ** 2).sum())
    X, y = data()
    plain = model(0.0, 0.0)
    for net in (m, plain):
        loss = hp.MSE()
        loss.forward(net(X), y)
        net.backward(loss.backward())
    np.testing.assert_allclose(m.layers[0].dW, plain.layers[0].dW + 0.02 * np.sign(W1) + 2 * 0.1 * W1, rtol=1e-12)
    np.testing.assert_array_equal(m.layers[0].db, plain.layers[0].db)  # the bias is not penalized


@pytest.mark.torch
def test_fit_with_penalties_follows_torch():
    torch = pytest.importorskip("torch")
    X, y = data()
    m = model()
    start = [p.value.copy() for p in m.parameters()]
    history = m.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.05), epochs=8, batch_size=5, shuffle=False)

    lin1, lin2 = torch.nn.Linear(3, 4).double(), torch.nn.Linear(4, 1).double()
    with torch.no_grad():
        for lin, W, b in ((lin1, start[0], start[1]), (lin2, start[2], start[3])):
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD([*lin1.parameters(), *lin2.parameters()], lr=0.05)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    losses = []
    for _ in range(8):
        total = 0.0
        for s in range(0, 20, 5):
            opt.zero_grad()
            out = lin2(torch.tanh(lin1(Xt[s:s + 5])))
            loss = (torch.nn.functional.mse_loss(out, yt[s:s + 5]) + 0.02 * lin1.weight.abs().sum()
                    + 0.1 * (lin1.weight ** 2).sum() + 0.1 * (lin2.weight ** 2).sum())
            loss.backward()
            opt.step()
            total += loss.item() * 5
        losses.append(total / 20)
    np.testing.assert_allclose(m.layers[0].W, lin1.weight.detach().numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.layers[2].b, lin2.bias.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history.loss, losses, rtol=1e-10)


def test_penalties_are_saved_gradchecked_and_explained(tmp_path):
    X, y = data()
    m = model()
    m.save(tmp_path / "m.npz", loss=hp.MSE())
    back = hp.load(tmp_path / "m.npz")
    assert (back.layers[0].l1, back.layers[0].l2, back.layers[2].l2) == (0.02, 0.1, 0.1)
    assert hp.gradcheck(m, hp.MSE(), X[:3], y[:3]).passed
    text = str(hp.explain(m, hp.MSE(), X[:3], y[:3], lr=0.1))
    assert "∂L/∂W1 = Xᵀ·δ1 + 0.02·sign(W1) + 2·0.1·W1" in text
    assert "+ Σ_layers (l1·Σ|W| + l2·ΣW²)" in text and "the penalty is" in text


@pytest.mark.parametrize("kw, words", [({"l1": -0.1}, "l1 must be a number >= 0, got -0.1"),
                                       ({"l2": "0.1"}, "l2 must be a number >= 0, got '0.1'")])
def test_bad_penalties_are_refused(kw, words):
    with pytest.raises(hp.HandpropValueError, match=words):
        hp.Dense(2, 3, **kw)


def test_fit_asks_for_the_penalty_only_when_the_model_has_one(monkeypatch):
    """``Sequential.penalized()`` (asked once per epoch) spares a model without l1/l2 the call to
    ``penalty()`` at every step; with one, every step's loss includes it."""
    calls = []
    original = hp.Sequential.penalty
    monkeypatch.setattr(hp.Sequential, "penalty", lambda self: calls.append(1) or original(self))
    X, y = data()
    plain = model(0.0, 0.0)
    assert not plain.penalized()
    plain.fit(X, y, optimizer=hp.SGD(lr=0.1), epochs=3, batch_size=5)
    assert calls == []
    penalized = model(0.0, 0.1)
    assert penalized.penalized() and penalized.layers[0].penalized
    history = penalized.fit(X, y, optimizer=hp.SGD(lr=0.1), epochs=3, batch_size=5)
    assert len(calls) == 3 * 4  # every step of 3 epochs of 4 batches

    class OwnPenalty(hp.Identity):
        def penalty(self):
            return 1.0

    assert hp.Sequential([hp.Dense(3, 1, rng=0), OwnPenalty()]).penalized()  # asked, whatever it returns
    assert history.loss[0] > 0
