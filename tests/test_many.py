"""``handprop.train_many``: every model ends where its own ``fit`` would, stacked.

The oracle throughout is ``model.fit`` on a twin of each model (built again from the same seed),
with the same arguments: weights, last gradients and histories must agree to a relative 1e-9.
"""

import copy

import numpy as np
import pytest

import handprop as hp
from handprop.callbacks import StopOnNonFinite
from handprop.errors import HandpropError, ShapeError

RTOL = 1e-9

rng0 = np.random.default_rng(0)
X = rng0.standard_normal((7, 3))  # 7 rows: batches of 3 end with a short batch of 1
Y_REAL = rng0.random((7, 2))
Y_BINARY = (rng0.random((7, 2)) > 0.5).astype(float)
Y_LABELS = np.array([0, 2, 1, 1, 0, 2, 2])


def net(seed, loss, hidden="tanh", l2=0.0):
    """A 3-4-k network from ``seed``: k outputs (3 classes for CE) and the output layer ``loss`` wants."""
    rng = np.random.RandomState(seed)
    n_out = 3 if loss == "ce" else 2
    layers = [hp.Dense(3, 4, init="normal", rng=rng, l2=l2), hp.activations.get(hidden),
              hp.Dense(4, n_out, init="normal", rng=rng)]
    if loss in ("mse", "bce"):
        layers.append(hp.Sigmoid())
    return hp.Sequential(layers)


def targets(loss):
    return {"mse": Y_REAL, "halfsse": Y_REAL, "bce": Y_BINARY, "bce_logits": Y_BINARY, "ce": Y_LABELS}[loss]


OPTIMIZERS = {
    "sgd": lambda: hp.SGD(lr=0.3),
    "momentum": lambda: hp.SGD(lr=0.1, momentum=0.9),
    "nesterov_decay": lambda: hp.SGD(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
    "adam": lambda: hp.Adam(lr=0.02),
    "adam_decay": lambda: hp.Adam(lr=0.02, betas=(0.8, 0.99), weight_decay=0.05),
}
BATCHES = {"full": dict(batch_size=None), "shuffled_short_last": dict(batch_size=3, shuffle=True),
           "in_order": dict(batch_size=2, shuffle=False), "larger_than_data": dict(batch_size=50)}


def assert_same_as_fit(models, twins, histories, fit_kwargs, callbacks=None):
    """Each model equals its twin after ``twin.fit(X, y, **fit_kwargs)``: weights, gradients, history."""
    assert len(histories) == len(models)
    for k, (model, twin, history) in enumerate(zip(models, twins, histories)):
        kwargs = dict(fit_kwargs)
        if isinstance(kwargs.get("optimizer"), hp.Optimizer):  # a fresh one for each twin
            kwargs["optimizer"] = copy.deepcopy(kwargs["optimizer"])
        expected = twin.fit(**kwargs, callbacks=callbacks)
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.value, q.value, rtol=RTOL, atol=0, err_msg=f"model {k} {p}")
            if not history.diverged:
                np.testing.assert_allclose(p.grad, q.grad, rtol=RTOL, atol=1e-300, err_msg=f"model {k} d{p}")
        assert history.epoch == expected.epoch
        np.testing.assert_allclose(history.loss, expected.loss, rtol=RTOL, atol=0, err_msg=f"model {k}")
        assert history.stop_reason == expected.stop_reason


