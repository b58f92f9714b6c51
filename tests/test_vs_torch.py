"""Whole models against PyTorch autograd in float64: outputs, input gradients, every dW/db, and
optimizer trajectories against torch.optim."""

import itertools
import zlib

import numpy as np
import pytest

import handprop as hp
from _lazy import F, torch

pytestmark = pytest.mark.torch  # compares with PyTorch (tests/_lazy.py)

ACTIVATIONS = {
    hp.Sigmoid: lambda z: torch.sigmoid(z),
    hp.Tanh: lambda z: torch.tanh(z),
    hp.ReLU: lambda z: torch.relu(z),
    hp.LeakyReLU: lambda z: F.leaky_relu(z, 0.01),
    hp.Softmax: lambda z: torch.softmax(z, dim=1),
    hp.Identity: lambda z: z,
}
LOSSES = ["mse", "halfsse", "bce", "bce_logits", "ce"]


def build(depth, activation, loss_name, rng):
    """A random handprop model and its targets; the output layer is what the loss expects."""
    sizes = [int(s) for s in rng.integers(1, 6, size=depth + 1)]
    sizes[0] = max(sizes[0], 2)
    if loss_name == "ce":
        sizes[-1] = max(sizes[-1], 2)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(hp.Dense(n_in, n_out, init="normal", bias_init="normal", rng=rng))
        if i < depth - 1:
            layers.append(activation())
    if loss_name == "bce":
        layers.append(hp.Sigmoid())
    elif loss_name in ("mse", "halfsse"):
        layers.append(activation())
    n = int(rng.integers(1, 8))
    if loss_name == "ce":
        y = rng.integers(0, sizes[-1], size=n)
    elif loss_name.startswith("bce"):
        y = rng.integers(0, 2, size=(n, sizes[-1])).astype(float)
    else:
        y = rng.standard_normal((n, sizes[-1]))
    X = rng.standard_normal((n, sizes[0]))
    return hp.Sequential(layers), X, y


def torch_loss(name, out, y):
    if name == "mse":
        return F.mse_loss(out, y)
    if name == "halfsse":
        return 0.5 * ((out - y) ** 2).sum()
    if name == "bce":
        return F.binary_cross_entropy(out, y)
    if name == "bce_logits":
        return F.binary_cross_entropy_with_logits(out, y)
    return F.cross_entropy(out, y)


def torch_forward(model, params, x):
    """Run the handprop model's architecture in torch with the given (W, b) tensors."""
    out, k = x, 0
    for layer in model.layers:
        if isinstance(layer, hp.Dense):
            out = out @ params[k] + params[k + 1]  # torch.nn.Linear computes x @ weight.T + bias
            k += 2
        else:
            out = ACTIVATIONS[type(layer)](out)
    return out


def torch_params(model):
    return [torch.tensor(p.value, dtype=torch.float64, requires_grad=True) for p in model.parameters()]


def torch_target(name, y):
    return torch.tensor(y, dtype=torch.int64 if name == "ce" else torch.float64)


CASES = list(itertools.product([1, 2, 3, 4], list(ACTIVATIONS), LOSSES))
# A bare run checks every activation and loss at depths 1 and 2; --runslow (CI) adds depths 3 and 4.
PARAMS = [pytest.param(d, a, l, id=f"{d}-{a.__name__}-{l}", marks=pytest.mark.slow if d > 2 else ())
          for d, a, l in CASES]


@pytest.mark.parametrize("depth,activation,loss_name", PARAMS)
def test_outputs_and_gradients_match_autograd(depth, activation, loss_name):
    rng = np.random.default_rng(zlib.crc32(f"{depth}-{activation.__name__}-{loss_name}".encode()))
    model, X, y = build(depth, activation, loss_name, rng)
    loss = hp.losses.get(loss_name)
    hp.losses.check_pairing(model, loss)

    out = model(X)
    value = loss.forward(out, y)
    grad_X = model.backward(loss.backward())

    params = torch_params(model)
    x_t = torch.tensor(X, requires_grad=True)
    out_t = torch_forward(model, params, x_t)
    loss_t = torch_loss(loss_name, out_t, torch_target(loss_name, y))
    loss_t.backward()

    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-10)
    assert abs(value - loss_t.item()) < 1e-10
    np.testing.assert_allclose(grad_X, x_t.grad.numpy(), rtol=0, atol=1e-10)
    for p, t in zip(model.parameters(), params):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=0, atol=1e-10,
                                   err_msg=f"{p!r} differs from autograd")


OPTIMIZERS = [
    ("sgd-momentum", lambda: hp.SGD(lr=0.1, momentum=0.9), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("sgd-nesterov-decay", lambda: hp.SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("adam", lambda: hp.Adam(lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
    ("adam-decay", lambda: hp.Adam(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
     lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
]


@pytest.mark.parametrize("name,make_hp,make_torch", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
@pytest.mark.parametrize("loss_name", ["mse", "ce"])
def test_optimizer_trajectories_match_torch_optim(name, make_hp, make_torch, loss_name):
    rng = np.random.default_rng(7)
    model, X, y = build(3, hp.Tanh, loss_name, rng)
    loss, opt = hp.losses.get(loss_name), make_hp()
    params = torch_params(model)
    opt_t = make_torch(params)
    x_t, y_t = torch.tensor(X), torch_target(loss_name, y)
    for step in range(10):
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step(model.parameters())

        opt_t.zero_grad()
        torch_loss(loss_name, torch_forward(model, params, x_t), y_t).backward()
        opt_t.step()
        for p, t in zip(model.parameters(), params):
            np.testing.assert_allclose(p.value, t.detach().numpy(), rtol=0, atol=1e-10,
                                       err_msg=f"step {step}: {p!r}")
