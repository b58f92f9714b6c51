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
    from .activations import get as activation
    from .layers import Dense
    from .limits import check_training
    from .losses import get as get_loss
    from .model import Sequential
    from .optimizers import SGD, Adam

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
    from .activations import Softmax

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


# -- teaching: explain, gradcheck, the training doctor and pictures ---------------------------------
def _gradient_recorder():
    from .doctor import GradientRecorder  # a callback: records ‖∂L/∂W‖ per layer after each step
    return GradientRecorder()


def add_teaching_flags(p):
    """--plot and --no-doctor, for commands that train."""
    p.add_argument("--plot", metavar="PATH", type=_plot_path, help="save a picture of the run: loss curve, "
                   "decision boundary (2-D inputs) or predictions against targets (regression), and the network "
                   "(needs the 'plot' extra: matplotlib)")
    p.add_argument("--no-doctor", action="store_true", help="do not diagnose a run that ends badly")


def _plot_path(text):
    """argparse type of --plot: matplotlib is checked when the command line is read, before training."""
    from .plots import require_matplotlib

    try:
        require_matplotlib()
    except HandpropError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def after_training(args, model, loss, X, y, history, recorder=None, retry=None, optimizer=None, held_out=None):
    """Print the training doctor's findings when the run ended badly; draw --plot. Returns 0.

    Each fix is printed as a command line: the command that ran, with the fix's flags. ``retry(settings)
    -> bool``, when given, retrains with a fix's settings and says whether that solves the task; only
    fixes that do are recommended.
    """
    if not getattr(args, "no_doctor", False):
        from .doctor import diagnose

        diagnosis = diagnose(model, X, y, loss=loss, history=history, gradients=recorder,
                             optimizer=optimizer if optimizer is not None else getattr(recorder, "optimizer", None),
                             held_out=held_out)
        if not diagnosis.ok:
            print()
            print(diagnosis)
            print_advice(args, [s for f in diagnosis for s in f.suggest], retry)
    if getattr(args, "plot", None):
        from .plots import training_figure

        try:
            training_figure(model, history, X, y, path=args.plot, loss=loss)
        except OSError as exc:
            raise HandpropError(f"--plot {args.plot}: cannot write the picture ({exc.strerror or exc})") from None
        print(f"\nsaved {args.plot}")
    return 0


def print_advice(args, suggestions, retry=None):
    """The doctor's fixes as command lines of the command that ran; fixes this command cannot take
    as flags, and fixes that change nothing, are left out."""
    lines = {}
    for s in suggestions:
        line = command_line(args, s)
        if line and line not in lines:
            lines[line] = s
    if not lines:
        return
    if retry is not None:  # XOR is small: try each fix before recommending it
        works = [line for line, s in lines.items() if retry(s)]
        head = ("try (each retrained here, and it solves the task):" if works else
                "none of these fixes, retrained here, solves the task:")
        shown = works or list(lines)
    else:
        head, shown = "try:", list(lines)
    print("\n".join([head] + [f"  {line}" for line in shown]))


def _xor_solved_with(args, settings):
    """Retrain XOR with ``settings`` changed (silently); True if every prediction is within 0.3."""
    trial = argparse.Namespace(**{**vars(args), **settings})
    model, loss, optimizer, X, y = build_xor(trial)
    model.fit(X, y, loss=loss, optimizer=optimizer, epochs=trial.epochs)
    return bool(np.all(np.abs(xor_probabilities(model, loss, X).ravel() - XOR_Y.ravel()) < 0.3))


_FLAGS = {"hidden": "--hidden", "init": "--init", "optimizer": "--optimizer", "lr": "--lr",
          "activation": "--activation"}
_TRAIN_FLAGS = {"hidden": "--layers", "optimizer": "--optimizer", "lr": "--lr", "activation": "--activation",
                "weight_decay": "--weight-decay"}


def _flag_values(args, suggestion):
    """``[(flag, text)]`` for ``suggestion`` in the command that ran, or None if it cannot take one."""
    train = args.command == "train"
    names = _TRAIN_FLAGS if train else _FLAGS
    if args.command not in ("train", "xor") or not all(k in names for k in suggestion):
        return None
    out = []
    for k, v in suggestion.items():
        if train and k == "hidden":  # --layers: the last hidden layer widened
            sizes = str(args.layers or "128,64").split(",")
            v = ",".join(sizes[:-1] + [str(v)])
        out.append((names[k], f"{v:g}" if isinstance(v, float) else str(v)))
    return out


def command_line(args, suggestion):
    """The command that ran (``args.argv``) with ``suggestion``'s flags set; '' when this command has no
    flag for one of them, or when every one is set to that value already."""
    import shlex

    argv = list(getattr(args, "argv", None) or [args.command])
    if suggestion == {"standardize": True}:  # train scales unless told not to: drop --no-scale
        return "handprop " + shlex.join([a for a in argv if a != "--no-scale"]) if "--no-scale" in argv else ""
    flags = _flag_values(args, suggestion)
    if flags is None:
        return ""
    changed = False
    for flag, value in flags:
        hits = [i for i, a in enumerate(argv[:-1]) if a == flag]
        current = argv[hits[-1] + 1] if hits else _current(args, flag)
        changed |= current != value
        if hits:
            argv[hits[-1] + 1] = value
        else:
            argv += [flag, value]
    return "handprop " + shlex.join(argv) if changed else ""


def _current(args, flag):
    value = getattr(args, flag[2:].replace("-", "_"), None)
    return f"{value:g}" if isinstance(value, float) else (None if value is None else str(value))


