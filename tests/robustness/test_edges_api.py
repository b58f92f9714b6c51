"""Issue 10, "Trust at the edges": the API's errors and the training loop's promises.

One test (or table) per item of the issue, named after it: the error's type and the words of its
message, or a training number against an independent computation written out here.
"""

import copy
import warnings

import numpy as np
import pytest

import handprop as hp
from handprop import metrics

X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y4 = np.array([[0.0], [1.0], [1.0], [0.0]])


def net(seed=0, out="sigmoid"):
    return hp.mlp([2, 3, 1], "tanh", output=out, rng=seed)


# -- item 7: an optimizer is bound to the parameters it first stepped ------------------------------

@pytest.mark.parametrize("make", [lambda: hp.Adam(lr=0.01), lambda: hp.SGD(lr=0.1, momentum=0.9),
                                  lambda: hp.SGD(lr=0.1)])
def test_item07_optimizer_reused_on_another_model_is_refused(make):
    first, second = net(0), net(0)  # same shapes, same weights: only the identity differs
    opt = make()
    first.fit(X4, Y4, optimizer=opt, epochs=3)
    t_before, w_before = opt.t, second.layers[0].W.copy()
    with pytest.raises(hp.HandpropValueError, match=r"bound to the 4 parameters of the model it first "
                       r"stepped.*one optimizer per model; for this one: (Adam|SGD)\(lr="):
        second.fit(X4, Y4, optimizer=opt, epochs=3)
    # refused before anything ran: the other model and the optimizer are untouched
    np.testing.assert_array_equal(second.layers[0].W, w_before)
    assert opt.t == t_before


def test_item07_the_printed_fix_trains_the_other_model():
    first, second = net(0), net(0)
    opt = hp.Adam(lr=0.01)
    first.fit(X4, Y4, optimizer=opt, epochs=2)
    with pytest.raises(hp.HandpropValueError) as info:
        second.fit(X4, Y4, optimizer=opt, epochs=2)
    advice = str(info.value).rsplit("for this one: ", 1)[1]
    fresh = eval(advice, {"Adam": hp.Adam, "SGD": hp.SGD})  # the advice, run as printed
    second.fit(X4, Y4, optimizer=fresh, epochs=2)
    assert fresh.t == 2 and fresh.lr == 0.01


def test_item07_same_model_keeps_its_optimizer_state_across_fit_calls():
    model = net(0)
    opt = hp.Adam(lr=0.01)
    model.fit(X4, Y4, optimizer=opt, epochs=3)
    model.fit(X4, Y4, optimizer=opt, epochs=2)
    assert opt.t == 5  # continued: the moments and step count are this model's


def test_item07_hand_written_loop_refuses_the_second_model():
    a, b, loss = net(0), net(1), hp.MSE()
    opt = hp.SGD(lr=0.1, momentum=0.9)
    for _ in range(2):
        loss.forward(a(X4), Y4)
        a.backward(loss.backward())
        opt.step(a.parameters())
    loss.forward(b(X4), Y4)
    b.backward(loss.backward())
    w = b.layers[0].W.copy()
    with pytest.raises(hp.HandpropValueError, match="another model's"):
        opt.step(b.parameters())
    np.testing.assert_array_equal(b.layers[0].W, w)


def test_item07_a_deep_copy_is_unbound_and_keeps_the_state():
    a, b = net(0), net(0)
    opt = hp.Adam(lr=0.01)
    a.fit(X4, Y4, optimizer=opt, epochs=2)
    twin = copy.deepcopy(opt)
    b.fit(X4, Y4, optimizer=twin, epochs=1)
    assert twin.t == 3 and opt.t == 2


