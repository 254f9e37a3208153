"""Choosing the mixture base: how many components, how defensive, or none.

The candidates are the standard normal (the whitening's shrunk Gaussian)
and full-covariance Gaussian mixtures of 1, 2, 4, ..., 32 components, each
with a defensive share of the standard normal, ``(1 - eps) p_k + eps
N(0, I)`` (Hesterberg 1995's defensive mixture), and all are scored by
their log-likelihood on rows they were not fitted to. Which held-out rows
depends on how many there are to spare: below ``CROSS_VALIDATION_MAX_ROWS``
training rows, 5-fold cross-validation on the training rows (every row is
held out once); above, the validation rows (a tenth of the rows, already
set aside for early stopping), or the same cross-validation without them.
"""

import math

import numpy as np
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import KFold

from ._mixture import MixtureBase
from ._whitening import EIGENVALUE_FLOOR, ledoit_wolf_covariance

__all__ = ["MIXTURE_MAX_FEATURES", "fit_mixture", "standard_normal"]

# The numbers of components tried, in increasing order until one more
# doubling scores no better on held-out rows (which bounds the cost: 32
# components are fitted only where 16 beat 8). Wider data gets one
# full-covariance Gaussian at most, as k full d x d covariances would cost
# more than the fit they serve.
MIXTURE_COMPONENTS = (1, 2, 4, 8, 16, 32)
MIXTURE_MAX_FEATURES = 100
MIXTURE_REG_COVAR = 1e-4
# The shares of the standard normal tried. A maximum-likelihood mixture puts
# near-singular components on a few rows and point masses; a held-out row
# that falls outside them scores hundreds of nats below the rest, so the
# mean held-out log-likelihood of an undefended mixture is decided by a few
# rows (glass, 8 components: -49.8 nats per row; with 5% of N(0, I): -1.8).
# Capped at 5%: base draws are the chains' starts and the samples' origin,
# and a larger share of them would be diffuse noise.
DEFENSIVE_SHARES = (0.001, 0.01, 0.05)
# Below this many training rows the candidates are scored by
# cross-validation: on the tenth of a hundred rows that the validation split
# holds, a 2-component mixture "won" by chance and scored 2 to 5 nats per row
# below the standard normal on test rows (WBC, glass), while 5 folds hold
# every training row out once.
CROSS_VALIDATION_MAX_ROWS = 1000
CROSS_VALIDATION_FOLDS = 5


def standard_normal(n_features):
    """N(0, I) as a one-component :class:`MixtureBase`."""
    return MixtureBase(np.ones(1), np.zeros((1, n_features)), np.eye(n_features)[None])


def _components_allowed(n_rows, n_features, max_components=None):
    """The candidate component counts (at most ``max_components``, if given) that ``n_rows`` rows can fit.

    A full-covariance component has ``d (d + 3) / 2`` parameters; more
    components than leave at least two rows' worth of numbers per parameter
    only fit noise, and cost the most to fit.
    """
    if n_features > MIXTURE_MAX_FEATURES:
        return (1,) if n_rows >= 2 else ()
    per_component = n_features * (n_features + 3) / 2
    largest = MIXTURE_COMPONENTS[-1] if max_components is None else max_components
    return tuple(
        k for k in MIXTURE_COMPONENTS if k == 1 or (k <= largest and 2 * k * per_component <= n_rows * n_features)
    )


def _gaussian_mixture(Z, k, random_state):
    return GaussianMixture(
        n_components=k, covariance_type="full", reg_covar=MIXTURE_REG_COVAR, random_state=random_state
    ).fit(Z)


def _shrunk_gaussian_log_density(train, test):
    """Log-density of ``test`` under the Ledoit-Wolf Gaussian of ``train``,
    eigenvalues floored as the whitening floors them: the standard normal's
    candidate, refitted per fold as the whitening was fitted to all the rows."""
    mean = train.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(ledoit_wolf_covariance(train - mean))
    eigenvalues = np.maximum(eigenvalues, EIGENVALUE_FLOOR)
    whitened = (test - mean) @ eigenvectors / np.sqrt(eigenvalues)
    return _standard_normal_log_density(whitened) - 0.5 * np.log(eigenvalues).sum()


