"""Issue 10, item 16 as a property: whatever a user passes to the public API (arrays of odd shapes,
dtypes and values, odd hyperparameters), what comes out is a result or a HandpropError; never
another exception and never a NumPy RuntimeWarning. (In CI the examples are derandomized: see
tests/conftest.py.)"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handprop as hp
from handprop import metrics

VALUES = [0.0, 1.0, -1.0, 0.5, 2.0, 3.0, 1e300, -1e300, 1e-310, np.nan, np.inf, -np.inf]
DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex128, "U4", object]
ODD = [None, 0, -1, 1, 2, 0.5, 1e300, float("nan"), float("inf"), "abc", "1", True, [], (0.9,), object(),
       np.float32(0.1), np.int64(3)]


@st.composite
def arrays(draw, columns=None):
    """An array: usually (n, columns) (so that deeper code is reached), sometimes any shape; any
    dtype; values including NaN, inf, 1e300 and subnormals."""
    if columns is not None and draw(st.booleans()):
        shape = (draw(st.integers(0, 5)), columns)
    else:
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    values = draw(st.lists(st.sampled_from(VALUES), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    dtype = draw(st.sampled_from(DTYPES))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (casting NaN to an int warns: building the input, not the test)
        return np.array(values, dtype=np.float64).reshape(shape).astype(dtype)


def hostile(columns=None):
    """An array as above, or something that is not an array at all."""
    return st.one_of(arrays(columns), st.sampled_from([None, "abc", 5, [], [[1, 2], [3]], [[0, 1], [1, "a"]],
                                                        [None, 1], {"a": 1}]))


def labels():
    """Targets that are often sensible (0/1 labels, values) and sometimes not."""
    return st.one_of(st.lists(st.sampled_from([0, 1, 2]), min_size=0, max_size=5).map(np.array), hostile(1))


def only_handprop_errors(call):
    """Run ``call``: a result or a HandpropError is fine; any other exception, or a RuntimeWarning
    (turned into an exception here), fails the test with the example that caused it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", hp.HandpropWarning)  # a warning of ours is a message, not a failure
        try:
            return call()
        except hp.HandpropError:
            return None


MODELS = {
    "regression": lambda: hp.mlp([2, 3, 1], "tanh", rng=0),
    "binary": lambda: hp.mlp([2, 3, 1], "relu", output="sigmoid", rng=0),
    "classes": lambda: hp.mlp([2, 3, 3], "sigmoid", rng=0),
}
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@FAST
@given(kind=st.sampled_from(sorted(MODELS)), X=hostile(2), y=labels(),
       loss=st.sampled_from(["mse", "bce", "ce", "halfsse", "hinge", None, 3]),
       optimizer=st.sampled_from(["sgd", "adam", "lbfgs", None]), lr=st.sampled_from(ODD),
       epochs=st.sampled_from([1, 2, 0, -1, 2.0, "3", None]), batch_size=st.sampled_from([None, 1, 2, 0, -3, 1.5, "2", 10**9]),
       seed=st.sampled_from(ODD), metrics_=st.sampled_from([None, ["accuracy"], ["mse", "r2", "mae"], "accuracy", [print], ["nope"]]),
       validation_split=st.sampled_from([None, 0.5, 0.25, 1.5, -0.1, "a", True]), shuffle=st.sampled_from([True, False, "no", None]),
       validation_data=st.one_of(st.none(), st.tuples(hostile(2), labels()), hostile(2)))
def test_item16_fit_raises_only_handprop_errors(kind, X, y, loss, optimizer, lr, epochs, batch_size, seed, metrics_,
                                                validation_split, shuffle, validation_data):
    model = MODELS[kind]()
    only_handprop_errors(lambda: model.fit(X, y, loss=loss, optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
                                           seed=seed, metrics=metrics_, validation_split=validation_split, shuffle=shuffle,
                                           validation_data=validation_data))


@st.composite
def well_shaped(draw):
    """A model kind with data of the right shapes and the loss it pairs with, so that training runs:
    the values are the hostile ones (NaN, inf, 1e300, subnormals), the labels sometimes too."""
    kind = draw(st.sampled_from(sorted(MODELS)))
    n = draw(st.integers(1, 6))
    X = np.array(draw(st.lists(st.sampled_from(VALUES), min_size=2 * n, max_size=2 * n))).reshape(n, 2)
    targets = {"regression": VALUES, "binary": [0.0, 1.0, 0.5, 2.0, np.nan], "classes": [0, 1, 2, 3, -1]}[kind]
    y = np.array(draw(st.lists(st.sampled_from(targets), min_size=n, max_size=n)))
    return kind, X, y, {"regression": "mse", "binary": "bce", "classes": "ce"}[kind]


@pytest.mark.slow
@FAST
@given(data=well_shaped(), optimizer=st.sampled_from(["sgd", "adam"]), lr=st.sampled_from([1e-3, 1.0, 1e10, 1e300]),
       batch_size=st.sampled_from([None, 1, 2]), metrics_=st.sampled_from([None, ["accuracy"], ["mse", "r2", "mae"]]))
def test_item16_training_on_hostile_values_raises_only_handprop_errors(data, optimizer, lr, batch_size, metrics_):
    kind, X, y, loss = data
    model = MODELS[kind]()
    history = only_handprop_errors(lambda: model.fit(X, y, loss=loss, optimizer=optimizer, lr=lr, epochs=3,
                                                     batch_size=batch_size, metrics=metrics_, seed=0))
    if history is not None:  # it trained: every recorded number is finite, and so is every weight
        assert all(np.isfinite(v).all() for v in history.history.values())
        assert all(np.isfinite(p.value).all() for p in model.parameters())


