"""``handprop export MODEL --to onnx|torch|python OUT``: a saved model for another ecosystem.

* ``onnx``: ``OUT.onnx`` for ONNX Runtime, raw rows in, probabilities and labels (or values) out;
* ``torch``: ``OUT.py``, a standalone PyTorch script, and ``OUT.npz`` (its weights) beside it;
* ``python``: ``OUT.py``, a handprop script that rebuilds the model, and ``OUT.npz`` beside it.

``handprop.cli.make_parser`` registers it with ``add_command(sub)``.
"""

import importlib.util

from ..errors import HandpropError

_SUFFIX = {"onnx": ".onnx", "torch": ".py", "python": ".py"}


def add_command(sub):
    p = sub.add_parser("export", help="write a saved model as ONNX, a PyTorch script or a handprop script",
                       description="Write MODEL (saved by `handprop train` or model.save) to OUT: --to onnx "
                                   "writes OUT.onnx; --to torch and --to python write the script OUT.py and "
                                   "its weights OUT.npz beside it.")
    p.add_argument("model", help="a model saved by train (.npz)")
    p.add_argument("--to", required=True, choices=sorted(_SUFFIX), help="the format to write")
    p.add_argument("out", help="where to write: a .onnx file (onnx) or a .py file (torch, python)")
    p.set_defaults(func=cmd_export)


def cmd_export(args):
    from ..exporting import check_suffix
    from ..io import load

    check_suffix(args.out, _SUFFIX[args.to], f"--to {args.to}: OUT")  # before reading anything
    if args.to == "onnx" and importlib.util.find_spec("onnx") is None:
        raise HandpropError("--to onnx needs the onnx package, which is not installed "
                            "(it is handprop's optional 'onnx' extra)")
    model = load(args.model)
    if args.to == "onnx":
        from ..export_onnx import export_onnx

        written = [export_onnx(model, args.out)]
    elif args.to == "torch":
        from ..export_torch import export_torch

        written = list(export_torch(model, args.out))
    else:
        from ..export_python import export_python

        written = list(export_python(model, args.out))
    print(f"wrote {' and '.join(written)}")
    if args.to != "onnx":
        print(f"predict with: python {written[0]} ROWS.csv  (a CSV of raw feature rows, no header)")
    return 0
