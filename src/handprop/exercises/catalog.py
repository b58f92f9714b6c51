"""The exercises: what to derive (in the blogs' notation), the right answer, and the named mistakes."""

import numpy as np


class Exercise:
    """One exercise. ``reference(**inputs)`` is the right answer; ``mistakes(**inputs)`` maps a
    mistake's name to ``{output: the wrong value it gives}``; ``n(inputs)`` is the n of "1/n"."""

    def __init__(self, name, title, signature, returns, page, forward, inputs, reference, mistakes, n):
        self.name, self.title, self.signature, self.page, self.forward = name, title, signature, page, forward
        self.function = signature.split("(")[0]
        self.returns = tuple(returns.split(", "))
        self.returns_text = returns
        self.inputs, self.reference, self.mistakes, self.n = inputs, reference, mistakes, n


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _rows(inputs):
    return len(next(iter(inputs.values())))


# -- a Dense layer ---------------------------------------------------------------------------------------
def _dense_inputs(rng):
    return {"x": rng.normal(size=(5, 3)), "W": rng.normal(size=(3, 4)), "b": rng.normal(size=4),
            "delta": rng.normal(size=(5, 4))}


DENSE = Exercise(
    "dense", "A Dense layer's backward pass", "dense_backward(x, W, b, delta)", "dW, db, dx",
    """Forward (blog 000, rows are samples): z = x·W + b, with x (n, n_in), W (n_in, n_out), b (n_out,).
You get delta = ∂L/∂z, shape (n, n_out). Derive, from z_ij = Σ_k x_ik W_kj + b_j:
  dW = ∂L/∂W  (n_in, n_out): each weight's share of the error, summed over the n samples
  db = ∂L/∂b  (n_out,): the bias is added to every sample
  dx = ∂L/∂x  (n, n_in): the error handed to the previous layer""",
    "def dense_forward(x, W, b):\n    return x @ W + b",
    _dense_inputs,
    lambda x, W, b, delta: (x.T @ delta, delta.sum(axis=0), delta @ W.T),
    lambda x, W, b, delta: {"summed over the wrong axis": {"db": delta.sum(axis=1)},
                            "extra 1/n": {"db": delta.mean(axis=0), "dW": x.T @ delta / len(x)}},
    _rows)


# -- activations -----------------------------------------------------------------------------------------
def _act_inputs(f):
    def make(rng):
        z = rng.normal(size=(5, 4))
        z = np.where(np.abs(z) < 0.05, 0.5, z)  # away from ReLU's kink
        return {"z": z, "a": f(z), "grad": rng.normal(size=(5, 4))}
    return make


def _activation(name, title, formula, derivative_hint, f, dfdz, extra):
    page = f"""Forward: a = {formula}, elementwise. You get z, a (the forward's output) and grad = ∂L/∂a.
Derive grad_z = ∂L/∂z by the chain rule (blog 001): ∂L/∂z = ∂L/∂a ⊙ ∂a/∂z, with {derivative_hint}."""
    forward = f"def {name}_forward(z):\n    return {formula.replace('σ(z)', '1 / (1 + np.exp(-z))')}"
    return Exercise(
        name, title, f"{name}_backward(z, a, grad)", "grad_z", page, forward, _act_inputs(f),
        lambda z, a, grad: grad * dfdz(z, a),
        lambda z, a, grad: {"missing the activation's derivative": {"grad_z": grad}, **extra(z, a, grad)},
        _rows)


SIGMOID = _activation(
    "sigmoid", "The sigmoid's backward pass", "σ(z)", "∂a/∂z = σ'(z) written with a, the output you already have",
    _sig, lambda z, a: a * (1 - a),
    lambda z, a, grad: {"derivative evaluated at z instead of at a: σ'(z) = a(1 − a)": {"grad_z": grad * z * (1 - z)},
                        "σ(z) alone is not its derivative: σ'(z) = a(1 − a)": {"grad_z": grad * a}})
TANH = _activation(
    "tanh", "tanh's backward pass", "np.tanh(z)", "∂a/∂z = tanh'(z) written with a",
    np.tanh, lambda z, a: 1 - a ** 2,
    lambda z, a, grad: {"derivative evaluated at z instead of at a: tanh'(z) = 1 − a²": {"grad_z": grad * (1 - z ** 2)}})
RELU = _activation(
    "relu", "ReLU's backward pass", "np.maximum(0, z)", "∂a/∂z = 1 where z > 0 and 0 elsewhere",
    lambda z: np.maximum(0, z), lambda z, a: (z > 0).astype(float),
    lambda z, a, grad: {"multiplied by a = max(0, z) instead of the step [z > 0]": {"grad_z": grad * a}})


