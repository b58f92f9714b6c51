"""``handprop sweep``: how often does this network solve this problem, and what changes the odds?

A grid over learning rates, hidden widths, activations and initializers (comma lists), each cell
trained for ``--seeds`` seeds at once (``handprop.train_many``); a CSV table with one row per run
(``--out``) and a convergence map (``--map``). The rules (the network, the seeds, "converged") are
``handprop.sweep``'s. Everything is checked before the first cell trains: the grid, the data, the
outputs (never an input, never each other, writable), matplotlib for ``--map``, joblib or Dask for
``--jobs``/``--scheduler``, and the memory a cell's seeds take side by side.
"""

import argparse
import re
import sys

import numpy as np

from ..errors import HandpropError, HandpropValueError
from .common import seed_arg
from .source import add_file_flags

RULE = ("Converged: after the last epoch every training row is classified right and the training loss is at "
        "most --converged-loss. Epochs to converge: the fewest epochs after which the loss stayed at most "
        "--converged-loss to the end")
_FLAGS = {"lr": "--lr", "hidden": "--hidden", "activation": "--activation", "init": "--init", "seeds": "--seeds",
          "momentum": "--momentum", "threshold": "--converged-loss", "layers": "--layers"}
_ADDRESS = re.compile(r"^[a-z][a-z0-9+]*://[^\s:/]+(:[0-9]{1,5})?/?$")


# ----------------------------------------------------------------------------------- parser
def add_sweep_command(sub):
    """Register ``handprop sweep``."""
    p = sub.add_parser(
        "sweep", help="train a grid of settings, many seeds each: a table and a convergence map",
        description="Train a small classifier for every cell of a grid (comma lists: --lr, --hidden, "
                    "--activation, --init) and every seed, all seeds of a cell at once. The defaults are blog "
                    "000's network and data: a 2-2-1 sigmoid network with np.random.randn weights (RandomState("
                    "seed)), MSE, SGD lr 0.1, 10000 full-batch epochs on XOR's four rows; seed 42 is the "
                    "blog's run. " + RULE + ".",
        epilog="Example: handprop sweep --lr 0.01,0.1,1,10 --hidden 2,3,4,8 --seeds 200 --out table.csv "
               "--map map.png")
    p.add_argument("data", nargs="?", help="a .csv/.tsv/.txt (header row) or .npz (X, y) file of classes")
    p.add_argument("--dataset", help="a built-in set instead of DATA (default xor: its four rows): xor, and, or, "
                                     "moons, circles, spirals, blobs, or digits, iris, breast_cancer, wine")
    p.add_argument("--target", help="target column of DATA (default: the last column)")
    add_file_flags(p, train=True)
    p.add_argument("--n", type=int, help="rows to generate for --dataset (default: the generator's own; "
                                         "xor, and, or: the four truth-table rows)")
    p.add_argument("--noise", type=float, help="noise of a generated --dataset (default: the generator's)")
    p.add_argument("--data-seed", type=seed_arg, default=0, help="seed of a generated --dataset (default 0)")
    p.add_argument("--scale", action="store_true", help="standardise the inputs (default: used as given, "
                                                       "as blog 000)")
    p.add_argument("--lr", default="0.1", help="learning rates, comma-separated (default 0.1)")
    p.add_argument("--hidden", default="2", help="hidden layer widths, comma-separated (default 2)")
    p.add_argument("--activation", default="sigmoid", help="hidden activations, comma-separated: sigmoid, "
                                                           "tanh, relu, leaky_relu (default sigmoid)")
    p.add_argument("--init", default="normal", help="weight initializers, comma-separated: normal (the "
                   "blog's randn), uniform, glorot_normal, glorot_uniform, he_normal, he_uniform (default normal)")
    p.add_argument("--layers", default="2", help="Dense layers per network, the output's included: LAYERS-1 "
                   "hidden layers, each --hidden wide, then the output (default 2: blog 000's 2-h-1). Not "
                   "handprop train's --layers, which lists hidden sizes")
    p.add_argument("--seeds", type=int, default=100, help="seeds per cell: --first-seed and the next ones "
                                                          "(default 100)")
    p.add_argument("--first-seed", type=seed_arg, default=0, help="the first seed (default 0)")
    p.add_argument("--loss", choices=["mse", "halfsse", "bce", "ce"],
                   help="default mse (one sigmoid output, blog 000) for two classes, ce for more")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="default sgd")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--epochs", type=int, default=10000, help="default 10000")
    p.add_argument("--batch-size", type=int, help="default: full batch (one update per epoch)")
    p.add_argument("--converged-loss", type=float, default=0.1,
                   help="the loss a converged run ends at or below (default 0.1)")
    p.add_argument("--out", help="write the table here (CSV, one row per run)")
    p.add_argument("--map", help="draw the convergence map here (PNG; needs matplotlib)")
    p.add_argument("--mark-seed", type=seed_arg, help="the seed marked on the map (default 42, when swept)")
    p.add_argument("--jobs", type=int, default=1, help="run cells in this many local processes (joblib; "
                                                       "the 'sweep' extra)")
    p.add_argument("--scheduler", help="run cells on the Dask cluster at this address, e.g. tcp://host:8786 "
                                       "(distributed; the 'sweep' extra)")
    p.add_argument("--quiet", action="store_true", help="print no progress bar and no summary")
    p.set_defaults(func=cmd_sweep)


