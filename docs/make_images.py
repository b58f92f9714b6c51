"""Regenerate the pictures in docs/ (needs the 'plot' extra):  PYTHONPATH=src python docs/make_images.py

Blog 000's run, stuck on [0, 1] and [1, 1], next to the run the training doctor suggests (--hidden 4).
"""

from pathlib import Path

from handprop import plots
from handprop.cli import make_parser
from handprop.cli.xor import build_xor

HERE = Path(__file__).resolve().parent


def run(*flags):
    model, loss, optimizer, X, y = build_xor(make_parser().parse_args(["xor", *flags]))
    history = model.fit(X, y, loss=loss, optimizer=optimizer, epochs=10000)
    return model, loss, X, y, history


def main():
    model, loss, X, y, history = run()
    plots.loss_curve(history, path=HERE / "loss_curve.png")
    plots.decision_boundary(model, X, y, path=HERE / "decision_boundary.png", loss=loss)
    plots.network_diagram(model, path=HERE / "network.png")
    fixed, loss4, _, _, history4 = run("--hidden", "4")
    plots.training_figure(fixed, history4, X, y, path=HERE / "xor_hidden4.png", loss=loss4)
    for name in ("loss_curve", "decision_boundary", "network", "xor_hidden4"):
        print(HERE / f"{name}.png")


if __name__ == "__main__":
    main()
