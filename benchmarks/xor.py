"""Blog 000's XOR run (2-2-1 sigmoid, MSE, SGD lr 0.1, full batch), per epoch, side by side.

Contenders: the blog's own NumPy loop (the reference), handprop's ``model.fit``, PyTorch autograd on
tensors, PyTorch ``nn.Sequential`` + ``optim.SGD``, and micrograd (scalar autograd). Each starts
from the blog's weights (``np.random.seed(42)``) and prints the loss every 1000 epochs, as the blog
does (into a buffer); the slow peers run fewer epochs and are reported per epoch.
"""

import contextlib
import io
import math
import time

import numpy as np

from common import optional

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
Y = np.array([[0], [1], [1], [0]])
LR = 0.1


def blog_weights():
    rng = np.random.RandomState(42)  # the blog's np.random.seed(42)
    return rng.randn(2, 2), np.zeros((1, 2)), rng.randn(2, 1), np.zeros((1, 1))


def blog_loop(epochs):
    """The blog's program as published (its functions, its loop), timed without its imports."""
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def sigmoid_derivative(x):
        return x * (1 - x)

    def mse_loss(y_true, y_pred):
        return np.mean((y_true - y_pred) ** 2)

    y, learning_rate = Y, LR
    W1, b1, W2, b2 = blog_weights()
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        for epoch in range(epochs):
            z1 = np.dot(X, W1) + b1
            a1 = sigmoid(z1)
            z2 = np.dot(a1, W2) + b2
            a2 = sigmoid(z2)
            loss = mse_loss(y, a2)
            d_loss_a2 = 2 * (a2 - y) / y.size
            d_a2_z2 = sigmoid_derivative(a2)
            d_z2 = d_loss_a2 * d_a2_z2
            d_W2 = np.dot(a1.T, d_z2)
            d_b2 = np.sum(d_z2, axis=0, keepdims=True)
            d_a1 = np.dot(d_z2, W2.T)
            d_z1 = d_a1 * sigmoid_derivative(a1)
            d_W1 = np.dot(X.T, d_z1)
            d_b1 = np.sum(d_z1, axis=0, keepdims=True)
            W2 -= learning_rate * d_W2
            b2 -= learning_rate * d_b2
            W1 -= learning_rate * d_W1
            b1 -= learning_rate * d_b1
            if epoch % 1000 == 0:
                print(f"Epoch {epoch}, Loss: {loss:.4f}")
    seconds = time.perf_counter() - start
    a2 = 1 / (1 + np.exp(-(np.dot(1 / (1 + np.exp(-(np.dot(X, W1) + b1))), W2) + b2)))
    return seconds, out.getvalue(), a2


def inplace_loop(epochs):
    """The blog's math with every array preallocated and every operation in place (``out=``): how far
    fewer, cheaper NumPy calls go on this machine. Not handprop; a yardstick for its overhead."""
    Xf, y = X.astype(float), Y.astype(float)
    W1, b1, W2, b2 = blog_weights()
    b1, b2 = b1.ravel(), b2.ravel()
    a1, a2, d1, d2 = np.empty((4, 2)), np.empty((4, 1)), np.empty((4, 2)), np.empty((4, 1))
    t1, t2, sq = np.empty((4, 2)), np.empty((4, 1)), np.empty((4, 1))
    dW1, db1, dW2, db2 = np.empty((2, 2)), np.empty(2), np.empty((2, 1)), np.empty(1)
    u1, v1, u2, v2 = np.empty((2, 2)), np.empty(2), np.empty((2, 1)), np.empty(1)
    dot, add, sub, mul, div, exp, neg, red = (np.dot, np.add, np.subtract, np.multiply, np.divide, np.exp,
                                              np.negative, np.add.reduce)
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        for epoch in range(epochs):
            dot(Xf, W1, out=a1); add(a1, b1, out=a1)                     # z1 = X @ W1 + b1
            neg(a1, out=a1); exp(a1, out=a1); add(a1, 1.0, out=a1); div(1.0, a1, out=a1)  # a1 = σ(z1)
            dot(a1, W2, out=a2); add(a2, b2, out=a2)
            neg(a2, out=a2); exp(a2, out=a2); add(a2, 1.0, out=a2); div(1.0, a2, out=a2)
            sub(a2, y, out=d2); mul(d2, d2, out=sq)
            loss = red(sq, None) / 4                                     # mean((a2 − y)²)
            mul(d2, 0.5, out=d2)                                          # 2 (a2 − y) / n
            sub(1.0, a2, out=t2); mul(t2, a2, out=t2); mul(d2, t2, out=d2)  # d_z2
            dot(a1.T, d2, out=dW2); red(d2, 0, out=db2)
            dot(d2, W2.T, out=d1)
            sub(1.0, a1, out=t1); mul(t1, a1, out=t1); mul(d1, t1, out=d1)  # d_z1
            dot(Xf.T, d1, out=dW1); red(d1, 0, out=db1)
            sub(W2, mul(dW2, LR, out=u2), out=W2); sub(b2, mul(db2, LR, out=v2), out=b2)
            sub(W1, mul(dW1, LR, out=u1), out=W1); sub(b1, mul(db1, LR, out=v1), out=b1)
            if epoch % 1000 == 0:
                print(f"Epoch {epoch}, Loss: {loss:.4f}")
    return time.perf_counter() - start, out.getvalue(), a2


