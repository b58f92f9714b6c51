"""Two moons, from Python: split, standardise, train with validation and early stopping, save, load.

The same run from the command line is ``handprop train --dataset moons`` (see the README).
Run: ``python examples/moons.py`` (NumPy only; a progress bar if tqdm is installed).
"""

import os
import sys
import tempfile

import numpy as np

import handprop
from handprop import Adam, mlp
from handprop.callbacks import EarlyStopping, ReduceLROnPlateau
from handprop.data import StandardScaler, make_dataset, train_val_test_split


def main(directory):
    X, y = make_dataset("moons", n=1000, noise=0.1, seed=0)
    # 60/20/20, stratified: each part keeps the 50/50 class balance.
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(
        X, y, val_size=0.2, test_size=0.2, seed=0, stratify=True)
    scaler = StandardScaler().fit(X_train)  # statistics of the training rows only

    model = mlp([2, 64, 32, 2], "relu", rng=np.random.default_rng(0))  # logits for CrossEntropy
    history = model.fit(
        scaler.transform(X_train), y_train, loss="ce", optimizer=Adam(lr=0.01), epochs=200, batch_size=32,
        seed=0, validation_data=(scaler.transform(X_val), y_val), metrics=["accuracy"],
        callbacks=[EarlyStopping("val_loss", patience=20), ReduceLROnPlateau("val_loss", patience=5)],
        progress=True)
    print(f"epochs run: {len(history)}; {history.stop_reason or 'ran to the end'}")
    print(f"best val_loss: {min(history['val_loss']):.4f}, val_accuracy then: "
          f"{history['val_accuracy'][int(np.argmin(history['val_loss']))]:.4f}")

    test = handprop.evaluate(model, scaler.transform(X_test), y_test, loss="ce", metrics=["accuracy"])
    print(f"test accuracy: {test['accuracy']:.4f}")

    # One file: layers, weights, loss and the scaler. Loading needs no pickle and gives the same answers.
    path = os.path.join(directory, "moons.npz")
    model.save(path, loss="ce", x_scaler=scaler, feature_names=["x0", "x1"], target_name="moon")
    loaded = handprop.load(path)
    same = np.array_equal(loaded.info.predict(loaded, X_test), model.predict(scaler.transform(X_test)).argmax(1))
    print(f"saved {path}; reloaded predictions identical: {same}")
    return 0 if test["accuracy"] >= 0.95 and same else 1


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else tmp))
