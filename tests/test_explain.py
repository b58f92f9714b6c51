"""explain: one training step factor by factor; numbers checked against blog 000's plain NumPy code."""

import html.parser
import re

import numpy as np
import pytest

import handprop
from handprop import (BCE, MSE, SGD, Adam, CrossEntropy, Dense, HalfSSE, LeakyReLU, Layer, ReLU, Sequential,
                      Sigmoid, Softmax, Tanh)
from handprop.cli import main
from handprop.errors import HandpropValueError
from handprop.explain import explain

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
Y = np.array([[0], [1], [1], [0]])


def blog_000_model():
    rng = np.random.RandomState(42)  # np.random.seed(42), then randn(2, 2), randn(2, 1)
    return Sequential([Dense(2, 2, init="normal", rng=rng), Sigmoid(), Dense(2, 1, init="normal", rng=rng), Sigmoid()])


def blog_000_numpy_step(lr=0.1):
    """Blog 000's first loop iteration, as the blog writes it (plain NumPy, no handprop)."""
    np.random.seed(42)
    W1 = np.random.randn(2, 2)
    b1 = np.zeros((1, 2))
    W2 = np.random.randn(2, 1)
    b2 = np.zeros((1, 1))

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def sigmoid_derivative(a):
        return a * (1 - a)

    z1 = np.dot(X, W1) + b1
    a1 = sigmoid(z1)
    z2 = np.dot(a1, W2) + b2
    a2 = sigmoid(z2)
    loss = np.mean((Y - a2) ** 2)
    d_loss_a2 = 2 * (a2 - Y) / Y.size
    d_a2_z2 = sigmoid_derivative(a2)
    d_z2 = d_loss_a2 * d_a2_z2
    d_W2 = np.dot(a1.T, d_z2)
    d_b2 = np.sum(d_z2, axis=0, keepdims=True)
    d_a1 = np.dot(d_z2, W2.T)
    d_a1_z1 = sigmoid_derivative(a1)
    d_z1 = d_a1 * d_a1_z1
    d_W1 = np.dot(X.T, d_z1)
    d_b1 = np.sum(d_z1, axis=0, keepdims=True)
    return {
        "z1": z1, "a1": a1, "z2": z2, "a2": a2, "L": loss,
        "∂L/∂a2": d_loss_a2, "∂a2/∂z2": d_a2_z2, "δ2": d_z2, "∂L/∂W2": d_W2, "∂L/∂b2": d_b2.ravel(),
        "∂L/∂a1": d_a1, "∂a1/∂z1": d_a1_z1, "δ1": d_z1, "∂L/∂W1": d_W1, "∂L/∂b1": d_b1.ravel(),
        "W1_new": W1 - lr * d_W1, "b1_new": (b1 - lr * d_b1).ravel(),
        "W2_new": W2 - lr * d_W2, "b2_new": (b2 - lr * d_b2).ravel(),
    }


def test_every_factor_of_blog_001_matches_plain_numpy():
    ex = explain(blog_000_model(), MSE(), X, Y, lr=0.1)
    expected = blog_000_numpy_step(lr=0.1)
    for key, value in expected.items():
        np.testing.assert_allclose(ex.values[key], value, rtol=1e-12, atol=1e-15, err_msg=key)
    assert ex.passed  # the closing finite-difference check


def test_text_names_every_factor_with_its_formula():
    text = str(explain(blog_000_model(), MSE(), X, Y, lr=0.1))
    for line in ["z1 = X·W1 + b1", "a1 = σ(z1)", "z2 = a1·W2 + b2", "a2 = σ(z2)",
                 "L = mean((a2 − y)²) = 0.255", "∂L/∂a2 = 2(a2 − y)/n", "∂a2/∂z2 = a2(1 − a2)",
                 "δ2 = ∂L/∂a2 ⊙ ∂a2/∂z2", "∂L/∂W2 = a1ᵀ·δ2", "∂L/∂b2 = Σ_rows δ2", "∂L/∂a1 = δ2·W2ᵀ",
                 "∂a1/∂z1 = a1(1 − a1)", "δ1 = ∂L/∂a1 ⊙ ∂a1/∂z1", "[= (δ2·W2ᵀ) ⊙ σ'(z1)]",
                 "∂L/∂W1 = Xᵀ·δ1", "∂L/∂b1 = Σ_rows δ1", "W1 ← W1 − η·∂L/∂W1    (η = 0.1)",
                 "∂L/∂W1: backprop vs. finite differences"]:
        assert line in text, line
    # values printed as the blog's arrays: a2 of the first step
    a2 = blog_000_numpy_step()["a2"].ravel()
    assert f"{a2[0]:.4g}" in text