class _Dense:
    """The yardstick's layer: ``z = x @ W + b`` with its arrays made once; no checks of any kind."""

    def __init__(self, W, b, rows):
        self.W, self.b = W, b
        self.z, self.dx, self.ones = np.empty((rows, W.shape[1])), np.empty((rows, W.shape[0])), np.ones(rows)

    def forward(self, x):
        self.x = x
        z = np.dot(x, self.W, out=self.z)  # z = x @ W + b
        z += self.b
        return z

    def backward(self, delta, need_input_grad=True):
        np.dot(self.x.T, delta, out=self.dW)  # dW = x.T @ delta
        np.dot(self.ones, delta, out=self.db)  # db = 1ᵀ delta
        return np.dot(delta, self.W.T, out=self.dx) if need_input_grad else None  # dx = delta @ W.T


class _Sigmoid:
    """The yardstick's sigmoid, the blog's formula as handprop's is (the loop's np.errstate silences
    e^(−z)'s overflow below −709)."""

    one = np.array(1.0)

    def __init__(self, rows, n):
        self.a, self.tmp = np.empty((rows, n)), np.empty((rows, n))

    def forward(self, z):
        a = np.negative(z, out=self.a)  # a = 1 / (1 + e^(−z))
        np.exp(a, out=a)
        np.add(a, self.one, out=a)
        return np.reciprocal(a, out=a)

    def backward(self, grad, need_input_grad=True):
        local = np.subtract(self.one, self.a, out=self.tmp)  # da/dz = a (1 − a)
        local *= self.a
        return np.multiply(grad, local, out=grad)


def method_loop(epochs):
    """The issue's yardstick: a loop over classes with one ``forward``/``backward`` per layer, in place,
    the weights and gradients views into one flat array each, one update for all: what handprop's
    ``fit`` does, without any of its checks (shapes, types, the divergence guard, the history, the
    optimizer's binding). Not handprop; it shows what the checks cost."""
    Xf, y = X.astype(float), Y.astype(float)
    W1, b1, W2, b2 = blog_weights()
    flat, grads, tmp = np.empty(9), np.zeros(9), np.empty(9)
    layers = [_Dense(flat[:4].reshape(2, 2), flat[4:6], 4), _Sigmoid(4, 2),
              _Dense(flat[6:8].reshape(2, 1), flat[8:], 4), _Sigmoid(4, 1)]
    for layer, (W, b), at in ((layers[0], (W1, b1), 0), (layers[2], (W2, b2), 6)):
        layer.W[...], layer.b[...] = W, b.ravel()
        layer.dW, layer.db = grads[at:at + W.size].reshape(W.shape), grads[at + W.size:at + W.size + b.size]
    diff, sq, scale, minus_lr = np.empty((4, 1)), np.empty((4, 1)), np.array(2.0 / 4), np.array(-LR)
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), np.errstate(all="ignore"):
        for epoch in range(epochs):
            a = Xf
            for layer in layers:
                a = layer.forward(a)
            d = np.subtract(a, y, out=diff)  # MSE: mean((a − y)²), gradient 2 (a − y) / n
            loss = float(np.add.reduce(np.multiply(d, d, out=sq), axis=None)) / 4
            grad = np.multiply(d, scale, out=diff)
            for layer in layers[:0:-1]:
                grad = layer.backward(grad)
            layers[0].backward(grad, need_input_grad=False)
            flat += np.multiply(grads, minus_lr, out=tmp)  # W −= lr · dW, every weight at once
            if epoch % 1000 == 0:
                print(f"Epoch {epoch}, Loss: {loss:.4f}")
    seconds = time.perf_counter() - start
    a = Xf
    for layer in layers:  # the trained network's predictions
        a = layer.forward(a)
    return seconds, out.getvalue(), a.copy()


