"""Queries of a fitted energy in the user's units: energies, attributions, samples.

Torch- and numpy-level: the model is a :class:`GaussianBaseEnergy` in
whitened coordinates and ``whitening`` maps the user's units to them. Inputs
are processed in bounded batches, so memory does not grow with the rows.
"""

import numpy as np
import torch

from ._network import network_view
from ._sampling import draw_negatives

__all__ = ["energies", "integrated_gradients", "draw_samples"]

# Rows per forward pass: bounds memory on large inputs.
INFERENCE_BATCH = 65536
# Whitened coordinates beyond this are clipped before the network (far
# outside any data, where only the Gaussian term matters), and energies
# that overflow float64 are capped at its largest value.
_NETWORK_INPUT_LIMIT = 1e6
_MAX_ENERGY = np.finfo(np.float64).max


def energies(network, whitening, X, device, base=None):
    """Energies of the rows of ``X`` in the user's units, float64.

    The base's energy (``||z||^2 / 2``, or a :class:`MixtureBase`'s) and the
    whitening's log-Jacobian are computed in float64 and the network's input
    is clipped, so points however far from the data get large finite energies.
    """
    out = np.empty(X.shape[0], dtype=np.float64)
    with torch.no_grad(), np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, X.shape[0], INFERENCE_BATCH):
            z = whitening.transform(np.asarray(X[start : start + INFERENCE_BATCH], dtype=np.float64))
            read = network_view(z, getattr(network, "input_size", None))
            z_network = torch.as_tensor(
                np.clip(read, -_NETWORK_INPUT_LIMIT, _NETWORK_INPUT_LIMIT), dtype=torch.float32, device=device
            )
            if base is None:
                base_energies = 0.5 * np.einsum("ij,ij->i", z, z)
            else:
                base_energies = base.energy(torch.as_tensor(z, dtype=torch.float64, device=device)).cpu().numpy()
            out[start : start + len(z)] = network(z_network)[:, 0].cpu().double().numpy() + base_energies
        out -= whitening.log_det
    np.nan_to_num(out, copy=False, nan=_MAX_ENERGY, posinf=_MAX_ENERGY)
    return out


def integrated_gradients(model, whitening, X, n_steps, device):
    """Each row's ``E(x) - E(mean)`` split among its features, in the user's units.

    Integrated gradients along the straight path from the whitening's mean
    to each row, the path average of the gradient by an ``n_steps``-point
    Gauss-Legendre rule.
    """
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    nodes = torch.as_tensor((nodes + 1) / 2, dtype=torch.float32, device=device)
    weights = torch.as_tensor(weights / 2, dtype=torch.float32, device=device)
    # The gradient in whitened units, back to the user's: z = (x - mean) @ forward.
    forward_t = torch.as_tensor(whitening.forward.T, dtype=torch.float32, device=device)
    rows_per_batch = max(1, INFERENCE_BATCH // len(nodes))
    out = np.empty(X.shape, dtype=np.float64)
    with torch.no_grad():
        for start in range(0, X.shape[0], rows_per_batch):
            rows = np.asarray(X[start : start + rows_per_batch], dtype=np.float64)
            z = torch.as_tensor(whitening.transform(rows), dtype=torch.float32).to(device)
            path = (nodes[:, None, None] * z).reshape(-1, z.shape[1])
            _, grad = model.energy_and_grad(path)
            mean_grad = (weights[:, None, None] * grad.reshape(len(nodes), *z.shape)).sum(0)
            out[start : start + len(rows)] = (mean_grad @ forward_t).cpu().double().numpy()
            out[start : start + len(rows)] *= rows - whitening.mean
    return out


def draw_samples(model, whitening, n_samples, langevin, n_rounds, generator, device, base=None):
    """``n_samples`` rows in the user's units: chains from the model's base
    (N(0, I) in whitened coordinates, the fitted Gaussian, or exact draws from
    a :class:`MixtureBase`), advanced ``n_rounds`` times ``langevin``."""
    n_features = len(whitening.mean)
    out = np.empty((n_samples, n_features), dtype=np.float64)
    for start in range(0, n_samples, INFERENCE_BATCH):
        stop = min(start + INFERENCE_BATCH, n_samples)
        if base is None:
            z = torch.randn((stop - start, n_features), generator=generator, device=device)
        else:
            z = base.sample(stop - start, generator=generator, device=device)
        for _ in range(n_rounds):
            z = draw_negatives(model, z, langevin, generator)
        out[start:stop] = whitening.inverse_transform(z.cpu().double().numpy())
    return out