@pytest.mark.filterwarnings("ignore:batch_size=50 is larger")  # (fit and train_many say so: see below)
@pytest.mark.parametrize("batches", BATCHES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss", ["mse", "halfsse", "bce", "bce_logits", "ce"])
def test_every_model_ends_where_its_own_fit_would(loss, optimizer, batches):
    seeds = [1, 2, 3]
    models, twins = [net(s, loss) for s in seeds], [net(s, loss) for s in seeds]
    kwargs = dict(loss=loss, epochs=15, seed=5, **BATCHES[batches])
    histories = hp.train_many(models, X, targets(loss), optimizer=OPTIMIZERS[optimizer](), **kwargs)
    assert [h.diverged for h in histories] == [False] * 3 and all(h.divergence is None for h in histories)
    assert_same_as_fit(models, twins, histories, dict(X=X, y=targets(loss), optimizer=OPTIMIZERS[optimizer](),
                                                      **kwargs))


@pytest.mark.parametrize("hidden", ["sigmoid", "relu", "leaky_relu", "identity"])
def test_every_activation_and_a_weight_penalty(hidden):
    models = [net(s, "mse", hidden, l2=0.01) for s in (4, 5)]
    twins = [net(s, "mse", hidden, l2=0.01) for s in (4, 5)]
    kwargs = dict(loss="mse", optimizer="sgd", lr=0.5, epochs=12, batch_size=4, seed=0)
    assert_same_as_fit(models, twins, hp.train_many(models, X, Y_REAL, **kwargs), dict(X=X, y=Y_REAL, **kwargs))


def test_softmax_output_and_a_leaky_relu_slope():
    def softmax_net(seed):
        rng = np.random.RandomState(seed)
        return hp.Sequential([hp.Dense(3, 5, init="normal", rng=rng), hp.LeakyReLU(0.2),
                              hp.Dense(5, 2, init="normal", rng=rng), hp.Softmax()])
    models, twins = [softmax_net(s) for s in range(3)], [softmax_net(s) for s in range(3)]
    kwargs = dict(loss="bce", optimizer=hp.Adam(lr=0.05), epochs=10)
    histories = hp.train_many(models, X, Y_BINARY, **kwargs)
    assert_same_as_fit(models, twins, histories, dict(X=X, y=Y_BINARY, loss="bce", optimizer=hp.Adam(lr=0.05),
                                                      epochs=10))


def test_float32_data_trains_float32_models_as_fit_does():
    X32, y32 = X.astype(np.float32), Y_REAL.astype(np.float32)
    models, twins = [net(s, "mse") for s in (1, 2)], [net(s, "mse") for s in (1, 2)]
    histories = hp.train_many(models, X32, y32, optimizer="sgd", lr=0.3, epochs=10)
    for model, twin, history in zip(models, twins, histories):
        expected = twin.fit(X32, y32, optimizer="sgd", lr=0.3, epochs=10)
        assert model.dtype == np.float32
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.value, q.value, rtol=1e-5)
        np.testing.assert_allclose(history.loss, expected.loss, rtol=1e-5)


def test_a_batch_larger_than_the_data_is_said_as_fit_says_it():
    with pytest.warns(hp.HandpropWarning, match=r"batch_size=50 is larger than the 7 training rows"):
        hp.train_many([net(1, "mse")], X, Y_REAL, batch_size=50, epochs=1)


def test_the_optimizer_given_is_a_template_left_unstepped():
    opt = hp.Adam(lr=0.01)
    hp.train_many([net(1, "mse"), net(2, "mse")], X, Y_REAL, optimizer=opt, epochs=2)
    assert opt.n_params is None  # nothing stepped it: each model trained as with a fresh copy
    hp.train_many([net(3, "mse")], X, Y_REAL, optimizer=opt, epochs=2)  # so it can be given again


