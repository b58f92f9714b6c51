"""PyTorch in: ``from_torch(module)`` builds a handprop ``Sequential`` from a ``torch.nn.Sequential``.

Each PyTorch layer becomes its handprop twin, with the same numbers::

    nn.Linear(in, out)        -> Dense(in, out, weight=linear.weight.T, bias=linear.bias)
    nn.ReLU, nn.LeakyReLU(s)  -> ReLU(), LeakyReLU(alpha=s)
    nn.Sigmoid, nn.Tanh       -> Sigmoid(), Tanh()
    nn.Softmax(dim=-1 or 1)   -> Softmax()
    nn.Identity               -> Identity()

so the handprop model's outputs and gradients equal PyTorch's. Anything else (a convolution, dropout,
a Linear without bias, a module of your own) is refused by name: a model that computed something
else in silence would be worse than none. PyTorch is imported only when this function runs.
"""

import numpy as np

from . import activations
from .errors import HandpropValueError
from .layers import Dense
from .model import Sequential

__all__ = ["from_torch"]

_KNOWN = "Linear (with bias), ReLU, LeakyReLU, Sigmoid, Tanh, Softmax(dim=-1) and Identity"


def _array(tensor, where):
    if tensor.dtype.is_complex or not tensor.dtype.is_floating_point or str(tensor.dtype) not in (
            "torch.float32", "torch.float64"):
        raise HandpropValueError(f"from_torch: {where} has dtype {tensor.dtype}; handprop takes float32 or "
                                 "float64 (convert with module.float() or module.double())")
    return tensor.detach().cpu().numpy()


def _layer(i, m, nn):
    """The handprop layer for PyTorch module ``m`` at index ``i``, or an error naming it."""
    t = type(m)
    if t is nn.Linear:
        if m.bias is None:
            raise HandpropValueError(f"from_torch: layer {i} ({m!r}) has no bias, but handprop's Dense always "
                                     "has one (and would train it); build it with bias=True")
        W, b = _array(m.weight, f"layer {i} ({m!r}).weight"), _array(m.bias, f"layer {i} ({m!r}).bias")
        return Dense(m.in_features, m.out_features, weight=W.T, bias=b, dtype=W.dtype)
    simple = {nn.ReLU: activations.ReLU, nn.Sigmoid: activations.Sigmoid, nn.Tanh: activations.Tanh,
              nn.Identity: activations.Identity}
    if t in simple:
        return simple[t]()
    if t is nn.LeakyReLU:
        return activations.LeakyReLU(alpha=m.negative_slope)
    if t is nn.Softmax and m.dim in (1, -1):
        return activations.Softmax()
    why = " (handprop's Softmax works over each row: dim=-1 or 1)" if t is nn.Softmax else ""
    raise HandpropValueError(f"from_torch: layer {i} ({m!r}) has no handprop equivalent{why}; "
                             f"handprop builds {_KNOWN}")


def from_torch(module):
    """A handprop ``Sequential`` computing what the ``torch.nn.Sequential`` ``module`` computes.

    The weights are copied (torch's ``Linear.weight`` is ``(out, in)``, handprop's ``W`` is
    ``(in, out)``); the model's dtype is that of the weights (float32 or float64).
    """
    from torch import nn  # PyTorch is optional: imported only here

    if not isinstance(module, nn.Sequential):
        raise HandpropValueError(f"from_torch: module must be a torch.nn.Sequential, got {type(module).__name__}; "
                                 "handprop models are sequences of layers")
    layers = [_layer(i, m, nn) for i, m in enumerate(module)]
    if not any(isinstance(layer, Dense) for layer in layers):
        raise HandpropValueError("from_torch: the Sequential has no Linear layer, so its input width is unknown")
    dtypes = {np.dtype(layer.W.dtype) for layer in layers if isinstance(layer, Dense)}
    if len(dtypes) > 1:
        raise HandpropValueError(f"from_torch: the Linear layers mix dtypes {sorted(map(str, dtypes))}; "
                                 "convert the module with module.float() or module.double()")
    return Sequential(layers)