def test_item07_an_optimizer_with_the_doctors_recorder_is_bound_too():
    from handprop.doctor import GradientRecorder

    first, second = net(0), net(0)
    opt = hp.Adam(lr=0.01)
    first.fit(X4, Y4, optimizer=opt, epochs=2, callbacks=[GradientRecorder()])
    with pytest.raises(hp.HandpropValueError, match="bound to the 4 parameters"):
        second.fit(X4, Y4, optimizer=opt, epochs=1)
    with pytest.raises(hp.HandpropValueError, match="bound to the 4 parameters"):
        second.fit(X4, Y4, optimizer=opt, epochs=1, callbacks=[GradientRecorder()])


# -- item 8: the epoch loss of mini-batches is the sample-weighted mean of the batch losses ----------

def _hand_batch_losses(W1, b1, W2, b2, X, y, lr, batch, epochs):
    """Dense-Tanh-Dense, MSE, plain SGD, batches in order; the math written out, no handprop.
    Returns, for every epoch, the list of ``(batch loss before its update, rows in the batch)``."""
    epochs_out = []
    for _ in range(epochs):
        batches = []
        for start in range(0, len(X), batch):
            xb, yb = X[start:start + batch], y[start:start + batch]
            h = np.tanh(xb @ W1 + b1)
            out = h @ W2 + b2
            batches.append((np.mean((out - yb) ** 2), len(xb)))
            d_out = 2 * (out - yb) / out.size
            d_h = (d_out @ W2.T) * (1 - h ** 2)
            W2, b2 = W2 - lr * h.T @ d_out, b2 - lr * d_out.sum(0)
            W1, b1 = W1 - lr * xb.T @ d_h, b1 - lr * d_h.sum(0)
        epochs_out.append(batches)
    return epochs_out


class _OwnTanh(hp.Tanh):
    """A layer of the user's own: ``fit`` runs the readable loop (``train_step``), not the fused one."""


def _problem():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((23, 2))
    y = X[:, :1] - 2 * X[:, 1:] + 3.0  # an offset: the early batches' losses are the large ones
    weights = rng.standard_normal((2, 4)), rng.standard_normal(4), rng.standard_normal((4, 1)), rng.standard_normal(1)
    return X, y, weights


@pytest.mark.parametrize("activation", [hp.Tanh, _OwnTanh], ids=["fused-engine", "step-engine"])
def test_item08_minibatch_epoch_loss_is_the_sample_weighted_mean(activation):
    X, y, (W1, b1, W2, b2) = _problem()
    model = hp.Sequential([hp.Dense(2, 4, weight=W1, bias=b1), activation(), hp.Dense(4, 1, weight=W2, bias=b2)])
    history = model.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.05), epochs=3, batch_size=5, shuffle=False)
    by_hand = _hand_batch_losses(W1, b1, W2, b2, X, y, lr=0.05, batch=5, epochs=3)
    # 23 rows in batches of 5: four of 5 and a last one of 3, which weighs 3/23, not 1/5
    assert [n for _, n in by_hand[0]] == [5, 5, 5, 5, 3]
    weighted = [sum(v * n for v, n in batches) / 23 for batches in by_hand]
    plain = [np.mean([v for v, _ in batches]) for batches in by_hand]
    assert min(abs(w - p) for w, p in zip(weighted, plain)) > 1e-3  # the oracle tells them apart
    np.testing.assert_allclose(history.loss, weighted, rtol=1e-12)


class _RecordingMSE(hp.MSE):
    """MSE that notes every batch's loss and size (a loss of the user's own: the readable loop runs)."""

    def __init__(self):
        self.seen = []

    def forward(self, pred, target):
        value = super().forward(pred, target)
        self.seen.append((value, len(pred)))
        return value


