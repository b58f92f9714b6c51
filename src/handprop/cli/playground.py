"""``handprop playground``: start the local web app that trains handprop live (see docs/playground.md).

Needs the ``playground`` extra (``pip install "handprop[playground]"``: starlette and uvicorn).
"""

import threading
import webbrowser

from ..errors import DataError, HandpropError


def add_command(sub):
    p = sub.add_parser("playground", help="a page in the browser that trains handprop live (needs the "
                                          "'playground' extra)",
                       description="Start a local web app: TensorFlow Playground's toys and your own CSV, "
                                   "trained by handprop's fit, with the chain rule, the doctor and exports.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                                                       "computer only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in a browser")
    p.add_argument("--data", metavar="FILE.csv", help="a CSV file offered to every tab as the data set 'file'")
    p.add_argument("--target", help="target column of --data (default: the last column)")
    p.set_defaults(func=cmd_playground)


def load_file(path, target):
    """``(name, Dataset)`` of ``--data``, read and checked as `handprop train` reads it."""
    from ..data import load_data

    ds = load_data(path, target=target)
    if ds.y is None:
        raise DataError(f"{path}: no target column; name one with --target")
    return path, ds


def cmd_playground(args):
    if args.target and not args.data:
        raise HandpropError("--target needs --data FILE.csv")
    if not 0 < args.port < 65536:
        raise HandpropError(f"--port must be between 1 and 65535, got {args.port}")
    try:
        import uvicorn

        from ..playground.server import make_app
    except ImportError as exc:
        raise HandpropError(f"the playground needs the 'playground' extra ({exc.name} is missing): "
                            'pip install "handprop[playground]"') from None
    data = load_file(args.data, args.target) if args.data else None
    app = make_app(data=data)
    url = f"http://{args.host}:{args.port}/"
    print(f"handprop playground: {url} (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