# -- losses ----------------------------------------------------------------------------------------------
def _mse_inputs(rng):
    return {"pred": rng.normal(size=(6, 3)), "y": rng.normal(size=(6, 3))}


MSE = Exercise(
    "mse", "Mean squared error's gradient", "mse_backward(pred, y)", "grad",
    """L = mean((pred − y)²), the mean over all n entries (n = rows × columns), as in blog 000.
Derive grad = ∂L/∂pred, same shape as pred.""",
    "def mse_forward(pred, y):\n    return np.mean((pred - y) ** 2)",
    _mse_inputs,
    lambda pred, y: 2 * (pred - y) / pred.size,
    lambda pred, y: {"divided by the rows, not by all n entries (extra or missing 1/n)": {"grad": 2 * (pred - y) / len(pred)}},
    lambda inputs: inputs["pred"].size)


def _ce_inputs(rng):
    return {"logits": rng.normal(size=(6, 4)), "labels": rng.integers(0, 4, size=6)}


def _onehot(labels, k):
    return np.eye(k)[labels]


SOFTMAX_CE = Exercise(
    "softmax_cross_entropy", "Softmax cross-entropy's gradient", "softmax_ce_backward(logits, labels)", "dlogits",
    """p = softmax(logits) row by row; L = −(1/n) Σ_i log p[i, labels[i]], the mean over the n rows.
labels holds class indices. Derive dlogits = ∂L/∂logits, shape (n, k); Y, the one-hot rows of labels,
makes it short.""",
    "def softmax_ce_forward(logits, labels):\n    e = np.exp(logits - logits.max(axis=1, keepdims=True))\n"
    "    p = e / e.sum(axis=1, keepdims=True)\n    return -np.mean(np.log(p[np.arange(len(labels)), labels]))",
    _ce_inputs,
    lambda logits, labels: (_softmax(logits) - _onehot(labels, logits.shape[1])) / len(logits),
    lambda logits, labels: {
        "summed over the wrong axis: softmax normalises each row (axis=1)": {
            "dlogits": (_softmax(logits, axis=0) - _onehot(labels, logits.shape[1])) / len(logits)},
        "used the logits instead of softmax(logits)": {"dlogits": (logits - _onehot(labels, logits.shape[1])) / len(logits)},
        "forgot to subtract the one-hot targets Y": {"dlogits": _softmax(logits) / len(logits)}},
    _rows)


def _bce_inputs(rng):
    return {"p": rng.uniform(0.05, 0.95, size=(6, 1)), "y": rng.integers(0, 2, size=(6, 1)).astype(float)}


BCE = Exercise(
    "bce", "Binary cross-entropy's gradient", "bce_backward(p, y)", "grad",
    """p are probabilities (a sigmoid's output), y are 0/1 targets, both (n, 1).
L = −mean(y log p + (1 − y) log(1 − p)). Derive grad = ∂L/∂p (with respect to p, not the logit).""",
    "def bce_forward(p, y):\n    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))",
    _bce_inputs,
    lambda p, y: (p - y) / (p * (1 - p)) / p.size,
    lambda p, y: {"gave ∂L/∂z of the logit, (p − y)/n, not ∂L/∂p: missing the activation's derivative 1/(p(1 − p))":
                  {"grad": (p - y) / p.size}},
    lambda inputs: inputs["p"].size)


# -- optimizers ------------------------------------------------------------------------------------------
def _sgd_inputs(rng):
    return {"w": rng.normal(size=(3, 2)), "grad": rng.normal(size=(3, 2)), "v": rng.normal(size=(3, 2)),
            "lr": 0.1, "momentum": 0.9}


def _sgd(w, grad, v, lr, momentum):
    v_new = momentum * v + grad
    return w - lr * v_new, v_new


SGD_MOMENTUM = Exercise(
    "sgd_momentum_step", "One step of SGD with momentum", "sgd_momentum_step(w, grad, v, lr, momentum)", "w_new, v_new",
    """PyTorch's rule (handprop's SGD follows it): the velocity v collects the gradients,
  v ← μ·v + ∂L/∂w,     w ← w − η·v        (μ = momentum, η = lr)
Return the new w and the new v (do not change the arrays you were given).""",
    "def sgd_step(w, grad, lr):\n    return w - lr * grad",
    _sgd_inputs, _sgd,
    lambda w, grad, v, lr, momentum: {
        "sign flipped: w moves up the gradient": {"w_new": w + lr * (momentum * v + grad)},
        "updated w with the old velocity v, not the new one": {"w_new": w - lr * v},
        "missing the momentum term μ·v": {"w_new": w - lr * grad, "v_new": grad}},
    lambda inputs: 1)