def test_item08_shuffled_batches_are_weighted_by_their_rows():
    X, y, _ = _problem()
    loss = _RecordingMSE()
    history = hp.mlp([2, 4, 1], "tanh", rng=0).fit(X, y, loss=loss, optimizer=hp.SGD(lr=0.05), epochs=4,
                                                    batch_size=5, shuffle=True, seed=1)
    epochs = [loss.seen[i:i + 5] for i in range(0, len(loss.seen), 5)]
    assert len(epochs) == 4 and all(sorted(n for _, n in e) == [3, 5, 5, 5, 5] for e in epochs)
    weighted = [sum(v * n for v, n in e) / sum(n for _, n in e) for e in epochs]
    np.testing.assert_allclose(history.loss, weighted, rtol=1e-12)


def test_item08_full_batch_epoch_loss_is_the_one_batch_loss():
    X, y, (W1, b1, W2, b2) = _problem()
    model = hp.Sequential([hp.Dense(2, 4, weight=W1, bias=b1), hp.Tanh(), hp.Dense(4, 1, weight=W2, bias=b2)])
    history = model.fit(X, y, loss="mse", optimizer=hp.SGD(lr=0.05), epochs=2)
    by_hand = _hand_batch_losses(W1, b1, W2, b2, X, y, lr=0.05, batch=23, epochs=2)
    np.testing.assert_allclose(history.loss, [b[0][0] for b in by_hand], rtol=1e-12)


# -- item 16: every error a user can trigger is a HandpropError, in one line that says what to do --

def _csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n")
    return path


def _dense_backward(grad):
    layer = hp.Dense(2, 3, rng=0)
    layer.forward(X4)
    return layer.backward(grad)