def test_a_deepcopied_model_trains_like_the_original():
    # handprop.train_many's users copy models; a copy's weights must be the ones its optimizer updates
    original, twin = net(7, "mse"), net(7, "mse")
    clone = copy.deepcopy(original)
    clone.fit(X, Y_REAL, epochs=5, lr=0.5)
    twin.fit(X, Y_REAL, epochs=5, lr=0.5)
    for p, q in zip(clone.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    np.testing.assert_array_equal(original.layers[0].W, net(7, "mse").layers[0].W)  # the original is untouched


# -- divergence --------------------------------------------------------------------------------------

def relu_net(seed, scale=1.0):
    rng = np.random.RandomState(seed)
    model = hp.Sequential([hp.Dense(3, 4, init="normal", rng=rng), hp.ReLU(), hp.Dense(4, 2, init="normal", rng=rng)])
    for layer in model.layers[::2]:
        layer.W *= scale
    return model


def test_a_diverging_model_is_frozen_at_its_last_finite_weights_while_the_others_finish():
    # Weights 30 times larger make the loss's curvature ~900 times larger: at lr 0.02 model 1
    # overshoots, grows and overflows after a few epochs; models 0 and 2 train normally.
    scales = [1.0, 30.0, 1.0]
    models = [relu_net(s, scale) for s, scale in enumerate(scales)]
    twins = [relu_net(s, scale) for s, scale in enumerate(scales)]
    kwargs = dict(loss="halfsse", epochs=60, batch_size=3, seed=1)
    histories = hp.train_many(models, X, Y_REAL, optimizer=hp.SGD(lr=0.02, momentum=0.5), **kwargs)
    assert [h.diverged for h in histories] == [False, True, False]
    frozen = histories[1]
    assert isinstance(frozen.divergence, hp.DivergenceError) and not np.isfinite(frozen.loss[-1])
    assert len(frozen.loss) < 60 and len(histories[0].loss) == 60
    assert frozen.stop_reason.startswith(f"training diverged at epoch {len(frozen.loss) - 1}")
    assert all(np.isfinite(p.value).all() for p in models[1].parameters())
    # the frozen model is where fit leaves it with StopOnNonFinite; the others where fit leaves them
    fit_kwargs = dict(X=X, y=Y_REAL, optimizer=hp.SGD(lr=0.02, momentum=0.5), **kwargs)
    assert_same_as_fit(models, twins, histories, fit_kwargs, callbacks=[StopOnNonFinite()])
    with pytest.raises(hp.DivergenceError):  # (without the callback, fit raises for model 1)
        relu_net(1, 30.0).fit(**fit_kwargs)


def test_an_update_that_overflows_the_weights_on_the_last_epoch_is_undone():
    # Model 1's hidden units reach 1e306: its loss is finite, but lr 1e4 times its gradient is not.
    models = [relu_net(0), relu_net(1), relu_net(2)]
    twins = [relu_net(0), relu_net(1), relu_net(2)]
    for m in (models[1], twins[1]):
        m.layers[0].W[...] = np.abs(m.layers[0].W) * 1e306
        m.layers[2].W *= 1e-3
    kwargs = dict(loss="bce_logits", optimizer="sgd", lr=1e4, epochs=1)
    histories = hp.train_many(models, X, Y_BINARY, **kwargs)
    assert [h.diverged for h in histories] == [False, True, False]
    assert np.isnan(histories[1].loss[-1]) and "update made the weights non-finite" in histories[1].stop_reason
    assert_same_as_fit(models, twins, histories, dict(X=X, y=Y_BINARY, **kwargs), callbacks=[StopOnNonFinite()])


def test_an_update_that_overflows_the_weights_mid_run_is_seen_at_the_next_step_as_fit_sees_it():
    model, twin = relu_net(1), relu_net(1)
    for m in (model, twin):
        m.layers[0].W[...] = np.abs(m.layers[0].W) * 1e306
        m.layers[2].W *= 1e-3
    kwargs = dict(loss="bce_logits", optimizer="sgd", lr=1e4, epochs=3)
    history, = hp.train_many([model], X, Y_BINARY, **kwargs)
    with pytest.raises(hp.DivergenceError, match="at epoch 1, step 0") as raised:
        twin.fit(X, Y_BINARY, **kwargs)  # fit without callbacks: it raises, with the weights put back
    assert history.diverged and str(raised.value) == history.stop_reason
    assert len(history.loss) == 2 and np.isfinite(history.loss[0]) and not np.isfinite(history.loss[1])
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


def test_every_model_diverging_ends_the_run():
    models = [relu_net(s, 1e200) for s in range(2)]
    histories = hp.train_many(models, X, Y_REAL, epochs=50, lr=0.1)
    assert [h.diverged for h in histories] == [True, True]
    assert [len(h) for h in histories] == [1, 1]
    assert "for the weights training started from" in histories[0].stop_reason


def test_ctrl_c_stops_every_model_after_the_current_batch(monkeypatch):
    class CtrlCAfter:  # the guard train_many stops by: Ctrl-C "pressed" during epoch 2's first batch
        # (read after every batch and once more at the end of each epoch: 4 reads an epoch here)
        def __init__(self):
            self.checks = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        @property
        def requested(self):
            self.checks += 1
            return self.checks >= 9

    monkeypatch.setattr(hp.many._safety, "InterruptGuard", CtrlCAfter)
    models = [net(s, "mse") for s in (1, 2)]
    histories = hp.train_many(models, X, Y_REAL, epochs=10, batch_size=3, seed=0)  # 3 batches an epoch
    assert [len(h) for h in histories] == [2, 2]  # epochs 0 and 1 done; epoch 2 was cut short
    assert all(h.stop_reason == "interrupted (Ctrl-C) during epoch 2; the model keeps its weights" for h in histories)
    # the weights are those after the batch that was running (2 epochs and one batch), as in fit:
    # the same as 2 epochs and then the first batch of the third epoch's order
    for model, seed in zip(models, (1, 2)):
        twin, opt = net(seed, "mse"), hp.SGD(lr=0.01)
        rng = np.random.default_rng(0)
        for _ in range(2):
            for X_batch, y_batch in hp.training.iter_batches(X, Y_REAL, 3, True, rng):
                hp.training.train_step(twin, hp.MSE(), opt, twin.parameters(), X_batch, y_batch)
        X_batch, y_batch = next(hp.training.iter_batches(X, Y_REAL, 3, True, rng))
        hp.training.train_step(twin, hp.MSE(), opt, twin.parameters(), X_batch, y_batch)
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.value, q.value, rtol=RTOL)


