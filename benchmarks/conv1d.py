"""Conv1D training throughput against PyTorch, on the MNIST-1D CNN: samples per second.

The network is the mnist1d repository's three-convolution recipe: rows of 40 values reshaped to one
channel, Conv1d(1→25, k 5, stride 2, pad 1), ReLU, Conv1d(25→25, k 3, stride 2, pad 1), ReLU,
Conv1d(25→25, k 3, stride 2, pad 1), ReLU, Flatten, Linear(125→10); softmax cross-entropy, plain
SGD (lr 0.01), batch 100, float32, one shuffled epoch over random data (the speed of these
operations does not depend on the values). handprop trains with ``model.fit``; PyTorch with
``nn.Sequential``, ``optim.SGD`` and ``CrossEntropyLoss`` on the same number of threads.

    PYTHONPATH=src python benchmarks/conv1d.py [--rows 4000] [--rounds 5]
"""

import argparse
import time

import numpy as np

from common import optional, paired, run_rounds, setup_threads, summary

LR = 0.01
BATCH = 100
CONVS = ((1, 25, 5), (25, 25, 3), (25, 25, 3))  # (in, out, kernel); stride 2, padding 1 each


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 40), dtype=np.float32), rng.integers(0, 10, n)


def handprop_model():
    import handprop as hp

    layers = [hp.Reshape((1, 40))]
    for i, (c_in, c_out, k) in enumerate(CONVS):
        layers += [hp.Conv1D(c_in, c_out, k, stride=2, padding=1, rng=i), hp.ReLU()]
    layers += [hp.Flatten(), hp.Dense(125, 10, rng=9)]
    return hp.Sequential(layers).astype(np.float32)


def handprop_epoch(X, y):
    import handprop as hp

    model = handprop_model()
    start = time.perf_counter()
    model.fit(X, y, loss="ce", optimizer=hp.SGD(lr=LR), epochs=1, batch_size=BATCH, seed=0)
    return time.perf_counter() - start


def torch_epoch(X, y):
    torch = optional("torch")
    torch.manual_seed(0)
    layers = []
    for c_in, c_out, k in CONVS:
        layers += [torch.nn.Conv1d(c_in, c_out, k, stride=2, padding=1), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(125, 10))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X).reshape(-1, 1, 40), torch.from_numpy(y)
    start = time.perf_counter()
    order = torch.randperm(len(X))
    for s in range(0, len(X), BATCH):
        idx = order[s:s + BATCH]
        opt.zero_grad()
        loss_fn(net(Xt[idx]), yt[idx]).backward()
        opt.step()
    return time.perf_counter() - start


def run(rows=4000, rounds=5, log=print):
    """{"handprop": summary, "torch": summary or None, "ratio": paired ratio or None} in samples/s."""
    threads = setup_threads()
    X, y = make_data(rows)
    contenders = {"handprop": lambda: handprop_epoch(X, y)}
    if optional("torch") is not None:
        contenders["torch"] = lambda: torch_epoch(X, y)
    log(f"Conv1D (MNIST-1D CNN), {rows} rows, batch {BATCH}, float32, {threads or '?'} BLAS threads")
    times = run_rounds(contenders, rounds, log=log)
    result = {"rows": rows, "threads": threads,
              "handprop_s": summary(times["handprop"]), "torch_s": None, "speedup_vs_torch": None}
    if "torch" in times:
        result["torch_s"] = summary(times["torch"])
        # samples/s of handprop over samples/s of torch = torch's time over handprop's, round by round
        result["speedup_vs_torch"] = paired(times, "torch", "handprop")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = run(args.rows, args.rounds)
    h = result["handprop_s"]["median"]
    print(f"handprop: {args.rows / h:,.0f} samples/s")
    if result["speedup_vs_torch"]:
        t, r = result["torch_s"]["median"], result["speedup_vs_torch"]
        print(f"torch:    {args.rows / t:,.0f} samples/s")
        print(f"handprop / torch samples/s: {r['median']:.2f}x (range {r['min']:.2f}-{r['max']:.2f}, "
              f"{r['runs']} paired rounds; goal >= 1.0x)")


if __name__ == "__main__":
    main()
