"""One training run of the playground: handprop's own ``fit``, in a thread, paused between epochs.

The run is built as ``handprop train`` builds one (the same split, scaling, initial weights,
optimizer and shuffling seeds), so that ``handprop train`` with the exported command and data
trains the very same network. ``fit`` runs for as many epochs as the user lets it; a callback
(``Controller``) draws a frame after an epoch when one is due, answers the page's requests
(the chain rule of a step, the doctor) while the engine is between epochs, and waits there while
the run is paused. Stopping the run ends ``fit`` after the current epoch.
"""

import logging
import threading
import time

import numpy as np

from .. import evaluate, explain, fit, mlp
from ..callbacks import Callback
from ..data import LabelEncoder, StandardScaler, train_test_split
from ..doctor import diagnose
from ..errors import DataError, HandpropError, HandpropValueError
from ..losses import BCE, MSE, CrossEntropy
from ..modelinfo import ModelInfo
from ..optimizers import SGD, Adam
from .frames import render
from .settings import check_size, layer_sizes, penalties, test_fraction

FRAME_INTERVAL = 1 / 40  # at most 40 frames a second: the engine trains in between
LIVE_INTERVAL = 1.0  # the doctor and the chain rule, refreshed while playing
EPOCH_LIMIT = 10**9  # fit's epochs: the user stops a run, not the limit


class Controller(Callback):
    """The run's hooks into ``fit``: wait before the first epoch, draw and listen after each."""

    def __init__(self, run):
        self.run = run

    def on_train_begin(self, state):
        self.run.between_epochs(state, first=True)

    def on_epoch_end(self, state, logs):
        self.run.between_epochs(state)