def test_a_stack_too_large_for_memory_is_refused_before_anything_is_allocated():
    with pytest.raises(hp.errors.TooLargeError, match=r"train_many: 2 models of 26 weights.*10,000,000,000,000 "
                                                       r"epochs.*train fewer models at once"):
        hp.train_many([net(1, "mse"), net(2, "mse")], X, Y_REAL, epochs=10**13)


@pytest.mark.slow
def test_the_readme_example_trains_blog_000s_network_from_200_seeds():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Many models at once"):]
    namespace = {}
    exec(re.search(r"```python\n(.*?)```", section, re.S).group(1), namespace)
    models, histories = namespace["models"], namespace["histories"]
    assert len(histories) == 200 and 0 < namespace["solved"] < 200
    twin = namespace["blog_net"](42)  # the blog's own seed, trained as the blog does
    expected = twin.fit(namespace["X"], namespace["y"], loss="mse", optimizer=hp.SGD(lr=0.1), epochs=10000)
    for p, q in zip(models[42].parameters(), twin.parameters()):
        np.testing.assert_allclose(p.value, q.value, rtol=RTOL)
    np.testing.assert_allclose(histories[42].loss, expected.loss, rtol=RTOL)


# -- refusals ----------------------------------------------------------------------------------------

def test_models_of_different_shapes_are_refused_naming_the_model_and_layer():
    odd = hp.Sequential([hp.Dense(3, 5), hp.Tanh(), hp.Dense(5, 2), hp.Sigmoid()])
    with pytest.raises(ShapeError, match=r"models\[2\] layer 0 is Dense\(3, 5\).*models\[0\] layer 0 is Dense\(3, 4\)"):
        hp.train_many([net(0, "mse"), net(1, "mse"), odd], X, Y_REAL)
    other_activation = hp.Sequential([hp.Dense(3, 4), hp.ReLU(), hp.Dense(4, 2), hp.Sigmoid()])
    with pytest.raises(ShapeError, match=r"models\[1\] layer 1 is ReLU\(\)"):
        hp.train_many([net(0, "mse"), other_activation], X, Y_REAL)
    with pytest.raises(ShapeError, match=r"models\[1\] layer 1 is LeakyReLU\(alpha=0.3\)"):
        hp.train_many([net(0, "mse", "leaky_relu"), hp.Sequential([hp.Dense(3, 4), hp.LeakyReLU(0.3),
                                                                    hp.Dense(4, 2), hp.Sigmoid()])], X, Y_REAL)
    with pytest.raises(ShapeError, match=r"models\[1\] has 3 layers"):
        hp.train_many([net(0, "mse"), hp.Sequential([hp.Dense(3, 4), hp.Tanh(), hp.Dense(4, 2)])], X, Y_REAL)


