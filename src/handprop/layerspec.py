"""A network written as one line: the ``--layers`` grammar of ``handprop train``.

Layers are separated by commas and applied left to right; each is a name, and some take settings
after a colon. Sizes that follow from the layer before (Dense's inputs, Conv1D's input channels,
BatchNorm1d's channels) are never written: they are read from the shape each layer gives.

=========================  ==================================================================
``dense:N``                Dense(previous size, N); ``dense`` alone: as many units as outputs
``conv:OxK[/S][+P][@D]``   Conv1D(previous channels, O, K, stride=S, padding=P, dilation=D)
``maxpool:K[/S]``          MaxPool1D(K, stride=S) (S defaults to K)
``avgpool:K[/S]``          AvgPool1D(K, stride=S)
``reshape:AxB[xC...]``     Reshape((A, B, ...)): rows of 40 become ``reshape:1x40``, one channel
``flatten``                Flatten(): (C, L) samples back to rows of C·L features
``dropout:P``              Dropout(P), P a probability in [0, 1]
``batchnorm``              BatchNorm1d(previous features or channels)
``relu`` ``tanh`` ...      an activation: sigmoid, tanh, relu, leaky_relu[:ALPHA], softmax, identity
=========================  ==================================================================

For example, a small CNN for rows of 40 values and 10 classes::

    reshape:1x40,conv:25x5/2,relu,conv:25x3/2,relu,flatten,dense:10

The last layer must give ``n_outputs`` values: ``dense:10`` (or ``dense``) for 10 classes.
"""

import re

from . import activations
from .conv import AvgPool1D, Conv1D, MaxPool1D
from .dropout import Dropout
from .errors import HandpropValueError, ShapeError
from .initializers import as_rng
from .layers import Dense
from .norm import BatchNorm1d
from .shape import Flatten, Reshape

GRAMMAR = ("dense:N, conv:OxK[/S][+P][@D], maxpool:K[/S], avgpool:K[/S], reshape:AxB, flatten, "
           "dropout:P, batchnorm, " + ", ".join(n for n in activations.ACTIVATIONS if n != "linear"))

_CONV = re.compile(r"(\d+)x(\d+)(?:/(\d+))?(?:\+(\d+))?(?:@(\d+))?")
_POOL = re.compile(r"(\d+)(?:/(\d+))?")
_DIMS = re.compile(r"\d+(?:x\d+)*")


class LayerSpecError(HandpropValueError):
    """A ``--layers`` item that cannot be read or does not fit the layer before it."""


def _match(pattern, args, form):
    m = pattern.fullmatch(args or "")
    if m is None:
        raise LayerSpecError(f"expected {form}")
    return [None if g is None else int(g) for g in m.groups()]


def _number(args, form):
    try:
        return float(args)
    except (TypeError, ValueError):
        raise LayerSpecError(f"expected {form}") from None


def _channels(n, name):
    if not isinstance(n, tuple) or len(n) != 2:
        raise LayerSpecError(f"{name} takes samples shaped (channels, length), but the layer before gives "
                             f"{n}; put reshape:CxL before it (e.g. reshape:1x{n})")
    return n[0]


def _build(name, args, n, n_outputs, rng):
    """One layer from its name and settings, ``n`` the sample shape the layer before it gives."""
    if name == "dense":
        if isinstance(n, tuple):
            raise LayerSpecError(f"dense takes rows of features, but the layer before gives samples shaped {n}; "
                                 "put flatten before it")
        units = n_outputs if args is None else _match(re.compile(r"(\d+)"), args, "dense:N (units)")[0]
        return Dense(n, units, rng=rng)
    if name == "conv":
        O, K, S, P, D = _match(_CONV, args, "conv:OxK[/S][+P][@D], e.g. conv:25x5/2")
        return Conv1D(_channels(n, "conv"), O, K, stride=S or 1, padding=P or 0, dilation=D or 1, rng=rng)
    if name in ("maxpool", "avgpool"):
        K, S = _match(_POOL, args, f"{name}:K[/S], e.g. {name}:2")
        _channels(n, name)
        return (MaxPool1D if name == "maxpool" else AvgPool1D)(K, stride=S)
    if name == "reshape":
        if not _DIMS.fullmatch(args or ""):
            raise LayerSpecError("expected reshape:AxB (sizes joined by x), e.g. reshape:1x40")
        return Reshape(tuple(int(v) for v in args.split("x")))
    if name == "dropout":
        return Dropout(_number(args, "dropout:P, a probability such as dropout:0.2"), rng=rng)
    if args is not None and name not in ("leaky_relu",):
        raise LayerSpecError(f"{name} takes no settings")
    if name == "flatten":
        return Flatten()
    if name == "batchnorm":
        return BatchNorm1d(n[0] if isinstance(n, tuple) else n)
    if name == "leaky_relu" and args is not None:
        return activations.LeakyReLU(_number(args, "leaky_relu:ALPHA, e.g. leaky_relu:0.1"))
    if name in activations.ACTIVATIONS:
        return activations.ACTIVATIONS[name]()
    raise LayerSpecError(f"unknown layer {name!r}; the layers are: {GRAMMAR}")


def parse_layers(spec, n_inputs, n_outputs, rng=None):
    """The layers ``spec`` describes for rows of ``n_inputs`` features and ``n_outputs`` outputs.

    Every error names the item (its number and its column in ``spec``) and what would be read.
    ``rng`` (a Generator, RandomState, int or None) draws the initial weights, in order.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise LayerSpecError(f"--layers: expected a comma-separated list of layers such as "
                             f"'dense:32,relu,dense:{n_outputs}', got {spec!r}")
    rng = as_rng(rng)
    built, n, column = [], n_inputs, 1
    for k, raw in enumerate(spec.split(","), start=1):
        token = raw.strip()
        name, _, args = token.partition(":")
        where = f"--layers item {k} {token!r} (column {column})"
        column += len(raw) + 1
        try:
            layer = _build(name.strip().lower(), args.strip() if _ else None, n, n_outputs, rng)
            n = layer.output_size(n)
        except (HandpropValueError, ShapeError) as exc:
            raise LayerSpecError(f"{where}: {exc}") from None
        built.append(layer)
    if n != n_outputs:
        raise LayerSpecError(f"--layers {spec!r} gives {n} outputs per sample, but the data needs {n_outputs}; "
                             f"end with dense:{n_outputs}")
    return built
