"""The robust support the outlier detector trains on (``support_fraction``)."""

import pickle

import numpy as np
import pytest
from scipy.stats import chi2
from sklearn.metrics import roc_auc_score

from sklearn_ebm import EBMOutlierDetector, _support
from sklearn_ebm._support import energy_support, robust_support


def _contaminated(seed=0, n_inliers=900, n_outliers=100):
    rng = np.random.RandomState(seed)
    mixing = np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.0, 0.3, 3.0]])
    inliers = rng.randn(n_inliers, 3) @ mixing + [10.0, -3.0, 0.0]
    outliers = 0.3 * rng.randn(n_outliers, 3) + [16.0, -8.0, 6.0]
    return np.r_[inliers, outliers], np.r_[np.zeros(n_inliers, bool), np.ones(n_outliers, bool)]


def test_the_support_leaves_a_contaminating_cluster_out():
    X, is_outlier = _contaminated()
    support = robust_support(X, 0.5)
    assert support.dtype == bool and support.shape == (len(X),)
    assert not support[is_outlier].any()
    # Within the 97.5% ellipsoid of a Gaussian fitted to about half of the rows:
    # most inliers, not only that half.
    assert 0.6 < support[~is_outlier].mean() < 0.99


def test_the_gaussian_of_all_rows_keeps_its_97_5_percent_ellipsoid():
    X = np.random.RandomState(1).randn(20_000, 4)
    share = robust_support(X, 1.0).mean()
    assert share == pytest.approx(chi2.cdf(chi2.ppf(0.975, 4), 4), abs=0.005)


def test_the_support_does_not_depend_on_the_columns_units():
    X, _ = _contaminated(seed=2)
    rescaled = X * [1e-4, 1.0, 3e5] + [7.0, -1e6, 0.5]
    np.testing.assert_array_equal(robust_support(X, 0.5), robust_support(rescaled, 0.5))


@pytest.mark.parametrize("n_samples, n_features", [(3, 5), (6, 4), (30, 2)])
def test_the_support_can_always_define_a_gaussian(n_samples, n_features):
    X = np.random.RandomState(0).randn(n_samples, n_features)
    assert robust_support(X, 0.01).sum() >= min(n_samples, n_features + 1)


def test_a_constant_column_does_not_empty_the_support():
    X = np.random.RandomState(0).randn(200, 3)
    X[:, 1] = 4.0
    assert robust_support(X, 0.5).mean() > 0.4


def test_the_detector_trains_on_its_support_and_thresholds_on_every_row(fast_params, monkeypatch):
    import sklearn_ebm._base as base_module

    trained_on = []
    real = base_module.training_state

    def spy(estimator, X, *args, **kwargs):
        trained_on.append(X)
        return real(estimator, X, *args, **kwargs)

    monkeypatch.setattr(base_module, "training_state", spy)
    X, is_outlier = _contaminated()
    detector = EBMOutlierDetector(**fast_params, contamination=0.1).fit(X)
    np.testing.assert_array_equal(trained_on[0], X[robust_support(X, 0.5)])
    # The refit's rows hold no outlier either.
    assert len(trained_on) == 2
    assert (np.linalg.norm(trained_on[1] - [16.0, -8.0, 6.0], axis=1) > 2.0).all()
    # The whitening (mean and covariance) is the support's, not pulled toward the cluster.
    np.testing.assert_allclose(detector.whitening_.mean, X[~is_outlier].mean(axis=0), atol=0.3)
    # offset_ is the contamination quantile of the scores of all training rows.
    assert detector.offset_ == pytest.approx(np.percentile(detector.score_samples(X), 10.0))
    # Without a support: every row, and no refit.
    EBMOutlierDetector(**fast_params, support_fraction=None).fit(X)
    assert len(trained_on) == 3
    np.testing.assert_array_equal(trained_on[2], X)