def _adam_inputs(rng):
    return {"w": rng.normal(size=(3, 2)), "grad": rng.normal(size=(3, 2)), "m": 0.1 * rng.normal(size=(3, 2)),
            "v": rng.uniform(0.01, 0.1, size=(3, 2)), "t": 3, "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


def _adam(w, grad, m, v, t, lr, beta1, beta2, eps, correct=True, square=True):
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * (grad * grad if square else grad)
    m_hat, v_hat = (m_new / (1 - beta1 ** t), v_new / (1 - beta2 ** t)) if correct else (m_new, v_new)
    return w - lr * m_hat / (np.sqrt(np.abs(v_hat)) + eps), m_new, v_new


ADAM = Exercise(
    "adam_step", "One step of Adam", "adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)", "w_new, m_new, v_new",
    """Adam (Kingma & Ba; PyTorch's rule), step number t counted from 1, g = ∂L/∂w:
  m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
  m̂ = m / (1 − β1ᵗ)              v̂ = v / (1 − β2ᵗ)           (the bias corrections)
  w ← w − η·m̂ / (√v̂ + ε)
Return the new w, m and v.""",
    "def sgd_step(w, grad, lr):\n    return w - lr * grad",
    _adam_inputs, _adam,
    lambda **k: {"missing the bias correction m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ)": {"w_new": _adam(**k, correct=False)[0]},
                 "v must average g² (the squared gradient), not g": {"v_new": _adam(**k, square=False)[2]}},
    lambda inputs: 1)


# -- blog 000's whole backward pass -----------------------------------------------------------------------
def _net_inputs(rng):
    return {"X": rng.normal(size=(5, 3)), "y": rng.uniform(0, 1, size=(5, 1)), "W1": rng.normal(size=(3, 4)),
            "b1": rng.normal(size=4), "W2": rng.normal(size=(4, 1)), "b2": rng.normal(size=1)}


def _net(X, y, W1, b1, W2, b2, out_deriv=True, hidden_deriv=True, axis=0):
    a1 = _sig(X @ W1 + b1)
    a2 = _sig(a1 @ W2 + b2)
    delta2 = 2 * (a2 - y) / y.size * (a2 * (1 - a2) if out_deriv else 1)
    delta1 = delta2 @ W2.T * (a1 * (1 - a1) if hidden_deriv else 1)
    return X.T @ delta1, delta1.sum(axis=axis), a1.T @ delta2, delta2.sum(axis=axis)


TWO_LAYER = Exercise(
    "two_layer_network", "Blog 000's whole backward pass", "two_layer_backward(X, y, W1, b1, W2, b2)",
    "dW1, db1, dW2, db2",
    """Blog 000's network, rows are samples:
  z1 = X·W1 + b1,  a1 = σ(z1),  z2 = a1·W2 + b2,  a2 = σ(z2),  L = mean((a2 − y)²)  (n = entries of y)
Backward, right to left (blog 001):
  δ2 = ∂L/∂z2 = ∂L/∂a2 ⊙ σ'(z2),  ∂L/∂W2 = a1ᵀ·δ2,  ∂L/∂b2 = Σ_rows δ2
  δ1 = ∂L/∂z1 = (δ2·W2ᵀ) ⊙ σ'(z1),  ∂L/∂W1 = Xᵀ·δ1,  ∂L/∂b1 = Σ_rows δ1
Fill in ∂L/∂a2 and σ', then return dW1, db1, dW2, db2.""",
    "def two_layer_forward(X, W1, b1, W2, b2):\n    a1 = 1 / (1 + np.exp(-(X @ W1 + b1)))\n"
    "    return 1 / (1 + np.exp(-(a1 @ W2 + b2)))",
    _net_inputs, _net,
    lambda **k: {"missing the activation's derivative σ'(z2) = a2(1 − a2) at the output":
                 dict(zip(("dW1", "db1", "dW2", "db2"), _net(**k, out_deriv=False))),
                 "missing the activation's derivative σ'(z1) = a1(1 − a1) in the hidden layer":
                 {"dW1": _net(**k, hidden_deriv=False)[0], "db1": _net(**k, hidden_deriv=False)[1]},
                 "summed over the wrong axis: a bias gradient sums δ over the rows (axis=0)":
                 {"db1": _net(**k, axis=1)[1], "db2": _net(**k, axis=1)[3]}},
    lambda inputs: inputs["y"].size)

# -- a 1-D convolution ----------------------------------------------------------------------------------
def _conv_inputs(rng):
    x, W = rng.normal(size=(3, 2, 9)), rng.normal(size=(4, 2, 3))
    stride, padding = 2, 1
    L_out = (9 + 2 * padding - 3) // stride + 1
    return {"x": x, "W": W, "b": rng.normal(size=4), "delta": rng.normal(size=(3, 4, L_out)),
            "stride": stride, "padding": padding}


def _conv_reference(x, W, b, delta, stride, padding):
    from ..conv import Conv1D  # the layer itself, checked against torch.nn.Conv1d in its tests

    layer = Conv1D(W.shape[1], W.shape[0], W.shape[2], stride=stride, padding=padding, weight=W, bias=b)
    layer.forward(x)
    dx = layer.backward(delta)
    return layer.dW, layer.db, dx


def _conv_mistakes(x, W, b, delta, stride, padding):
    dW, db, _ = _conv_reference(x, W, b, delta, stride, padding)
    return {"kernel flipped (that is a true convolution; the layer, like PyTorch's, does not flip)":
            {"dW": dW[:, :, ::-1]},
            "extra 1/n": {"dW": dW / len(x), "db": db / len(x)}}


CONV1D = Exercise(
    "conv1d", "A 1-D convolution's backward pass", "conv1d_backward(x, W, b, delta, stride, padding)",
    "dW, db, dx",
    """Forward (as torch.nn.Conv1d): x (N, C, L), W (O, C, K), b (O,); xp is x with `padding` zeros at
both ends, and output position l reads the window xp[:, :, l·stride : l·stride + K]:
  y[n, o, l] = b[o] + Σ_c Σ_k W[o, c, k] · xp[n, c, l·stride + k]
You get delta = ∂L/∂y, shape (N, O, L_out). Derive:
  dW (O, C, K): Σ over samples and positions of delta[n, o, l] times the window it saw
  db (O,): the bias is added at every sample and every position
  dx (N, C, L): each window's share W[o, c, k]·delta[n, o, l], added back where it was read
               (windows overlap when stride < K), without the padding""",
    "def conv1d_forward(x, W, b, stride, padding):\n"
    "    N, C, L = x.shape\n"
    "    O, _, K = W.shape\n"
    "    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))\n"
    "    L_out = (L + 2 * padding - K) // stride + 1\n"
    "    y = np.empty((N, O, L_out))\n"
    "    for l in range(L_out):\n"
    "        window = xp[:, :, l * stride:l * stride + K]          # (N, C, K)\n"
    "        y[:, :, l] = np.einsum(\"nck,ock->no\", window, W) + b\n"
    "    return y",
    _conv_inputs, _conv_reference, _conv_mistakes, _rows)


# -- dropout ---------------------------------------------------------------------------------------------
def _dropout_inputs(rng):
    p = 0.25
    return {"grad": rng.normal(size=(6, 5)), "mask": (rng.random((6, 5)) >= p).astype(np.float64), "p": p}


DROPOUT = Exercise(
    "dropout", "Inverted dropout's backward pass", "dropout_backward(grad, mask, p)", "dx",
    """Forward in training (inverted dropout, as torch.nn.Dropout): each unit is kept with probability
1 − p (mask = 1) or dropped (mask = 0), and the kept ones are scaled up so that the expected output
equals the input:  y = x · mask / (1 − p).  At evaluation y = x.
You get grad = ∂L/∂y and the mask the forward pass drew. Derive dx = ∂L/∂x.""",
    "def dropout_forward(x, mask, p):\n    return x * mask / (1 - p)",
    _dropout_inputs,
    lambda grad, mask, p: grad * mask / (1 - p),
    lambda grad, mask, p: {"forgot the 1/(1 − p) scale": {"dx": grad * mask},
                           "scaled by 1/p instead of 1/(1 − p)": {"dx": grad * mask / p},
                           "forgot the mask (dropped units pass no gradient)": {"dx": grad / (1 - p)}},
    _rows)


EXERCISES = (DENSE, SIGMOID, TANH, RELU, MSE, SOFTMAX_CE, BCE, SGD_MOMENTUM, ADAM, TWO_LAYER, CONV1D, DROPOUT)