def _load_model_and_data(args):
    """A saved model (``--model``, read by handprop.io) and a data file (``--data``), or XOR.

    Returns ``(model, loss, optimizer, X, y)`` with ``X`` and ``y`` as the network sees them
    (standardised, labels as class indices); ``args.raw_X`` keeps the rows as the file holds them.
    """
    if args.data and not args.model:
        raise HandpropError("--data needs --model (a model saved by `handprop train`)")
    if not args.model:
        model, loss, optimizer, X, y = build_xor(args)
        if args.epochs:  # train first, then explain the next step
            model.fit(X, y, loss=loss, optimizer=optimizer, epochs=args.epochs, log_every=args.log_every)
        args.raw_X = None
        return model, loss, optimizer, X, y
    from .cli_teach import load_saved

    return load_saved(args)


def cmd_explain(args):
    from .explain import explain

    model, loss, optimizer, X, y = _load_model_and_data(args)
    if args.model:  # the optimizer the file records (SGD with --lr if it records none)
        raw = args.raw_X if getattr(model.info, "x_scaler", None) is not None else None
        ex = explain(model, loss, X, y, lr=args.lr, optimizer=optimizer, raw_X=raw)
    else:
        plain_sgd = args.optimizer == "sgd" and not args.momentum
        ex = explain(model, loss, X, y, lr=args.lr, optimizer=None if plain_sgd else optimizer)
    render = {"text": ex.to_text, "markdown": ex.to_markdown, "html": ex.to_html}[args.format]
    page = render(full=args.full)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(page)
        except OSError as exc:
            raise HandpropError(f"--output {args.output}: cannot write ({exc.strerror or exc})") from None
        print(f"saved {args.output}")
    else:
        print(page, end="" if page.endswith("\n") else "\n")
    return 0


def cmd_gradcheck(args):
    from .gradcheck import gradcheck

    model, loss, _, X, y = _load_model_and_data(args)
    report = gradcheck(model, loss, X, y, h=args.h, atol=args.atol, rtol=args.rtol, tol=args.tol)
    print(report)
    return 0 if report.passed else 1


def add_teaching_commands(sub):
    """Register `explain` and `gradcheck`; both take xor's flags, or --model and --data."""
    for name, func, help_text in (
            ("explain", cmd_explain, "one training step written out factor by factor, with numbers"),
            ("gradcheck", cmd_gradcheck, "compare backprop with finite differences, layer by layer")):
        p = sub.add_parser(name, help=help_text, description=help_text + ". By default on blog 000's "
                           "XOR network (same flags as `handprop xor`), or on --model with --data.")
        _add_model_flags(p, epochs=0)
        p.add_argument("--log-every", type=int, help="with --epochs: print the loss every N epochs")
        p.add_argument("--model", metavar="PATH", help="a model saved by `handprop train`")
        p.add_argument("--data", metavar="PATH", help="inputs and targets (.csv or .npz) for --model")
        p.add_argument("--target", help="target column (CSV) or array (.npz) of --data")
        p.add_argument("--rows", type=_positive, help="use only the first N rows of --data")
        if name == "explain":
            p.add_argument("--format", choices=["text", "markdown", "html"], default="text",
                           help="text for the terminal, Markdown with LaTeX, or one HTML page")
            p.add_argument("--full", action="store_true", help="print big arrays in full")
            p.add_argument("-o", "--output", metavar="PATH", help="write to a file instead of the terminal")
        else:
            p.add_argument("--h", type=float, default=1e-6,
                           help="finite-difference step, times max(1, |θ|) for each entry (default 1e-6)")
            p.add_argument("--atol", type=float, default=1e-6, help="absolute part of the pass rule "
                           "|a − n| ≤ atol·max(1, |f|) + rtol·|n| (default 1e-6)")
            p.add_argument("--rtol", type=float, default=1e-4, help="relative part of that rule (default 1e-4)")
            p.add_argument("--tol", type=float, help="set --atol and --rtol both to this")
        p.set_defaults(func=func)
    from .cli_teach import add_doctor_command
    from .exercises.command import add_exercise_command

    add_exercise_command(sub)
    add_doctor_command(sub)


def _positive(text):
    """argparse type: an integer >= 1 (argparse turns the ValueError into a usage error, exit 2)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def seed_arg(text):
    """argparse type of --seed: a whole number in [0, 2**32) (what NumPy's generators accept)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {2**32 - 1}, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {2**32 - 1}, got {value}")
    return value


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
    add_teaching_flags(p)
    p.set_defaults(func=cmd_xor)
    add_teaching_commands(sub)

    from .cli_data import add_commands  # train, evaluate, predict, summary

    add_commands(sub)
    from .cli_export import add_command as add_export  # export: ONNX, a PyTorch or a handprop script

    add_export(sub)
    from .cli_playground import add_command as add_playground  # the local web app

    add_playground(sub)
    return parser


def _one_line(exc):
    """The message of ``exc`` on one line: a message over several lines is joined with " / "."""
    return " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def main(argv=None):
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for advice that repeats it
    try:
        return args.func(args)
    except HandpropError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError as exc:  # a size the user asked for (--n, --layers) that memory cannot hold
        print(f"error: out of memory: {_one_line(exc)}; ask for less (fewer rows, smaller layers)", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `handprop ... | head`: the reader left, which is not an error
        # Python's documented recipe: point stdout at devnull so the exit-time flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file the user named: unreadable, a directory, a full disk...
        if args.debug:
            raise
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"error: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug in handprop, not the user's input
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {_one_line(exc)} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
