"""``History``: the per-epoch values ``fit`` records (the loss, metrics, validation values)."""

from .errors import HandpropKeyError


class History:
    """Per-epoch values recorded by ``fit``: ``history.history["loss"]`` (Keras' layout), also
    ``history.loss`` and ``history["loss"]``."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.stop_reason = None  # why training ended before its last epoch (None: it did not)

    def record(self, epoch, **values):
        self.epoch.append(epoch)
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)

    def column(self, key):
        """The list that ``record`` appends ``key``'s values to (a loop recording every epoch can
        bind its ``append`` once; append to ``epoch`` alongside)."""
        return self.history.setdefault(key, [])

    @property
    def loss(self):
        return self.history.get("loss", [])

    def __getitem__(self, key):
        if not isinstance(key, str) or key not in self.history:
            held = ", ".join(self.history) or "nothing yet"
            raise HandpropKeyError(f"the history has no {key!r}; it holds: {held} (val_* values need "
                                   "validation_data or validation_split, metrics need metrics=[...])")
        return self.history[key]

    def __len__(self):
        return len(self.epoch)

    def __contains__(self, key):
        return key in self.history

    def to_dict(self):
        """``{"epoch": [...], "loss": [...], ...}`` as plain Python numbers (JSON-able)."""
        return {"epoch": [int(e) for e in self.epoch],
                **{k: [float(v) for v in vals] for k, vals in self.history.items()}}

    @classmethod
    def from_dict(cls, d):
        h = cls()
        h.epoch = [int(e) for e in d.get("epoch", [])]
        h.history = {k: [float(v) for v in vals] for k, vals in d.items() if k != "epoch"}
        return h

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self)}, last={last})"