def test_model_is_untouched_unless_apply():
    model = blog_000_model()
    before = [p.value.copy() for p in model.parameters()]
    ex = explain(model, MSE(), X, Y, lr=0.1)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.value, b)
    explain(model, MSE(), X, Y, lr=0.1, apply=True)
    reference = blog_000_model()
    reference.fit(X, Y, loss=MSE(), optimizer=SGD(lr=0.1), epochs=1)
    for p, q, key in zip(model.parameters(), reference.parameters(), ["W1", "b1", "W2", "b2"]):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-14)
        np.testing.assert_allclose(ex.values[key + "_new"], q.value, rtol=1e-14)


def test_adam_update_uses_a_copy_of_the_optimizer():
    model = blog_000_model()
    opt = Adam(lr=0.01)
    ex = explain(model, MSE(), X, Y, optimizer=opt)
    assert opt.n_params is None  # the caller's optimizer was not stepped
    reference = blog_000_model()
    reference.fit(X, Y, loss=MSE(), optimizer=Adam(lr=0.01), epochs=1)
    np.testing.assert_allclose(ex.values["W1_new"], reference.layers[0].W, rtol=1e-14)
    assert "Adam" in str(ex) and "m̂" in str(ex)


@pytest.mark.parametrize("act,formula,deriv", [
    (Tanh(), "a1 = tanh(z1)", "∂a1/∂z1 = 1 − a1²"),
    (ReLU(), "a1 = max(0, z1)", "∂a1/∂z1 = [z1 > 0]"),
    (LeakyReLU(0.1), "a1 = max(z1, 0.1·z1)", "∂a1/∂z1 = [z1 > 0] + 0.1·[z1 ≤ 0]"),
])
def test_formulas_follow_the_activation(act, formula, deriv):
    rng = np.random.default_rng(0)
    model = Sequential([Dense(3, 4, rng=1), act, Dense(4, 1, rng=2)])
    Xr, yr = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    ex = explain(model, HalfSSE(), Xr, yr)
    text = str(ex)
    assert formula in text and deriv in text and "∂L/∂a2" not in text
    assert "∂L/∂z2 = z2 − y" in text   # HalfSSE on a linear output: the ½ cancels the 2
    assert ex.passed, str(ex.check)
    local = ex.values["∂a1/∂z1"]
    z1 = ex.values["z1"]
    expected = {Tanh: 1 - np.tanh(z1) ** 2, ReLU: (z1 > 0) * 1.0, LeakyReLU: np.where(z1 > 0, 1, 0.1)}[type(act)]
    np.testing.assert_allclose(local, expected, rtol=1e-12)


def test_cross_entropy_from_logits():
    rng = np.random.default_rng(1)
    Xc, labels = rng.normal(size=(5, 2)), np.array([0, 2, 1, 2, 0])
    model = Sequential([Dense(2, 4, rng=3), Tanh(), Dense(4, 3, rng=4)])
    ex = explain(model, CrossEntropy(), Xc, labels, lr=0.5)
    text = str(ex)
    assert "∂L/∂z2 = (softmax(z2) − Y)/n" in text and "δ2 = ∂L/∂z2" in text
    z2 = ex.values["z2"]
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(ex.values["δ2"], (p - onehot) / 5, rtol=1e-12)
    np.testing.assert_allclose(ex.values["L"], -np.mean(np.log(p[np.arange(5), labels])), rtol=1e-12)
    assert ex.passed


def test_softmax_layer_and_bce_formulas():
    rng = np.random.default_rng(2)
    model = Sequential([Dense(2, 3, rng=1), Softmax(), Dense(3, 1, rng=2), Sigmoid()])
    ex = explain(model, BCE(), rng.normal(size=(4, 2)), np.array([[0], [1], [1], [0]]))
    text = str(ex)
    assert "δ1 = a1 ⊙ (∂L/∂a1 − Σ_j ∂L/∂a1_j a1_j)" in text
    assert "∂L/∂a2 = (a2 − y) / (a2(1 − a2)) / n" in text
    assert ex.passed