def handprop_fit(epochs):
    """The same run through handprop's public API: ``model.fit``."""
    from handprop import MSE, SGD, Dense, Sequential, Sigmoid

    rng = np.random.RandomState(42)
    model = Sequential([Dense(2, 2, init="normal", rng=rng), Sigmoid(),
                        Dense(2, 1, init="normal", rng=rng), Sigmoid()])
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        model.fit(X, Y, loss=MSE(), optimizer=SGD(lr=LR), epochs=epochs, log_every=1000)
    seconds = time.perf_counter() - start
    return seconds, out.getvalue(), model.predict(X)


def torch_autograd(epochs):
    torch = optional("torch")
    W1, b1, W2, b2 = (torch.tensor(a, requires_grad=True) for a in blog_weights())
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        for epoch in range(epochs):
            a2 = torch.sigmoid(torch.sigmoid(Xt @ W1 + b1) @ W2 + b2)
            loss = ((yt - a2) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for p in (W1, b1, W2, b2):
                    p -= LR * p.grad
                    p.grad = None
            if epoch % 1000 == 0:
                print(f"Epoch {epoch}, Loss: {loss.item():.4f}")
    return time.perf_counter() - start, out.getvalue(), None


def torch_nn(epochs):
    torch = optional("torch")
    W1, b1, W2, b2 = blog_weights()
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1),
                              torch.nn.Sigmoid()).double()
    with torch.no_grad():
        for lin, W, b in ((net[0], W1, b1), (net[2], W2, b2)):
            lin.weight.copy_(torch.tensor(W.T))  # torch keeps (out, in)
            lin.bias.copy_(torch.tensor(b.ravel()))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.MSELoss()
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        for epoch in range(epochs):
            opt.zero_grad()
            loss = loss_fn(net(Xt), yt)
            loss.backward()
            opt.step()
            if epoch % 1000 == 0:
                print(f"Epoch {epoch}, Loss: {loss.item():.4f}")
    return time.perf_counter() - start, out.getvalue(), None


def micrograd_loop(epochs):
    from micrograd.engine import Value

    W1, b1, W2, b2 = blog_weights()
    w1 = [[Value(float(W1[i, j])) for j in range(2)] for i in range(2)]
    c1 = [Value(0.0) for _ in range(2)]
    w2 = [Value(float(W2[i, 0])) for i in range(2)]
    c2 = Value(0.0)
    params = [v for row in w1 for v in row] + c1 + w2 + [c2]
    def sig(z):  # micrograd's PyPI release has no exp/tanh: a sigmoid op written as its ops are
        s = 1.0 / (1.0 + math.exp(-z.data))
        out = Value(s, (z,), "sigmoid")

        def _backward():
            z.grad += s * (1.0 - s) * out.grad
        out._backward = _backward
        return out

    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        for epoch in range(epochs):
            loss = Value(0.0)
            for x, t in zip(X.tolist(), Y.ravel().tolist()):
                h = [sig(x[0] * w1[0][j] + x[1] * w1[1][j] + c1[j]) for j in range(2)]
                a = sig(h[0] * w2[0] + h[1] * w2[1] + c2)
                loss = loss + (t - a) ** 2
            loss = loss * (1 / len(X))
            for p in params:
                p.grad = 0.0
            loss.backward()
            for p in params:
                p.data -= LR * p.grad
            if epoch % 1000 == 0:
                print(f"Epoch {epoch}, Loss: {loss.data:.4f}")
    return time.perf_counter() - start, out.getvalue(), None


def contenders(epochs, peer_epochs, notes):
    """{name: (function returning seconds, epochs it runs)}; missing peers are noted and skipped."""
    found = {"blog loop": (blog_loop, epochs), "handprop fit": (handprop_fit, epochs),
             "NumPy in-place loop": (inplace_loop, epochs), "method-per-layer loop": (method_loop, epochs)}
    if optional("torch") is not None:
        found["torch autograd"] = (torch_autograd, peer_epochs)
        found["torch nn+optim"] = (torch_nn, peer_epochs)
    else:
        notes.append("xor: torch not installed, its rows are skipped (pip install torch)")
    if optional("micrograd") is not None:
        found["micrograd"] = (micrograd_loop, max(1, peer_epochs // 10))
    else:
        notes.append("xor: micrograd not installed, its row is skipped (pip install micrograd)")
    return found


def check_outputs(epochs):
    """handprop prints the blog's lines and ends with the blog's predictions (to 1e-12)."""
    _, blog_out, blog_pred = blog_loop(epochs)
    _, hp_out, hp_pred = handprop_fit(epochs)
    return {"same_printed_losses": blog_out == hp_out,
            "max_prediction_difference": float(np.max(np.abs(blog_pred - hp_pred))),
            "printed": hp_out.strip().splitlines()[-1] if hp_out.strip() else "",
            "predictions": [round(float(p), 4) for p in hp_pred.ravel()]}