CASES_16 = [
    # (name, call, error class, words of the message)
    ("Dense far beyond memory", lambda t: hp.Dense(10**6, 10**6), hp.HandpropValueError,
     r"Dense\(1000000, 1000000\) \(its weights and their gradients: 2 arrays of 1,000,000 × 1,000,000 "
     r"float64\) needs at least 29\.1 TiB of memory, and this machine has [\d.]+ [KMGT]iB available; use fewer units"),
    ("text weights", lambda t: hp.Dense(2, 2, weight=[["a", "b"], ["c", "d"]]), hp.DataError,
     r"Dense\(2, 2\): weight must be numeric, got dtype <U1 \(text\)"),
    ("numbers as text are still text", lambda t: hp.Dense(2, 1, weight=[["1"], ["2"]]), hp.DataError,
     r"weight must be numeric"),
    ("an object as weights", lambda t: hp.Dense(2, 2, weight=object()), hp.DataError, r"weight must be numeric, got dtype object"),
    ("NaN weights", lambda t: hp.Dense(2, 1, weight=[[np.nan], [1.0]]), hp.DataError,
     r"weight holds NaN or infinite values"),
    ("text bias", lambda t: hp.Dense(2, 2, bias=["a", "b"]), hp.DataError, r"bias must be numeric"),
    ("integer dtype", lambda t: hp.Dense(2, 2, dtype=np.int32), hp.HandpropValueError,
     r"dtype must be a float type \(np.float64 or np.float32\)"),
    ("unknown dtype", lambda t: hp.Dense(2, 2, dtype="abc"), hp.HandpropValueError, r"got 'abc'"),
    ("astype to integers", lambda t: net().astype(np.int32), hp.HandpropValueError,
     r"Dense\(2, 3\).astype: dtype must be a float type"),
    ("an initializer returning text", lambda t: hp.Dense(2, 3, init=lambda shape, rng, dtype: "abc"), hp.DataError,
     r"Dense\(2, 3\): init's result must be numeric, got dtype <U3"),
    ("an initializer of the wrong shape", lambda t: hp.Dense(2, 3, init=lambda shape, rng, dtype: np.ones((3, 2))),
     hp.ShapeError, r"Dense\(2, 3\): init returned shape \(3, 2\), expected \(2, 3\)"),
    ("ragged X at fit", lambda t: net().fit([[1, 2], [3]], [0, 1]), hp.DataError,
     r"X is not a table of numbers: its rows have different lengths"),
    ("ragged X at predict", lambda t: net().predict([[1, 2], [3]]), hp.DataError, r"rows have different lengths"),
    ("ragged X at forward", lambda t: net()([[1, 2], [3]]), hp.DataError, r"rows have different lengths"),
    ("ragged y", lambda t: net().fit(X4, [[0], [1, 2], [1], [0]]), hp.DataError, r"y is not a table of numbers"),
    ("None in y", lambda t: net().fit(X4, [None, 1, 1, 0]), hp.DataError, r"y must be numeric, got dtype object"),
    ("seed 'abc'", lambda t: net().fit(X4, Y4, seed="abc"), hp.HandpropValueError,
     r"seed must be a whole number >= 0 \(or None for a fresh random one\), got 'abc'; e.g. seed=0"),
    ("seed -1", lambda t: net().fit(X4, Y4, seed=-1), hp.HandpropValueError, r"seed must be a whole number >= 0.*got -1"),
    ("seed 1.5", lambda t: net().fit(X4, Y4, seed=1.5), hp.HandpropValueError, r"got 1.5"),
    ("seed True", lambda t: net().fit(X4, Y4, seed=True), hp.HandpropValueError, r"got True"),
    ("rng -1", lambda t: hp.Dense(2, 2, rng=-1), hp.HandpropValueError, r"rng must be a whole number >= 0.*got -1"),
    ("lr 'abc'", lambda t: net().fit(X4, Y4, lr="abc"), hp.HandpropValueError, r"SGD: lr must be a number, got 'abc' \(str\)"),
    ("SGD(lr=None)", lambda t: hp.SGD(lr=None), hp.HandpropValueError, r"SGD: lr must be a number, got None"),
    ("Adam(lr='1e-3')", lambda t: hp.Adam(lr="1e-3"), hp.HandpropValueError, r"Adam: lr must be a number, got '1e-3'"),
    ("lr beside an optimizer instance", lambda t: net().fit(X4, Y4, optimizer=hp.SGD(lr=0.1), lr=0.5),
     hp.HandpropValueError, r"lr=0.5 would do nothing: the optimizer SGD\(lr=0.1, .*\) has its own learning rate; "
     r"set it there, e.g. optimizer=SGD\(lr=0.5\)"),
    ("NaN X at forward", lambda t: net()(np.array([[0.0, 1.0], [np.nan, 0.0]])), hp.DataError,
     r"X holds NaN values in row 1 \(0-based\)"),
    ("callbacks=[print]", lambda t: net().fit(X4, Y4, callbacks=[print]), hp.errors.HandpropTypeError,
     r"callbacks\[0\] is builtin_function_or_method <built-in function print>, not a callback \(it has no "
     r"on_train_begin.*subclass handprop.callbacks.Callback"),
    ("a callback not in a list", lambda t: net().fit(X4, Y4, callbacks=hp.callbacks.EarlyStopping()),
     hp.errors.HandpropTypeError, r"callbacks must be a list of callbacks, got EarlyStopping.*callbacks=\[EarlyStopping\(...\)\]"),
    ("a callback class", lambda t: net().fit(X4, Y4, callbacks=[hp.callbacks.EarlyStopping]),
     hp.errors.HandpropTypeError, r"callbacks\[0\] is the class EarlyStopping, not a callback: pass an instance"),
    ("predict batch_size=0", lambda t: net().predict(X4, batch_size=0), hp.HandpropValueError,
     r"batch_size must be a positive integer, got 0"),
    ("predict batch_size=-1", lambda t: net().predict(X4, batch_size=-1), hp.HandpropValueError, r"got -1"),
    ("evaluate batch_size=0", lambda t: hp.evaluate(net(), X4, Y4, batch_size=0), hp.HandpropValueError,
     r"batch_size must be a positive integer, got 0"),
    ("empty X at predict", lambda t: net().predict(np.empty((0, 2))), hp.DataError,
     r"X has no rows \(shape \(0, 2\)\): there is nothing to predict"),
    ("empty X at predict in batches", lambda t: net().predict(np.empty((0, 2)), batch_size=2), hp.DataError, r"X has no rows"),
    ("empty X at evaluate", lambda t: hp.evaluate(net(), np.empty((0, 2)), np.empty((0, 1)), loss="mse"), hp.DataError,
     r"X has no rows"),
    ("empty X at fit", lambda t: net().fit(np.empty((0, 2)), np.empty((0, 1))), hp.HandpropValueError, r"empty \(0 samples\)"),
    ("empty pred in a loss", lambda t: hp.MSE().forward(np.empty((0, 1)), np.empty((0, 1))), hp.HandpropValueError,
     r"MSE: pred is empty \(shape \(0, 1\)\); a loss of 0 samples is undefined"),
    ("Adam(betas=(0.9,))", lambda t: hp.Adam(betas=(0.9,)), hp.HandpropValueError,
     r"Adam: betas must be a pair of numbers \(beta1, beta2\), got \(0.9,\); e.g. betas=\(0.9, 0.999\)"),
    ("Adam(betas=None)", lambda t: hp.Adam(betas=None), hp.HandpropValueError, r"betas must be a pair"),
    ("nesterov='no'", lambda t: hp.SGD(lr=0.1, momentum=0.9, nesterov="no"), hp.HandpropValueError,
     r"SGD: nesterov must be True or False, got 'no'"),
    ("BCE(from_logits='yes')", lambda t: hp.BCE(from_logits="yes"), hp.HandpropValueError, r"from_logits must be True or False"),
    ("LeakyReLU('a')", lambda t: hp.LeakyReLU("a"), hp.HandpropValueError, r"alpha must be in \[0, 1\), got 'a'"),
    ("shuffle='no'", lambda t: net().fit(X4, Y4, shuffle="no"), hp.HandpropValueError, r"shuffle must be True or False"),
    ("validation_split 'a'", lambda t: net().fit(X4, Y4, validation_split="a"), hp.HandpropValueError,
     r"validation_split must be in \(0, 1\), got 'a'"),
    ("fit of a non-model", lambda t: hp.fit("abc", X4, Y4), hp.errors.HandpropTypeError,
     r"fit: the model must be a Sequential \(e.g. handprop.mlp\(\[2, 3, 1\]\)\), got str 'abc'"),
    ("evaluate of a non-model", lambda t: hp.evaluate(None, X4, Y4), hp.errors.HandpropTypeError,
     r"evaluate: the model must be a Sequential"),
    ("a history key not recorded", lambda t: net().fit(X4, Y4, epochs=1)["val_loss"], hp.errors.HandpropKeyError,
     r"the history has no 'val_loss'; it holds: loss \(val_\* values need validation_data or validation_split"),
    ("a gradient of the wrong shape", lambda t: _dense_backward(np.ones((4, 2))), hp.ShapeError,
     r"Dense\(2, 3\).backward: the gradient has shape \(4, 2\), but the layer's output for the last forward "
     r"had shape \(4, 3\)"),
    ("resume of the wrong kind", lambda t: net().fit(X4, Y4, resume="ckpt.npz"), hp.errors.HandpropTypeError,
     r"resume must be what handprop.io.load_checkpoint\(path\).resume gives, got str 'ckpt.npz'"),
    ("progress='no'", lambda t: net().fit(X4, Y4, progress="no"), hp.HandpropValueError, r"progress must be True or False"),
    ("a layer called on text", lambda t: hp.Sigmoid()(np.array([["a"]])), hp.DataError,
     r"Sigmoid\(\): x must be numeric, got dtype <U1 \(text\)"),
    ("a layer called on the wrong width", lambda t: hp.Dense(2, 3, rng=0)(np.ones((4, 5))), hp.ShapeError,
     r"Dense\(2, 3\): x must have shape \(samples, 2\), got \(4, 5\)"),
    ("float32 weights beyond range", lambda t: hp.Dense(1, 1, weight=[[1e300]], dtype=np.float32), hp.DataError,
     r"weight holds values up to 1e\+300, beyond the range of float32.*give dtype=np.float64"),
    ("empty x to Softmax", lambda t: hp.Softmax()(np.zeros((0, 0))), hp.ShapeError,
     r"Softmax\(\): x is empty \(shape \(0, 0\)\): give at least one sample with one feature"),
    ("3-d x to Dense", lambda t: hp.Dense(2, 3, rng=0)(np.zeros((1, 1, 1))), hp.ShapeError,
     r"Dense\(2, 3\): x must have shape \(samples, 2\), got \(1, 1, 1\)"),
    ("Sequential(5)", lambda t: hp.Sequential(5), hp.errors.HandpropTypeError, r"Sequential takes a list of layers, got int 5"),
    ("unknown encoding", lambda t: hp.data.read_csv(_csv(t), encoding="klingon"), hp.HandpropValueError,
     r"unknown encoding 'klingon'"),
    ("encoding None", lambda t: hp.data.read_csv(_csv(t), encoding=None), hp.HandpropValueError,
     r"unknown encoding None; give its name, e.g. encoding='utf-8'"),
    ("text metric values", lambda t: metrics.mse(["a"], ["b"]), hp.DataError, r"y_true must be numeric, got dtype <U1"),
    ("ragged metric rows", lambda t: metrics.accuracy([[1, 2], [1]], [1, 2]), hp.DataError, r"y_true is not a table"),
    ("NaN label in accuracy", lambda t: metrics.accuracy([np.nan, 1.0], [0, 1]), hp.DataError, r"y_true holds NaN values in row 0"),
    ("confusion n_classes 'a'", lambda t: metrics.confusion_matrix([1, 0], [0, 0], n_classes="a"), hp.HandpropValueError,
     r"n_classes must be a positive integer, got 'a'"),
]


