"""outlier_scorer: ROC-AUC and average precision of -score_samples against outlier labels.

- The value is the metric of the outlier score with the outliers as the
  positive class, whichever label marks them.
- It works as ``scoring=`` of cross_val_score and GridSearchCV (alone, in a
  dict of scorers, through a Pipeline, in worker processes).
- scikit-learn's ``scoring="roc_auc"`` on labels where 1 marks the outliers
  gives one minus the ROC-AUC: the pitfall the scorer exists for.
- Bad arguments and labels fail with messages that say what to do.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel, outlier_scorer


def labelled_data(n_inliers=150, n_outliers=30, seed=0):
    """Correlated Gaussian inliers, then outliers off their line; y: 1 = outlier."""
    rng = np.random.RandomState(seed)
    z = rng.randn(n_inliers, 1)
    inliers = np.hstack([z, z + 0.1 * rng.randn(n_inliers, 1), rng.randn(n_inliers, 1)])
    outliers = rng.uniform(-4, 4, size=(n_outliers, 3))
    X = np.vstack([inliers, outliers])
    y = np.r_[np.zeros(n_inliers, int), np.ones(n_outliers, int)]
    return X, y


@pytest.fixture
def data():
    return labelled_data()


@pytest.fixture
def detector(fast_params):
    return EBMOutlierDetector(**fast_params)


@pytest.fixture
def fitted_detector(detector, data):
    return detector.fit(data[0])


@pytest.mark.parametrize(
    "metric, function", [("roc_auc", roc_auc_score), ("average_precision", average_precision_score)]
)
def test_scores_the_negated_score_samples_with_outliers_positive(fitted_detector, data, metric, function):
    X, y = data
    expected = function(y == 1, -fitted_detector.score_samples(X))
    assert outlier_scorer(metric)(fitted_detector, X, y) == pytest.approx(expected)
    assert isinstance(outlier_scorer(metric)(fitted_detector, X, y), float)


@pytest.mark.parametrize("metric", ["roc_auc", "average_precision"])
def test_the_same_value_whatever_label_marks_the_outliers(fitted_detector, data, metric):
    X, y = data
    reference = outlier_scorer(metric)(fitted_detector, X, y)
    plus_minus = np.where(y == 1, -1, 1)  # predict's convention
    assert outlier_scorer(metric, outlier_label=-1)(fitted_detector, X, plus_minus) == reference
    words = np.where(y == 1, "attack", "normal")
    assert outlier_scorer(metric, outlier_label="attack")(fitted_detector, X, words) == reference
    assert outlier_scorer(metric, outlier_label=True)(fitted_detector, X, y == 1) == reference
    assert outlier_scorer(metric, outlier_label=0)(fitted_detector, X, 1 - y) == reference


def test_sklearn_roc_auc_is_inverted_on_labels_where_1_marks_outliers(fitted_detector, data):
    """The pitfall: scoring="roc_auc" takes 1 (the outliers) as the class with high scores."""
    X, y = data
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ours = cross_val_score(fitted_detector, X, y, cv=cv, scoring=outlier_scorer())
    theirs = cross_val_score(fitted_detector, X, y, cv=cv, scoring="roc_auc")
    np.testing.assert_allclose(theirs, 1.0 - ours)
    assert ours.mean() > 0.8  # a working detector, so the inversion matters
    # With +1 inlier / -1 outlier labels scikit-learn's scorer agrees with ours.
    plus_minus = np.where(y == 1, -1, 1)
    np.testing.assert_allclose(cross_val_score(fitted_detector, X, plus_minus, cv=cv, scoring="roc_auc"), ours)


def test_grid_search_picks_the_candidate_with_the_best_mean_score(detector, data):
    X, y = data
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = {"hidden_sizes": [(4,), (16,)], "max_iter": [1, 4]}
    search = GridSearchCV(detector, grid, cv=cv, scoring=outlier_scorer()).fit(X, y)
    means = search.cv_results_["mean_test_score"]
    assert search.best_index_ == int(np.argmax(means))
    assert search.best_score_ == pytest.approx(means.max())
    # Each candidate's score is what cross_val_score gives with the same folds.
    params = search.cv_results_["params"][0]
    direct = cross_val_score(detector.set_params(**params), X, y, cv=cv, scoring=outlier_scorer())
    assert means[0] == pytest.approx(direct.mean())
    assert search.score(X, y) == pytest.approx(outlier_scorer()(search.best_estimator_, X, y))


def test_in_a_dict_of_scorers_through_a_pipeline_in_worker_processes(fast_params, data):
    X, y = data
    pipeline = make_pipeline(StandardScaler(), EBMOutlierDetector(**fast_params))
    scoring = {"auc": outlier_scorer(), "ap": outlier_scorer("average_precision")}
    search = GridSearchCV(
        pipeline,
        {"ebmoutlierdetector__reg_alpha": [0.01, 0.1]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring=scoring,
        refit="auc",
        n_jobs=2,
    ).fit(X, y)
    for name in ("auc", "ap"):
        scores = search.cv_results_[f"mean_test_{name}"]
        assert np.all((scores > 0.0) & (scores <= 1.0))
    assert search.best_index_ == int(np.argmax(search.cv_results_["mean_test_auc"]))


def test_pickles_and_reads_back(data, fitted_detector):
    X, y = data
    scorer = outlier_scorer("average_precision", outlier_label=-1)
    again = pickle.loads(pickle.dumps(scorer))
    plus_minus = np.where(y == 1, -1, 1)
    assert again(fitted_detector, X, plus_minus) == scorer(fitted_detector, X, plus_minus)
    assert repr(again) == "outlier_scorer(metric='average_precision', outlier_label=-1)"


def test_density_models_have_score_samples_too(fast_params, data):
    X, y = data
    model = EnergyBasedModel(**fast_params).fit(X)
    assert outlier_scorer()(model, X, y) == pytest.approx(roc_auc_score(y, -model.score_samples(X)))


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("metric", ["auc", "accuracy", None, roc_auc_score])
def test_unknown_metric(metric):
    with pytest.raises(ValueError, match=r"metric must be one of \['average_precision', 'roc_auc'\]"):
        outlier_scorer(metric)


@pytest.mark.parametrize("label", [None, [1], np.array([1, 0]), float("nan"), (1,)])
def test_outlier_label_must_be_one_value(label):
    with pytest.raises(ValueError, match="outlier_label must be the single value of y"):
        outlier_scorer(outlier_label=label)


def test_labels_are_required(fitted_detector, data):
    with pytest.raises(ValueError, match=r"needs labels: pass y"):
        outlier_scorer()(fitted_detector, data[0], None)
    with pytest.raises(ValueError, match=r"needs labels: pass y"):
        cross_val_score(fitted_detector, data[0], cv=3, scoring=outlier_scorer(), error_score="raise")


def test_no_row_carries_the_outlier_label(fitted_detector, data):
    X, y = data
    with pytest.raises(ValueError, match=r"(?s)No row of y is labelled outlier_label=-1.*\[0, 1\].*outlier_label="):
        outlier_scorer(outlier_label=-1)(fitted_detector, X, y)


def test_only_outliers(fitted_detector, data):
    X, y = data
    with pytest.raises(ValueError, match=r"(?s)Every row of y is labelled outlier_label=1.*StratifiedKFold"):
        outlier_scorer()(fitted_detector, X[y == 1], y[y == 1])


def test_more_than_two_labels(fitted_detector, data):
    X, y = data
    y3 = y.copy()
    y3[:10] = 2
    with pytest.raises(ValueError, match=r"needs two labels .* holds 3: \[0, 1, 2\]"):
        outlier_scorer()(fitted_detector, X, y3)


def test_length_and_shape_of_y(fitted_detector, data):
    X, y = data
    with pytest.raises(ValueError, match="one label per row"):
        outlier_scorer()(fitted_detector, X, np.c_[y, y])
    assert outlier_scorer()(fitted_detector, X, y[:, None]) == outlier_scorer()(fitted_detector, X, y)
    with pytest.raises(ValueError, match=f"y has {len(y) - 1} labels but score_samples gave {len(y)}"):
        outlier_scorer()(fitted_detector, X, y[1:])


def test_estimator_without_score_samples(data):
    from sklearn.linear_model import LogisticRegression

    X, y = data
    model = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="grades score_samples, which LogisticRegression does not have"):
        outlier_scorer()(model, X, y)


def test_a_fold_without_outliers_is_named_in_the_search(detector, data):
    """Unshuffled KFold on sorted labels: the first fold holds no outlier."""
    X, y = data
    with pytest.raises(ValueError, match=r"(?s)No row of y is labelled outlier_label=1.*StratifiedKFold"):
        cross_val_score(detector, X, y, cv=KFold(3), scoring=outlier_scorer(), error_score="raise")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = cross_val_score(detector, X, y, cv=KFold(3), scoring=outlier_scorer())
    assert np.isnan(scores[0]) and np.isfinite(scores[-1])
    assert any("StratifiedKFold" in str(w.message) for w in caught)
