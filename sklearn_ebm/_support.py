"""The rows a contaminated sample is trained on: the support of a robust Gaussian.

Outliers in the training data pull a density toward themselves, and a
flexible one learns them as a mode. The minimum covariance determinant
(Rousseeuw 1984) avoids that for a Gaussian by fitting it to the half of the
rows that are closest to it; FastMCD (Rousseeuw & Van Driessen 1999) reaches
such a half by concentration steps, each refitting the Gaussian to the rows
closest to the previous one, and then reweights: it keeps the rows within a
quantile of the distances. The outlier detector trains on the rows such a
reweighted Gaussian keeps, so that its network corrects the density of the
inliers only.
"""

import math

import numpy as np
from scipy.stats import chi2

from ._whitening import fit_whitening

__all__ = ["CANDIDATE_ROWS", "robust_support", "support_candidates"]

# Rows the support is chosen among, at most (evenly spaced): a detector's fit
# sees max_iter * max_samples rows (61,440 by default), and the Gaussian's
# mean and covariance are as good from 100,000 rows as from millions.
CANDIDATE_ROWS = 100_000

# Concentration steps from the Gaussian of all rows: each can only lower the
# covariance determinant of the half it keeps; FastMCD's first two already
# reach most of the way from a single start.
_CONCENTRATION_STEPS = 2
# The share of a Gaussian's rows its reweighting keeps (EllipticEnvelope's).
_SUPPORT_QUANTILE = 0.975
# Rows each of the support's Gaussians is fitted to, at most (evenly spaced):
# the distances of every candidate row are still computed, but fitting and
# concentrating Gaussians on all 100,000 candidates cost a large fit more
# than its training did.
_GAUSSIAN_ROWS = 10_000


def support_candidates(X):
    """The rows of ``X`` a support is chosen among: at most ``CANDIDATE_ROWS``, evenly spaced."""
    return _evenly_spaced(X, CANDIDATE_ROWS)


def robust_support(X, support_fraction):
    """Boolean mask of the rows of ``X`` that a robust Gaussian keeps.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    support_fraction : float in (0, 1]
        Share of the rows each concentration step refits the Gaussian to
        (at least ``n_features + 1`` rows).

    Returns
    -------
    ndarray of shape (n_samples,), bool
        The support, reached in three steps:

        1. two concentration steps from the Gaussian of all rows, each
           refitting it to the ``support_fraction`` of the rows closest to
           the previous one;
        2. the rows whose squared Mahalanobis distance from that Gaussian is
           within the 97.5% chi-square quantile (``EllipticEnvelope``'s
           reweighting);
        3. the Gaussian refitted to those rows, and the rows whose squared
           distance from it is within the 97.5% quantile of those rows' own
           distances. The Gaussian of step 2 is that of the closest rows,
           narrower than the inliers' (MCD corrects it by a consistency
           factor); this step refits it to the rows it keeps and sizes the
           ellipsoid by them.

        Each step keeps at least the ``n_features + 1`` closest rows, so that
        the support can define a Gaussian.

    Notes
    -----
    Each step's Gaussian is the whitening's (columns standardized, Ledoit-Wolf
    shrinkage, eigenvalues floored), so the result does not depend on the
    columns' units, and a direction in which the closest rows do not vary
    stays finite. The concentration steps run in the coordinates of the
    Gaussian of all rows; the last Gaussian is fitted to the kept rows as
    they are, as the detector's whitening then is. Beyond 10,000 rows, each
    Gaussian is fitted to 10,000 evenly spaced ones (of all rows, of the
    closest ones, of the kept ones), and the concentration steps choose
    among those 10,000.
    """
    n_samples, n_features = X.shape
    n_minimum = min(n_samples, n_features + 1)
    # The concentration steps pick among evenly spaced rows; only the last
    # Gaussian's distances are those of every row.
    sample = _evenly_spaced(X, _GAUSSIAN_ROWS)
    n_closest = max(min(len(sample), math.ceil(support_fraction * len(sample))), n_minimum)
    all_rows = fit_whitening(sample)
    Z = all_rows.transform(sample)
    distance = _norms(Z)
    for _ in range(_CONCENTRATION_STEPS):
        closest = np.argpartition(distance, n_closest - 1)[:n_closest]
        gaussian = fit_whitening(Z[closest])
        distance = _norms(gaussian.transform(Z))
    if len(sample) < n_samples:
        distance = _norms(gaussian.transform(all_rows.transform(X)))
    support = _within(distance, chi2.ppf(_SUPPORT_QUANTILE, n_features), n_minimum)
    # The Gaussian the detector will correct, fitted as its whitening is: its
    # shrinkage pulls toward the columns' own scales, not toward the shape of
    # all rows, which the outliers distort.
    distance = _norms(fit_whitening(_evenly_spaced(X[support], _GAUSSIAN_ROWS)).transform(X))
    return _within(distance, np.quantile(distance[support], _SUPPORT_QUANTILE), n_minimum)


def _evenly_spaced(X, max_rows):
    """At most ``max_rows`` evenly spaced rows of ``X`` (all of them when it has no more)."""
    return X[:: -(-X.shape[0] // max_rows)]


def _norms(Z):
    """Squared norms of the rows of ``Z``."""
    return np.einsum("ij,ij->i", Z, Z)


def _within(distance, radius, n_minimum):
    """Mask of the distances within ``radius``, widened to hold the ``n_minimum`` smallest."""
    smallest = np.partition(distance, n_minimum - 1)[n_minimum - 1]
    return distance <= max(radius, smallest)
