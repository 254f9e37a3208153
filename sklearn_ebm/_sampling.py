"""Energies of a batch and Langevin dynamics sampling."""

import math

import numpy as np
import torch
from torch.nn.utils import parametrize

from ._network import _autograd_energy_and_grad

__all__ = ["energy", "langevin_sample", "langevin_chain", "mala_chain", "clamp_projection"]


def _module_device_dtype(module):
    for tensor in module.parameters() if isinstance(module, torch.nn.Module) else ():
        return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def energy(network, X):
    """Energies of a batch: ``network(X)`` as a ``(batch, 1)`` tensor.

    The counterpart of the seed's ``energy/3``: accepts a tensor or anything
    :func:`numpy.asarray` understands, moves it to the network's device and
    dtype, and evaluates without building an autograd graph.

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(batch, d)`` to ``(batch, 1)``.
    X : torch.Tensor or array-like of shape (batch, d)

    Returns
    -------
    torch.Tensor of shape (batch, 1)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ebm import build_energy_network, energy
    >>> net = build_energy_network(3, hidden_sizes=(8,))
    >>> energy(net, np.zeros((2, 3))).shape
    torch.Size([2, 1])
    """
    device, dtype = _module_device_dtype(network)
    if not isinstance(X, torch.Tensor):
        X = torch.as_tensor(np.asarray(X))
    with torch.no_grad():
        return network(X.to(device=device, dtype=dtype))


def langevin_chain(energy_and_grad, x, *, steps, step_size, noise_scale, project=None, generator=None):
    """Run Langevin dynamics in place from ``x`` and return it.

    ``x <- x - (step_size / 2) * grad E(x) + sqrt(step_size) * noise_scale * N(0, I)``,
    then ``project(x)`` (an in-place constraint such as a clamp) when given.
    ``energy_and_grad`` maps ``x`` to ``(energies, gradients)``. This is the
    hot loop of training: everything that does not change between steps is
    computed before it, and the noise reuses one preallocated buffer.
    """
    drift = -0.5 * step_size
    noise_std = math.sqrt(step_size) * noise_scale
    noise = torch.empty_like(x)
    for _ in range(steps):
        _, grad = energy_and_grad(x)
        x.add_(grad, alpha=drift)
        if noise_std:
            x.add_(noise.normal_(generator=generator), alpha=noise_std)
        if project is not None:
            project(x)
    return x


def mala_chain(energy_and_grad, x, *, steps, step_size, noise_scale=1.0, project=None, generator=None):
    """Run Metropolis-adjusted Langevin (MALA) in place from ``x``.

    Each step proposes the Langevin move of :func:`langevin_chain`,
    ``y = x - (step_size / 2) * grad E(x) + sqrt(step_size) * noise_scale * N(0, I)``,
    and accepts it with the Metropolis-Hastings probability for the target
    ``exp(-E / noise_scale**2)``, which is then exactly invariant whatever the
    step size (Roberts & Tweedie 1996): the unadjusted chain's bias, which
    grows as a trained energy sharpens, is gone. Energies and gradients of
    accepted points are kept, so a step costs one ``energy_and_grad`` call,
    as an unadjusted step does.

    Returns
    -------
    x : torch.Tensor
        The chains after ``steps`` steps (the tensor passed in).
    acceptance : float
        Mean acceptance rate over chains and steps.
    """
    if not noise_scale > 0:
        raise ValueError("Metropolis-adjusted Langevin needs noise_scale > 0.")
    inv_temperature = 1.0 / noise_scale**2
    # In units of the tempered energy E / T the move is plain MALA with step eps * T.
    eps = step_size * noise_scale**2
    drift = -0.5 * eps
    noise_std = math.sqrt(eps)

    def tempered(points):
        energies, grad = energy_and_grad(points)
        if inv_temperature != 1.0:
            energies, grad = energies * inv_temperature, grad * inv_temperature
        return energies.reshape(-1), grad

    noise = torch.empty_like(x)
    energies, grad = tempered(x)
    accepted_total = x.new_zeros(())
    for _ in range(steps):
        noise.normal_(generator=generator)
        proposal = torch.add(x, grad, alpha=drift).add_(noise, alpha=noise_std)
        if project is not None:
            project(proposal)
        proposal_energies, proposal_grad = tempered(proposal)
        # log q(x | y) - log q(y | x); the forward move's residual is the noise drawn.
        backward = torch.add(x, proposal, alpha=-1.0).add_(proposal_grad, alpha=-drift)
        log_ratio = (
            energies
            - proposal_energies
            - backward.square().sum(dim=1) / (2.0 * eps)
            + 0.5 * noise.square().sum(dim=1)
        )
        uniform = torch.rand(log_ratio.shape, generator=generator, device=x.device, dtype=x.dtype)
        accept = torch.log(uniform) < log_ratio
        x.copy_(torch.where(accept[:, None], proposal, x))
        grad = torch.where(accept[:, None], proposal_grad, grad)
        energies = torch.where(accept, proposal_energies, energies)
        accepted_total += accept.sum()
    return x, float(accepted_total) / max(1, steps * x.shape[0])


