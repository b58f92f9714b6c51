"""`handprop exercise`: list, start, check; a right answer PASSES, each named mistake is named."""

import textwrap

import pytest

from handprop.cli import main

# What a learner writes: the right body, and the classic mistakes, each with the words the checker
# must say. Written here from the math, independently of the checker's reference answers.
SOLUTIONS = {
    "dense": ("dense_backward(x, W, b, delta)", "return x.T @ delta, delta.sum(axis=0), delta @ W.T", {
        "transposed": "return (x.T @ delta).T, delta.sum(axis=0), delta @ W.T",
        "sign flipped": "return -(x.T @ delta), delta.sum(axis=0), delta @ W.T",
        "summed over the wrong axis": "return x.T @ delta, delta.sum(axis=1), delta @ W.T",
        "extra 1/n": "return x.T @ delta / len(x), delta.sum(axis=0), delta @ W.T",
        "factor 2 off": "return x.T @ delta, delta.sum(axis=0), 2 * delta @ W.T",
    }),
    "sigmoid": ("sigmoid_backward(z, a, grad)", "return grad * a * (1 - a)", {
        "missing the activation's derivative": "return grad",
        "sign flipped": "return -grad * a * (1 - a)",
        "derivative evaluated at z instead of at a": "return grad * z * (1 - z)",
        "factor 2 off": "return 2 * grad * a * (1 - a)",
    }),
    "tanh": ("tanh_backward(z, a, grad)", "return grad * (1 - a ** 2)", {
        "missing the activation's derivative": "return grad",
        "sign flipped": "return grad * (a ** 2 - 1)",
        "derivative evaluated at z instead of at a": "return grad * (1 - z ** 2)",
    }),
    "relu": ("relu_backward(z, a, grad)", "return grad * (z > 0)", {
        "missing the activation's derivative": "return grad",
        "sign flipped": "return -grad * (z > 0)",
        "multiplied by a = max(0, z)": "return grad * a",
    }),
    "mse": ("mse_backward(pred, y)", "return 2 * (pred - y) / pred.size", {
        "missing 1/n": "return 2 * (pred - y)",
        "sign flipped": "return 2 * (y - pred) / pred.size",
        "factor 2 off": "return (pred - y) / pred.size",
        "extra 1/n": "return 2 * (pred - y) / pred.size ** 2",
        "divided by the rows": "return 2 * (pred - y) / len(pred)",
    }),
    "softmax_cross_entropy": ("softmax_ce_backward(logits, labels)", """
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        p[np.arange(len(labels)), labels] -= 1
        return p / len(labels)""", {
        "missing 1/n": "p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)\n"
                       "p[np.arange(len(labels)), labels] -= 1\nreturn p",
        "sign flipped": "p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)\n"
                        "p[np.arange(len(labels)), labels] -= 1\nreturn -p / len(p)",
        "summed over the wrong axis": "p = np.exp(logits) / np.exp(logits).sum(0, keepdims=True)\n"
                                      "p[np.arange(len(labels)), labels] -= 1\nreturn p / len(p)",
        "used the logits instead of softmax": "p = logits.copy()\np[np.arange(len(labels)), labels] -= 1\n"
                                              "return p / len(p)",
    }),
    "bce": ("bce_backward(p, y)", "return (p - y) / (p * (1 - p)) / p.size", {
        "missing 1/n": "return (p - y) / (p * (1 - p))",
        "sign flipped": "return (y - p) / (p * (1 - p)) / p.size",
        "missing the activation's derivative": "return (p - y) / p.size",
    }),
    "sgd_momentum_step": ("sgd_momentum_step(w, grad, v, lr, momentum)",
                          "v = momentum * v + grad\nreturn w - lr * v, v", {
        "sign flipped": "v = momentum * v + grad\nreturn w + lr * v, v",
        "old velocity": "return w - lr * v, momentum * v + grad",
        "missing the momentum term": "return w - lr * grad, grad",
    }),
    "adam_step": ("adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)", """
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v""", {
        "missing the bias correction": "m = beta1 * m + (1 - beta1) * grad\nv = beta2 * v + (1 - beta2) * grad ** 2\n"
                                       "return w - lr * m / (np.sqrt(v) + eps), m, v",
        "not g": "m = beta1 * m + (1 - beta1) * grad\nv2 = beta2 * v + (1 - beta2) * grad ** 2\n"
                 "v = beta2 * v + (1 - beta2) * grad\n"
                 "m_hat, v_hat = m / (1 - beta1 ** t), v2 / (1 - beta2 ** t)\n"
                 "return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v",
    }),
}

