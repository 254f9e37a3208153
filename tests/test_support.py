"""The robust support the outlier detector trains on (``support_fraction``)."""

import pickle

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sklearn_ebm import EBMOutlierDetector, _support
from sklearn_ebm._support import robust_support


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


def test_the_gaussian_of_all_rows_keeps_97_5_percent_of_97_5_percent():
    # The chi-square ellipsoid of the Gaussian of all rows, then the 97.5%
    # quantile of the kept rows' distances from their own Gaussian.
    X = np.random.RandomState(1).randn(20_000, 4)
    share = robust_support(X, 1.0).mean()
    assert share == pytest.approx(0.975**2, abs=0.005)


def test_the_support_does_not_depend_on_the_columns_units():
    X, _ = _contaminated(seed=2)
    rescaled = X * [1e-4, 1.0, 3e5] + [7.0, -1e6, 0.5]
    np.testing.assert_array_equal(robust_support(X, 0.5), robust_support(rescaled, 0.5))


def test_beyond_the_gaussian_rows_the_steps_use_evenly_spaced_ones(monkeypatch):
    X, is_outlier = _contaminated(n_inliers=1800, n_outliers=200)
    full = robust_support(X, 0.5)
    monkeypatch.setattr(_support, "_GAUSSIAN_ROWS", 200)
    fitted_rows = []
    real_fit = _support.fit_whitening
    monkeypatch.setattr(_support, "fit_whitening", lambda rows: fitted_rows.append(len(rows)) or real_fit(rows))
    spaced = robust_support(X, 0.5)
    # Each Gaussian is fitted to at most 200 rows.
    assert fitted_rows and max(fitted_rows) <= 200
    # Every row gets a verdict, the cluster stays out, and the support is
    # nearly the one that every row's Gaussians give.
    assert spaced.shape == (len(X),)
    assert not spaced[is_outlier].any()
    assert (spaced == full).mean() > 0.95
    assert spaced[~is_outlier].mean() == pytest.approx(full[~is_outlier].mean(), abs=0.05)


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
    # The whitening (mean and covariance) is the support's, not pulled toward the cluster.
    np.testing.assert_allclose(detector.whitening_.mean, X[~is_outlier].mean(axis=0), atol=0.3)
    # offset_ is the contamination quantile of the scores of all training rows.
    assert detector.offset_ == pytest.approx(np.percentile(detector.score_samples(X), 10.0))
    EBMOutlierDetector(**fast_params, support_fraction=None).fit(X)
    np.testing.assert_array_equal(trained_on[1], X)


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


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5, "half"])
def test_a_bad_support_fraction_is_refused_before_training(fast_params, fraction):
    detector = EBMOutlierDetector(**fast_params, support_fraction=fraction)
    with pytest.raises(ValueError, match="support_fraction"):
        detector.fit(np.random.RandomState(0).randn(50, 2))
    assert not hasattr(detector, "network_")


def test_detectors_pickled_before_the_support_load_training_on_every_row(fast_params):
    detector = EBMOutlierDetector(**fast_params).fit(np.random.RandomState(0).randn(100, 2))
    state = detector.__getstate__()
    del state["support_fraction"]
    old = EBMOutlierDetector.__new__(EBMOutlierDetector)
    old.__setstate__(state)
    assert old.support_fraction is None
    restored = pickle.loads(pickle.dumps(detector))
    assert restored.support_fraction == 0.5
