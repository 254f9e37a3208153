"""EBMOutlierDetector's outlier contract and feature_contributions on both estimators."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel, _outlier
from sklearn_ebm._base import BaseEnergyModel
from sklearn_ebm._contamination import score_threshold


@pytest.fixture
def make_detector(fast_params):
    def factory(**overrides):
        return EBMOutlierDetector(**{**fast_params, **overrides})

    return factory


def test_has_every_parameter_of_the_density_model_plus_its_own():
    density = set(EnergyBasedModel().get_params())
    detector = EBMOutlierDetector().get_params()
    assert set(detector) == density | {"contamination", "support_fraction", "robust_training"}
    assert detector["contamination"] == "auto"
    assert detector["support_fraction"] == 0.5
    # Ranking needs fewer optimizer steps than a density: the detector's
    # budget is its own, every other default is the density model's.
    budget = {
        "hidden_sizes": ((128, 64), (256, 128)),
        "max_iter": (30, 100),
        "learning_rate": (1e-2, 3e-3),
        "max_samples": (2048, 10000),
        "langevin_steps": (7, 10),
        # The density model's low-dimensional model is not measured for ranking.
        "fourier_features": (0, "auto"),
        "base": ("gaussian", "auto"),
        # Ranking from the robust support's Gaussian: noise-contrastive
        # estimation against it, no Langevin chain in training.
        "objective": ("nce", "auto"),
    }
    for name in density:
        if name in budget:
            assert (detector[name], EnergyBasedModel().get_params()[name]) == budget[name]
        else:
            assert detector[name] == EnergyBasedModel().get_params()[name]


def test_shares_the_model_rather_than_copying_it():
    assert issubclass(EBMOutlierDetector, BaseEnergyModel)
    assert issubclass(EnergyBasedModel, BaseEnergyModel)
    assert EBMOutlierDetector.fit_predict is not None
    assert EBMOutlierDetector._validated_fit is EnergyBasedModel._validated_fit


def test_scores_match_the_density_model_with_the_same_settings(make_detector, X_small):
    # Trained on every row, without robust training, the detector fits the density model's model.
    detector = make_detector(support_fraction=None).fit(X_small)
    own = {"contamination", "support_fraction", "robust_training"}
    settings = {k: v for k, v in detector.get_params().items() if k not in own}
    density = EnergyBasedModel(**settings).fit(X_small)
    np.testing.assert_array_equal(detector.score_samples(X_small), density.score_samples(X_small))


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.25])
def test_float_contamination_flags_that_share_of_training_rows(make_detector, contamination):
    X = np.random.RandomState(1).normal(size=(200, 4))
    detector = make_detector(contamination=contamination).fit(X)
    scores = detector.score_samples(X)
    assert detector.offset_ == pytest.approx(np.percentile(scores, 100 * contamination))
    labels = detector.predict(X)
    assert set(np.unique(labels)) <= {-1, 1}
    assert labels.dtype.kind == "i"
    assert (labels == -1).sum() == int(round(contamination * len(X)))


@pytest.mark.parametrize("contamination", ["auto", 0.1])
def test_threshold_of_many_rows_comes_from_evenly_spaced_ones(make_detector, monkeypatch, contamination):
    # Beyond THRESHOLD_ROWS training rows (100,000; 50 here), the threshold
    # is that of every k-th row's score, not a forward pass over all rows.
    monkeypatch.setattr(_outlier, "THRESHOLD_ROWS", 50)
    X = np.random.RandomState(3).normal(size=(200, 3))
    detector = make_detector(contamination=contamination).fit(X)
    expected = score_threshold(detector.score_samples(X[::4]), contamination)
    assert detector.offset_ == pytest.approx(expected, rel=1e-12)
    assert detector.offset_ != pytest.approx(score_threshold(detector.score_samples(X), contamination), rel=1e-9)


def test_decision_function_is_score_minus_offset_and_sign_gives_predict(make_detector, X_small):
    detector = make_detector(contamination=0.1).fit(X_small)
    decision = detector.decision_function(X_small)
    np.testing.assert_allclose(decision, detector.score_samples(X_small) - detector.offset_)
    np.testing.assert_array_equal(detector.predict(X_small), np.where(decision < 0, -1, 1))
    np.testing.assert_array_equal(clone(detector).fit_predict(X_small), detector.predict(X_small))


def test_auto_contamination_is_the_documented_robust_rule(make_detector):
    X = np.random.RandomState(2).normal(size=(300, 3))
    detector = make_detector().fit(X)
    scores = detector.score_samples(X)
    median = np.median(scores)
    mad = np.median(np.abs(scores - median))
    assert detector.offset_ == pytest.approx(median - 3 * 1.4826 * mad)
    far = np.array([[8.0, -8.0, 8.0]])
    assert detector.predict(far)[0] == -1
    assert (detector.predict(X) == 1).mean() > 0.9


@pytest.mark.parametrize("activation", ["silu", "gelu", "tanh", "softplus", "elu"])
@pytest.mark.parametrize("estimator_class", [EnergyBasedModel, EBMOutlierDetector])
def test_feature_contributions_sum_to_the_energy_above_the_training_mean(
    activation, estimator_class, fast_params, X_small
):
    model = estimator_class(**{**fast_params, "hidden_sizes": (16, 8), "activation": activation})
    model.fit(X_small)
    rows = np.vstack([X_small[:10], X_small[:3] * 3.0])
    contributions = model.feature_contributions(rows)
    assert contributions.shape == rows.shape
    # The training mean: of the rows the model trained on (the detector's support).
    reference = model.whitening_.mean[None]
    energy_above = model.score_samples(reference)[0] - model.score_samples(rows)
    # The documented tolerance: 1e-3 * (1 + |E(x) - E(mean)|), float32 arithmetic included.
    np.testing.assert_array_less(
        np.abs(contributions.sum(axis=1) - energy_above), 1e-3 * (1 + np.abs(energy_above))
    )


def test_feature_contributions_point_at_the_unusual_feature():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(400, 3))
    detector = EBMOutlierDetector(hidden_sizes=(16,), max_iter=5, random_state=0).fit(X)
    odd = np.array([[0.0, 7.0, 0.0]])
    contributions = detector.feature_contributions(odd)
    assert np.argmax(contributions[0]) == 1
    assert contributions[0, 1] > 10 * np.abs(contributions[0, [0, 2]]).max()


def test_feature_contributions_follow_feature_names(make_detector, X_small):
    frame = pd.DataFrame(X_small, columns=["age", "income", "score"], index=np.arange(100, 180))
    model = make_detector().fit(frame)
    contributions = model.feature_contributions(frame.iloc[:5])
    assert isinstance(contributions, pd.DataFrame)
    assert list(contributions.columns) == ["age", "income", "score"]
    assert list(contributions.index) == list(range(100, 105))


def test_contamination_out_of_range_is_rejected(make_detector, X_small):
    for bad in (0.0, 0.6, -0.1, "most"):
        with pytest.raises(ValueError, match="contamination"):
            make_detector(contamination=bad).fit(X_small)


# ------------------------------------------------------------ robust training


def test_score_threshold_rules():
    from sklearn_ebm._contamination import score_threshold

    scores = np.r_[np.linspace(-1, 1, 99), -50.0]
    assert score_threshold(scores, 0.1) == pytest.approx(np.percentile(scores, 10))
    # "auto": median - 3 * 1.4826 * MAD, untouched by the one far row.
    mad = np.median(np.abs(scores - np.median(scores)))
    assert score_threshold(scores, "auto") == pytest.approx(np.median(scores) - 3 * 1.4826 * mad)
    assert -50.0 < score_threshold(scores, "auto") < -1.0


@pytest.mark.parametrize("contamination, n_kept", [("auto", range(85, 96)), (0.2, [80])])
def test_inlier_rows_leave_out_the_rows_beyond_the_threshold(contamination, n_kept):
    # Under the untrained model (the fitted Gaussian) the energy is
    # ||z||^2 / 2: "auto" also trims the upper tail of the inliers' skewed
    # chi-square energies, a few rows.
    import torch

    from sklearn_ebm._network import EnergyMLP, GaussianBaseEnergy
    from sklearn_ebm._training import _inlier_rows

    network = EnergyMLP(2, hidden_sizes=(4,))
    torch.nn.init.zeros_(network.linear_layers()[-1].weight)
    torch.nn.init.zeros_(network.linear_layers()[-1].bias)
    rows = torch.cat([0.1 * torch.randn(95, 2, generator=torch.Generator().manual_seed(0)), torch.full((5, 2), 8.0)])
    kept = _inlier_rows(GaussianBaseEnergy(network), rows, contamination)
    assert int(kept.sum()) in n_kept
    assert not kept[95:].any()


@pytest.mark.parametrize("robust_training", [True, False])
def test_robust_training_leaves_flagged_rows_out_of_the_positive_phase(make_detector, monkeypatch, robust_training):
    import sklearn_ebm._training as training_module

    rows_seen = []
    real = training_module.train_epoch

    def spy(model, optimizer, data, *args, **kwargs):
        rows_seen.append(len(data))
        return real(model, optimizer, data, *args, **kwargs)

    monkeypatch.setattr(training_module, "train_epoch", spy)
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(190, 3), rng.randn(10, 3) + 12.0]
    make_detector(robust_training=robust_training, contamination=0.05, support_fraction=None).fit(X)
    if robust_training:
        assert all(n == 190 for n in rows_seen)
    else:
        assert all(n == 200 for n in rows_seen)


def test_robust_training_scores_only_the_epochs_rows(make_detector, monkeypatch):
    # With epochs of max_samples rows, trimming scores those rows, not all of
    # them: an epoch's cost stays bounded whatever the number of rows.
    import sklearn_ebm._training as training_module

    scored, trained = [], []
    real_inliers, real_epoch = training_module._inlier_rows, training_module.train_epoch

    def inliers_spy(model, data, contamination):
        scored.append(len(data))
        return real_inliers(model, data, contamination)

    def epoch_spy(model, optimizer, data, *args, **kwargs):
        trained.append(data.clone())
        return real_epoch(model, optimizer, data, *args, **kwargs)

    monkeypatch.setattr(training_module, "_inlier_rows", inliers_spy)
    monkeypatch.setattr(training_module, "train_epoch", epoch_spy)
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(950, 3), rng.randn(50, 3) + 12.0]
    detector = make_detector(robust_training=True, contamination=0.1, max_samples=64, max_iter=3, support_fraction=None)
    detector.fit(X)
    assert scored == [64, 64, 64]
    far = detector.whitening_.transform(np.full((1, 3), 6.0))[0]
    for rows in trained:
        assert len(rows) <= 64
        # The far cluster's rows (beyond the midpoint to it) are left out.
        assert not ((rows.cpu().numpy() @ far) > 0.5 * far @ far).any()


def test_robust_training_ranks_a_contaminating_cluster_as_outliers(fast_params):
    # 8% of the training rows form a tight cluster away from the inliers: a
    # model fitted to every row learns it as a mode; a trimmed fit does not.
    from sklearn.metrics import roc_auc_score

    rng = np.random.RandomState(0)
    inliers = rng.randn(460, 2)
    cluster = 0.05 * rng.randn(40, 2) + [3.5, 3.5]
    X = np.r_[inliers, cluster]
    test = np.r_[rng.randn(200, 2), 0.05 * rng.randn(20, 2) + [3.5, 3.5]]
    is_outlier = np.r_[np.zeros(200), np.ones(20)]
    params = {**fast_params, "hidden_sizes": (32, 32), "max_iter": 30, "langevin_steps": 5}
    auc = {
        robust: roc_auc_score(
            is_outlier,
            -EBMOutlierDetector(**params, robust_training=robust, support_fraction=None).fit(X).score_samples(test),
        )
        for robust in (True, False)
    }
    assert auc[True] > auc[False] + 0.05