@pytest.mark.parametrize("name, call, error, words", CASES_16, ids=[c[0] for c in CASES_16])
def test_item16_one_error_family(tmp_path, name, call, error, words):
    with pytest.raises(error, match=words) as info:
        call(tmp_path)
    err = info.value
    assert isinstance(err, hp.HandpropError)
    assert isinstance(err, (ValueError, TypeError, KeyError)), "a user's mistake keeps its Python meaning too"
    assert "\n" not in str(err)


def test_item16_a_layer_is_refused_before_allocating_what_memory_cannot_hold(monkeypatch):
    from handprop import _safety

    monkeypatch.setattr(_safety, "available_memory", lambda: 10 * 2**20)  # a machine with 10 MiB free
    # 1000 × 1000 float64: W and dW (8 MB each) and the initializer's float64 draws (16 MB) = 32 MB
    with pytest.raises(hp.HandpropValueError, match=r"needs at least 30\.5 MiB of memory, and this machine has 10 MiB available"):
        hp.Dense(1000, 1000)
    # given weights need no draws: W (copied) and dW, 2 × 8 bytes × 500 × 500 = 3.8 MiB: it fits
    layer = hp.Dense(500, 500, weight=np.ones((500, 500)))
    assert layer.W.shape == (500, 500)


def test_item16_a_pass_too_large_for_memory_is_refused_before_it_runs(monkeypatch):
    from handprop import _safety

    model = hp.mlp([2, 1000, 1], "tanh", rng=0)
    X = np.zeros((3000, 2))
    # outputs of Dense(2, 1000), Tanh, Dense(1000, 1): (1000 + 1000 + 1) × 3,000 rows × 8 bytes = 45.8 MiB
    monkeypatch.setattr(_safety, "available_memory", lambda: 30 * 2**20)
    with pytest.raises(hp.HandpropValueError, match=r"prediction of 3,000 rows through Sequential.* needs at least "
                       r"45\.8 MiB of memory, and this machine has 30 MiB available; give a smaller batch_size"):
        model.predict(X)
    assert model.predict(X, batch_size=1500).shape == (3000, 1)  # the fix, as printed: 22.9 MiB
    W = model.layers[0].W.copy()
    with pytest.raises(hp.HandpropValueError, match=r"training on batches of 3,000 rows .* needs at least 138 MiB of memory"):
        model.fit(X, np.zeros(3000), epochs=1)  # outputs, gradients, scratch: 3 × 45.8 MiB; weights: 6 × 4,001 × 8 bytes
    np.testing.assert_array_equal(model.layers[0].W, W)  # refused before any step
    assert len(model.fit(X, np.zeros(3000), epochs=1, batch_size=500)) == 1  # 22.9 MiB: it fits


