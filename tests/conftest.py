"""Small shared fixtures: tiny networks and small data keep the suite fast."""

import numpy as np
import pytest

from sklearn_ebm import EnergyBasedModel

# Tiny training settings: a few epochs of a one-layer network with short
# Langevin chains. Enough to exercise every code path in well under a second.
# Early stopping is off: over so few epochs it would usually restore the
# untrained weights, and the tests want a network that training has moved.
FAST_PARAMS = dict(
    hidden_sizes=(8,),
    early_stopping=False,
    max_iter=3,
    langevin_steps=2,
    replay_buffer_size=64,
    batch_size=32,
    random_state=0,
)


@pytest.fixture
def fast_params():
    """Keyword arguments of a small, fast EnergyBasedModel (a fresh dict each time)."""
    return dict(FAST_PARAMS)


@pytest.fixture
def make_model(fast_params):
    """Factory: ``make_model(**overrides)`` returns an unfitted fast model."""

    def factory(**overrides):
        return EnergyBasedModel(**{**fast_params, **overrides})

    return factory


@pytest.fixture
def X_small():
    """80 rows, 3 correlated features in different units, float64."""
    rng = np.random.RandomState(0)
    Z = rng.randn(80, 3)
    mixing = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 0.3], [0.0, 0.0, 0.2]])
    return Z @ mixing + np.array([1.0, -2.0, 5.0])


@pytest.fixture
def fitted_model(make_model, X_small):
    """A fast model fitted on ``X_small`` (a new fit per test, about 20 ms)."""
    return make_model().fit(X_small)


def pytest_configure(config):
    # The suite's networks are tiny: one intra-op thread is faster than
    # several, and leaves the second core to GridSearchCV(n_jobs=2) workers.
    import torch

    torch.set_num_threads(1)
    # The tiny max_iter used throughout stops training "while still improving";
    # the warning itself is tested explicitly in test_estimator.py.
    config.addinivalue_line(
        "filterwarnings", "ignore::sklearn.exceptions.ConvergenceWarning"
    )
