"""The ``handprop`` command line: ``main(argv) -> exit code``.

Exit codes: 0 success, 2 bad input or usage (printed as ``error: <message>``), 1 internal fault.

One module per command group, each adding its subcommands to the parser: ``xor`` (blog 000's
network), ``teach`` (explain, gradcheck, doctor, exercise), ``train`` (with ``settings``), ``data``
(evaluate, predict, summary), ``export``, ``sweep``; ``common`` holds what they share. Nothing here is imported
by them: the imports run from this package's top down.
"""

import argparse
import os
import sys

from .. import __version__
from ..errors import HandpropError
from .data import add_commands
from .export import add_command as add_export
from .playground import add_command as add_playground
from .sweep import add_sweep_command
from .teach import add_teaching_commands
from .train import add_train_command
from .xor import add_xor_command

def make_parser():
    parser = argparse.ArgumentParser(prog="handprop", description="Backpropagation written by hand in NumPy.")
    parser.add_argument("--version", action="version", version=f"handprop {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    add_xor_command(sub)  # blog 000's network
    add_teaching_commands(sub)  # explain, gradcheck, exercise, doctor
    add_train_command(sub)
    add_commands(sub)  # evaluate, predict, summary
    add_export(sub)  # export: ONNX, a PyTorch or a handprop script
    add_playground(sub)  # the local web app (the 'playground' extra)
    add_sweep_command(sub)  # a grid of settings, many seeds each (handprop.sweep)
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

