"""An MNIST-shaped MLP, one epoch, side by side: samples per second.

784-256-128-10, ReLU, softmax cross-entropy, plain SGD (lr 0.01, no momentum, no L2), batch 128,
float32, shuffled every epoch. The data are random (the speed of these operations does not depend
on the values). Contenders: handprop's ``model.fit``; PyTorch (``nn.Sequential``, ``optim.SGD``,
``CrossEntropyLoss``, same thread count); scikit-learn's ``MLPClassifier`` (``solver="sgd"``,
``max_iter=1``); and the GEMM-only floor: the eight matrix products of each step (three forward,
three weight gradients, two input gradients) and nothing else, into preallocated arrays, with
``np.matmul`` (``np.dot`` clears its output before the BLAS call: a pass more; handprop's Dense
layers of this size use ``np.matmul`` too).
"""

import time
import warnings

import numpy as np

from common import optional

SIZES = (784, 256, 128, 10)
LR = 0.01
BATCH = 128


def make_data(n, sizes=SIZES, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)
    return X, y


def handprop_epoch(X, y, sizes=SIZES, batch=BATCH):
    import handprop as hp

    model = hp.mlp(list(sizes), "relu", dtype=np.float32, rng=0)
    start = time.perf_counter()
    model.fit(X, y, loss="ce", optimizer=hp.SGD(lr=LR), epochs=1, batch_size=batch, seed=0)
    return time.perf_counter() - start


def torch_epoch(X, y, sizes=SIZES, batch=BATCH):
    torch = optional("torch")
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    start = time.perf_counter()
    order = torch.randperm(len(X))
    for s in range(0, len(X), batch):
        idx = order[s:s + batch]
        opt.zero_grad()
        loss = loss_fn(net(Xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def sklearn_epoch(X, y, sizes=SIZES, batch=BATCH):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1], activation="relu", solver="sgd",
                        learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
                        batch_size=batch, max_iter=1, shuffle=True, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return time.perf_counter() - start


def gemm_floor_epoch(X, y, sizes=SIZES, batch=BATCH):
    """Only the 8 GEMMs of each step, as handprop shapes them (x.T and W.T are views), with np.matmul."""
    rng = np.random.default_rng(1)
    Ws = [rng.standard_normal((a, b), dtype=np.float32) * 0.05 for a, b in zip(sizes[:-1], sizes[1:])]
    dWs = [np.empty_like(W) for W in Ws]
    n_full = len(X) // batch * batch
    starts = list(range(0, n_full, batch))

    def buffers(rows):
        return ([np.empty((rows, W.shape[1]), np.float32) for W in Ws],
                [np.empty((rows, W.shape[0]), np.float32) for W in Ws])

    full, last = buffers(batch), buffers(len(X) - n_full)
    start = time.perf_counter()
    for s in starts + ([n_full] if n_full < len(X) else []):
        x = X[s:s + batch]
        outs, grads = full if len(x) == batch else last
        inputs = [x] + outs[:-1]
        for a, W, z in zip(inputs, Ws, outs):          # forward: z = a @ W
            np.matmul(a, W, out=z)
        delta = outs[-1]
        for i in range(len(Ws) - 1, -1, -1):           # backward: dW = a.T @ delta, dx = delta @ W.T
            np.matmul(inputs[i].T, delta, out=dWs[i])
            if i:
                delta = np.matmul(delta, Ws[i].T, out=grads[i])
    return time.perf_counter() - start


def contenders(X, y, notes):
    found = {"handprop fit": lambda: handprop_epoch(X, y)}
    if optional("torch") is not None:
        found["torch"] = lambda: torch_epoch(X, y)
    else:
        notes.append("mnist: torch not installed, skipped (pip install torch)")
    if optional("sklearn") is not None:
        found["sklearn MLPClassifier"] = lambda: sklearn_epoch(X, y)
    else:
        notes.append("mnist: scikit-learn not installed, skipped (pip install scikit-learn)")
    found["GEMM floor"] = lambda: gemm_floor_epoch(X, y)
    return found