# ----------------------------------------------------------------------------------- checks
def _layers(text):
    """``--layers``: a whole number of Dense layers; train's list of hidden sizes is refused with the sweep's way."""
    try:
        return int(text)
    except ValueError:
        raise HandpropValueError(
            f"--layers counts the network's Dense layers here (2: blog 000's 2-h-1), got {text!r}; the widths "
            "are the grid axis --hidden, e.g. --layers 2 --hidden 2,4,8 (handprop train's --layers lists "
            "sizes instead)") from None


def _split(flag, text, kind):
    values = [v.strip() for v in str(text).split(",")]
    if any(not v for v in values):
        raise HandpropValueError(f"{flag} must be a comma-separated list without empty entries, got {text!r}")
    try:
        return [kind(v) for v in values]
    except ValueError:
        name = "numbers" if kind is float else "whole numbers"
        raise HandpropValueError(f"{flag} must be comma-separated {name}, e.g. {flag} "
                                 f"{'0.01,0.1,1' if kind is float else '2,4,8'}; got {text!r}") from None


def _grid_and_settings(args):
    from ..limits import check_memory
    from ..sweep import make_grid, make_settings

    if args.seeds < 1:
        raise HandpropValueError(f"--seeds must be a positive number of seeds, got {args.seeds}")
    check_memory(f"--seeds {args.seeds}", 64 * args.seeds, "give fewer --seeds")  # before the list is made
    if args.first_seed + args.seeds > 2**32:
        raise HandpropValueError(f"--first-seed {args.first_seed} + --seeds {args.seeds} passes the largest seed, "
                                 f"{2**32 - 1}")
    for flag, value in (("--jobs", args.jobs), ("--epochs", args.epochs),
                        ("--batch-size", args.batch_size if args.batch_size is not None else 1)):
        if value < 1:
            raise HandpropValueError(f"{flag} must be a positive integer, got {value}")
    try:
        grid = make_grid(_split("--lr", args.lr, float), _split("--hidden", args.hidden, int),
                         _split("--activation", args.activation, str), _split("--init", args.init, str))
        settings = make_settings(list(range(args.first_seed, args.first_seed + args.seeds)), layers=_layers(args.layers),
                                 loss=args.loss or "mse", optimizer=args.optimizer, momentum=args.momentum,
                                 epochs=args.epochs, batch_size=args.batch_size, threshold=args.converged_loss)
    except HandpropError as exc:  # the library names its arguments; here they are flags
        message = str(exc)
        name = message.split(" ", 1)[0].rstrip(":")
        raise HandpropValueError(_FLAGS.get(name, name) + message[len(name):]) from None
    return grid, settings


