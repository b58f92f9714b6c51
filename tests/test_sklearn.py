"""handprop.sklearn: scikit-learn's own checks, and the estimators inside scikit-learn's tools."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import handprop  # noqa: E402
from handprop.sklearn import HandpropClassifier, HandpropRegressor  # noqa: E402


# scikit-learn's whole estimator suite, one test per check. No check is expected to fail
# (docs/interop.md lists the expected failures: none).
@pytest.mark.slow
@parametrize_with_checks([HandpropClassifier(), HandpropRegressor()])
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    return X, names[y]


def _forward(model, X):
    """The network by hand, from its weights: Dense is X @ W + b, ReLU is max(0, z)."""
    out = np.asarray(X, dtype=np.float64)
    for layer in model.layers:
        if isinstance(layer, handprop.Dense):
            out = out @ layer.W + layer.b
        else:
            assert isinstance(layer, handprop.ReLU)
            out = np.maximum(out, 0.0)
    return out


def test_classifier_predict_proba_is_the_softmax_of_the_network(iris):
    X, y = iris
    clf = HandpropClassifier(hidden_layer_sizes=(8,), epochs=30, random_state=0).fit(X, y)
    logits = _forward(clf.model_, X)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert_allclose(clf.predict_proba(X), e / e.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-15)
    assert_array_equal(clf.predict(X), clf.classes_[logits.argmax(axis=1)])
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4 and clf.n_outputs_ == 3


def test_classifier_in_a_pipeline_learns_iris(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), HandpropClassifier(hidden_layer_sizes=(16,), learning_rate=0.01,
                                                            random_state=0))
    assert pipe.fit(X, y).score(X, y) > 0.95
    assert set(pipe.predict(X)) == {"setosa", "versicolor", "virginica"}


def _small_classifier():
    return make_pipeline(StandardScaler(), HandpropClassifier(hidden_layer_sizes=(8,), epochs=50,
                                                              learning_rate=0.01, random_state=1))


def test_cross_val_score_equals_a_hand_written_loop(iris):
    X, y = iris
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(_small_classifier(), X, y, cv=cv)
    by_hand = []
    for train, test in cv.split(X):
        fitted = _small_classifier().fit(X[train], y[train])
        by_hand.append(np.mean(fitted.predict(X[test]) == y[test]))
    assert_array_equal(scores, by_hand)
    assert scores.mean() > 0.8


def _grid(n_jobs, X, y):
    est = make_pipeline(StandardScaler(), HandpropClassifier(epochs=40, random_state=0))
    grid = {"handpropclassifier__hidden_layer_sizes": [(4,), (16,)],
            "handpropclassifier__learning_rate": [0.001, 0.01]}
    return GridSearchCV(est, grid, cv=3, n_jobs=n_jobs).fit(X, y)


@pytest.mark.slow
def test_grid_search_with_two_processes_equals_one(iris):
    X, y = iris
    two, one = _grid(2, X, y), _grid(1, X, y)
    assert_array_equal(two.cv_results_["mean_test_score"], one.cv_results_["mean_test_score"])
    assert two.best_params_ == one.best_params_
    assert two.best_score_ > 0.8
    assert_array_equal(two.predict(X), one.predict(X))


@pytest.mark.slow
def test_regressor_grid_search_with_two_processes():
    X, y = make_regression(n_samples=120, n_features=3, noise=1.0, random_state=0)
    y = (y - y.mean()) / y.std()
    est = HandpropRegressor(hidden_layer_sizes=(16,), epochs=100, random_state=0)
    search = GridSearchCV(est, {"learning_rate": [0.001, 0.01]}, cv=3, n_jobs=2).fit(X, y)
    assert search.best_params_ == {"learning_rate": 0.01}  # 100 epochs at 0.001 are too few
    assert search.best_score_ > 0.9


def test_partial_fit_three_times_equals_fit_for_three_epochs(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(5,), shuffle=False, random_state=3)
    fitted = HandpropClassifier(epochs=3, **kw).fit(X, y)
    inc = HandpropClassifier(**kw)
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))  # Adam's moments carry over between calls
    for a, b in zip(fitted.model_.parameters(), inc.model_.parameters()):
        assert_array_equal(a.value, b.value)
    assert inc.n_iter_ == 3 and len(inc.loss_curve_) == 3
    assert_allclose(inc.loss_curve_, fitted.loss_curve_, rtol=1e-14)


def test_warm_start_continues_where_the_last_fit_stopped():
    X, y = make_regression(n_samples=50, n_features=2, random_state=0)
    kw = dict(hidden_layer_sizes=(6,), shuffle=False, random_state=0)
    once = HandpropRegressor(epochs=5, **kw).fit(X, y)
    twice = HandpropRegressor(epochs=2, warm_start=True, **kw).fit(X, y)
    twice.set_params(epochs=3).fit(X, y)
    assert twice.n_iter_ == 5
    assert_array_equal(twice.predict(X), once.predict(X))
    cold = HandpropRegressor(epochs=3, **kw).fit(X, y)
    assert cold.n_iter_ == 3  # without warm_start every fit starts afresh


def test_regressor_fits_several_targets():
    X, Y = make_regression(n_samples=200, n_features=4, n_targets=3, noise=0.5, random_state=0)
    reg = make_pipeline(StandardScaler(), HandpropRegressor(hidden_layer_sizes=(32,), learning_rate=0.01,
                                                            random_state=0))
    pred = reg.fit(X, Y / Y.std(axis=0)).predict(X)
    assert pred.shape == (200, 3)
    assert reg.score(X, Y / Y.std(axis=0)) > 0.95


def test_loss_curve_and_early_stopping():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 3)), rng.integers(0, 2, 200)  # noise: nothing to learn
    clf = HandpropClassifier(hidden_layer_sizes=(64,), learning_rate=0.05, epochs=300, early_stopping=True,
                             n_iter_no_change=5, random_state=0).fit(X, y)
    assert clf.n_iter_ < 300
    assert len(clf.loss_curve_) == len(clf.validation_loss_curve_) == clf.n_iter_


def test_the_fitted_network_saves_with_its_class_labels(iris, tmp_path):
    X, y = iris
    clf = HandpropClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=0).fit(X, y)
    clf.model_.save(tmp_path / "m.npz")
    back = handprop.load(tmp_path / "m.npz")
    assert back.info.class_names == ["setosa", "versicolor", "virginica"]
    assert_array_equal(back.info.predict(back, X), clf.predict(X))
    assert_allclose(back.info.predict(back, X, proba=True), clf.predict_proba(X), rtol=0, atol=0)


def test_feature_names_of_a_data_frame_are_kept_and_saved(iris, tmp_path):
    pd = pytest.importorskip("pandas")  # scikit-learn reads column names from real data frames only
    X, y = iris
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    clf = HandpropClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=0).fit(pd.DataFrame(X, columns=names), y)
    assert clf.feature_names_in_.tolist() == names
    clf.model_.save(tmp_path / "m.npz")
    assert handprop.load(tmp_path / "m.npz").info.feature_names == names


@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": (0,)}, r"hidden_layer_sizes\[\] must be an integer >= 1, got 0"),
    ({"activation": "softmax"}, r"activation must be one of .*, got 'softmax'"),
    ({"optimizer": "rmsprop"}, r"optimizer must be 'adam' or 'sgd', got 'rmsprop'"),
    ({"learning_rate": -1.0}, r"learning_rate must be a number >= 0.0, got -1.0"),
    ({"momentum": 1.5}, r"momentum must be a number in \[0.0, 1.0\), got 1.5"),
    ({"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
    ({"epochs": 2.5}, r"epochs must be an integer >= 1, got 2.5"),
    ({"validation_fraction": 1.0}, r"validation_fraction must be a number in \[0.0, 1.0\), got 1.0"),
])
def test_bad_parameters_are_refused_by_name_at_fit(params, match):
    est = HandpropClassifier(**params)  # scikit-learn's convention: __init__ only stores
    with pytest.raises(handprop.HandpropValueError, match=match):
        est.fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_classifier_refuses_one_class_and_unknown_labels():
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=r"needs at least 2 classes in y, got 1 class"):
        HandpropClassifier().fit(X, ["a"] * 4)
    with pytest.raises(ValueError, match=r"the first partial_fit needs classes="):
        HandpropClassifier().partial_fit(X, [0, 1, 0, 1])
    clf = HandpropClassifier(epochs=1).partial_fit(X, [0, 1, 0, 1], classes=[0, 1])
    with pytest.raises(ValueError, match=r"y\[2\] = 2 is not one of the classes \[0, 1\]"):
        clf.partial_fit(X, [0, 1, 2, 1])