def test_unknown_layer_is_shown_by_its_backward():
    class Double(Layer):
        def forward(self, x):
            return 2 * x

        def backward(self, grad, need_input_grad=True):
            return 2 * grad

    rng = np.random.default_rng(3)
    ex = explain(Sequential([Dense(2, 2, rng=1), Double(), Dense(2, 1, rng=2)]), MSE(),
                 rng.normal(size=(3, 2)), rng.normal(size=(3, 1)))
    assert "a1 = Double(z1)" in str(ex) and "δ1 = Double.backward(∂L/∂a1)" in str(ex)
    assert ex.passed


def test_big_arrays_are_summarised_unless_full():
    rng = np.random.default_rng(4)
    model = Sequential([Dense(3, 50, rng=1), Sigmoid(), Dense(50, 1, rng=2), Sigmoid()])
    ex = explain(model, MSE(), rng.normal(size=(20, 3)), rng.uniform(size=(20, 1)), check=False)
    short, full = ex.to_text(), ex.to_text(full=True)
    assert "..." in short and "..." not in full and len(full) > 2 * len(short)
    assert "\\cdots" in ex.to_markdown() and "\\cdots" not in ex.to_markdown(full=True)
    assert ex.check is None and not ex.passed


# -- Markdown and HTML ------------------------------------------------------------------------------
def _math_blocks(md):
    return re.findall(r"\$\$(.+?)\$\$", md, flags=re.S)


def test_markdown_is_well_formed_latex():
    md = explain(blog_000_model(), MSE(), X, Y).to_markdown()
    blocks = _math_blocks(md)
    assert md.count("$$") == 2 * len(blocks) and len(blocks) >= 20
    for block in blocks:
        assert block.count("{") == block.count("}"), block
        assert block.count("\\begin{bmatrix}") == block.count("\\end{bmatrix}"), block
    assert "\\delta_{2} = \\frac{\\partial L}{\\partial a_{2}} \\odot \\frac{\\partial a_{2}}{\\partial z_{2}}" in md
    assert "\\frac{\\partial L}{\\partial W_{2}} = a_{1}^\\top \\delta_{2}" in md
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[1:] == ["#### Forward pass", "#### Loss", "#### Backward pass (chain rule)", "#### Update",
                            "#### Check against finite differences"]


def test_markdown_parses_with_a_commonmark_parser():
    markdown_it = pytest.importorskip("markdown_it")
    md = explain(blog_000_model(), MSE(), X, Y).to_markdown()
    tokens = markdown_it.MarkdownIt("commonmark").parse(md)
    headings = [t for t in tokens if t.type == "heading_open"]
    assert len(headings) == 6
    paragraphs = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "paragraph_open"]
    # every formula is a paragraph of its own that starts and ends with $$ (what KaTeX/MathJax render)
    math = [p for p in paragraphs if p.startswith("$$")]
    assert math and all(p.endswith("$$") for p in math)
    assert len(math) == len(_math_blocks(md))