def test_item16_text_labels_advice_runs_as_printed():
    y = np.array(["cat", "dog", "dog", "cat"])
    model = hp.mlp([2, 3, 2], "tanh", rng=0)
    with pytest.raises(hp.DataError, match=r"y must be numeric, got dtype <U3 \(text\); text labels become class "
                       r"indices with handprop.data.LabelEncoder: y = LabelEncoder\(\)\.fit_transform\(y\)") as info:
        model.fit(X4, y, loss="ce", epochs=1)
    command = str(info.value).rsplit(": ", 1)[1]
    scope = {"LabelEncoder": hp.data.LabelEncoder, "y": y}
    exec(command, scope)
    assert scope["y"].tolist() == [0, 1, 1, 0]
    assert len(model.fit(X4, scope["y"], loss="ce", epochs=1)) == 1


def test_item16_metrics_advice_runs_as_printed():
    with pytest.raises(hp.errors.HandpropTypeError, match=r"metrics must be a list of names, got 'accuracy'; "
                       r"e.g. metrics=\['accuracy'\]") as info:
        net().fit(X4, Y4, metrics="accuracy", epochs=1)
    advice = str(info.value).rsplit("e.g. ", 1)[1]
    kwargs = eval(f"dict({advice})")
    assert "accuracy" in net().fit(X4, Y4, epochs=1, **kwargs)