@pytest.mark.parametrize("layer", [hp.Dropout(0.5, rng=0), hp.BatchNorm1d(4)], ids=repr)
def test_a_layer_that_cannot_be_stacked_is_refused_by_name(layer):
    model = hp.Sequential([hp.Dense(3, 4), layer, hp.Dense(4, 2)])
    with pytest.raises(hp.HandpropValueError, match=rf"models\[0\] layer 1 {type(layer).__name__}.*cannot be "
                                                    r"stacked.*model.fit"):
        hp.train_many([model], X, Y_REAL)


def test_a_convolutional_model_is_refused_by_name():
    model = hp.Sequential([hp.Reshape((1, 3)), hp.Conv1D(1, 2, 2), hp.Flatten(), hp.Dense(4, 2)])
    with pytest.raises(hp.HandpropValueError, match=r"models\[0\] layer 0 Reshape.*cannot be stacked"):
        hp.train_many([model], X, Y_REAL)


@pytest.mark.parametrize("models, message", [
    ([], r"models is empty"),
    ("model", r"models must be a list of Sequential models, got str"),
    ([hp.Dense(3, 2)], r"models\[0\]: the model must be a Sequential"),
])
def test_bad_model_lists(models, message):
    with pytest.raises(HandpropError, match=message):
        hp.train_many(models, X, Y_REAL)


def test_one_model_twice_or_shared_layers_are_refused():
    model = net(0, "mse")
    with pytest.raises(hp.HandpropValueError, match=r"models\[1\] shares Sequential.* with models\[0\]"):
        hp.train_many([model, model], X, Y_REAL)
    shared = hp.Sequential([model.layers[0], hp.Tanh(), hp.Dense(4, 2), hp.Sigmoid()])
    with pytest.raises(hp.HandpropValueError, match=r"models\[1\] shares Dense\(3, 4\) with models\[0\]"):
        hp.train_many([model, shared], X, Y_REAL)


def test_losses_optimizers_and_types_it_cannot_stack_are_refused():
    class MyLoss(hp.MSE):
        pass

    class MySGD(hp.SGD):
        pass

    models = [net(0, "mse"), net(1, "mse")]
    with pytest.raises(hp.HandpropValueError, match=r"the loss MyLoss\(\) is not one of handprop's"):
        hp.train_many(models, X, Y_REAL, loss=MyLoss())
    with pytest.raises(hp.HandpropValueError, match=r"the optimizer SGD\(lr=0.1.*is not handprop's SGD or Adam"):
        hp.train_many(models, X, Y_REAL, optimizer=MySGD(lr=0.1))
    stepped = hp.SGD(lr=0.1)
    net(2, "mse").fit(X, Y_REAL, optimizer=stepped, epochs=1)
    with pytest.raises(hp.HandpropValueError, match=r"has already stepped a model.*optimizer=SGD\(lr=0.1\)"):
        hp.train_many(models, X, Y_REAL, optimizer=stepped)
    models[1].astype(np.float32)
    with pytest.raises(hp.HandpropValueError, match=r"models\[1\] is float32 but models\[0\] is float64.*"
                                                    r"models\[1\]\.astype\(np\.float64\)"):
        hp.train_many(models, X.astype(int), Y_REAL)
    with pytest.raises(hp.HandpropValueError, match="BCE\\(\\) expects probabilities"):
        hp.train_many([net(0, "ce")], X, Y_BINARY, loss="bce")