def _standard_normal_log_density(Z):
    return -0.5 * np.square(Z).sum(axis=1) - 0.5 * Z.shape[1] * math.log(2 * math.pi)


def _defended_log_densities(mixture_log_density, standard_log_density):
    """``log((1 - eps) p + eps N(0, I))`` per defensive share ``eps``: a dict."""
    return {
        share: np.logaddexp(math.log1p(-share) + mixture_log_density, math.log(share) + standard_log_density)
        for share in DEFENSIVE_SHARES
    }


def _defended(mixture, share):
    """``mixture`` (a fitted GaussianMixture) with ``share`` of N(0, I), as a :class:`MixtureBase`."""
    d = mixture.means_.shape[1]
    return MixtureBase(
        np.r_[(1.0 - share) * mixture.weights_, share],
        np.r_[mixture.means_, np.zeros((1, d))],
        np.r_[mixture.covariances_, np.eye(d)[None]],
    )


def _cross_validated(Z, k, random_state):
    """Mean held-out log-likelihood of ``k`` components per defensive share, by K-fold on ``Z``.

    ``k`` None is the standard normal, as a shrunk Gaussian refitted per
    fold: a dict ``{None: score}``; else ``{(k, eps): score}``.
    """
    folds = KFold(CROSS_VALIDATION_FOLDS, shuffle=True, random_state=random_state).split(Z)
    totals = {}
    for train, test in folds:
        if k is None:
            totals[None] = totals.get(None, 0.0) + _shrunk_gaussian_log_density(Z[train], Z[test]).sum()
            continue
        mixture = _gaussian_mixture(Z[train], k, random_state).score_samples(Z[test])
        for share, log_density in _defended_log_densities(mixture, _standard_normal_log_density(Z[test])).items():
            totals[k, share] = totals.get((k, share), 0.0) + log_density.sum()
    return {candidate: total / len(Z) for candidate, total in totals.items()}


def fit_mixture(Z, Z_validation=None, random_state=None, max_components=None):
    """The defended mixture for whitened training rows ``Z`` (float64), or None.

    A defended full-covariance Gaussian mixture of ``Z`` (a
    :class:`MixtureBase`), or None where the standard normal scores better
    on held-out rows than every mixture: ``Z_validation`` from
    ``CROSS_VALIDATION_MAX_ROWS`` rows, else 5-fold cross-validation on
    ``Z``. The components are tried in increasing number, up to
    ``max_components`` (None: 32), until one more doubling scores no
    better.
    """
    n, d = Z.shape
    random_state = None if random_state is None else int(random_state)
    if n < 2 * CROSS_VALIDATION_FOLDS:
        return None  # too few rows to tell a mixture from chance
    cross_validate = n < CROSS_VALIDATION_MAX_ROWS or Z_validation is None
    if cross_validate:
        allowed = _components_allowed(n - math.ceil(n / CROSS_VALIDATION_FOLDS), d, max_components)
        best_score = _cross_validated(Z, None, random_state)[None]
    else:
        allowed = _components_allowed(n, d, max_components)
        standard = _standard_normal_log_density(Z_validation)
        best_score = float(standard.mean())
    best, fitted = None, None
    for k in allowed:
        if cross_validate:
            scores = _cross_validated(Z, k, random_state)
        else:
            mixture = _gaussian_mixture(Z, k, random_state)
            held_out = _defended_log_densities(mixture.score_samples(Z_validation), standard)
            scores = {(k, share): float(log_density.mean()) for share, log_density in held_out.items()}
        best_k = max(scores, key=scores.get)
        if scores[best_k] > best_score:
            best, best_score, fitted = best_k, scores[best_k], None if cross_validate else mixture
        elif best is not None:
            break  # one more doubling scored no better
    if best is None:
        return None
    k, share = best
    return _defended(fitted if fitted is not None else _gaussian_mixture(Z, k, random_state), share)
