"""Checks ``handprop train`` makes before it reads data or allocates a weight.

* Outputs (``--out``, ``--checkpoint``, ``--log``, ``--plot``) come from the command line of the
  run that writes them, never from a file; none may be an input of the run (``DATA``, ``--resume``;
  a checkpoint may go back to the file it resumes) or another output, and each must be writable.
* Sizes: the memory of the rows a generated set would have, and of the network a run would train
  (``handprop.limits``), are estimated and refused when this machine cannot hold them.
"""

import os

from ..errors import HandpropValueError


def same_file(a, b):
    """Whether paths ``a`` and ``b`` name one file (the same path, a symlink, a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(args, s):
    """Refuse, before any data is read, outputs that would overwrite an input or each other."""
    from ..files import check_writable

    outputs = [("--out", args.out), ("--checkpoint", s.get("checkpoint")), ("--log", s.get("log")),
               ("--plot", getattr(args, "plot", None))]
    outputs = [(flag, path) for flag, path in outputs if path]
    inputs = [("DATA", s.get("data")), ("--resume", args.resume)]
    for i, (flag, path) in enumerate(outputs):
        for other, source in inputs:
            if source and same_file(path, source) and (flag, other) != ("--checkpoint", "--resume"):
                raise HandpropValueError(f"{flag} {path} is the {other} file this run reads; writing it "
                                         f"would destroy it: give {flag} another path")
        for other, second in outputs[i + 1:]:
            if same_file(path, second):
                raise HandpropValueError(f"{flag} and {other} are the same file {path}; one would overwrite "
                                         f"the other: give {other} another path")
    for _, path in outputs:
        check_writable(path)


def check_source_size(s, generated):
    """A generated data set's rows (``--n``), before they are made: at least 16 bytes each."""
    from ..limits import check_memory

    if generated and s["n"] is not None:  # None: the set's own small default
        check_memory(f"--n {s['n']} rows", 16 * s["n"], "give a smaller --n")


def check_network_size(s, sizes, rows):
    """The memory (and, for absurd counts, time) of training layers ``sizes`` on ``rows`` rows."""
    from ..limits import check_training

    batch = min(s["batch_size"], rows)
    check_training(sizes, rows, batch, s["epochs"], optimizer_slots=2 if s["optimizer"] == "adam" else 1,
                   fix="use fewer or smaller --layers, or fewer --epochs")
