"""A tab's session: its settings, its data (a toy set, an uploaded CSV or the server's file) and
its current ``Run``. Every change is checked in full before the running run is replaced: a bad
setting or file leaves the old run as it was and shows an error in the page."""

import logging
import threading

import numpy as np

from ..errors import DataError, HandpropError
from .datasets import DATASETS, detect_task, file_problem, toy_problem
from .frames import data_message
from .run import Run
from .settings import parse


class Session:
    def __init__(self, session_id, emit, file=None):
        self.id, self.emit = session_id, emit
        self.file = file  # (path, Dataset) from `handprop playground --data`
        self.upload = None  # (name, Dataset)
        self.run, self.settings = None, None
        self.lock = threading.Lock()  # a tab may close while its settings are being applied
        self.closed = False

    def handle(self, message):
        """One message from the page (a dict with ``cmd``); errors go to the page's #error."""
        cmd = message.get("cmd")
        try:
            if cmd == "hello":  # first the session's id: the page needs it even if the settings are bad
                self.emit({"type": "hello", "session": self.id, "file": None if self.file is None else self.file[0]})
            if cmd in ("hello", "settings"):
                self.apply(message.get("settings") or {})
            elif cmd == "reset":
                self.apply(self.settings or {})
            elif cmd == "regenerate":
                self.apply(dict(self.settings or {}, seed=(self.settings or {}).get("seed", 0) + 1))
            elif cmd in ("play", "pause", "toggle", "step", "explain", "doctor"):
                if self.run is None:
                    raise HandpropError("no run yet: fix the settings shown in the error first")
                self.run.command(cmd, **{k: v for k, v in message.items() if k == "sample"})
            else:
                raise HandpropError(f"unknown command {cmd!r}")
        except HandpropError as exc:
            self.emit({"type": "error", "message": " / ".join(str(exc).splitlines())})
        except Exception as exc:  # a bug in handprop, not the user's input: said so, and logged
            logging.getLogger("handprop.playground").exception("while handling %r", cmd)
            self.emit({"type": "error", "message": f"internal error: {type(exc).__name__}: {exc} (a bug in "
                                                   "handprop; the server's log has the traceback)"})

    def problem(self, s):
        if s["dataset"] in DATASETS:
            return toy_problem(s["dataset"], s["features"].split(","), noise=s["noise"] / 100, seed=s["seed"])
        source = self.upload if s["dataset"] == "upload" else self.file
        if source is None:
            raise HandpropError(f"dataset={s['dataset']}: " + (
                "upload a CSV file first (a link does not carry the file)" if s["dataset"] == "upload"
                else "the server was started without --data FILE.csv"))
        name, ds = source
        if ds.y is None:
            raise DataError(f"{name}: no target column")
        d = np.asarray(ds.X).shape[1]
        axes = (s["x-axis"], s["y-axis"] if d > 1 else 0)
        return file_problem(name, ds, detect_task(ds.y, ds.class_names), axes=axes)

    def apply(self, given):
        """Build the run of settings ``given``; replace the current run only if that succeeds."""
        s = parse(given)
        run = Run(s, self.problem(s), self.emit)
        with self.lock:
            if self.closed:
                return
            if self.run is not None:
                self.run.stop()
            self.emit({"type": "settings", "settings": s})
            self.emit(data_message(run))
            self.emit({"type": "error", "message": ""})
            self.run, self.settings = run, s
            run.start()

    def use_upload(self, name, ds):
        """Train on an uploaded file (a ``Dataset`` read by ``load_data``), target its last column."""
        previous = self.upload
        self.upload = (name, ds)
        try:
            self.apply(dict(self.settings or {}, dataset="upload", **{"x-axis": 0, "y-axis": 1}))
        except HandpropError:
            self.upload = previous
            raise
        return {"ok": True, "name": name, "rows": int(len(ds.X)), "features": list(ds.feature_names),
                "target": ds.target_name}

    def close(self, wait=True):
        """Stop the training for good (the tab has closed); ``wait`` for its thread to end."""
        with self.lock:
            self.closed = True
            run = self.run
        if run is not None:
            run.stop(wait=wait)