NET = """
    a1 = 1 / (1 + np.exp(-(X @ W1 + b1)))
    a2 = 1 / (1 + np.exp(-(a1 @ W2 + b2)))
    d2 = {d2}
    d1 = {d1}
    return {ret}"""
RIGHT = {"d2": "2 * (a2 - y) / y.size * a2 * (1 - a2)", "d1": "d2 @ W2.T * a1 * (1 - a1)",
         "ret": "X.T @ d1, d1.sum(axis=0), a1.T @ d2, d2.sum(axis=0)"}
SOLUTIONS["two_layer_network"] = ("two_layer_backward(X, y, W1, b1, W2, b2)", NET.format(**RIGHT), {
    "missing the activation's derivative σ'(z2)": NET.format(**{**RIGHT, "d2": "2 * (a2 - y) / y.size"}),
    "missing the activation's derivative σ'(z1)": NET.format(**{**RIGHT, "d1": "d2 @ W2.T"}),
    "missing 1/n": NET.format(**{**RIGHT, "d2": "2 * (a2 - y) * a2 * (1 - a2)"}),
    "transposed": NET.format(**{**RIGHT, "ret": "(X.T @ d1).T, d1.sum(axis=0), a1.T @ d2, d2.sum(axis=0)"}),
    "summed over the wrong axis": NET.format(**{**RIGHT, "ret": "X.T @ d1, d1.sum(axis=1), a1.T @ d2, d2.sum(axis=0)"}),
})

# The convolution written the slow, obvious way: every output position's window, one at a time.
CONV = """
    N, C, L = x.shape
    O, _, K = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    dW, db, dxp = np.zeros_like(W), {db}, np.zeros_like(xp)
    for l in range(delta.shape[2]):
        window = xp[:, :, l * stride:l * stride + K]
        dW += np.einsum("no,nck->ock", delta[:, :, l], window){flip}
        dxp[:, :, l * stride:l * stride + K] += np.einsum("no,ock->nck", delta[:, :, l], W)
    return dW{scale}, db{scale}, dxp[:, :, padding:padding + L]"""
RIGHT_CONV = {"db": "delta.sum(axis=(0, 2))", "flip": "", "scale": ""}
SOLUTIONS["conv1d"] = ("conv1d_backward(x, W, b, delta, stride, padding)", CONV.format(**RIGHT_CONV), {
    "kernel flipped": CONV.format(**RIGHT_CONV).replace("return dW", "return dW[:, :, ::-1]"),
    "extra 1/n": CONV.format(**{**RIGHT_CONV, "scale": " / N"}),
    "sign flipped": CONV.format(**{**RIGHT_CONV, "db": "-delta.sum(axis=(0, 2))"}),
})
SOLUTIONS["dropout"] = ("dropout_backward(grad, mask, p)", "return grad * mask / (1 - p)", {
    "forgot the 1/(1 − p) scale": "return grad * mask",
    "scaled by 1/p instead of 1/(1 − p)": "return grad * mask / p",
    "forgot the mask": "return grad / (1 - p)",
    "sign flipped": "return -grad * mask / (1 - p)",
})


def write_solution(path, signature, body):
    path.write_text(f"import numpy as np\n\n\ndef {signature}:\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ")
                    + "\n", encoding="utf-8")
    return str(path)


def test_every_exercise_of_the_issue_is_listed_with_its_signature(capsys):
    assert main(["exercise", "list"]) == 0
    out = capsys.readouterr().out
    for name, (signature, _, _) in SOLUTIONS.items():
        assert name in out and f"def {signature}" in out
    assert "def dense_backward(x, W, b, delta) -> dW, db, dx" in out
    assert "def softmax_ce_backward(logits, labels) -> dlogits" in out


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_start_writes_a_file_that_is_not_yet_done_then_the_right_answer_passes(name, tmp_path, capsys):
    signature, body, _ = SOLUTIONS[name]
    assert main(["exercise", "start", name, "--dir", str(tmp_path)]) == 0
    path = tmp_path / f"{name}.py"
    text = path.read_text(encoding="utf-8")
    assert f"def {signature}:" in text and "TODO" in text
    assert "_forward(" in text or "def sgd_step(w, grad, lr)" in text  # the part given: forward, or plain SGD
    out = capsys.readouterr().out
    assert f"handprop exercise check {path}" in out
    assert main(["exercise", "check", str(path)]) == 1
    assert "not written yet" in capsys.readouterr().out
    # the learner replaces the TODO with the right answer
    head = text.split(f"def {signature}:")[0]
    path.write_text(head + f"def {signature}:\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n",
                    encoding="utf-8")
    assert main(["exercise", "check", str(path)]) == 0
    assert capsys.readouterr().out.startswith("PASSED")