def test_each_partial_fit_trains_on_its_chunks_support(fast_params, monkeypatch):
    import sklearn_ebm._base as base_module

    trained_on = []
    real = base_module.training_state
    monkeypatch.setattr(
        base_module, "training_state", lambda estimator, X, *a, **k: trained_on.append(X) or real(estimator, X, *a, **k)
    )
    X, _ = _contaminated()
    detector = EBMOutlierDetector(**fast_params)
    for chunk in (X[::2], X[1::2]):
        detector.partial_fit(chunk)
    for chunk, rows in zip((X[::2], X[1::2]), trained_on):
        np.testing.assert_array_equal(rows, chunk[robust_support(chunk, 0.5)])


def test_the_support_of_many_rows_is_chosen_among_evenly_spaced_ones(fast_params, monkeypatch):
    import sklearn_ebm._base as base_module

    trained_on = []
    real = base_module.training_state
    monkeypatch.setattr(_support, "CANDIDATE_ROWS", 100)
    monkeypatch.setattr(
        base_module, "training_state", lambda estimator, X, *a, **k: trained_on.append(X) or real(estimator, X, *a, **k)
    )
    X, _ = _contaminated()
    EBMOutlierDetector(**fast_params).fit(X)
    candidates = X[::10]
    np.testing.assert_array_equal(trained_on[0], candidates[robust_support(candidates, 0.5)])


def test_the_support_ranks_a_contaminating_cluster_as_outliers(fast_params):
    # 8% of the training rows form a tight cluster away from the inliers: a
    # model fitted to every row learns it as a mode; one fitted to the support does not.
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(460, 2), 0.05 * rng.randn(40, 2) + [3.5, 3.5]]
    test = np.r_[rng.randn(200, 2), 0.05 * rng.randn(20, 2) + [3.5, 3.5]]
    is_outlier = np.r_[np.zeros(200), np.ones(20)]
    params = {**fast_params, "hidden_sizes": (32, 32), "max_iter": 30, "langevin_steps": 5}
    auc = {
        fraction: roc_auc_score(
            is_outlier, -EBMOutlierDetector(**params, support_fraction=fraction).fit(X).score_samples(test)
        )
        for fraction in (0.5, None)
    }
    assert auc[0.5] > 0.95
    assert auc[0.5] > auc[None] + 0.05


@pytest.mark.parametrize(
    "name, value",
    [("support_fraction", v) for v in (0.0, -0.5, 1.5, "half")]
    + [("support_refits", v) for v in (-1, 1.5, "one", None)],
)
def test_a_bad_support_setting_is_refused_before_training(fast_params, name, value):
    detector = EBMOutlierDetector(**fast_params, **{name: value})
    with pytest.raises(ValueError, match=name):
        detector.fit(np.random.RandomState(0).randn(50, 2))
    assert not hasattr(detector, "network_")


@pytest.mark.parametrize(
    "name, before, default",
    # Detectors pickled before the support trained on every row; before the
    # refits, they fitted once.
    [("support_fraction", None, 0.5), ("support_refits", 0, 1)],
)
def test_detectors_pickled_before_a_support_setting_load_as_they_trained(fast_params, name, before, default):
    detector = EBMOutlierDetector(**fast_params).fit(np.random.RandomState(0).randn(100, 2))
    state = detector.__getstate__()
    del state[name]
    old = EBMOutlierDetector.__new__(EBMOutlierDetector)
    old.__setstate__(state)
    assert getattr(old, name) == before
    assert getattr(pickle.loads(pickle.dumps(detector)), name) == default


def _spy_on_training_rows(monkeypatch):
    import sklearn_ebm._base as base_module

    trained_on = []
    real = base_module.training_state
    monkeypatch.setattr(
        base_module, "training_state", lambda estimator, X, *a, **k: trained_on.append(X) or real(estimator, X, *a, **k)
    )
    return trained_on


