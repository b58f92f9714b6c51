"""Pictures: checked by size and content (not blank), never by pixels."""

import numpy as np
import pytest

from _lazy import image, plt
from handprop import MSE, SGD, History, mlp, plots
from handprop.cli import main
from handprop.errors import HandpropError, HandpropValueError

pytestmark = pytest.mark.matplotlib  # draws with matplotlib (tests/_lazy.py)

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
Y = np.array([[0], [1], [1], [0]])


@pytest.fixture(autouse=True)
def needs_matplotlib():
    """Without matplotlib every test here is skipped (it is imported by the first test that runs)."""
    pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(scope="module")
def trained():
    model = mlp([2, 4, 1], "sigmoid", output="sigmoid", init="normal", rng=np.random.RandomState(42))
    history = model.fit(X, Y, loss=MSE(), optimizer=SGD(lr=1.0), epochs=300)
    return model, history


def check_image(path, min_w=200, min_h=150):
    img = image.imread(str(path))
    h, w = img.shape[:2]
    assert w >= min_w and h >= min_h, (w, h)
    rgb = img[..., :3].reshape(-1, 3)
    # not blank: many distinct colours, and a real share of non-white pixels
    assert len(np.unique(np.round(rgb, 2), axis=0)) > 20
    assert np.mean(np.any(rgb < 0.9, axis=1)) > 0.03
    return img


@pytest.mark.slow
def test_loss_curve_with_validation(tmp_path, trained):
    _, history = trained
    h = History()
    for e, v in enumerate(history.loss):
        h.record(e, loss=v, val_loss=v * 1.1)
    path = plots.loss_curve(h, path=tmp_path / "loss.png")
    check_image(path)
    fig = plots.loss_curve(h)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["training", "validation"]
    plt.close(fig)


@pytest.mark.slow
def test_decision_boundary(tmp_path, trained):
    model, _ = trained
    img = check_image(plots.decision_boundary(model, X, Y, path=tmp_path / "db.png"))
    # the left and right halves differ: the plane is coloured by the model's output
    w = img.shape[1]
    assert not np.allclose(img[:, : w // 3, :3].mean(), img[:, w // 3: 2 * w // 3, :3].mean(), atol=1e-3)


def test_network_diagram_line_width_follows_weights(trained):
    model, _ = trained
    fig = plots.network_diagram(model)
    lines = [ln for ln in fig.axes[0].get_lines()]
    assert len(lines) == 2 * 4 + 4 * 1
    widths = np.array([ln.get_linewidth() for ln in lines])
    weights = np.concatenate([model.layers[0].W.ravel(), model.layers[2].W.ravel()])
    assert np.argmax(widths) == np.argmax(np.abs(weights))
    colours = {ln.get_color() for ln, w in zip(lines, weights) if w > 0}
    assert colours == {plots._POS}
    plt.close(fig)


@pytest.mark.slow  # 1.9 s: trains through the CLI and draws
def test_training_figure_and_cli(tmp_path, capsys):
    out = tmp_path / "xor.png"
    assert main(["xor", "--epochs", "200", "--log-every", "100000", "--plot", str(out)]) == 0
    assert f"saved {out}" in capsys.readouterr().out
    img = check_image(out, min_w=900, min_h=250)
    assert img.shape[1] > 2.5 * img.shape[0]  # three panels side by side


def test_bad_inputs(trained):
    model, history = trained
    with pytest.raises(HandpropValueError, match="2 features"):
        plots.decision_boundary(model, np.ones((4, 3)), Y)
    with pytest.raises(HandpropValueError, match="no 'loss' values"):
        plots.loss_curve(History())


def test_missing_matplotlib_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(HandpropError, match=r'pip install "handprop\[plot\]"'):
        plots._plt()


# -- pictures that teach --------------------------------------------------------------------------------
def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_network_diagram_names_inputs_and_shows_biases(trained):
    model, _ = trained
    fig = plots.network_diagram(model)
    texts = _texts(fig)
    assert "x₁" in texts and "x₂" in texts
    for j, b in enumerate(model.layers[0].b):  # every hidden unit's bias, as the model holds it
        assert f"b = {b + 0.0:.2f}" in texts
    assert f"b = {model.layers[2].b[0] + 0.0:.2f}" in texts
    plt.close(fig)
    fig = plots.network_diagram(model, input_names=["width", "height"])
    assert {"width", "height"} <= set(_texts(fig))
    plt.close(fig)


def _overlap(a, b):
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


@pytest.mark.parametrize("sizes", [[64, 128, 64, 10], pytest.param([2, 128, 128, 2], marks=pytest.mark.slow),
                                   pytest.param([30, 256, 3], marks=pytest.mark.slow)])  # 0.3-0.8 s each
def test_big_layers_captions_never_overlap(sizes):
    model = mlp(sizes, "relu", rng=0)
    fig, ax = plt.subplots(figsize=(5, 4))  # the diagram's panel in training_figure
    plots.network_diagram(model, ax=ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    captions = [t for t in ax.texts if t.get_text().startswith(("input", "layer"))]
    assert len(captions) == len(sizes) and any("units" in t.get_text() for t in captions)
    boxes = [t.get_window_extent(renderer) for t in captions]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not _overlap(boxes[i], boxes[j]), (captions[i].get_text(), captions[j].get_text())
    plt.close(fig)


@pytest.mark.slow  # 1.6 s: trains through the CLI and draws
def test_a_regression_run_plots_predictions_against_targets(tmp_path):
    rng = np.random.default_rng(0)
    Xr = rng.uniform(-2, 2, size=(50, 1))
    yr = np.sin(Xr) + 0.1 * rng.normal(size=(50, 1))
    model = mlp([1, 8, 1], "tanh", rng=1)
    history = model.fit(Xr, yr, loss=MSE(), optimizer=SGD(lr=0.1), epochs=50)
    fig = plots.training_figure(model, history, Xr, yr, loss=MSE())
    titles = [ax.get_title() for ax in fig.axes]
    assert "Predictions against targets" in titles
    ax = fig.axes[titles.index("Predictions against targets")]
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], yr.ravel())              # x: the targets
    np.testing.assert_allclose(points[:, 1], model.predict(Xr).ravel())  # y: the predictions
    plt.close(fig)
    out = tmp_path / "reg.png"
    assert main(["train", "--dataset", "regression", "--epochs", "3", "--n", "100", "--quiet",
                 "--out", str(tmp_path / "m.npz"), "--plot", str(out)]) == 0
    check_image(out, min_w=900, min_h=250)


def test_plot_without_matplotlib_is_refused_before_training(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    model_path = tmp_path / "m.npz"
    assert main(["train", "--dataset", "moons", "--epochs", "50", "--out", str(model_path),
                 "--plot", str(tmp_path / "p.png")]) == 2
    captured = capsys.readouterr()
    assert 'pip install "handprop[plot]"' in captured.err
    assert "data:" not in captured.out and not model_path.exists()  # nothing trained, nothing written
    assert main(["xor", "--plot", str(tmp_path / "p.png")]) == 2
    assert "Epoch 0" not in capsys.readouterr().out