@pytest.mark.slow
@FAST
@given(kind=st.sampled_from(sorted(MODELS)), X=hostile(2), y=labels(), batch_size=st.sampled_from([None, 1, 3, 0, -1, "2", 2.0]),
       loss=st.sampled_from(["mse", "bce", "ce", None]), metrics_=st.sampled_from([None, ["accuracy"], ["mse", "r2"], "r2"]))
def test_item16_predict_and_evaluate_raise_only_handprop_errors(kind, X, y, batch_size, loss, metrics_):
    model = MODELS[kind]()
    out = only_handprop_errors(lambda: model.predict(X, batch_size=batch_size))
    if out is not None:
        assert np.isfinite(out).all()  # a prediction is finite, or refused in words
    only_handprop_errors(lambda: model(X))
    only_handprop_errors(lambda: hp.evaluate(model, X, y, loss=loss, metrics=metrics_ or (),
                                             batch_size=batch_size if batch_size is not None else 8192))


@pytest.mark.slow
@FAST
@given(n_in=st.sampled_from([1, 2, 0, -1, 2.0, "2", None, 10**6, 10**12]), n_out=st.sampled_from([1, 3, 0, True, 10**6]),
       weight=st.one_of(st.none(), hostile(1)), bias=st.one_of(st.none(), hostile()),
       init=st.sampled_from(["glorot_uniform", "normal", "nope", None, 5, lambda shape, rng, dtype: "abc",
                             lambda shape, rng, dtype: np.full(shape, np.nan), lambda shape, rng, dtype: [[1.0]]]),
       dtype=st.sampled_from([np.float64, np.float32, np.int32, "abc", None, object]), rng=st.sampled_from(ODD))
def test_item16_dense_raises_only_handprop_errors(n_in, n_out, weight, bias, init, dtype, rng):
    only_handprop_errors(lambda: hp.Dense(n_in, n_out, weight=weight, bias=bias, init=init, dtype=dtype, rng=rng))


@pytest.mark.slow
@FAST
@given(lr=st.sampled_from(ODD), momentum=st.sampled_from(ODD), nesterov=st.sampled_from(ODD),
       weight_decay=st.sampled_from(ODD), betas=st.sampled_from(ODD + [(0.9, 0.999), (0.9, "a"), (0.9, 0.9, 0.9)]),
       eps=st.sampled_from(ODD), alpha=st.sampled_from(ODD), from_logits=st.sampled_from(ODD),
       sizes=st.sampled_from([[2, 3, 1], [2], "23", [2, 0, 1], [2.0, 3], None, [[2], 3]]),
       activation=st.sampled_from(["tanh", "relu", "nope", None, 3]))
def test_item16_hyperparameters_raise_only_handprop_errors(lr, momentum, nesterov, weight_decay, betas, eps, alpha,
                                                          from_logits, sizes, activation):
    only_handprop_errors(lambda: hp.SGD(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))
    only_handprop_errors(lambda: hp.Adam(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
    only_handprop_errors(lambda: hp.LeakyReLU(alpha))
    only_handprop_errors(lambda: hp.BCE(from_logits=from_logits))
    only_handprop_errors(lambda: hp.mlp(sizes, activation, rng=0))


@pytest.mark.slow
@FAST
@given(x=hostile(2), layer=st.sampled_from([lambda: hp.Dense(2, 3, rng=0), hp.Sigmoid, hp.Tanh, hp.ReLU, hp.LeakyReLU,
                                            hp.Softmax, hp.Identity]))
def test_item16_layers_called_on_hostile_arrays_raise_only_handprop_errors(x, layer):
    out = only_handprop_errors(lambda: layer()(x))
    if out is not None:
        assert np.isfinite(out).all()


@pytest.mark.slow
@FAST
@given(a=hostile(1), b=hostile(1), n_classes=st.sampled_from([None, 2, 3, 0, "a", 2.5]),
       loss=st.sampled_from([hp.MSE, hp.HalfSSE, hp.BCE, hp.CrossEntropy, lambda: hp.BCE(from_logits=True)]))
def test_item16_metrics_and_losses_raise_only_handprop_errors(a, b, n_classes, loss):
    for fn in (metrics.mse, metrics.mae, metrics.r2, metrics.accuracy):
        value = only_handprop_errors(lambda: fn(a, b))
        if value is not None:
            assert not np.isnan(value)  # a metric is a number, or refused in words
    only_handprop_errors(lambda: metrics.confusion_matrix(a, b, n_classes=n_classes))
    only_handprop_errors(lambda: loss()(a, b))


@FAST
@given(model=st.sampled_from([None, "mlp", 3, [hp.Dense(2, 1)], hp.Dense(2, 1), hp.MSE()]), key=st.sampled_from(ODD + ["loss", "val_loss"]))
def test_item16_non_models_and_history_keys_raise_only_handprop_errors(model, key):
    only_handprop_errors(lambda: hp.fit(model, np.ones((4, 2)), np.ones(4), epochs=1))
    only_handprop_errors(lambda: hp.evaluate(model, np.ones((4, 2)), np.ones(4)))
    history = hp.mlp([2, 1], rng=0).fit(np.ones((4, 2)), np.ones(4), epochs=1)
    only_handprop_errors(lambda: history[key])


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_item16_property_reaches_training(kind):
    """The strategies above do reach training (not only the first check): a sensible draw trains."""
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    y = np.array([0, 1, 2, 0]) if kind == "classes" else np.array([0, 1, 1, 0])
    history = only_handprop_errors(lambda: MODELS[kind]().fit(
        X, y, loss={"regression": "mse", "binary": "bce", "classes": "ce"}[kind], epochs=2, batch_size=2, seed=0))
    assert history is not None and len(history) == 2
