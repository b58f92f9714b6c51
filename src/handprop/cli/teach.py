"""The teaching commands: ``explain``, ``gradcheck``, ``doctor`` (and ``exercise``, registered here).

``explain`` and ``gradcheck`` run on blog 000's XOR network (xor's flags) or on a saved model:
``load_saved(args)`` reads ``--model`` and ``--data`` as the network saw them in training (columns
by name, text labels, the saved scaling); ``handprop doctor MODEL_OR_LOG`` diagnoses a saved model
on its data, or a training log alone.
"""

import os

import numpy as np

from ..errors import HandpropError
from .common import positive
from .xor import add_model_flags, build_xor


def load_saved(args):
    """``(model, loss, optimizer, X, y)`` for ``args.model`` and ``args.data``; ``args.raw_X`` keeps the
    rows as the file holds them (optimizer: the one the file records, else None)."""
    from ..io import load
    from ..losses import get as get_loss

    model = load(args.model)
    if not args.data:
        raise HandpropError(f"--model needs --data: the .csv or .npz file of inputs and targets to run "
                            f"{args.model} on")
    info = model.info
    X, y = read_rows(args.data, args.target, info, model.n_inputs)
    if args.rows:
        X, y = X[:args.rows], y[:args.rows]
    args.raw_X = X
    X = info.prepare(X)
    if info.label_encoder is not None:
        if info.label_encoder.classes_.dtype.kind == "U" and y.dtype.kind in "iu":
            y = y.astype(str)  # the file's text "3" is the class "3" (digits' classes are text)
        try:
            y = info.label_encoder.transform(y)
        except HandpropError as exc:
            raise HandpropError(f"{args.data}: {exc}: the target column must hold the labels the model "
                                "was trained on") from None
        if getattr(info.loss, "from_logits", False) and model.n_outputs == 1:  # BCE: 0/1 as floats
            y = y.astype(np.float64).reshape(-1, 1)
    elif info.y_scaler is not None:
        y = info.y_scaler.transform(np.asarray(y, dtype=np.float64).reshape(len(y), -1))
    loss = info.loss if info.loss is not None else get_loss(args.loss)
    return model, loss, saved_optimizer(info), X, y


def read_rows(path, target, info, n_inputs):
    """Raw ``(X, y)`` of ``path``: the model's target column and its features in the model's order;
    text labels as text."""
    from ..data import load_data

    text_file = os.path.splitext(str(path))[1].lower() in (".csv", ".tsv", ".txt")
    name = target or (info.target_name if text_file else None)
    data = load_data(path, target=name)
    if data.y is None:
        raise HandpropError(f"{path}: no targets found; name the target column with --target")
    X, names = np.asarray(data.X), info.feature_names
    if text_file and names and list(data.feature_names) != list(names):
        missing = [n for n in names if n not in data.feature_names]
        if missing:
            raise HandpropError(f"{path}: no column(s) {', '.join(map(repr, missing[:8]))} that the model was "
                                f"trained on; the file has: {', '.join(data.feature_names[:12])}")
        pos = {n: j for j, n in enumerate(data.feature_names)}
        X = X[:, [pos[n] for n in names]]
    if n_inputs is not None and X.shape[1] != n_inputs:
        raise HandpropError(f"{path}: {X.shape[1]} feature columns, but the model takes {n_inputs}")
    y = np.asarray(data.y)
    if data.class_names is not None:
        y = np.asarray(data.class_names)[y]
    return X, y


def saved_optimizer(info):
    """The optimizer the model was trained with, as the file records it (None if it does not)."""
    from ..optimizers import SGD, Adam

    if getattr(info, "optimizer_state", None) is not None:  # with the state training left (m, v, t)
        return info.optimizer_state
    saved = getattr(info, "optimizer", None)
    if not saved:
        return None
    cls = {"SGD": SGD, "Adam": Adam}.get(saved.get("class"))
    return None if cls is None else cls(**saved.get("config", {}))




def cmd_doctor(args):
    """``handprop doctor MODEL_OR_LOG``: exit 0 when nothing is wrong, 1 with findings."""
    from ..doctor import diagnose, diagnose_log, read_log

    path = args.path
    if path.lower().endswith((".csv", ".json")) and not args.data:
        if args.log:
            raise HandpropError(f"{path} is a training log already; --log is for a model (.npz)")
        diagnosis = diagnose_log(read_log(path))
    elif path.lower().endswith(".npz"):
        if not args.data:
            raise HandpropError(f"{path}: a model needs its data: add --data, the .csv or .npz file it "
                                "was trained on (and --log, the --log file of its training, for the loss curve)")
        return _doctor_model(args)
    else:
        raise HandpropError(f"{path}: give a model saved by `handprop train` (.npz) or a training log "
                            "written by `handprop train --log` (.csv or .json)")
    print(diagnosis)
    return 0 if diagnosis.ok else 1


def _doctor_model(args):
    """The doctor on a saved model and its data; each fix printed as a `handprop train` command."""
    from ..doctor import diagnose, read_log
    from .advice import mark_inits, print_saved_model_advice

    args.model, args.command = args.path, "doctor"
    model, loss, optimizer, X, y = load_saved(args)
    record = model.info.training
    mark_inits(model, record)
    history = read_log(args.log) if args.log else None
    diagnosis = diagnose(model, X, y, loss=loss, history=history, optimizer=optimizer)
    print(diagnosis)
    if not diagnosis.ok:
        print()
        print_saved_model_advice(args.path, record, diagnosis, data_path=args.data)
    return 0 if diagnosis.ok else 1


def add_doctor_command(sub):
    """``handprop doctor MODEL_OR_LOG [--data D] [--log LOG] [--target T] [--rows N]``."""
    p = sub.add_parser("doctor", help="diagnose a saved model on its data, or a training log",
                       description="The training doctor outside training: on a model saved by `handprop "
                       "train` with its data (and, with --log, its loss curve), or on a training log alone. "
                       "Exit 0: nothing wrong found; 1: findings.")
    p.add_argument("path", metavar="MODEL_OR_LOG", help="a saved model (.npz) or a --log file (.csv, .json)")
    p.add_argument("--data", help="the model's data (.csv or .npz), as for `handprop evaluate`")
    p.add_argument("--target", help="target column (CSV) or array (.npz) of --data")
    p.add_argument("--log", help="the --log file of the model's training: adds the loss curve")
    p.add_argument("--rows", type=positive, help="use only the first N rows of --data")
    p.set_defaults(func=cmd_doctor, loss="mse")


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
    return load_saved(args)


def cmd_explain(args):
    from ..explain import explain

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
    from ..gradcheck import gradcheck

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
        add_model_flags(p, epochs=0)
        p.add_argument("--log-every", type=int, help="with --epochs: print the loss every N epochs")
        p.add_argument("--model", metavar="PATH", help="a model saved by `handprop train`")
        p.add_argument("--data", metavar="PATH", help="inputs and targets (.csv or .npz) for --model")
        p.add_argument("--target", help="target column (CSV) or array (.npz) of --data")
        p.add_argument("--rows", type=positive, help="use only the first N rows of --data")
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
    from ..exercises.command import add_exercise_command

    add_exercise_command(sub)
    add_doctor_command(sub)

