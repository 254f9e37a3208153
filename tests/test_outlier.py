"""EBMOutlierDetector's outlier contract and feature_contributions on both estimators."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel
from sklearn_ebm._base import BaseEnergyModel


@pytest.fixture
def make_detector(fast_params):
    def factory(**overrides):
        return EBMOutlierDetector(**{**fast_params, **overrides})

    return factory


def test_has_every_parameter_of_the_density_model_plus_contamination():
    density = set(EnergyBasedModel().get_params())
    detector = EBMOutlierDetector().get_params()
    assert set(detector) == density | {"contamination"}
    assert detector["contamination"] == "auto"
    for name in density:
        assert detector[name] == EnergyBasedModel().get_params()[name]


def test_shares_the_model_rather_than_copying_it():
    assert issubclass(EBMOutlierDetector, BaseEnergyModel)
    assert issubclass(EnergyBasedModel, BaseEnergyModel)
    assert EBMOutlierDetector.fit_predict is not None
    assert EBMOutlierDetector._validated_fit is EnergyBasedModel._validated_fit


def test_scores_match_the_density_model_with_the_same_settings(make_detector, fast_params, X_small):
    detector = make_detector().fit(X_small)
    density = EnergyBasedModel(**fast_params).fit(X_small)
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
    reference = X_small.mean(axis=0, keepdims=True)
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
