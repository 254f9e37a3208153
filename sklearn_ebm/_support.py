"""The rows a contaminated sample is trained on: the support of a robust Gaussian.

Outliers in the training data pull a density toward themselves, and a
flexible one learns them as a mode. The minimum covariance determinant
(Rousseeuw 1984) avoids that for a Gaussian by fitting it to the half of the
rows that are closest to it; FastMCD (Rousseeuw & Van Driessen 1999) reaches
such a half by concentration steps, each refitting the Gaussian to the rows
closest to the previous one. The outlier detector trains on the rows inside
that Gaussian's 97.5% ellipsoid, so that its network corrects the density of
the inliers only; then it takes the same step with its fitted energy in
place of the Gaussian's distance (:func:`energy_support`) and fits again.
"""

import math

import numpy as np
from scipy.stats import chi2

from ._whitening import fit_whitening

__all__ = ["CANDIDATE_ROWS", "energy_support", "robust_support", "support_candidates"]

# Rows the support is chosen among, at most (evenly spaced): a detector's fit
# sees max_iter * max_samples rows (61,440 by default), and the Gaussian's
# mean and covariance are as good from 100,000 rows as from millions.
CANDIDATE_ROWS = 100_000

# Concentration steps from the Gaussian of all rows: each can only lower the
# covariance determinant of the half it keeps; FastMCD's first two already
# reach most of the way from a single start.
_CONCENTRATION_STEPS = 2
# Rows whose squared distance from the robust Gaussian is within this
# chi-square quantile are in the support (EllipticEnvelope's reweighting rule).
_SUPPORT_QUANTILE = 0.975


def support_candidates(X):
    """The rows of ``X`` a support is chosen among: at most ``CANDIDATE_ROWS``, evenly spaced."""
    return X[:: -(-X.shape[0] // CANDIDATE_ROWS)]


def robust_support(X, support_fraction):
    """Boolean mask of the rows of ``X`` inside a robust Gaussian's 97.5% ellipsoid.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    support_fraction : float in (0, 1]
        Share of the rows each concentration step refits the Gaussian to
        (at least ``n_features + 1`` rows).

    Returns
    -------
    ndarray of shape (n_samples,), bool
        True for the rows whose squared Mahalanobis distance from the last
        Gaussian is within the 97.5% chi-square quantile (and for the
        ``n_features + 1`` closest rows, so that the support can define a
        Gaussian). The last Gaussian fits about ``support_fraction`` of the
        rows, so the quantile usually holds somewhat fewer or more of them.

    Notes
    -----
    The steps run in the coordinates of the Gaussian of all rows, so the
    result does not depend on the columns' units, and each step's Gaussian
    is the whitening's (Ledoit-Wolf shrinkage, eigenvalues floored): a
    direction in which the closest rows do not vary stays finite.
    """
    n_samples, n_features = X.shape
    n_closest = min(n_samples, max(math.ceil(support_fraction * n_samples), n_features + 1))
    Z = fit_whitening(X).transform(X)
    distance = np.einsum("ij,ij->i", Z, Z)
    for _ in range(_CONCENTRATION_STEPS):
        closest = np.argpartition(distance, n_closest - 1)[:n_closest]
        W = fit_whitening(Z[closest]).transform(Z)
        distance = np.einsum("ij,ij->i", W, W)
    # The last Gaussian is fitted to the rows closest to the previous one, so
    # fewer than n_closest rows may lie within the quantile; a Gaussian needs
    # n_features + 1 of them.
    n_minimum = min(n_samples, n_features + 1)
    radius = max(chi2.ppf(_SUPPORT_QUANTILE, n_features), np.partition(distance, n_minimum - 1)[n_minimum - 1])
    return distance <= radius


def energy_support(candidate_energies, support_energies, n_minimum):
    """Boolean mask of the candidates whose energy is that of a typical support row.

    The concentration step with a fitted model in place of the Gaussian: a
    candidate is kept when its energy is within the 97.5% quantile of the
    energies of the rows the model was trained on, as a row is kept when its
    squared distance is within the 97.5% quantile of a Gaussian's.

    Parameters
    ----------
    candidate_energies : ndarray of shape (n_candidates,)
    support_energies : ndarray of shape (n_support,)
        Energies of the rows the model was trained on.
    n_minimum : int
        The mask keeps at least this many candidates (the lowest-energy
        ones), or all of them where there are fewer.

    Returns
    -------
    ndarray of shape (n_candidates,), bool
    """
    n_minimum = min(len(candidate_energies), n_minimum)
    lowest = np.partition(candidate_energies, n_minimum - 1)[n_minimum - 1]
    return candidate_energies <= max(np.quantile(support_energies, _SUPPORT_QUANTILE), lowest)
