"""``handprop xor``: blog 000's XOR network, trained exactly as the blog does unless a flag says otherwise."""

import argparse

import numpy as np

from ..errors import HandpropError
from .common import add_teaching_flags, after_training, seed_arg

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
XOR_Y = np.array([[0], [1], [1], [0]])


def add_model_flags(p, hidden=2, activation="sigmoid", loss="mse", optimizer="sgd", lr=0.1,
                     epochs=10000, seed=42, init="normal"):
    p.add_argument("--hidden", type=int, default=hidden, help=f"hidden units (default {hidden})")
    p.add_argument("--activation", default=activation,
                   choices=["sigmoid", "tanh", "relu", "leaky_relu"], help=f"hidden activation (default {activation})")
    p.add_argument("--loss", default=loss, choices=["mse", "halfsse", "bce", "ce"], help=f"loss (default {loss})")
    p.add_argument("--optimizer", default=optimizer, choices=["sgd", "adam"], help=f"optimizer (default {optimizer})")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr})")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--epochs", type=int, default=epochs, help=f"full-batch epochs (default {epochs})")
    p.add_argument("--seed", type=seed_arg, default=seed,
                   help=f"seed of the legacy np.random.seed-style generator (default {seed})")
    p.add_argument("--init", default=init,
                   choices=["normal", "uniform", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform"],
                   help=f"weight initializer (default {init}: the blog's np.random.randn)")


def build_xor(args):
    """Blog 000's network and data, changed only where a flag says so.

    Returns (model, loss, optimizer, X, y). With the defaults this is the blog exactly: seed 42,
    W1 = randn(2, 2), W2 = randn(2, 1) from the legacy generator, zero biases, sigmoid, MSE, lr 0.1.
    """
    from ..activations import get as activation
    from ..layers import Dense
    from ..limits import check_training
    from ..losses import get as get_loss
    from ..model import Sequential
    from ..optimizers import SGD, Adam

    if args.lr == 0:  # lr 0 never moves a weight: refuse it rather than diagnose it (negative: SGD refuses)
        raise HandpropError(f"--lr must be positive, got {args.lr:g} (the blog's is 0.1)")
    n_out = 2 if args.loss == "ce" else 1
    check_training([2, args.hidden, n_out], 4, 4, args.epochs, optimizer_slots=2,
                   fix="use a smaller --hidden or fewer --epochs")  # before any weight is drawn
    rng = np.random.RandomState(args.seed)  # same draws as the blog's np.random.seed(42)
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
    from ..activations import Softmax

    out = model.predict(X)
    return Softmax().forward(out)[:, 1:] if loss.name == "ce" else out


def _interpret(p):
    if 0.3 <= p <= 0.7:
        return "~0.5"
    return str(int(round(p)))


def cmd_xor(args):
    model, loss, optimizer, X, y = build_xor(args)
    recorder = _gradient_recorder()
    history = model.fit(X, y, loss=loss, optimizer=optimizer, epochs=args.epochs, log_every=args.log_every,
                        callbacks=[recorder])
    pred = xor_probabilities(model, loss, X)
    print("\nFinal predictions:")
    print(np.array2string(pred, formatter={"float_kind": lambda v: f"{v:.4f}"}))
    print()
    print("| Input  | Expected | Predicted | Interpreted |")
    print("|--------|----------|-----------|-------------|")
    for x, target, p in zip(X, XOR_Y.ravel(), pred.ravel()):
        cell = f"[{x[0]}, {x[1]}]"
        print(f"| {cell:<6} | {target:<8} | {p:<9.4f} | {_interpret(p):<11} |")
    return after_training(args, model, loss, X, y, history, recorder, retry=lambda s: _xor_solved_with(args, s))


def _gradient_recorder():
    from ..doctor import GradientRecorder  # a callback: records ‖∂L/∂W‖ per layer after each step

    return GradientRecorder()



def _xor_solved_with(args, settings):
    """Retrain XOR with ``settings`` changed (silently); True if every prediction is within 0.3."""
    trial = argparse.Namespace(**{**vars(args), **settings})
    model, loss, optimizer, X, y = build_xor(trial)
    model.fit(X, y, loss=loss, optimizer=optimizer, epochs=trial.epochs)
    return bool(np.all(np.abs(xor_probabilities(model, loss, X).ravel() - XOR_Y.ravel()) < 0.3))



def add_xor_command(sub):
    """Register ``handprop xor``."""
    p = sub.add_parser("xor", help="train blog 000's XOR network (exactly, by default)",
                       description="Train blog 000's 2-2-1 sigmoid network on XOR. With no flags this "
                                   "reproduces the blog's printed numbers exactly.")
    add_model_flags(p)
    p.add_argument("--log-every", type=int, default=1000, help="print the loss every N epochs (default 1000)")
    add_teaching_flags(p)
    p.set_defaults(func=cmd_xor)
