"""scikit-learn's own estimator checks, on a small and fast configuration.

No check is listed as expected to fail: with a fixed integer random_state
training is deterministic, so even the idempotence and invariance checks
apply to this stochastic estimator as they stand. (The ~80 checks of the
two configurations take about 3-4 seconds in all on one CPU core.)
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel

FAST_CHECKED = [
    # Default early stopping, as users get it.
    EnergyBasedModel(hidden_sizes=(8,), max_iter=3, langevin_steps=2, replay_buffer_size=64, random_state=0),
    # Without early stopping (every epoch's weights are kept), with dropout
    # and spectral normalization exercised through the same checks.
    EnergyBasedModel(
        hidden_sizes=(8, 4), max_iter=2, langevin_steps=2, replay_buffer_size=64,
        early_stopping=False, dropout=0.2, spectral_norm=True, random_state=0,
    ),
    # The outlier detector, with both kinds of threshold.
    EBMOutlierDetector(hidden_sizes=(8,), max_iter=3, langevin_steps=2, replay_buffer_size=64, random_state=0),
    EBMOutlierDetector(
        hidden_sizes=(8,), max_iter=3, langevin_steps=2, replay_buffer_size=64,
        contamination=0.1, random_state=0,
    ),
]


def _expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(FAST_CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
