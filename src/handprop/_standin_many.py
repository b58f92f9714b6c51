"""TEMPORARY stand-in for ``handprop.many.train_many`` (branch s1), used by ``handprop.sweep`` only
until s1 is merged: one ``fit`` per model, a diverging one stopped by ``StopOnNonFinite``. Remove it
once ``handprop.many`` exists."""

from .callbacks import StopOnNonFinite
from .training import fit


def train_many(models, X, y, loss="mse", optimizer="sgd", epochs=100, batch_size=None, seed=None):
    import copy

    return [fit(m, X, y, loss=copy.deepcopy(loss), optimizer=copy.deepcopy(optimizer), epochs=epochs,
                batch_size=batch_size, seed=seed, callbacks=[StopOnNonFinite()]) for m in models]
