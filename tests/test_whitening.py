"""The whitening: its Ledoit-Wolf covariance and the map it fits."""

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf

from sklearn_ebm._whitening import fit_whitening, ledoit_wolf_covariance


@pytest.mark.parametrize("shape", [(200, 5), (50, 80), (100, 1), (3, 4)])
def test_ledoit_wolf_covariance_is_scikit_learns(shape):
    rng = np.random.default_rng(0)
    X = rng.standard_normal(shape) @ rng.standard_normal((shape[1], shape[1]))
    X -= X.mean(axis=0)
    if shape[1] > 2:
        X[:, 1] = 0.0  # a constant column, as fit_whitening leaves it
    expected = ledoit_wolf(X, assume_centered=True)[0]
    np.testing.assert_allclose(ledoit_wolf_covariance(X), expected, rtol=1e-10, atol=1e-12)


def test_ledoit_wolf_covariance_of_isotropic_data_is_not_shrunk_past_it():
    # An identity covariance: nothing to shrink towards, no division by zero.
    X = np.vstack([np.eye(3), -np.eye(3)])
    np.testing.assert_allclose(ledoit_wolf_covariance(X), np.eye(3) / 3)


def test_fit_whitening_whitens():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5000, 4)) @ np.array(
        [[3.0, 0, 0, 0], [1.0, 0.5, 0, 0], [0, 0, 100.0, 0], [0, 0, 2.0, 0.01]]
    ) + np.array([1.0, -5.0, 1e3, 0.0])
    whitening = fit_whitening(X)
    Z = whitening.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.cov(Z, rowvar=False, bias=True), np.eye(4), atol=0.02)
    np.testing.assert_allclose(whitening.inverse_transform(Z), X, rtol=1e-9, atol=1e-9)
    assert whitening.log_det == pytest.approx(-np.linalg.slogdet(np.cov(X, rowvar=False, bias=True))[1] / 2, abs=0.02)
