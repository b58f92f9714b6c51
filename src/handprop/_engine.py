"""The engine's fast path for ``training.train_step``: which layers and losses have one, and how a
model's step is laid out (see ``train_plan``).

Each of handprop's own layers has ``_train_forward(x, inplace)`` and ``_train_backward(grad,
need_input_grad)`` beside its readable ``forward``/``backward``: the same operations, into arrays
reused from step to step; the fused losses have ``_train_value_and_grad(pred, target)``.
"""

from . import losses
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .layers import Dense


_FAST_LAYERS = (Dense, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Identity)
_FUSED_LOSSES = (losses.MSE, losses.HalfSSE, losses.CrossEntropy)


def train_plan(model, loss):
    """How ``train_step`` runs ``model`` fast, or None when it must use forward/backward.

    Only handprop's own layer and loss classes (not subclasses: they may override the math) have
    the ``_train_forward``/``_train_backward`` methods. Their arrays can be reused and overwritten
    because nothing outside the step holds them. An activation may work in place on its input when
    that input is a Dense output (Dense keeps its input, never its output); every gradient in
    backward belongs to the step, so activations multiply it in place. The plan is kept on the
    model and made again when its layers or the loss change.
    """
    plan = model.__dict__.get("_train_plan")
    if plan is not None and plan[0] == model.layers and plan[1] is loss:
        return plan
    layers = list(model.layers)
    if (not layers or any(type(layer) not in _FAST_LAYERS for layer in layers)
            or type(loss) not in _FUSED_LOSSES + (losses.BCE,)):
        model.__dict__.pop("_train_plan", None)
        return None
    forward = [(layer._train_forward, i > 0 and type(layers[i - 1]) is Dense)
               for i, layer in enumerate(layers)]
    backward = [(layer._train_backward, i > 0) for i, layer in reversed(list(enumerate(layers)))]
    value_and_grad = loss._train_value_and_grad if type(loss) in _FUSED_LOSSES else None
    plan = model.__dict__["_train_plan"] = (layers, loss, forward, backward, value_and_grad)
    return plan