CASES = [(name, mistake) for name, (_, _, mistakes) in sorted(SOLUTIONS.items()) for mistake in mistakes]


@pytest.mark.parametrize("name,mistake", CASES, ids=[f"{n}-{m[:30]}" for n, m in CASES])
def test_each_mistake_is_named(name, mistake, tmp_path, capsys):
    signature, _, mistakes = SOLUTIONS[name]
    path = write_solution(tmp_path / "mine.py", signature, mistakes[mistake])
    assert main(["exercise", "check", path]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED") and mistake in out, out


def test_start_never_overwrites_and_check_refuses_what_is_not_an_exercise(tmp_path, capsys):
    assert main(["exercise", "start", "mse", "--dir", str(tmp_path)]) == 0
    (tmp_path / "mse.py").write_text("# my work\n", encoding="utf-8")
    assert main(["exercise", "start", "mse", "--dir", str(tmp_path)]) == 2
    assert (tmp_path / "mse.py").read_text(encoding="utf-8") == "# my work\n"
    err = capsys.readouterr().err
    assert "exists already" in err
    assert main(["exercise", "check", str(tmp_path / "mse.py")]) == 2
    assert "defines none of the exercises' functions" in capsys.readouterr().err
    assert main(["exercise", "start", "nope", "--dir", str(tmp_path)]) == 2
    assert "handprop exercise list" in capsys.readouterr().err
    assert main(["exercise", "start", "mse", "--dir", str(tmp_path / "missing")]) == 2
    assert "mkdir -p" in capsys.readouterr().err
    assert main(["exercise", "check", str(tmp_path / "absent.py")]) == 2


def test_a_crashing_answer_is_reported_not_a_traceback(tmp_path, capsys):
    path = write_solution(tmp_path / "mine.py", "mse_backward(pred, y)", "return pred @ y")
    assert main(["exercise", "check", path]) == 1
    assert "mse_backward raised ValueError" in capsys.readouterr().out


def test_exercises_are_installed_with_the_package():
    """Every exercise lives in handprop.exercises (python files: found by setuptools' package find)."""
    from pathlib import Path

    import handprop.exercises as pkg

    folder = Path(pkg.__file__).parent
    assert (folder / "__init__.py").exists() and (folder / "catalog.py").exists()
    assert not [p for p in folder.iterdir() if p.suffix not in (".py", "") and p.name != "__pycache__"]


def test_readme_shows_the_exercise_session_as_it_runs(tmp_path, capsys, monkeypatch):
    """The README's `handprop exercise` session, replayed: the same commands print the quoted lines."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("### Exercises:", 1)[1].split("###", 1)[0]
    session = re.search(r"```\n(.*?)```", section, re.S).group(1)
    assert "handprop doctor" in text.split("### The doctor on a saved model", 1)[1]
    monkeypatch.chdir(tmp_path)
    blocks = re.split(r"^\$ ", session, flags=re.M)[1:]
    for block in blocks:
        command, *expected = block.splitlines()
        words, _, comment = command.partition("#")
        if "after writing:" in comment or "after fixing it:" in comment:  # the learner's edit, as quoted
            body = comment.split(":", 1)[1].strip()
            src = (tmp_path / "sigmoid.py").read_text(encoding="utf-8")
            src = re.sub(r"    # TODO.*\n    raise NotImplementedError\(.*\)\n|    return .*\n\Z",
                         f"    {body}\n", src)
            (tmp_path / "sigmoid.py").write_text(src, encoding="utf-8")
        main(words.split()[1:])
        out = capsys.readouterr().out
        for line in expected:
            if line != "...":
                assert line in out, (command, line, out)


def test_arguments_are_passed_in_the_signatures_order_whatever_their_names(tmp_path, capsys):
    path = write_solution(tmp_path / "mine.py", "dense_backward(inputs, weights, bias, d)",
                          "return inputs.T @ d, d.sum(axis=0), d @ weights.T")
    assert main(["exercise", "check", path]) == 0
    assert "PASSED" in capsys.readouterr().out