def clamp_projection(clamp):
    """An in-place clamp to ``clamp = (lo, hi)`` for :func:`langevin_chain`, or None."""
    if clamp is None:
        return None
    lo, hi = clamp
    return lambda x: x.clamp_(lo, hi)


def langevin_sample(
    energy_fn,
    input_size,
    *,
    batch_size=32,
    steps=60,
    step_size=10.0,
    noise_scale=0.005,
    init=None,
    clamp=None,
    generator=None,
):
    """Generate samples by Langevin dynamics on an energy.

    Starting from ``init`` (or uniform noise in ``[0, 1)``), repeat ``steps``
    times::

        x <- x - (step_size / 2) * grad E(x) + sqrt(step_size) * noise_scale * N(0, I)

    clamping to ``clamp`` after each step when given. The counterpart of the
    seed's ``langevin_sample/4``, with its defaults. With ``noise_scale=1``
    this is the unadjusted Langevin algorithm, whose samples approach
    ``p(x) ~ exp(-E(x))`` as ``step_size`` shrinks and ``steps`` grows; the
    seed's small ``noise_scale`` instead gives a nearly deterministic descent
    of the energy, as used for images in [0, 1].

    Parameters
    ----------
    energy_fn : callable or torch.nn.Module
        Maps ``(batch, input_size)`` to energies ``(batch, 1)`` or ``(batch,)``.
        A module with an ``energy_and_grad`` method (:class:`EnergyMLP`,
        :class:`GaussianBaseEnergy`) is differentiated by hand, without
        autograd; anything else through :func:`torch.autograd.grad`.
    input_size : int
        Number of features of a sample.
    batch_size : int, default=32
        Number of samples (ignored when ``init`` is given).
    steps : int, default=60
        Number of Langevin steps.
    step_size : float, default=10.0
        Step size of the update.
    noise_scale : float, default=0.005
        Multiplier of the injected Gaussian noise.
    init : torch.Tensor of shape (batch, input_size), default=None
        Starting points; uniform noise in ``[0, 1)`` when None. Not modified.
    clamp : tuple (lo, hi), default=None
        Clamp samples to this range after each step.
    generator : torch.Generator, default=None
        Source of randomness; with None, torch's global generator is used.

    Returns
    -------
    torch.Tensor of shape (batch, input_size)
        Samples, detached from any graph.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm import langevin_sample
    >>> quadratic = lambda x: 0.5 * (x ** 2).sum(dim=1, keepdim=True)
    >>> g = torch.Generator().manual_seed(0)
    >>> x = langevin_sample(quadratic, 2, batch_size=4000, steps=500,
    ...                     step_size=0.01, noise_scale=1.0, generator=g)
    >>> round(x.var().item(), 1)  # samples N(0, I)
    1.0
    """
    device, dtype = _module_device_dtype(energy_fn)
    if init is None:
        x = torch.rand((batch_size, input_size), generator=generator, device=device, dtype=dtype)
    else:
        x = init.detach().to(device=device, dtype=dtype).clone()
    if hasattr(energy_fn, "energy_and_grad"):
        energy_and_grad = energy_fn.energy_and_grad
    else:
        def energy_and_grad(z):
            return _autograd_energy_and_grad(energy_fn, z)
    with torch.no_grad(), parametrize.cached():
        return langevin_chain(
            energy_and_grad,
            x,
            steps=steps,
            step_size=step_size,
            noise_scale=noise_scale,
            project=clamp_projection(clamp),
            generator=generator,
        )
