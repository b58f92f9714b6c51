"""fit(clip_norm=..., clip_value=...): the gradients are clipped between backward and the update,
as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ do in a PyTorch loop (compared in float64)."""

import numpy as np
import pytest

import handprop as hp


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 3)) * 3
    return X, X @ np.array([[2.0], [-1.0], [0.5]]) + 1.0


@pytest.mark.torch
@pytest.mark.parametrize("clip", [{"clip_norm": 0.5}, {"clip_value": 0.05}, {"clip_norm": 1.0, "clip_value": 0.2}])
def test_fit_with_clipping_follows_torchs_loop(clip):
    torch = pytest.importorskip("torch")
    X, y = data()
    model = hp.mlp([3, 5, 1], "tanh", rng=0)
    W1, b1, W2, b2 = (p.value.copy() for p in model.parameters())
    model.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.1, momentum=0.9), epochs=5, batch_size=8, shuffle=False, **clip)

    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).double()
    with torch.no_grad():
        for layer, W, b in ((net[0], W1, b1), (net[2], W2, b2)):
            layer.weight.copy_(torch.from_numpy(W.T))
            layer.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(5):
        for s in range(0, 24, 8):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(Xt[s:s + 8]), yt[s:s + 8]).backward()
            if "clip_norm" in clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip["clip_norm"])
            if "clip_value" in clip:
                torch.nn.utils.clip_grad_value_(net.parameters(), clip["clip_value"])
            opt.step()
    np.testing.assert_allclose(model.layers[0].W, net[0].weight.detach().numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.layers[2].b, net[2].bias.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_clipping_changes_the_run_and_bad_settings_are_refused_before_training():
    X, y = data()
    plain, clipped = hp.mlp([3, 5, 1], "tanh", rng=0), hp.mlp([3, 5, 1], "tanh", rng=0)
    plain.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.1), epochs=2, seed=0)
    clipped.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.1), epochs=2, seed=0, clip_norm=0.01)
    assert not np.allclose(plain.layers[0].W, clipped.layers[0].W)
    before = clipped.layers[0].W.copy()
    for bad in ({"clip_norm": 0}, {"clip_norm": "1"}, {"clip_value": -1.0}, {"clip_value": float("nan")}):
        with pytest.raises(hp.HandpropValueError, match=f"{next(iter(bad))} must be a positive number"):
            clipped.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.1), epochs=1, **bad)
    np.testing.assert_array_equal(clipped.layers[0].W, before)
