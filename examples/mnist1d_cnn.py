"""MNIST-1D: a small CNN against a plain MLP, both trained from the command line.

MNIST-1D (Greydanus, 2020) is ten 1-D digit templates, shifted, scaled, sheared and noised into rows
of 40 values: small enough to train in seconds, hard enough that an MLP stops near 0.6 test accuracy
while a small convolutional network passes 0.9, because a convolution sees the same shape wherever
it sits in the row. The `mnist1d` package makes the data (no download):

    pip install mnist1d
    python examples/mnist1d_cnn.py [--dir DIR] [--epochs 80]

It writes train.csv (4,000 rows) and test.csv (1,000 rows), then runs, and prints with their times:

    handprop train train.csv --target digit --test 0 --layers CNN ... --out cnn.npz
    handprop evaluate cnn.npz test.csv

The CNN is the mnist1d repository's recipe: three Conv1D layers of 25 channels, stride 2, ReLU, then
one Dense layer; Adam, lr 0.01, batch 100.
"""

import argparse
import os
import sys
import tempfile
import time

CNN = ("reshape:1x40,conv:25x5/2+1,relu,conv:25x3/2+1,relu,conv:25x3/2+1,relu,flatten,dense:10")
MLP = "100,100"  # two hidden ReLU layers of 100 units
COMMON = ["--target", "digit", "--test", "0", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "100",
          "--quiet", "--no-doctor"]


def write_data(directory, seed=0):
    """train.csv and test.csv of MNIST-1D (the package's default settings) in ``directory``."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    data = make_dataset(args)
    header = ",".join(f"x{i}" for i in range(40)) + ",digit\n"
    paths = {}
    for part, X, y in (("train", data["x"], data["y"]), ("test", data["x_test"], data["y_test"])):
        paths[part] = os.path.join(directory, f"{part}.csv")
        with open(paths[part], "w") as f:
            f.write(header)
            f.writelines(",".join(f"{v:.6g}" for v in row) + f",{label}\n" for row, label in zip(X, y))
    return paths


def train_and_evaluate(name, layers, paths, directory, epochs):
    """``(test accuracy, seconds of training)`` of ``handprop train`` with ``--layers layers``."""
    import io
    from contextlib import redirect_stdout

    from handprop.cli import main

    model = os.path.join(directory, f"{name}.npz")
    argv = ["train", paths["train"], "--layers", layers, "--epochs", str(epochs), "--out", model] + COMMON
    print("handprop " + " ".join(a if "," not in a else f'"{a}"' for a in argv), flush=True)
    start = time.perf_counter()
    if main(argv) != 0:
        sys.exit(f"{name}: training failed")
    seconds = time.perf_counter() - start
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["evaluate", model, paths["test"]])
    if code != 0:
        sys.exit(f"{name}: evaluation failed")
    accuracy = float(out.getvalue().split("accuracy: ")[1].split()[0])
    print(f"{name}: test accuracy {accuracy:.3f} after {epochs} epochs, {seconds:.1f} s of training\n", flush=True)
    return accuracy, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description="MNIST-1D: a CNN and an MLP trained by handprop train")
    parser.add_argument("--dir", help="where to write the data and models (default: a temporary folder)")
    parser.add_argument("--epochs", type=int, default=80)
    args = parser.parse_args(argv)
    directory = args.dir or tempfile.mkdtemp(prefix="mnist1d-")
    os.makedirs(directory, exist_ok=True)
    paths = write_data(directory)
    results = {name: train_and_evaluate(name, layers, paths, directory, args.epochs)
               for name, layers in (("cnn", CNN), ("mlp", MLP))}
    for name, (accuracy, seconds) in results.items():
        print(f"{name:4} {accuracy:.3f}  {seconds:6.1f} s")
    return results


if __name__ == "__main__":
    main()
