"""Whole models with the new layers (Reshape, Conv1D, pools, Flatten) trained by ``fit`` against the
same models in PyTorch, float64: every parameter after 20 SGD steps and after 20 Adam steps."""

import numpy as np
import pytest

import handprop as hp
from _lazy import nn, torch
from handprop.conv import AvgPool1D, Conv1D, MaxPool1D
from handprop.shape import Flatten, Reshape

pytestmark = pytest.mark.torch  # compares with PyTorch (tests/_lazy.py)


def cnn(rng):
    """rows (N, 40) -> (N, 1, 40) -> conv 4x5/2 (18) -> relu -> maxpool 2 (9) -> conv 3x3 pad 1 dil 2 (7)
    -> tanh -> avgpool 3/2 (3) -> flatten (9) -> dense 3."""
    return hp.Sequential([
        Reshape((1, 40)), Conv1D(1, 4, 5, stride=2, rng=rng), hp.ReLU(), MaxPool1D(2),
        Conv1D(4, 3, 3, padding=1, dilation=2, rng=rng), hp.Tanh(), AvgPool1D(3, stride=2),
        Flatten(), hp.Dense(9, 3, rng=rng)])


def torch_copy(model):
    """The same network in torch, its weights copied (Linear.weight is Dense's W transposed)."""
    mods = []
    for layer in model.layers:
        if isinstance(layer, Reshape):
            mods.append(nn.Unflatten(1, layer.shape))
        elif isinstance(layer, Conv1D):
            conv = nn.Conv1d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                             padding=layer.padding, dilation=layer.dilation).double()
            conv.weight.data, conv.bias.data = torch.tensor(layer.W), torch.tensor(layer.b)
            mods.append(conv)
        elif isinstance(layer, hp.Dense):
            lin = nn.Linear(layer.n_in, layer.n_out).double()
            lin.weight.data, lin.bias.data = torch.tensor(layer.W.T.copy()), torch.tensor(layer.b)
            mods.append(lin)
        else:
            mods.append({hp.ReLU: nn.ReLU, hp.Tanh: nn.Tanh, Flatten: nn.Flatten}.get(type(layer), lambda: None)()
                        or (nn.MaxPool1d(layer.kernel_size, layer.stride) if isinstance(layer, MaxPool1D)
                            else nn.AvgPool1d(layer.kernel_size, layer.stride)))
    return nn.Sequential(*mods)


def torch_params_as_handprop(tmodel):
    out = []
    for m in tmodel:
        if isinstance(m, nn.Conv1d):
            out += [m.weight.detach().numpy(), m.bias.detach().numpy()]
        elif isinstance(m, nn.Linear):
            out += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("make_hp,make_torch", [
    (lambda: hp.SGD(lr=0.1, momentum=0.9), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    (lambda: hp.Adam(lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
], ids=["sgd-momentum", "adam"])
def test_cnn_trained_by_fit_equals_torch_over_20_steps(make_hp, make_torch):
    rng = np.random.default_rng(5)
    model = cnn(rng)
    X, y = rng.standard_normal((12, 40)), rng.integers(0, 3, size=12)
    tmodel = torch_copy(model)
    opt_t = make_torch(tmodel.parameters())
    losses = []
    for step in range(20):  # full batches: one step per epoch
        opt_t.zero_grad()
        loss = nn.functional.cross_entropy(tmodel(torch.tensor(X)), torch.tensor(y))
        loss.backward()
        opt_t.step()
        losses.append(loss.item())
    history = model.fit(X, y, loss="cross_entropy", optimizer=make_hp(), epochs=20, batch_size=12, shuffle=False)
    np.testing.assert_allclose(history.history["loss"][0], losses[0], rtol=0, atol=1e-10)
    for p, t in zip(model.parameters(), torch_params_as_handprop(tmodel)):
        np.testing.assert_allclose(p.value, t, rtol=0, atol=1e-10, err_msg=repr(p))
    np.testing.assert_allclose(model.predict(X), tmodel(torch.tensor(X)).detach().numpy(), rtol=0, atol=1e-10)
