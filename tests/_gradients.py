"""Finite-difference checks of a layer's or a loss's backward, with a random upstream gradient."""

import numpy as np

from handprop.gradcheck import numerical_gradient, relative_error

TOLERANCE = 1e-7


def check_layer_gradients(layer, x, rng, tol=TOLERANCE):
    """Compare a layer's backward with central differences of ``sum(forward(x) * G)``.

    ``G`` is a random upstream gradient: with all ones, some wrong backwards (a sign-flipped
    softmax) would pass. Checks the input gradient and every parameter gradient.
    """
    out = layer.forward(x)
    G = rng.standard_normal(out.shape)
    grad_x = layer.backward(G)
    f = lambda: float(np.sum(layer.forward(x) * G))
    errors = {"x": relative_error(grad_x, numerical_gradient(f, x))}
    layer.forward(x)
    layer.backward(G)
    analytic = {name: getattr(layer, "d" + name).copy() for name in layer.param_names}
    for name in layer.param_names:
        errors[name] = relative_error(analytic[name], numerical_gradient(f, getattr(layer, name)))
    for name, err in errors.items():
        assert err < tol, f"{type(layer).__name__}: gradient of {name} is off (relative error {err:.2e})"
    return errors


def check_loss_gradient(loss, pred, target, tol=TOLERANCE):
    loss.forward(pred, target)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(pred, target), pred)
    err = relative_error(analytic, numeric)
    assert err < tol, f"{loss!r}: gradient off (relative error {err:.2e})"
    return err
