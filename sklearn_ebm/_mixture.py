"""A Gaussian mixture base density in torch: energy, gradient, exact draws.

The energy can be an exponential tilt of a mixture fitted first,
``E(z) = f(z) - log p(z)`` (a residual energy model, Deng et al. 2020): a zero
network is exactly the mixture, chains restart from exact mixture draws, and
annealed importance sampling starts from it (its log partition is 0).
"""

import math

import numpy as np
import torch

__all__ = ["MixtureBase"]


class MixtureBase:
    """``p(z) = sum_k w_k N(z; mu_k, Sigma_k)``; energies are ``-log p(z)``.

    Held as float64 numpy arrays (``weights``, ``means``, ``covariances``),
    with torch copies made per dtype and device on demand. With
    ``P_k = chol(Sigma_k^-1)`` stacked side by side, ``Y = z @ P - c`` gives
    every component's whitened residual in one product; the energy is a
    logsumexp over components, and its gradient
    ``sum_k r_k(z) Sigma_k^-1 (z - mu_k)`` (r the responsibilities) one more
    product ``(r * Y) @ P^T``.
    """

    def __init__(self, weights, means, covariances):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.covariances = np.asarray(covariances, dtype=np.float64)
        k, d = self.means.shape
        chol_cov = np.linalg.cholesky(self.covariances)  # Sigma = L L^T
        # Precision Cholesky: rows z @ P_k with P_k = L_k^-T, so ||(z - mu) @ P_k||^2 is the Mahalanobis term.
        prec = np.stack([np.linalg.inv(L).T for L in chol_cov])
        self._chol_cov = chol_cov
        self._prec = prec
        log_det = np.log(np.diagonal(chol_cov, axis1=1, axis2=2)).sum(1)
        self._log_norm = np.log(self.weights) - log_det - 0.5 * d * math.log(2 * math.pi)
        self._cache = {}

    @classmethod
    def from_sklearn(cls, mixture):
        """From a fitted full-covariance :class:`sklearn.mixture.GaussianMixture`."""
        return cls(mixture.weights_, mixture.means_, mixture.covariances_)

    @property
    def n_components(self):
        return self.means.shape[0]

    def state(self):
        """The defining arrays, as plain data (``MixtureBase(**state)`` rebuilds it)."""
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}

    def _tensors(self, dtype, device):
        key = (dtype, str(device))
        if key not in self._cache:
            k, d = self.means.shape
            as_t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
            stacked = np.concatenate(list(self._prec), axis=1)  # (d, k d)
            offset = np.concatenate([self.means[j] @ self._prec[j] for j in range(k)])  # (k d,)
            self._cache[key] = {
                "P": as_t(stacked),
                "Pt": as_t(np.ascontiguousarray(stacked.T)),
                "c": as_t(offset),
                "log_norm": as_t(self._log_norm),
                "means": as_t(self.means),
                "chol_t": as_t(np.ascontiguousarray(np.transpose(self._chol_cov, (0, 2, 1)))),
                "log_weights": as_t(np.log(self.weights)),
            }
        return self._cache[key]

    def energy_and_grad(self, z, need_grad=True):
        """``-log p(z)`` ``(batch,)`` and its gradient ``(batch, d)`` (None without need_grad)."""
        t = self._tensors(z.dtype, z.device)
        k, d = self.means.shape
        y = torch.addmm(t["c"], z, t["P"], beta=-1.0)  # (batch, k d)
        log_comp = t["log_norm"] - 0.5 * y.view(-1, k, d).square().sum(2)  # (batch, k)
        log_p = torch.logsumexp(log_comp, dim=1)
        if not need_grad:
            return -log_p, None
        r = torch.exp(log_comp - log_p[:, None])
        grad = (y.view(-1, k, d) * r[:, :, None]).view(-1, k * d) @ t["Pt"]
        return -log_p, grad

    def energy(self, z):
        """``-log p(z)``, shape ``(batch,)``."""
        return self.energy_and_grad(z, need_grad=False)[0]

    def sample(self, n, generator=None, device=None, dtype=torch.float32):
        """``n`` exact draws."""
        t = self._tensors(dtype, device)
        k, d = self.means.shape
        if k == 1:
            comp = torch.zeros(n, dtype=torch.long, device=device)
        else:
            comp = torch.multinomial(t["log_weights"].exp(), n, replacement=True, generator=generator)
        z = torch.randn((n, d), generator=generator, device=device, dtype=dtype)
        for j in range(k):
            rows = (comp == j).nonzero().view(-1)
            if len(rows):
                z[rows] = torch.addmm(t["means"][j], z[rows], t["chol_t"][j])
        return z