def _check_outputs(args):
    from ..files import check_writable
    from .checks import same_file

    outputs = [(flag, path) for flag, path in (("--out", args.out), ("--map", args.map)) if path]
    if args.map is not None:
        if not args.map.lower().endswith(".png"):
            raise HandpropValueError(f"--map writes a PNG picture: give a path ending in .png, got {args.map!r}")
        from ..plots import require_matplotlib

        require_matplotlib()
    for flag, path in outputs:
        if args.data and same_file(path, args.data):
            raise HandpropValueError(f"{flag} {path} is the DATA file this sweep reads; writing it would destroy "
                                     f"it: give {flag} another path")
        check_writable(path)
    if len(outputs) == 2 and same_file(args.out, args.map):
        raise HandpropValueError(f"--out and --map are the same file {args.out}; give --map another path")


def _backend(args):
    """Check joblib / distributed (and connect to the scheduler) before anything trains."""
    if args.scheduler is not None and args.jobs != 1:
        raise HandpropValueError("--jobs runs cells in local processes and --scheduler on a Dask cluster: give "
                                 "one of them")
    if args.scheduler is None:
        if args.jobs > 1:
            try:
                import joblib  # noqa: F401
            except ImportError:
                raise HandpropError('--jobs needs joblib: pip install "handprop[sweep]"') from None
        return None
    if not _ADDRESS.match(args.scheduler):
        raise HandpropValueError(f"--scheduler must be a Dask scheduler address such as tcp://host:8786, got "
                                 f"{args.scheduler!r}")
    try:
        from distributed import Client
    except ImportError:
        raise HandpropError('--scheduler needs Dask distributed: pip install "handprop[sweep]"') from None
    try:
        return Client(args.scheduler, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise HandpropError(f"--scheduler {args.scheduler}: cannot reach a Dask scheduler there ({exc}); start "
                            "one (dask scheduler) and its workers, or check the address") from None


# ----------------------------------------------------------------------------------- data
def _load(args):
    """``(X, y as class indices, class names)`` of DATA or --dataset, refused unless it holds classes."""
    from ..data import LabelEncoder, StandardScaler, make_dataset
    from ..data.datasets import DATASETS
    from .settings import SKLEARN_SETS, detect_task, load_source
    from .source import check_target, check_typed_flags

    if args.data is not None and args.dataset is not None:
        raise HandpropValueError("sweep reads DATA (a file) or --dataset NAME, not both")
    dataset = args.dataset if args.data is not None or args.dataset is not None else "xor"
    check_typed_flags(argparse.Namespace(**{**vars(args), "dataset": args.dataset if args.data else dataset}),
                      SKLEARN_SETS)
    if args.data is None and dataset not in DATASETS and dataset not in SKLEARN_SETS:
        raise HandpropValueError(f"--dataset: unknown data set {dataset!r}; choose one of: "
                                 f"{', '.join(sorted(DATASETS) + list(SKLEARN_SETS))}")
    if args.data is None and dataset in DATASETS:
        kw = {k: getattr(args, k) for k in ("n", "noise") if getattr(args, k) is not None}
        try:
            X, y = make_dataset(dataset, seed=args.data_seed, **kw)
        except HandpropValueError as exc:
            raise HandpropValueError(f"--dataset {dataset}: --{exc}") from None
        class_names = None
        check_target(y, None, "y", f"--dataset {dataset}")
    else:
        s = {"dataset": None if args.data else dataset, "data": args.data, "seed": args.data_seed,
             "n": args.n, "noise": args.noise, "task": None,
             **{k: getattr(args, k) for k in ("target", "delimiter", "no_header", "columns", "drop",
                                              "drop_missing_target")}}
        X, y, class_names, _, _ = load_source(s)
    task, why = detect_task(y, class_names)
    if task != "classification":
        raise HandpropValueError(f"sweep counts the runs that classify every training row right, so it needs "
                                 f"classes; the target of {args.data or '--dataset ' + dataset} is numeric "
                                 f"({why}): " + ("give --target a column of class labels" if args.data else
                                                 "choose a data set of classes: xor, moons, circles, ..."))
    raw = np.asarray(class_names)[y] if class_names is not None else np.asarray(y).ravel()
    y = LabelEncoder().fit(raw).transform(raw)
    X = np.asarray(X, dtype=np.float64)
    return (StandardScaler().fit(X).transform(X) if args.scale else X), y


class _Progress:
    """Cells done, on stderr when it is a terminal: tqdm's bar if installed, else a counter."""

    def __init__(self, total, quiet):
        self.on = not quiet and sys.stderr.isatty()
        self.bar = None
        if self.on:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, unit="cell", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, done, total):
        if self.bar is not None:
            self.bar.update(1)
        elif self.on:
            sys.stderr.write(f"\rcells {done}/{total}")
            sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.on:
            sys.stderr.write("\n")


