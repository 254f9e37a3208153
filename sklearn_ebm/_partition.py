"""Annealed importance sampling estimates of the log partition function."""

import math

import torch

from ._network import GaussianBaseEnergy, energy_and_grad_of

__all__ = ["ais_log_partition", "sigmoid_schedule"]

# MALA step sizes adapt towards this acceptance rate at every temperature.
_TARGET_ACCEPTANCE = 0.65


def sigmoid_schedule(n_temperatures, sharpness=4.0):
    """Inverse temperatures from 0 to 1, dense at both ends (Grosse et al. 2015)."""
    t = torch.linspace(-sharpness, sharpness, n_temperatures + 1, dtype=torch.float64)
    s = torch.sigmoid(t)
    return (s - s[0]) / (s[-1] - s[0])


def ais_log_partition(
    energy_fn,
    n_features,
    *,
    n_chains=512,
    n_temperatures=256,
    n_steps=2,
    step_size=0.1,
    generator=None,
    device=None,
    dtype=torch.float32,
    base=None,
):
    """Estimate ``log Z = log integral exp(-E(z)) dz`` by annealed importance sampling.

    Chains start from the base, by default the standard normal (energy
    ``B(z) = ||z||^2 / 2``, log partition function ``d/2 * log(2 pi)``), and
    follow the geometric path ``E_beta(z) = (1 - beta) * B(z) + beta * E(z)``
    from ``beta = 0`` to 1 (Neal 2001), with ``n_steps`` Metropolis-adjusted Langevin moves at each
    of ``n_temperatures`` inverse temperatures. The step size adapts towards
    an acceptance rate of 0.65 as the chains go; each move leaves its
    intermediate distribution invariant whatever the step.

    Parameters
    ----------
    energy_fn : callable or torch.nn.Module
        Maps ``(batch, n_features)`` to energies ``(batch, 1)``; a module with
        an ``energy_and_grad`` method is differentiated by hand. ``exp(-E)``
        must be integrable.
    n_features : int
    n_chains : int, default=512
        Independent chains, run as one batch.
    n_temperatures : int, default=256
        Intermediate distributions on a sigmoid schedule.
    n_steps : int, default=2
        MALA moves per temperature.
    step_size : float, default=0.1
        Initial MALA step size.
    generator : torch.Generator, optional
    device, dtype : torch device and dtype of the chains.
    base : MixtureBase, optional
        A normalized base density (energies ``-log p``, exact draws, log
        partition function 0) to start from instead of the standard normal:
        the closer to ``exp(-E)``, the more accurate the estimate.

        A :class:`GaussianBaseEnergy` whose network reads only the last
        ``network_inputs`` coordinates is standard normal in the others on
        the whole path: only the read ones are annealed, and the others add
        their exact share, ``(n_features - network_inputs) / 2 * log(2 pi)``.

    Returns
    -------
    log_z : float
        The estimate: ``log Z_base + log mean(w)`` of the importance weights.
    stderr : float
        Its standard error, ``std(w) / (sqrt(n_chains) * mean(w))`` (delta
        method). In expectation the estimate errs low (Jensen), so it is a
        stochastic lower bound.
    """
    unread = energy_fn.unread_columns(n_features) if base is None and type(energy_fn) is GaussianBaseEnergy else 0
    if unread:
        log_z, stderr = ais_log_partition(
            GaussianBaseEnergy(energy_fn.network), n_features - unread, n_chains=n_chains,
            n_temperatures=n_temperatures, n_steps=n_steps, step_size=step_size, generator=generator,
            device=device, dtype=dtype,
        )
        return log_z + 0.5 * unread * math.log(2 * math.pi), stderr
    energy_and_grad = energy_and_grad_of(energy_fn)
    if base is None:
        def base_and_grad(z):
            return 0.5 * z.square().sum(dim=1), z

        log_z_base = 0.5 * n_features * math.log(2 * math.pi)
        z = torch.randn((n_chains, n_features), generator=generator, device=device, dtype=dtype)
    else:
        base_and_grad = base.energy_and_grad
        log_z_base = 0.0
        z = base.sample(n_chains, generator=generator, device=device, dtype=dtype)

    def excess_and_grad(z):
        # E(z) - B(z) and its gradient: what the path scales by beta.
        energies, grad = energy_and_grad(z)
        b, b_grad = base_and_grad(z)
        return energies.reshape(-1) - b, grad - b_grad

    betas = sigmoid_schedule(n_temperatures).tolist()
    noise = torch.empty_like(z)
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=z.device)
    excess, excess_grad = excess_and_grad(z)
    step = float(step_size)
    with torch.no_grad():
        for previous, beta in zip(betas[:-1], betas[1:]):
            log_w -= (beta - previous) * excess.double()
            b, b_grad = base_and_grad(z)
            energy = beta * excess + b
            grad = beta * excess_grad + b_grad
            accepted = 0.0
            for _ in range(n_steps):
                noise.normal_(generator=generator)
                proposal = z - 0.5 * step * grad + math.sqrt(step) * noise
                p_excess, p_excess_grad = excess_and_grad(proposal)
                p_b, p_b_grad = base_and_grad(proposal)
                p_energy = beta * p_excess + p_b
                p_grad = beta * p_excess_grad + p_b_grad
                backward = z - proposal + 0.5 * step * p_grad
                log_ratio = (
                    energy - p_energy - backward.square().sum(dim=1) / (2 * step)
                    + 0.5 * noise.square().sum(dim=1)
                )
                uniform = torch.rand(n_chains, generator=generator, device=z.device, dtype=z.dtype)
                accept = torch.log(uniform) < log_ratio
                keep = accept[:, None]
                z = torch.where(keep, proposal, z)
                grad = torch.where(keep, p_grad, grad)
                energy = torch.where(accept, p_energy, energy)
                excess = torch.where(accept, p_excess, excess)
                excess_grad = torch.where(keep, p_excess_grad, excess_grad)
                accepted += float(accept.float().mean())
            step *= math.exp(accepted / n_steps - _TARGET_ACCEPTANCE)
    shift = float(log_w.max())
    weights = torch.exp(log_w - shift)
    mean = float(weights.mean())
    log_z = log_z_base + shift + math.log(mean)
    stderr = float(weights.std()) / (math.sqrt(n_chains) * mean) if n_chains > 1 else math.inf
    return log_z, stderr
