"""Optimizers: turn gradients into weight updates, exactly as ``torch.optim`` does.

Use them in ``fit`` or in a loop you write yourself::

    opt = SGD(lr=0.1)
    for epoch in range(1000):
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step(model.parameters())

Gradients are not accumulated (each backward overwrites ``dW``), so there is no ``zero_grad``.
An optimizer is bound to the parameters it first steps (``bind``): its state is theirs, so
stepping another model's parameters raises; make one optimizer per model.
State (momentum buffers, Adam moments) lives in lists aligned with the parameter list, and
parameters are updated in place, so ``layer.W`` is the same array before and after a step.

The updates are computed with ``out=`` into one scratch array per parameter (also in a list
aligned with the parameters): a step allocates nothing, and the numbers are those of the
formulas in the docstrings, operation for operation.
"""

import math
import numbers

import numpy as np

from ._arguments import flag
from ._compact import Compact
from .activations import Scalar
from .errors import HandpropValueError
from .parameters import FlatParameters, Parameter


def _check(name, value, low, high=None, low_inclusive=True, high_inclusive=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise HandpropValueError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    ok_low = value >= low if low_inclusive else value > low
    ok_high = high is None or (value <= high if high_inclusive else value < high)
    if not (ok_low and ok_high and math.isfinite(value)):
        lo = "[" if low_inclusive else "("
        hi = "inf)" if high is None else (f"{high}]" if high_inclusive else f"{high})")
        raise HandpropValueError(f"{name} must be in {lo}{low}, {hi}, got {value!r}")
    return value


def _value_and_grad(p):
    """``(p.value, p.grad)``; for handprop's Parameter without its two property calls."""
    if type(p) is Parameter:
        layer = p.layer
        return getattr(layer, p.name), getattr(layer, p.grad_name)
    return p.value, p.grad


class Optimizer(Compact):
    """Base class: subclasses implement ``update(i, w, g)`` for parameter ``i``."""

    _checked = None  # the list of parameters last found to be the bound ones (see ``bind``)
    _flat_lists_ = None  # step_flat's one-element state lists (see ``_flat_lists``)
    _scratch = _decayed = None  # working arrays, one per parameter (made by ``_init_state``)

    def __init__(self, lr):
        self.lr = _check(f"{type(self).__name__}: lr", lr, 0.0)
        self.n_params, self.t = None, 0  # parameters bound, steps taken
        self._bound = None    # the parameters' owners, [(layer, name), ...]: see ``bind``
        self._checked = None  # the list of parameters last found to be the bound ones

    def bind(self, params):
        """Bind this optimizer to ``params`` (a model's ``parameters()``), or check that it is.

        An optimizer's state (momentum, Adam's moments, the step count) belongs to the parameters
        it first stepped; stepping another model's parameters would carry it over in silence, so
        that raises. ``fit`` and ``step`` bind; a copy (``copy.deepcopy``) is not bound.
        """
        owners = [(getattr(p, "layer", p), getattr(p, "name", None)) for p in params]
        bound = getattr(self, "_bound", None)
        if bound is None:
            self._bound = owners
        elif len(bound) != len(owners) or any(a is not b or m != n for (a, m), (b, n) in zip(bound, owners)):
            raise HandpropValueError(
                f"{type(self).__name__} is bound to the {len(bound)} parameters of the model it first "
                f"stepped, and these {len(owners)} parameters are another model's: its state (momentum, "
                f"moments, step count) is not theirs. Use one optimizer per model; for this one: {self!r}")
        self._checked = params

    def __getstate__(self):
        # copy.copy and copy.deepcopy keep the state but not the binding: a copy binds anew.
        state = dict(self.__dict__)
        state.pop("_bound", None)
        state.pop("_checked", None)
        return state

    def step(self, params):
        """Apply one update to every parameter of ``params``: ``model.parameters()``, or
        ``model.flat_parameters()`` (the same numbers; see ``step_flat``)."""
        if isinstance(params, FlatParameters):
            params.gather_grads()
            return self.step_flat(params)
        self._count_step(params)
        update = self.update
        for i, p in enumerate(params):
            update(i, *_value_and_grad(p))

    def step_flat(self, flat):
        """One update of the parameters of ``flat`` (``FlatParameters``: all the weights in one
        array, all the gradients in another). handprop's rules are elementwise, so their own
        ``update`` runs once over the flat arrays, the state (momentum, moments) flat too, its
        per-parameter lists views into it; an ``update`` of your own gets the parameters one by one."""
        if type(self).update not in _ELEMENTWISE:
            return self.step(flat.params)
        self._count_step(flat.params)
        # (getattr/setattr, not ``self.__dict__``: see parameters._holds_another_view)
        kept = {name: getattr(self, name) for name in (*self.state_names, "_scratch", "_decayed")}
        lists, fresh = self._flat_lists(flat, kept)
        before = [lists[name][0] for name in self.state_names]
        for name, one in lists.items():  # the flat arrays as parameter 0 of one-element state lists, for ``update``
            setattr(self, name, one)
        try:
            self.update(0, flat.value, flat.grad)
        finally:
            for name, per_parameter in kept.items():
                setattr(self, name, per_parameter)
        for name, old in zip(self.state_names, before):  # the per-parameter lists (checkpoints) view the flat state
            array = lists[name][0]
            if array is not None and (array is not old or name in fresh):
                kept[name][:] = flat.cut(array)

    def _flat_lists(self, flat, kept):
        """The one-element lists ``update`` reads in ``step_flat`` (kept from step to step), and the
        names of the state arrays made anew: a flat state array stays while the per-parameter lists
        in ``kept`` are its views; else (a checkpoint loaded, a reset) their values are joined into
        a new one, or it is None before the first step (the rule then starts its state itself)."""
        lists = self._flat_lists_
        if lists is None:
            lists = self._flat_lists_ = {name: [None] for name in kept}
        fresh = set()
        for name in self.state_names:
            held, arrays = lists[name], kept[name]
            if held[0] is not None and held[0].shape == flat.value.shape and _views_of(arrays, held[0]):
                continue
            fresh.add(name)
            held[0] = None if any(a is None for a in arrays) else \
                np.concatenate([np.ravel(a) for a in arrays]).astype(flat.value.dtype, copy=False)
        return lists, fresh

    def _count_step(self, params):
        if params is not self._checked:  # (the same list as last time was checked then)
            self.bind(params)
            if self.n_params is not None and self.n_params != len(params):
                raise HandpropValueError(
                    f"{type(self).__name__} was stepped with {self.n_params} parameters before and "
                    f"{len(params)} now: use one optimizer per model"
                )
        if self.n_params is None:
            self.n_params = len(params)
            self._init_state(params)
        self.t += 1

    def _init_state(self, params):
        self.t = 0
        self._scratch = [None] * len(params)
        self._decayed = [None] * len(params)

    @staticmethod
    def _array(arrays, i, w):
        """``arrays[i]``, a scratch array shaped like ``w`` (made on first use)."""
        tmp = arrays[i]
        if tmp is None or tmp.shape != w.shape or tmp.dtype != w.dtype:
            tmp = arrays[i] = np.empty_like(w)
        return tmp

    def _with_decay(self, i, w, g):
        """``g + weight_decay · W`` (torch's L2 penalty), into its own scratch array."""
        decayed = self._array(self._decayed, i, w)
        return np.add(g, np.multiply(w, self.weight_decay, out=decayed), out=decayed)

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
        n = self.n_params or 0
        self._scratch, self._decayed = [None] * n, [None] * n  # working arrays, not state: made anew
        self._checked = None  # the next step checks its parameters against the loaded count

    def reset(self):
        """Forget the state (momentum, moments); the next step starts afresh (on the same model)."""
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
        self.nesterov = flag("SGD: nesterov", nesterov)
        self.own_update = type(self).update is not SGD.update  # a subclass's rule: never the plain one
        if self.nesterov and self.momentum == 0:
            raise HandpropValueError("SGD: nesterov=True needs a momentum > 0")

    state_names = ("velocity",)
    velocity = None  # one array per parameter (made by ``_init_state``)

    def _init_state(self, params):
        super()._init_state(params)
        self.velocity = [None] * len(params)

    def step(self, params):
        if isinstance(params, FlatParameters):  # (Optimizer.step's first lines: one call less per step)
            params.gather_grads()
            return self.step_flat(params)
        if not self._plain():
            return super().step(params)
        # plain SGD, the update below without a method call per parameter (tiny networks feel it)
        self._count_step(params)
        lr, scratch = self.lr, self._scratch
        for i, p in enumerate(params):
            w, g = _value_and_grad(p)
            tmp = scratch[i]
            if tmp is None or tmp.shape != w.shape or tmp.dtype != w.dtype:
                tmp = self._array(scratch, i, w)
            w -= np.multiply(g, lr, out=tmp)  # W −= lr · dW

    def _plain(self):
        """Whether the update is ``W −= lr · dW`` (no momentum, no decay, ``update`` not overridden)."""
        return not (self.momentum or self.weight_decay or self.own_update)

    _lr_scalar = None  # lr as 0-d arrays (see activations.Scalar), made again when lr changes
    _flat_scratch = None

    def step_flat(self, flat):
        if self.momentum or self.weight_decay or self.own_update:  # not plain (``_plain``, inline)
            return super().step_flat(flat)
        self._count_step(flat.params)
        lr = self._lr_scalar
        if lr is None or lr.value != self.lr:  # the first step, or a schedule changed lr
            lr = self._lr_scalar = Scalar(self.lr)
        w, nxt = flat.value, flat.next_array()  # nxt: w itself, or while fit steps the spare array
        lr = lr[w.dtype]
        if nxt is not w:
            # W' = W − lr · dW, into the spare array; the weights from before stay in w: fit's rollback
            np.subtract(w, np.multiply(flat.grad, lr, out=nxt), out=nxt)
            return flat.swap()
        tmp = self._flat_scratch
        if tmp is None or tmp.shape != w.shape or tmp.dtype is not w.dtype:
            tmp = self._flat_scratch = np.empty_like(w)
        # W −= lr · dW, for every parameter of the model at once
        w -= np.multiply(flat.grad, lr, out=tmp)

    def update(self, i, w, g):
        tmp = self._scratch[i]
        if tmp is None or tmp.shape != w.shape or tmp.dtype != w.dtype:
            tmp = self._array(self._scratch, i, w)
        if self.weight_decay:
            g = self._with_decay(i, w, g)
        if self.momentum:
            v = self.velocity[i]
            if v is None:
                v = self.velocity[i] = g.copy()
            else:
                v *= self.momentum
                v += g
            if self.nesterov:
                g = np.add(g, np.multiply(v, self.momentum, out=tmp), out=tmp)  # g + momentum · v
            else:
                g = v
        w -= np.multiply(g, self.lr, out=tmp)  # W −= lr · g

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
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise HandpropValueError(f"Adam: betas must be a pair of numbers (beta1, beta2), got {betas!r}; "
                                     "e.g. betas=(0.9, 0.999)") from None
        self.betas = (_check("Adam: betas[0]", b1, 0.0, 1.0), _check("Adam: betas[1]", b2, 0.0, 1.0))
        self.eps = _check("Adam: eps", eps, 0.0)
        self.weight_decay = _check("Adam: weight_decay", weight_decay, 0.0)

    state_names = ("m", "v")
    m = v = None  # the moments, one array per parameter each (made by ``_init_state``)

    def _init_state(self, params):
        super()._init_state(params)
        self.m = [np.zeros_like(p.value) for p in params]
        self.v = [np.zeros_like(p.value) for p in params]

    def update(self, i, w, g):
        b1, b2 = self.betas
        tmp = self._array(self._scratch, i, w)
        if self.weight_decay:
            g = self._with_decay(i, w, g)
        m, v = self.m[i], self.v[i]
        m *= b1
        m += np.multiply(g, 1 - b1, out=tmp)                       # m = β1 m + (1 − β1) g
        v *= b2
        v += np.multiply(np.multiply(g, g, out=tmp), 1 - b2, out=tmp)  # v = β2 v + (1 − β2) g²
        step_size = self.lr / (1 - b1 ** self.t)
        denom = np.sqrt(v, out=tmp)
        denom /= math.sqrt(1 - b2 ** self.t)
        denom += self.eps                                          # sqrt(v) / sqrt(1 − β2^t) + eps
        w -= np.multiply(np.divide(m, denom, out=tmp), step_size, out=tmp)

    def __repr__(self):
        return f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}, weight_decay={self.weight_decay})"


_ELEMENTWISE = (SGD.update, Adam.update)  # rules that give the same numbers over one flat array


def _views_of(arrays, array):
    return all(a is not None and a.base is array for a in arrays)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(optimizer, lr=None):
    """An optimizer from its name (``"sgd"``, ``"adam"``) or an Optimizer instance (then ``lr``,
    which would do nothing, must not be given: the instance has its own)."""
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise HandpropValueError(
                f"lr={lr!r} would do nothing: the optimizer {optimizer!r} has its own learning rate; set it "
                f"there, e.g. optimizer={type(optimizer).__name__}(lr={lr!r}), or pass optimizer by name")
        return optimizer
    try:
        cls = OPTIMIZERS[str(optimizer).lower()]
    except KeyError:
        raise HandpropValueError(
            f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
        ) from None
    return cls() if lr is None else cls(lr=lr)