def test_item16_cli_exits_2_never_1_on_user_input(tmp_path, capsys):
    from handprop.cli import main

    data = _csv(tmp_path)
    base = ["train", str(data), "--epochs", "1", "--quiet", "--no-doctor", "--out", str(tmp_path / "m.npz")]
    for extra, words in ((["--layers", "1000000,1000000"], ("TiB of memory", "available")),
                         (["--lr", "nan"], ("lr must be in", "got nan")),
                         (["--weight-decay", "inf"], ("weight_decay must be in", "got inf"))):
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        last = err.strip().splitlines()[-1]  # (argparse prints its usage line first)
        assert "error: " in last and all(w in last for w in words), err
        assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "m.npz").exists()


# -- item 17: no NumPy RuntimeWarning reaches the user; messages blame the right thing ----------------

@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        yield


def test_item17_divergence_is_one_error_and_no_warning(no_warnings):
    for kw in ({"lr": 1e10}, {"lr": 1e10, "batch_size": 2, "metrics": ["mse", "r2"]},
               {"optimizer": hp.SGD(lr=1e10, momentum=0.9)}):
        with pytest.raises(hp.DivergenceError, match="learning rate 1e\\+10 is probably too large"):
            hp.mlp([2, 3, 1], "relu", rng=0).fit(X4, Y4, epochs=50, **kw)


def test_item17_prediction_that_overflows_blames_the_inputs_not_nan(no_warnings):
    model = hp.mlp([2, 30, 30, 1], "relu", rng=0)
    with pytest.raises(hp.DataError, match=r"output overflowed \(not finite\) for X's rows 1, 2, 3, whose values "
                       r"reach 1e\+308: scale X as the training data was scaled") as info:
        model.predict(X4 * 1e308)
    assert "NaN" not in str(info.value)


