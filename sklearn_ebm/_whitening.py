"""The affine map from the user's units to the model's whitened coordinates."""

from dataclasses import dataclass

import numpy as np
from sklearn.covariance import ledoit_wolf

__all__ = ["Whitening", "fit_whitening"]

# Smallest eigenvalue kept, in units of a standardized feature's variance:
# constant and collinear directions get a finite, large scale instead of 1/0.
_EIGENVALUE_FLOOR = 1e-3
# Columns whose standard deviation is below this are constant.
_SCALE_FLOOR = 1e-300


@dataclass
class Whitening:
    """``z = (x - mean) @ forward``; ``x = z @ inverse + mean``.

    ``log_det`` is ``log |det forward|``, the log-Jacobian that turns a
    density of ``z`` into a density of ``x``.
    """

    mean: np.ndarray
    forward: np.ndarray
    inverse: np.ndarray
    log_det: float

    def transform(self, X):
        return (X - self.mean) @ self.forward

    def inverse_transform(self, Z):
        return Z @ self.inverse + self.mean


def fit_whitening(X):
    """Fit a :class:`Whitening` to ``X`` (float64, shape (n, d)).

    Columns are standardized first, so the result does not depend on their
    units; then the Ledoit-Wolf shrunk covariance of the standardized data
    is whitened through its eigendecomposition, eigenvalues floored at
    ``1e-3``. Whitened data has about zero mean and identity covariance,
    which is what the model's N(0, I) base and its Langevin step size assume.
    """
    # Columns are divided by their largest magnitude first, so that values
    # near the float64 limit neither overflow the variance nor look like inf.
    magnitude = np.max(np.abs(X), axis=0)
    magnitude[~(magnitude > 0)] = 1.0
    unit = X / magnitude
    unit_mean = unit.mean(axis=0)
    unit_scale = unit.std(axis=0)
    mean = unit_mean * magnitude
    scale = unit_scale * magnitude
    constant = ~(scale > _SCALE_FLOOR) | ~np.isfinite(scale)
    scale[constant] = 1.0
    unit_scale[constant] = 1.0
    standardized = (unit - unit_mean) / unit_scale
    standardized[:, constant] = 0.0
    if X.shape[0] > 1:
        covariance = ledoit_wolf(standardized, assume_centered=True)[0]
    else:
        covariance = np.eye(X.shape[1])
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.maximum(eigenvalues, _EIGENVALUE_FLOOR)
    root = np.sqrt(eigenvalues)
    forward = (eigenvectors / root) / scale[:, None]
    inverse = (eigenvectors * root).T * scale
    log_det = float(-np.log(scale).sum() - np.log(root).sum())
    return Whitening(mean=mean, forward=forward, inverse=inverse, log_det=log_det)
