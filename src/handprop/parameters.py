"""A layer's parameters: ``Parameter`` (a named array of a layer, and its gradient) and
``FlatParameters`` (every weight of a model as views into one flat array, so that an optimizer
updates them all in one call)."""

import gc
import operator

import numpy as np

from ._safety import check_memory


class Parameter:
    """A handle on one trainable array of a layer and its gradient.

    It looks the arrays up by name on every access, so it stays right even if you assign a new
    array to ``layer.W``. Optimizers update ``value`` in place.
    """

    __slots__ = ("layer", "name", "grad_name")

    def __init__(self, layer, name):
        self.layer = layer
        self.name = name
        self.grad_name = "d" + name

    @property
    def value(self):
        return getattr(self.layer, self.name)

    @property
    def grad(self):
        return getattr(self.layer, self.grad_name)

    def __repr__(self):
        return f"Parameter({type(self.layer).__name__}.{self.name}, shape={self.value.shape})"


def _holds_another_view(layer, weights):
    """Whether ``layer`` holds one of its ``weights`` (arrays) a second time, or an array sharing
    memory with one, besides the weight's own attribute. The attributes' values are read with
    ``gc.get_referents`` (each value once per attribute), not ``vars(layer)``: building a layer's
    ``__dict__`` would make every later ``self.W`` in its methods several times slower (CPython 3.11
    keeps an object's attributes without a dict until someone asks for one)."""
    others = [v for v in gc.get_referents(layer) if type(v) is np.ndarray]
    for w in weights:  # the weight's own attribute
        own = next((i for i, a in enumerate(others) if a is w), None)
        if own is not None:
            del others[own]
    return any(np.may_share_memory(a, w) for a in others for w in weights)


class FlatParameters:
    """Parameters whose arrays are views into one flat array (``value``), their gradients views
    into another (``grad``): an optimizer updates them all in one call, a rollback is one copy.

    The layers still read and write ``W``, ``b``, ``dW``, ``db``: those names now point into the
    flat arrays. ``of(params)`` makes one (None where the parameters cannot share an array).
    """

    def __init__(self, params, dtype):
        total = sum(p.value.size for p in params)
        check_memory(f"the model's weights and gradients in one array each (2 × {total:,} {dtype})",
                     2 * total * np.dtype(dtype).itemsize, "use fewer units")
        self.value, self.grad = np.empty(total, dtype), np.zeros(total, dtype)
        self.params = params
        self.layers, self.names, self.grad_names = ([p.layer for p in params], [p.name for p in params],
                                                     [p.grad_name for p in params])
        self.weight_views, self.grad_views = self.cut(self.value), self.cut(self.grad)
        for p, view, grad in zip(params, self.weight_views, self.grad_views):
            g = getattr(p.layer, p.grad_name, None)
            view[...] = p.value
            if g is not None and np.shape(g) == view.shape:
                grad[...] = g
            setattr(p.layer, p.name, view)
            setattr(p.layer, p.grad_name, grad)
        self.primary, self.spare, self.spare_views = self.value, None, None
        # While fit steps (``double_buffered``), plain SGD writes the next weights into ``spare`` and
        # swaps: the weights from before the last update are kept without a copy (``swapped``).
        self.double_buffered = self.swapped = False

    def cut(self, array):
        """``array`` (shaped like ``value``) as views shaped like each parameter, in order."""
        views, at = [], 0
        for p in self.params:
            views.append(array[at:at + p.value.size].reshape(p.value.shape))
            at += p.value.size
        return views

    def next_array(self):
        """The array an update writes the next weights into: ``value`` itself (in place), or while
        double-buffered the spare one (made on first use)."""
        if not self.double_buffered:
            return self.value
        if self.spare is None:
            self.spare = np.empty_like(self.value)
            self.spare_views = self.cut(self.spare)
        return self.spare

    def swap(self):
        """The spare array becomes the weights (the layers' ``W``, ``b`` point into it); the
        weights become the spare. After an update: it holds the weights from before the update."""
        self.value, self.spare = self.spare, self.value
        self.weight_views, self.spare_views = self.spare_views, self.weight_views
        # layer.W = view, for every parameter (map: the loop runs in C, which a tiny network feels)
        list(map(setattr, self.layers, self.names, self.weight_views))
        self.swapped = True  # the spare holds the weights from before (a restore sets it back to False)

    def settle(self):
        """Put the weights back into the first array (one copy if they are in the spare), so that
        ``layer.W`` is the same array before and after ``fit``."""
        if self.value is not self.primary:
            self.primary[...] = self.value
            self.swap()
        self.swapped = False

    @classmethod
    def of(cls, params):
        """``FlatParameters`` over ``params`` (from ``parameters()``), or None if they are not
        all arrays of one float type, or if two share memory (tied weights stay as they are)."""
        if not params or any(type(p) is not Parameter or type(p.value) is not np.ndarray for p in params):
            return None
        dtypes = {p.value.dtype for p in params}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            return None
        values = [p.value for p in params]
        if any(np.may_share_memory(a, b) for i, a in enumerate(values) for b in values[i + 1:]):
            return None
        # A layer that also keeps a weight under another name (``self.kernel = self.W``) would read
        # the old array while the update writes the flat one: such a model keeps its own arrays.
        layers = {id(p.layer): p.layer for p in params}
        if any(_holds_another_view(layer, [p.value for p in params if p.layer is layer]) for layer in layers.values()):
            return None
        return cls(params, dtypes.pop())

    def held(self):
        """Whether every layer still holds its view into ``value`` (nobody assigned a new array to
        ``W``; ``copy.deepcopy`` of a model copies each view on its own)."""
        return all(getattr(layer, name) is view and view.base is self.value
                   for layer, name, view in zip(self.layers, self.names, self.weight_views))

    def gather_grads(self):
        """Bring into ``grad`` any gradient a layer set as a new array (its ``backward`` rebinds ``dW``
        instead of writing in place): the update then reads every layer's own gradient."""
        # every layer's dW still the view (checked in C, as in swap): nothing to gather
        if all(map(operator.is_, map(getattr, self.layers, self.grad_names), self.grad_views)):
            return
        for layer, grad_name, grad in zip(self.layers, self.grad_names, self.grad_views):
            g = getattr(layer, grad_name)
            if g is not grad:
                grad[...] = g
                setattr(layer, grad_name, grad)