def test_a_prediction_that_overflows_through_huge_finite_weights_blames_the_weights(no_warnings):
    """After a diverged run the weights can be finite but huge: ordinary inputs then overflow, and
    the error names the weights and the learning rate, not the inputs (which a user would rescale)."""
    model = hp.mlp([2, 30, 30, 1], "relu", rng=0)
    for layer in model.layers[::2]:
        layer.W[...] = 1e120
    with pytest.raises(hp.DataError, match=r"overflowed \(not finite\) for X's rows 1, 2, 3, whose values reach 1, "
                       r"because its weights reach 1e\+120: training diverged toward huge weights; retrain "
                       r"with a smaller learning rate"):
        model.predict(X4)


def test_item17_prediction_from_diverged_weights_blames_the_weights(no_warnings):
    model = net()
    model.layers[0].W[0, 0] = np.nan
    with pytest.raises(hp.DataError, match=r"the model's weights hold NaN or infinite values.*training diverged"):
        model.predict(X4)


def test_item17_metrics_of_huge_values_are_right_and_quiet(no_warnings):
    t = np.array([3e200, -1e200, 2e200, 5e200])
    p = np.array([2.5e200, -0.5e200, 2e200, 4e200])
    # the same numbers divided by 1e200, computed by hand: R² is unchanged by a common scale
    ts, ps = t / 1e200, p / 1e200
    r2_hand = 1 - np.sum((ts - ps) ** 2) / np.sum((ts - ts.mean()) ** 2)
    assert metrics.r2(t, p) == pytest.approx(r2_hand, rel=1e-12)
    assert metrics.mae(t, p) == pytest.approx(np.mean(np.abs(ts - ps)) * 1e200, rel=1e-12)
    assert metrics.mse([1e200], [-1e200]) == np.inf  # (2e200)² is beyond float64: inf, said without a warning
    assert metrics.mse([1e100], [-1e100]) == pytest.approx(4e200, rel=1e-12)


def test_item17_evaluate_and_losses_report_overflow_as_inf_quietly(no_warnings):
    result = hp.evaluate(hp.mlp([2, 3, 1], "relu", rng=0), X4, Y4 * 1e300, loss="mse", metrics=["mse", "mae"])
    assert result["loss"] == np.inf and result["mse"] == np.inf
    assert result["mae"] == pytest.approx(np.mean(np.abs(Y4 * 1e300)), rel=1e-3)  # outputs are ~1, targets 1e300
    assert hp.MSE().forward(np.array([[1e200]]), np.array([[0.0]])) == np.inf
    assert hp.CrossEntropy().forward(np.array([[1e308, -1e308]]), np.array([1])) == np.inf
    assert hp.CrossEntropy().forward(np.array([[1e308, -1e308]]), np.array([0])) == 0.0


def test_item17_values_beyond_float32_are_named_not_called_infinite(no_warnings):
    model = hp.mlp([2, 3, 1], "tanh", rng=0, dtype=np.float32)
    with pytest.raises(hp.DataError, match=r"X holds values up to 1e\+300, beyond the range of float32 "
                       r"\(±3.4e\+38\).*compute in float64: model.astype\(np.float64\)") as info:
        model.predict(np.array([[1e300, 0.0]]))
    assert "infinite" not in str(info.value)
    exec(str(info.value).rsplit(": ", 1)[1], {"model": model, "np": np})  # the advice, as printed
    assert model.predict(np.array([[1e300, 0.0]])).dtype == np.float64


def test_item17_huge_but_finite_weights_are_not_called_diverged(no_warnings):
    from handprop._safety import all_finite

    big = np.full(1000, 1e306)  # their sum overflows; every one is finite
    with np.errstate(over="ignore"):  # as in fit's loop, where it is called
        assert all_finite([big])
        big[3] = np.inf
        assert not all_finite([big])