class Run:
    """A model, its data split as ``handprop train`` splits it, and the thread that trains it.

    ``emit(message, key=None)`` sends a message (a dict) to the page from the training thread; a
    message with a ``key`` replaces any unsent one of the same key (frames are never queued up).
    """

    def __init__(self, settings, problem, emit):
        self.settings, self.problem, self.emit = settings, problem, emit
        s, p = settings, problem
        classification = p.task == "classification"
        if classification:
            raw = np.asarray(p.class_names)[p.y] if p.class_names is not None else np.asarray(p.y)
            self.encoder = LabelEncoder().fit(raw)
            y = self.encoder.transform(raw)
        else:
            self.encoder = None
            y = np.asarray(p.y, dtype=np.float64).reshape(len(p.y), -1)
        idx = np.arange(len(p.X)).reshape(-1, 1)
        test = test_fraction(s)
        tr, te, yt, ys = train_test_split(idx, y, test, seed=s["seed"], stratify=classification)
        self.train_idx, self.test_idx = tr.ravel(), te.ravel()
        Xt = p.X[self.train_idx]
        x_scaler = StandardScaler().fit(Xt)
        y_scaler = None if classification else StandardScaler().fit(yt)
        self.loss_name, self.n_outputs = self.head(y)
        self.loss = {"bce": BCE(from_logits=True), "ce": CrossEntropy(), "mse": MSE()}[self.loss_name]
        self.info = ModelInfo(loss=self.loss, task=p.task, x_scaler=x_scaler, y_scaler=y_scaler,
                              label_encoder=self.encoder, feature_names=p.feature_names,
                              target_name=p.target_name)
        self.model = self.new_model()
        self.model.info = self.info
        self.optimizer = (Adam(lr=s["lr"], weight_decay=0.0) if s["optimizer"] == "adam"
                          else SGD(lr=s["lr"], momentum=0.0, weight_decay=0.0))
        # as `handprop train` hands the targets to fit: BCE's as floats, a regression target standardised
        fit_y = y_scaler.transform if y_scaler is not None else (
            (lambda v: v.astype(np.float64)) if self.loss_name == "bce" else (lambda v: v))
        self.X_all = self.info.prepare(p.X)
        self.X_train, self.y_train = self.X_all[self.train_idx], fit_y(yt)
        self.X_test, self.y_test = self.X_all[self.test_idx], fit_y(ys)
        n = len(self.X_train)
        self.batch_size = s["batch-size"] if s["batch-size"] < n else None
        self.epoch, self.playing, self.steps_left, self.stopped = 0, False, 0, False
        self.requests, self.snapshot, self.error = [], None, None
        self.explain_sample, self.history = 0, None
        self.cond = threading.Condition()
        self.last_frame = self.last_live = 0.0
        self.thread = None
        self.frame(send=False)  # exports work from the start

    # -- the model, as `handprop train` builds it ---------------------------------------------------
    def head(self, y):
        """``(loss, outputs)``: two classes as TensorFlow Playground has them, one output (a logit,
        ``handprop train --loss bce``); more classes, one logit each (``ce``); values, ``mse``."""
        if self.encoder is None:
            return "mse", y.shape[1]
        classes = self.encoder.classes_
        if len(classes) < 2:
            raise DataError(f"{self.problem.name}: the target {self.problem.target_name!r} holds one class only "
                            f"({str(classes[0])!r}); a classifier needs at least two")
        return ("bce", 1) if len(classes) == 2 else ("ce", len(classes))

    def new_model(self):
        """A fresh network with the run's initial weights (``handprop train``'s: rng [seed, 1])."""
        s = self.settings
        sizes = [self.problem.X.shape[1]] + layer_sizes(s["layers"]) + [self.n_outputs]
        check_size(sizes)  # before any weight is allocated
        model = mlp(sizes, s["activation"], output=None, rng=np.random.default_rng([s["seed"], 1]))
        l1, l2 = penalties(s)
        for layer in model.layers:  # regularization: Dense(l1=, l2=), in the loss and in dW
            if hasattr(layer, "l2"):
                layer.l1, layer.l2 = l1, l2
        return model

    def model_at_snapshot(self):
        """``(epoch, model)``: a new network holding the weights of the last frame drawn."""
        with self.cond:
            epoch, weights = self.snapshot["epoch"], self.snapshot["weights"]
        model = self.new_model()
        for param, value in zip(model.parameters(), weights):
            param.value[...] = value
        model.info = self.info
        return epoch, model

    # -- the thread ---------------------------------------------------------------------------------
    def start(self):
        self.frame()  # epoch 0, before the thread runs
        self.thread = threading.Thread(target=self.train, name="handprop-playground-run", daemon=True)
        self.thread.start()

    def train(self):
        try:
            fit(self.model, self.X_train, self.y_train, loss=self.loss, optimizer=self.optimizer,
                epochs=EPOCH_LIMIT, batch_size=self.batch_size, seed=[self.settings["seed"], 2],
                callbacks=[Controller(self)])
        except HandpropError as exc:  # diverged: fit has restored the last good weights
            self.end(f"training stopped at epoch {self.epoch}: {exc}", str(exc))
            self.frame()
        except Exception as exc:  # a bug in handprop: said so, and logged
            logging.getLogger("handprop.playground").exception("training thread")
            self.end(f"internal error: {type(exc).__name__}: {exc} (a bug in handprop; the server's log "
                     "has the traceback)", f"{type(exc).__name__}: {exc}")

    def end(self, message, reason):
        """The run cannot go on: say why in the page; play and step now answer ``reason``."""
        self.error = reason
        with self.cond:
            self.playing = False
        self.emit({"type": "error", "message": message})
        self.emit({"type": "state", "playing": False, "finished": True})

    def command(self, name, **kw):
        """``play``, ``pause``, ``toggle``, ``step``, ``explain`` (sample=i), ``doctor``: from the page."""
        with self.cond:
            if name in ("play", "pause", "toggle"):
                self.playing = (not self.playing) if name == "toggle" else name == "play"
                self.steps_left = 0
            elif name == "step":
                self.playing, self.steps_left = False, self.steps_left + 1
            elif name == "explain":
                self.explain_sample = self.sample_index(kw.get("sample", 0))
                self.requests.append("explain")
            elif name == "doctor":
                self.requests.append("doctor")
            playing = self.playing
            self.cond.notify_all()
        if self.error is not None and name in ("play", "toggle", "step"):
            self.emit({"type": "error", "message": f"this run has ended ({self.error}); press reset"})
            return
        self.emit({"type": "state", "playing": playing})

    def sample_index(self, value):
        """The page's ``explain-sample``: a training row's index, checked."""
        n, text = len(self.X_train), str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or int(text) >= n:
            raise HandpropValueError(f"explain-sample must be a training sample's index, 0 to {n - 1}, got {value!r}")
        return int(value)

    def stop(self, wait=True):
        """End ``fit`` after its current epoch; ``wait``: until the thread has ended (at most 5 s)."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        if wait and self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(5.0)

    def between_epochs(self, state, first=False):
        """Called by ``fit`` (through the Controller) before the first epoch and after each."""
        if not first:
            self.epoch = state.epoch + 1
            with self.cond:
                if self.steps_left:
                    self.steps_left -= 1
        self.history = state.history
        now = time.perf_counter()
        with self.cond:
            idle = not self.playing and not self.steps_left
        if not first and (idle or now - self.last_frame >= FRAME_INTERVAL):
            self.frame()
        if idle or now - self.last_live >= LIVE_INTERVAL:
            with self.cond:
                self.requests.extend(["doctor", "explain"])
        refreshed = idle  # an idle run was drawn and its doctor and chain rule asked for, above
        while True:
            with self.cond:
                requests, self.requests = list(dict.fromkeys(self.requests)), []
            for kind in requests:
                self.answer(kind)
            with self.cond:
                if self.stopped:
                    state.stop_training = True
                    state.stop_reason = "the page closed or reset the run"
                    return
                if self.requests:
                    continue
                if self.playing or self.steps_left:
                    return
                if refreshed:
                    self.cond.wait()
                    continue
                # paused while this epoch ran: show this epoch, its doctor and chain rule, then wait
                self.requests.extend(["doctor", "explain"])
            refreshed = True
            if not first:
                self.frame()

    # -- what the page sees -------------------------------------------------------------------------
    def frame(self, send=True):
        """Draw the heatmaps, losses and weights of the model now; keep its weights for exports."""
        frame = render(self)
        frame["epoch"] = self.epoch
        for name, X, y in (("train_loss", self.X_train, self.y_train), ("test_loss", self.X_test, self.y_test)):
            frame[name] = evaluate(self.model, X, y, loss=self.loss, metrics=()).get("loss")
        with self.cond:
            self.snapshot = {"epoch": self.epoch, "weights": [p.value.copy() for p in self.model.parameters()],
                             "outputs": frame.pop("outputs")}
        self.last_frame = time.perf_counter()
        if send:
            self.emit(frame, key="frame")

    def answer(self, kind):
        self.last_live = time.perf_counter()
        if kind == "doctor":
            found = diagnose(self.model, self.X_train, self.y_train, loss=self.loss,
                             history=self.history)
            self.emit({"type": "doctor", "epoch": self.epoch, "ok": found.ok, "text": str(found)}, key="doctor")
        elif kind == "explain":
            i = self.explain_sample
            plain = isinstance(self.optimizer, SGD) and not self.optimizer.weight_decay
            ex = explain(self.model, self.loss, self.X_train[i:i + 1], self.y_train[i:i + 1],
                         lr=self.settings["lr"], optimizer=None if plain else self.optimizer, check=False)
            row = int(self.train_idx[i])
            self.emit({"type": "explain", "epoch": self.epoch, "sample": i, "row": row,
                       "text": ex.to_text()}, key="explain")