class _Checker(html.parser.HTMLParser):
    VOID = {"meta", "br", "img", "link", "hr", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.errors = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_html_is_one_self_contained_page():
    ex = explain(blog_000_model(), MSE(), X, Y)
    page = ex.to_html()
    checker = _Checker()
    checker.feed(page)
    assert checker.errors == [] and checker.stack == []
    assert page.startswith("<!DOCTYPE html>")
    names = [t for t, _ in checker.tags]
    assert "script" not in names and "link" not in names and "img" not in names
    assert not any("src" in a or "href" in a for _, a in checker.tags)
    assert "δ2 = ∂L/∂a2 ⊙ ∂a2/∂z2" in page and "<style>" in page
    fragment = ex._repr_html_()
    assert "<html" not in fragment and fragment.startswith('<div class="handprop-explain">')


def test_bad_arguments():
    with pytest.raises(HandpropValueError, match="lr must be positive"):
        explain(blog_000_model(), MSE(), X, Y, lr=0)
    with pytest.raises(HandpropValueError, match="X has 3 features"):
        explain(blog_000_model(), MSE(), np.ones((4, 3)), Y)
    with pytest.raises(HandpropValueError, match="no layers"):
        explain(Sequential([]), MSE(), X, Y)
    with pytest.raises(HandpropValueError, match="CrossEntropy takes logits"):
        explain(Sequential([Dense(2, 2, rng=0), Softmax()]), CrossEntropy(), X, Y.ravel())


def test_public_api():
    assert handprop.explain is explain


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_explain_prints_blog_000s_first_step(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "δ1 = ∂L/∂a1 ⊙ ∂a1/∂z1" in out and "L = mean((a2 − y)²) = 0.25583" in out


def test_cli_explain_formats_and_files(tmp_path, capsys):
    page = tmp_path / "step.html"
    assert main(["explain", "--format", "html", "-o", str(page)]) == 0
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["explain", "--format", "markdown", "--hidden", "3", "--activation", "tanh"]) == 0
    md = capsys.readouterr().out
    assert "\\tanh(z_{1})" in md


def test_cli_explain_after_training(capsys):
    assert main(["explain", "--epochs", "10"]) == 0
    out = capsys.readouterr().out
    model = blog_000_model()
    model.fit(X, Y, loss=MSE(), optimizer=SGD(lr=0.1), epochs=10)
    loss = MSE().forward(model.predict(X), Y)
    assert f"L = mean((a2 − y)²) = {loss:.6g}" in out


def test_cli_model_without_data_is_an_error(capsys):
    assert main(["explain", "--data", "x.csv"]) == 2
    assert "--data needs --model" in capsys.readouterr().err


def test_cli_explain_and_gradcheck_from_a_saved_model(tmp_path, capsys):
    io = pytest.importorskip("handprop.io")
    if not hasattr(io, "save"):
        pytest.skip("handprop.io has no save yet")
    model = handprop.mlp([2, 3, 1], "tanh", output="sigmoid", rng=0)
    path = tmp_path / "model.npz"
    io.save(model, path)
    data = tmp_path / "data.npz"
    np.savez(data, X=X.astype(float), y=Y.astype(float))
    assert main(["explain", "--model", str(path), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "a1 = tanh(z1)" in out and "✓" in out
    expected = MSE().forward(model.predict(X), Y)
    assert f"= {expected:.6g}" in out
    assert main(["gradcheck", "--model", str(path), "--data", str(data), "--rows", "3"]) == 0
    assert "gradcheck PASSED: MSE on 3 samples" in capsys.readouterr().out


def test_cli_unwritable_output_is_a_clean_error(tmp_path, capsys):
    bad = tmp_path / "missing" / "step.html"
    assert main(["explain", "--format", "html", "-o", str(bad)]) == 2
    assert "--output" in capsys.readouterr().err


def test_check_argument_is_validated():
    with pytest.raises(HandpropValueError, match="check must be True, False or 'auto'"):
        explain(blog_000_model(), MSE(), X, Y, check="yes")


@pytest.mark.slow  # 0.9 s: runs every documented command
def test_teaching_docs_show_real_output(capsys):
    """The README quotes `handprop explain` and `handprop xor`: every quoted formula line is really
    printed, and every picture it shows exists."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    text = (root / "README.md").read_text(encoding="utf-8")
    assert main(["explain"]) == 0
    explained = capsys.readouterr().out
    quoted = [line for line in text.splitlines() if line.startswith(("∂L/∂", "δ", "W1 ←", "L = "))]
    assert len(quoted) >= 8
    for line in quoted:
        assert line in explained, line
    assert main(["xor"]) == 0  # as the README runs it: its advice repeats this command line
    doctor = capsys.readouterr().out
    xor_part = text.split("A model file written by `handprop train` records")[0]  # then the saved model's
    for line in xor_part.splitlines():
        if line.startswith(("Training doctor:", "[merged_samples]", "try (", "  handprop xor --")):
            assert line in doctor, line
    for image in re.findall(r"\]\((docs/[^)]+\.png)\)", text):
        assert (root / image).is_file(), image


def test_cli_explain_takes_xors_flags():
    import argparse

    from handprop.cli import make_parser

    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))

    def options(name):
        return {o for a in sub.choices[name]._actions for o in a.option_strings}

    training_only = {"--plot", "--no-doctor"}
    assert options("xor") - training_only <= options("explain")
    assert options("xor") - training_only <= options("gradcheck")


# -- the layer contract: the README's example layer, first in the model, everywhere --------------------
def readme_layer():
    """The ``Scale`` layer of the README's "Write your own layer" section, executed as printed."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("### Write your own layer", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "def backward(self, grad):" in code and len(code.strip().splitlines()) <= 20
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    return ns["Scale"]


def test_readme_layer_first_in_fit_gradcheck_explain_and_doctor():
    from handprop import Dense, Sequential, diagnose

    Scale = readme_layer()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = (X[:, :1] - 2 * X[:, 1:]) * 0.5
    model = Sequential([Scale(2), Dense(2, 3, rng=1), handprop.Tanh(), Dense(3, 1, rng=2)])
    # the layer's math, by hand: dL/dw = Σ_rows grad ⊙ x
    layer = model.layers[0]
    layer.forward(X)
    G = rng.normal(size=X.shape)
    np.testing.assert_allclose(layer.backward(G), G * layer.w)
    np.testing.assert_allclose(layer.dw, (G * X).sum(axis=0))
    w0 = layer.w.copy()
    history = model.fit(X, y, loss="mse", optimizer="sgd", lr=0.1, epochs=50)
    assert history.loss[-1] < history.loss[0] and not np.array_equal(layer.w, w0)  # w trained
    report = handprop.gradcheck(model, "mse", X[:5], y[:5])
    assert report.passed, str(report)
    assert ("layer 0 Scale()", "w") in report.max_errors()
    ex = handprop.explain(model, "mse", X[:3], y[:3])
    assert ex.passed and "∂L/∂w = Scale.dw" in str(ex) and "w ← w − η·∂L/∂w" in str(ex)
    diagnose(model, X, y, loss="mse", history=history)  # runs: no TypeError from the first layer


def test_a_wrong_user_layer_first_is_named():
    from handprop import Dense, Sequential

    Scale = readme_layer()

    class WrongScale(Scale):
        def backward(self, grad):
            self.dw = grad.sum(axis=0)  # forgot the factor x
            return grad * self.w

    X = np.random.default_rng(1).normal(size=(4, 2))
    report = handprop.gradcheck(Sequential([WrongScale(2), Dense(2, 1, rng=0)]), "mse", X, X[:, :1])
    assert [i for i, _ in report.culprits] == [0] and "=> layer 0 WrongScale()" in str(report)


# -- explain on a saved model: text labels, raw inputs, weights where used, the real optimizer ----------
def _text_label_csv(path):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=50, scale=10, size=(60, 2))
    labels = np.where(X[:, 0] > 50, "big", "small")
    lines = ["width,height,size"] + [f"{a!r},{b!r},{c}" for (a, b), c in zip(X.tolist(), labels)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return X


@pytest.mark.parametrize("optimizer,rule", [("adam", "m̂/(√v̂ + ε)  (Adam"), ("sgd", "(momentum")])
def test_explain_a_saved_model_trained_on_text_labels(optimizer, rule, tmp_path, capsys):
    X = _text_label_csv(tmp_path / "d.csv")
    model_path = str(tmp_path / "m.npz")
    assert main(["train", str(tmp_path / "d.csv"), "--layers", "3", "--epochs", "2", "--optimizer", optimizer,
                 "--out", model_path, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["explain", "--model", model_path, "--data", str(tmp_path / "d.csv"), "--rows", "2"]) == 0
    out = capsys.readouterr().out
    assert "unseen label" not in out and rule in out
    lr = "0.001" if optimizer == "adam" else "0.01"  # train's defaults, recorded in the file
    assert f"(η = {lr})" in out
    # the raw rows next to the scaled ones, and the scaling undone by hand
    lines = out.splitlines()
    i = lines.index(next(line for line in lines if line.startswith("X_raw = input as the data file holds it")))
    assert f"{X[0, 0]:.4g}" in lines[i + 1]
    m = handprop.load(model_path)
    scaled = (X[:2] - m.info.x_scaler.mean_) / m.info.x_scaler.scale_
    assert f"{scaled[0, 0]:.4g}" in out
    # the weights shown where they are used, right before z1 = X·W1 + b1
    j = next(k for k, line in enumerate(lines) if line.startswith("z1 = X·W1 + b1"))
    w = next(k for k, line in enumerate(lines) if line.startswith("W1 = weights"))
    b = next(k for k, line in enumerate(lines) if line.startswith("b1 = biases"))
    assert w < b < j and f"{m.layers[0].W[0, 0] + 0.0:.4g}" in "\n".join(lines[w:b])
    assert assert_no_minus_zero(out)


def assert_no_minus_zero(text):
    import re

    return not re.search(r"(?<![\d.e])-0(?![.\d])", text)


def test_float32_rows_leave_the_explained_model_in_its_own_float_type():
    """``explain`` reads float32 rows as the model's float64 (the model is not cast, nor changed)."""
    model = Sequential([Dense(2, 2, rng=0), Sigmoid(), Dense(2, 1, rng=1), Sigmoid()])
    before = [p.value.copy() for p in model.parameters()]
    X = np.array([[0, 1], [1, 0]], np.float32)
    explain(model, MSE(), X, np.array([[1.0], [1.0]]))
    assert model.dtype == np.float64
    for p, w in zip(model.parameters(), before):
        assert p.value.dtype == np.float64
        np.testing.assert_array_equal(p.value, w)
