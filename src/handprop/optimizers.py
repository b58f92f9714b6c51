"""Optimizers: turn gradients into weight updates, exactly as ``torch.optim`` does.

Use them in ``fit`` or in a loop you write yourself::

    opt = SGD(lr=0.1)
    for epoch in range(1000):
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step(model.parameters())

Gradients are not accumulated (each backward overwrites ``dW``), so there is no ``zero_grad``.
State (momentum buffers, Adam moments) lives in lists aligned with the parameter list, and
parameters are updated in place, so ``layer.W`` is the same array before and after a step.
"""

import math

import numpy as np

from .errors import HandpropValueError


def _check(name, value, low, high=None, low_inclusive=True, high_inclusive=False):
    value = float(value)
    ok_low = value >= low if low_inclusive else value > low
    ok_high = high is None or (value <= high if high_inclusive else value < high)
    if not (ok_low and ok_high and math.isfinite(value)):
        lo = "[" if low_inclusive else "("
        hi = "inf)" if high is None else (f"{high}]" if high_inclusive else f"{high})")
        raise HandpropValueError(f"{name} must be in {lo}{low}, {hi}, got {value!r}")
    return value


class Optimizer:
    """Base class: subclasses implement ``update(i, w, g)`` for parameter ``i``."""

    def __init__(self, lr):
        self.lr = _check(f"{type(self).__name__}: lr", lr, 0.0)
        self.n_params = None

    def step(self, params):
        """Apply one update to every parameter of ``params`` (from ``model.parameters()``)."""
        if self.n_params is None:
            self.n_params = len(params)
            self._init_state(params)
        elif self.n_params != len(params):
            raise HandpropValueError(
                f"{type(self).__name__} was stepped with {self.n_params} parameters before and "
                f"{len(params)} now: use one optimizer per model"
            )
        self.t += 1
        for i, p in enumerate(params):
            self.update(i, p.value, p.grad)

    def _init_state(self, params):
        self.t = 0

    # Names of the per-parameter state lists (aligned with the parameters) that checkpoints keep.
    state_names = ()

    def state_dict(self):
        """Arrays and counters to save in a checkpoint: ``t``, ``lr``, ``n_params`` and the state lists."""
        d = {"t": getattr(self, "t", 0), "lr": self.lr, "n_params": self.n_params}
        for name in self.state_names:
            d[name] = getattr(self, name, None)
        return d

    def load_state_dict(self, d):
        """Take back ``state_dict()``'s values (copies), so that the next step continues exactly."""
        self.lr = float(d["lr"])
        self.n_params = None if d["n_params"] is None else int(d["n_params"])
        self.t = int(d["t"])
        for name in self.state_names:
            value = d.get(name)
            setattr(self, name, None if value is None else [None if a is None else np.array(a) for a in value])

    def reset(self):
        """Forget the state (momentum, moments); the next step starts afresh."""
        self.n_params = None


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD`` (dampening 0)::

        g = dW + weight_decay · W
        v = momentum · v + g              (v = g on the first step)
        W = W − lr · (g + momentum · v)   if nesterov
        W = W − lr · v                    otherwise (plain SGD when momentum = 0: W −= lr · dW)
    """

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr)
        self.momentum = _check("SGD: momentum", momentum, 0.0, 1.0)
        self.weight_decay = _check("SGD: weight_decay", weight_decay, 0.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise HandpropValueError("SGD: nesterov=True needs a momentum > 0")

    state_names = ("velocity",)

    def _init_state(self, params):
        super()._init_state(params)
        self.velocity = [None] * len(params)

    def update(self, i, w, g):
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum:
            v = self.velocity[i]
            if v is None:
                v = self.velocity[i] = g.copy()
            else:
                v *= self.momentum
                v += g
            g = g + self.momentum * v if self.nesterov else v
        w -= self.lr * g

    def __repr__(self):
        return (f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay})")


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (weight decay added to the gradient, no AMSGrad)::

        g = dW + weight_decay · W
        m = β1 · m + (1 − β1) · g
        v = β2 · v + (1 − β2) · g²
        W = W − lr / (1 − β1^t) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(lr)
        b1, b2 = betas
        self.betas = (_check("Adam: betas[0]", b1, 0.0, 1.0), _check("Adam: betas[1]", b2, 0.0, 1.0))
        self.eps = _check("Adam: eps", eps, 0.0)
        self.weight_decay = _check("Adam: weight_decay", weight_decay, 0.0)

    state_names = ("m", "v")

    def _init_state(self, params):
        super()._init_state(params)
        self.m = [np.zeros_like(p.value) for p in params]
        self.v = [np.zeros_like(p.value) for p in params]

    def update(self, i, w, g):
        b1, b2 = self.betas
        if self.weight_decay:
            g = g + self.weight_decay * w
        m, v = self.m[i], self.v[i]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        step_size = self.lr / (1 - b1 ** self.t)
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** self.t) + self.eps
        w -= step_size * (m / denom)

    def __repr__(self):
        return f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}, weight_decay={self.weight_decay})"


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(optimizer, lr=None):
    """An optimizer from its name (``"sgd"``, ``"adam"``) or an Optimizer instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    try:
        cls = OPTIMIZERS[str(optimizer).lower()]
    except KeyError:
        raise HandpropValueError(
            f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
        ) from None
    return cls() if lr is None else cls(lr=lr)