# -- the stacked formulas, one network at a time -----------------------------------------------------

def test_a_stacked_dense_layer_computes_each_networks_forward_and_backward():
    rng = np.random.default_rng(3)
    singles = [hp.Dense(3, 2, rng=s, bias_init="normal") for s in range(4)]
    stacked = hp.Dense(3, 2)
    stacked.W = np.stack([d.W for d in singles])
    stacked.b = np.stack([d.b.reshape(1, 2) for d in singles])
    x = rng.standard_normal((4, 5, 3))
    grad = rng.standard_normal((4, 5, 2))  # a random upstream gradient
    out, dx = stacked.forward(x), stacked.backward(grad)
    for k, d in enumerate(singles):
        np.testing.assert_allclose(out[k], x[k] @ d.W + d.b, rtol=1e-14)
        np.testing.assert_allclose(dx[k], grad[k] @ d.W.T, rtol=1e-14)
        np.testing.assert_allclose(stacked.dW[k], x[k].T @ grad[k], rtol=1e-14)
        np.testing.assert_allclose(stacked.db[k, 0], grad[k].sum(axis=0), rtol=1e-14)


@pytest.mark.parametrize("loss, target", [(hp.MSE(), Y_REAL), (hp.HalfSSE(), Y_REAL), (hp.BCE(), Y_BINARY),
                                          (hp.BCE(from_logits=True), Y_BINARY), (hp.CrossEntropy(), Y_LABELS[:7])],
                         ids=repr)
def test_a_stacked_loss_gives_each_network_its_own_value_and_gradient(loss, target):
    rng = np.random.default_rng(4)
    pred = rng.random((3, 7, 3 if isinstance(loss, hp.CrossEntropy) else 2)) * 0.98 + 0.01
    stacked = copy.copy(loss)
    stacked.stacked = True
    values, grads = stacked.forward(pred, target), stacked.backward()
    assert values.shape == (3,)
    for k in range(3):
        assert values[k] == pytest.approx(loss.forward(pred[k], target), rel=1e-14)
        np.testing.assert_allclose(grads[k], loss.backward(), rtol=1e-14)


# -- the benchmark -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_benchmark_times_train_many_against_separate_fits_and_measures_memory(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "run.py"), "--smoke", "--only", "many",
                           "--json", str(out), "--plot", "", "--markdown", str(tmp_path / "tables.md")],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(root / "src")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    many = json.loads(out.read_text())["many"]
    assert many["models"] == 20 and many["separate_timed"] == 2
    assert many["paired_speedup"]["median"] > 0
    assert many["max_relative_difference"] <= 1e-9  # the separately fitted models equal their stacked copies
    assert [row["models"] for row in many["memory"]] == [10, 20]
    assert all(row["peak_above_baseline_mib"] > 0 for row in many["memory"])
    assert "Many models at once" in (tmp_path / "tables.md").read_text()


def test_a_refused_call_on_float32_data_leaves_every_model_as_it_was():
    """float32 rows make the stack train in float32, but a call refused later (here: y has one row
    too few) casts no model: each keeps its float64 weights."""
    models = [net(seed, "mse") for seed in range(3)]
    before = [[p.value.copy() for p in m.parameters()] for m in models]
    with pytest.raises(ShapeError, match="7 samples but y has 6"):
        hp.train_many(models, X.astype(np.float32), Y_REAL[:6], loss="mse", epochs=2)
    for model, weights in zip(models, before):
        assert model.dtype == np.float64
        for p, w in zip(model.parameters(), weights):
            np.testing.assert_array_equal(p.value, w)
