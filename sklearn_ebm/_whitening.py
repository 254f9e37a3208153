"""The affine map from the user's units to the model's whitened coordinates."""

from dataclasses import dataclass

import numpy as np

__all__ = ["EIGENVALUE_FLOOR", "Whitening", "fit_whitening", "ledoit_wolf_covariance"]

# Smallest eigenvalue kept, in units of a standardized feature's variance:
# constant and collinear directions get a finite, large scale instead of 1/0.
EIGENVALUE_FLOOR = 1e-3
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
        covariance = ledoit_wolf_covariance(standardized)
    else:
        covariance = np.eye(X.shape[1])
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.maximum(eigenvalues, EIGENVALUE_FLOOR)
    root = np.sqrt(eigenvalues)
    forward = (eigenvectors / root) / scale[:, None]
    inverse = (eigenvectors * root).T * scale
    log_det = float(-np.log(scale).sum() - np.log(root).sum())
    return Whitening(mean=mean, forward=forward, inverse=inverse, log_det=log_det)


def ledoit_wolf_covariance(X):
    """The Ledoit-Wolf shrunk covariance of centered ``X`` (float64, shape (n, d)).

    The same estimate as ``sklearn.covariance.ledoit_wolf(X,
    assume_centered=True)[0]`` (Ledoit & Wolf 2004), from one ``d x d``
    product instead of three: the sum of the entries of ``(X**2).T @ X**2``
    is the sum of the squared row norms squared, and the sum of the squared
    entries of ``X.T @ X`` comes from the covariance itself. On 10,000 rows
    of 1,500 features, one thread: 0.5 s instead of 2.9 s.
    """
    n, d = X.shape
    covariance = X.T @ X / n
    trace = np.trace(covariance)
    mu = trace / d
    beta_ = np.square(np.einsum("ij,ij->i", X, X)).sum()
    delta_ = np.square(covariance).sum()
    beta = (beta_ / n - delta_) / (d * n)
    # delta: the squared distance of the covariance from mu * I, per feature.
    delta = (delta_ - 2.0 * mu * trace + d * mu**2) / d
    beta = min(beta, delta)
    shrinkage = beta / delta if delta > 0 and beta != 0 else 0.0
    shrunk = (1.0 - shrinkage) * covariance
    shrunk.flat[:: d + 1] += shrinkage * mu
    return shrunk