def test_the_energy_support_keeps_the_candidates_within_the_support_quantile():
    support = np.arange(1000.0)
    candidates = np.array([-5.0, 0.0, 970.0, 974.0, 976.0, 2000.0])
    np.testing.assert_array_equal(
        energy_support(candidates, support, 1), [True, True, True, True, False, False]
    )
    # At least n_minimum candidates, the lowest-energy ones.
    np.testing.assert_array_equal(
        energy_support(np.array([3000.0, 2000.0, 2500.0]), support, 2), [False, True, True]
    )
    assert energy_support(np.array([3000.0]), support, 2).all()


def test_a_refit_trains_on_the_rows_the_first_fit_finds_typical(fast_params, monkeypatch):
    X, _ = _contaminated()
    first = EBMOutlierDetector(**fast_params, support_refits=0).fit(X)
    trained_on = _spy_on_training_rows(monkeypatch)
    refitted = EBMOutlierDetector(**fast_params, support_refits=1).fit(X)
    assert len(trained_on) == 2
    # The first fit is the one-fit detector's; the refit's rows are the
    # candidates whose energy under it is that of a typical support row.
    np.testing.assert_array_equal(trained_on[0], X[robust_support(X, 0.5)])
    energy = first._energy(X)
    expected = energy_support(energy, energy[robust_support(X, 0.5)], X.shape[1] + 1)
    np.testing.assert_array_equal(trained_on[1], X[expected])
    assert not np.array_equal(trained_on[1], trained_on[0])
    # The fitted model is the refit's: its whitening is that of its rows.
    assert not np.allclose(refitted.whitening_.mean, first.whitening_.mean)


def test_each_refit_is_one_more_fit(fast_params, monkeypatch):
    X, _ = _contaminated()
    trained_on = _spy_on_training_rows(monkeypatch)
    EBMOutlierDetector(**fast_params, support_refits=3).fit(X)
    assert len(trained_on) == 4


def test_continued_fits_do_not_refit(fast_params, monkeypatch):
    X, _ = _contaminated()
    trained_on = _spy_on_training_rows(monkeypatch)
    detector = EBMOutlierDetector(**fast_params, warm_start=True).fit(X)
    assert len(trained_on) == 2
    detector.fit(X)
    assert len(trained_on) == 3
    np.testing.assert_array_equal(trained_on[2], X[robust_support(X, 0.5)])
    EBMOutlierDetector(**fast_params).partial_fit(X).partial_fit(X)
    assert len(trained_on) == 5


def test_a_refit_that_fails_leaves_the_detector_as_it_was(fast_params, monkeypatch):
    import sklearn_ebm._base as base_module

    X, _ = _contaminated()
    detector = EBMOutlierDetector(**fast_params).fit(X)
    before = detector.score_samples(X), detector.offset_, detector.n_iter_, detector.whitening_.mean.copy()
    real, calls = base_module.training_state, []

    def fails_on_the_refit(estimator, rows, *args, **kwargs):
        calls.append(rows)
        if len(calls) == 2:
            raise RuntimeError("refit failed")
        return real(estimator, rows, *args, **kwargs)

    monkeypatch.setattr(base_module, "training_state", fails_on_the_refit)
    with pytest.raises(RuntimeError, match="refit failed"):
        detector.set_params(random_state=7).fit(X[::2] + 1.0)
    assert len(calls) == 2
    np.testing.assert_array_equal(detector.score_samples(X), before[0])
    assert (detector.offset_, detector.n_iter_) == before[1:3]
    np.testing.assert_array_equal(detector.whitening_.mean, before[3])


def test_a_fit_with_a_refit_warns_at_most_once(fast_params):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    X, _ = _contaminated()
    params = {**fast_params, "max_iter": 1, "early_stopping": True, "n_iter_no_change": 5}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        EBMOutlierDetector(**params).fit(X)
    assert sum(issubclass(w.category, ConvergenceWarning) for w in caught) == 1
