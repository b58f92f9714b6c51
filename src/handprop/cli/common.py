"""What the commands share: the --seed and --plot argument types, and what happens after training
(the training doctor's findings printed as command lines to run, and the --plot picture)."""

import argparse
import os

import numpy as np

from ..errors import HandpropError


def add_teaching_flags(p):
    """--plot and --no-doctor, for commands that train."""
    p.add_argument("--plot", metavar="PATH", type=_plot_path, help="save a picture of the run: loss curve, "
                   "decision boundary (2-D inputs) or predictions against targets (regression), and the network "
                   "(needs the 'plot' extra: matplotlib)")
    p.add_argument("--no-doctor", action="store_true", help="do not diagnose a run that ends badly")


def _plot_path(text):
    """argparse type of --plot: matplotlib is checked when the command line is read, before training."""
    from ..plots import require_matplotlib

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
        from ..doctor import diagnose

        diagnosis = diagnose(model, X, y, loss=loss, history=history, gradients=recorder,
                             optimizer=optimizer if optimizer is not None else getattr(recorder, "optimizer", None),
                             held_out=held_out)
        if not diagnosis.ok:
            print()
            print(diagnosis)
            print_advice(args, [s for f in diagnosis for s in f.suggest], retry)
    if getattr(args, "plot", None):
        from ..plots import training_figure

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
    if args.command == "train":  # train writes files: a fix run as printed writes new ones beside them
        taken = []  # names given to earlier lines: two printed fixes never write the same file
        lines = {fresh_outputs(line, k + 1, taken): s for k, (line, s) in enumerate(lines.items())}
    if retry is not None:  # XOR is small: try each fix before recommending it
        works = [line for line, s in lines.items() if retry(s)]
        head = ("try (each retrained here, and it solves the task):" if works else
                "none of these fixes, retrained here, solves the task:")
        shown = works or list(lines)
    else:
        head, shown = "try:", list(lines)
    print("\n".join([head] + [f"  {line}" for line in shown]))



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


# The flags of ``handprop train`` that name files it writes (``--out`` has a default: model.npz).
OUTPUT_FLAGS = ("--out", "--checkpoint", "--log", "--plot")


def fresh_path(path, k, taken=()):
    """``NAME-fixK.EXT`` beside ``path``, the next free name from ``k`` on: a fix never overwrites a file."""
    stem, ext = os.path.splitext(path)
    while True:
        new = f"{stem}-fix{k}{ext}"
        if not os.path.exists(new) and new not in taken and os.path.abspath(new) != os.path.abspath(path):
            return new
        k += 1


def fresh_outputs(line, k, taken):
    """The command ``line`` with every file it writes renamed by ``fresh_path`` (``--out`` added when
    the default model.npz would be written; none of the names in ``taken``, to which it adds its own),
    so that running the printed fix loses no file."""
    import shlex

    def fresh(path):
        taken.append(fresh_path(path, k, taken))
        return taken[-1]

    argv, out_given = shlex.split(line), False
    for i, a in enumerate(argv):
        flag, eq, value = a.partition("=")
        if flag in OUTPUT_FLAGS and eq:
            argv[i], out_given = f"{flag}={fresh(value)}", out_given or flag == "--out"
        elif a in OUTPUT_FLAGS and i + 1 < len(argv):
            argv[i + 1], out_given = fresh(argv[i + 1]), out_given or a == "--out"
    if not out_given:
        argv += ["--out", fresh("model.npz")]
    return shlex.join(argv)


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


def positive(text):
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



def score_model(model, info, X, y_true):
    """Metrics on raw features ``X`` against raw-label indices / raw values ``y_true``."""
    from .. import metrics

    if info.task == "classification":
        out = model.predict(info.prepare(X), batch_size=8192)
        labels = metrics.output_to_labels(out, from_logits=True)
        scores = {"accuracy": metrics.accuracy(y_true, labels)}
        if info.loss is not None:
            target = y_true.astype(np.float64) if getattr(info.loss, "from_logits", False) else y_true
            scores["loss"] = float(info.loss.forward(out, target))
        return scores, labels
    pred = info.predict(model, X)
    return {"mse": metrics.mse(y_true, pred), "mae": metrics.mae(y_true, pred), "r2": metrics.r2(y_true, pred)}, None