# ----------------------------------------------------------------------------------- command
def _check_size(args, grid, settings, X, y):
    """The memory of the cells that run at once, and (for absurd grids) the time of them all."""
    from ..limits import MAX_SECONDS, check_memory, training_seconds
    from ..sweep import cells, check_data, layer_sizes, memory_bytes

    X, y, n_classes = check_data(X, y, settings["loss"])
    todo = cells(grid, settings)
    widest = max(todo, key=lambda c: c["hidden"])
    at_once = 1 if args.scheduler else args.jobs
    fix = "use fewer --seeds, narrower --hidden, fewer --jobs or fewer --epochs"
    check_memory(f"{at_once} cell(s) of {len(settings['seeds'])} seeds side by side",
                 at_once * memory_bytes(widest, len(X), X.shape[1], n_classes), fix)
    seconds = len(settings["seeds"]) * sum(training_seconds(layer_sizes(c, X.shape[1], n_classes), len(X),
                                                            c["batch_size"] or len(X), c["epochs"]) for c in todo)
    if seconds > MAX_SECONDS:
        raise HandpropValueError(f"this sweep of {len(todo)} cells of {len(settings['seeds'])} seeds would take at "
                                 f"least {seconds / 86400:.3g} days of computing; use fewer --seeds, fewer grid "
                                 "values, narrower --hidden or fewer --epochs")


def _summary(rows, mark_seed):
    from ..sweep import AXES, success_rates

    marked = {tuple(r[k] for k in AXES): r["converged"] for r in rows if r["seed"] == mark_seed}
    for key, (done, total) in success_rates(rows).items():
        activation, init, hidden, lr = key
        seed = ""
        if key in marked:
            seed = f"; seed {mark_seed} {'converged' if marked[key] else 'did not'}"
        print(f"{activation} {init} hidden {hidden} lr {lr:g}: {done}/{total} converged ({done / total:.0%}){seed}")


def _mark_seed(args, seeds):
    """The seed the map marks: --mark-seed (refused unless swept), else 42."""
    if args.mark_seed is not None and args.mark_seed not in seeds:
        raise HandpropValueError(f"--mark-seed {args.mark_seed} is not among the seeds swept, {seeds[0]} to "
                                 f"{seeds[-1]}: mark one of those, or sweep it (--first-seed, --seeds)")
    return 42 if args.mark_seed is None else args.mark_seed


def cmd_sweep(args):
    from ..files import atomic_write_text
    from ..sweep import run_sweep, table_text
    from ..sweep_map import draw_map

    grid, settings = _grid_and_settings(args)
    _check_outputs(args)
    X, y = _load(args)
    if args.loss is None and int(y.max()) > 1:  # the default: blog 000's one sigmoid unit for two classes
        settings["loss"] = "ce"
    if settings["batch_size"] is not None and settings["batch_size"] >= len(X):  # as handprop train says it
        print(f"warning: --batch-size {settings['batch_size']} is not smaller than the {len(X)} training rows: "
              "every epoch is one full batch", file=sys.stderr)
        settings["batch_size"] = None
    mark = _mark_seed(args, settings["seeds"])
    _check_size(args, grid, settings, X, y)
    client = _backend(args)
    n_cells = int(np.prod([len(v) for v in grid.values()]))
    progress = _Progress(n_cells, args.quiet)
    try:
        rows = run_sweep(X, y, grid, settings, jobs=args.jobs, scheduler=client, on_cell=progress)
    finally:
        progress.close()
        if client is not None:
            client.close()
    if not args.quiet:
        _summary(rows, mark)
    if args.out:
        atomic_write_text(args.out, table_text(rows))
        if not args.quiet:
            print(f"saved {args.out}")
    if args.map:
        draw_map(rows, args.map, mark_seed=mark)
        if not args.quiet:
            print(f"saved {args.map}")
    return 0
