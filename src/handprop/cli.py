"""The ``handprop`` command line: ``main(argv) -> exit code``.

Exit codes: 0 success, 2 bad input or usage (printed as ``error: <message>``), 1 internal fault.
"""

import argparse
import os
import sys

import numpy as np

from . import __version__
from .errors import HandpropError

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
XOR_Y = np.array([[0], [1], [1], [0]])


def _add_model_flags(p, hidden=2, activation="sigmoid", loss="mse", optimizer="sgd", lr=0.1,
                     epochs=10000, seed=42, init="normal"):
    p.add_argument("--hidden", type=int, default=hidden, help=f"hidden units (default {hidden})")
    p.add_argument("--activation", default=activation,
                   choices=["sigmoid", "tanh", "relu", "leaky_relu"], help=f"hidden activation (default {activation})")
    p.add_argument("--loss", default=loss, choices=["mse", "halfsse", "bce", "ce"], help=f"loss (default {loss})")
    p.add_argument("--optimizer", default=optimizer, choices=["sgd", "adam"], help=f"optimizer (default {optimizer})")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr})")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--epochs", type=int, default=epochs, help=f"full-batch epochs (default {epochs})")
    p.add_argument("--seed", type=int, default=seed,
                   help=f"seed of the legacy np.random.seed-style generator (default {seed})")
    p.add_argument("--init", default=init,
                   choices=["normal", "uniform", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform"],
                   help=f"weight initializer (default {init}: the blog's np.random.randn)")


def build_xor(args):
    """Blog 000's network and data, changed only where a flag says so.

    Returns (model, loss, optimizer, X, y). With the defaults this is the blog exactly: seed 42,
    W1 = randn(2, 2), W2 = randn(2, 1) from the legacy generator, zero biases, sigmoid, MSE, lr 0.1.
    """
    from .activations import get as activation
    from .layers import Dense
    from .losses import get as get_loss
    from .model import Sequential
    from .optimizers import SGD, Adam

    rng = np.random.RandomState(args.seed)  # same draws as the blog's np.random.seed(42)
    n_out = 2 if args.loss == "ce" else 1
    layers = [Dense(2, args.hidden, init=args.init, rng=rng), activation(args.activation),
              Dense(args.hidden, n_out, init=args.init, rng=rng)]
    if args.loss != "ce":
        layers.append(activation("sigmoid"))
    model = Sequential(layers)
    loss = get_loss(args.loss)
    if args.optimizer == "adam":
        optimizer = Adam(lr=args.lr)
    else:
        optimizer = SGD(lr=args.lr, momentum=args.momentum)
    y = XOR_Y.ravel() if args.loss == "ce" else XOR_Y
    return model, loss, optimizer, XOR_X, y


def xor_probabilities(model, loss, X):
    """P(output = 1) for each row: the sigmoid output, or softmax's class-1 column for CE."""
    out = model.predict(X)
    if loss.name == "ce":
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True))[:, 1:]
    return out


def _interpret(p):
    if 0.3 <= p <= 0.7:
        return "~0.5"
    return str(int(round(p)))


def cmd_xor(args):
    model, loss, optimizer, X, y = build_xor(args)
    model.fit(X, y, loss=loss, optimizer=optimizer, epochs=args.epochs, log_every=args.log_every)
    pred = xor_probabilities(model, loss, X)
    print("\nFinal predictions:")
    print(np.array2string(pred, formatter={"float_kind": lambda v: f"{v:.4f}"}))
    print()
    print("| Input  | Expected | Predicted | Interpreted |")
    print("|--------|----------|-----------|-------------|")
    for x, target, p in zip(X, XOR_Y.ravel(), pred.ravel()):
        cell = f"[{x[0]}, {x[1]}]"
        print(f"| {cell:<6} | {target:<8} | {p:<9.4f} | {_interpret(p):<11} |")
    return 0


def make_parser():
    parser = argparse.ArgumentParser(prog="handprop", description="Backpropagation written by hand in NumPy.")
    parser.add_argument("--version", action="version", version=f"handprop {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("xor", help="train blog 000's XOR network (exactly, by default)",
                       description="Train blog 000's 2-2-1 sigmoid network on XOR. With no flags this "
                                   "reproduces the blog's printed numbers exactly.")
    _add_model_flags(p)
    p.add_argument("--log-every", type=int, default=1000, help="print the loss every N epochs (default 1000)")
    p.set_defaults(func=cmd_xor)

    from .cli_data import add_commands  # train, evaluate, predict, summary

    add_commands(sub)
    return parser


def main(argv=None):
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except HandpropError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `handprop ... | head`: the reader left, which is not an error
        # Python's documented recipe: point stdout at devnull so the exit-time flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug in handprop, not the user's input
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
