"""Energies of a batch and Langevin dynamics sampling."""

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils import parametrize

from ._kernel import _MLPKernel, _TiltKernel
from ._network import EnergyMLP, GaussianBaseEnergy, MixtureBaseEnergy, energy_and_grad_of

__all__ = [
    "energy",
    "langevin_sample",
    "langevin_chain",
    "mala_chain",
    "clamp_projection",
    "ClampInUserUnits",
    "LangevinSettings",
    "draw_negatives",
]


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


def _mlp_kernel(energy_and_grad, x, scale=1.0):
    """An :class:`_MLPKernel` computing ``energy_and_grad`` on ``x``'s shape, or None.

    Recognized: the ``energy_and_grad`` bound method of an :class:`EnergyMLP`
    or of a :class:`GaussianBaseEnergy` or :class:`MixtureBaseEnergy` on one,
    none overridden; anything
    else (another callable, a subclass' own method, a patched instance) runs
    as given. The weights are read here, once for the whole chain, so a
    spectrally normalized network is normalized once per chain call.
    """
    func = getattr(energy_and_grad, "__func__", None)
    owner = getattr(energy_and_grad, "__self__", None)
    mixture = None
    inputs = getattr(owner, "network_inputs", None)
    if func is GaussianBaseEnergy.energy_and_grad:
        network, base = owner.network, 1.0
    elif func is MixtureBaseEnergy.energy_and_grad:
        network, base, mixture = owner.network, 0.0, owner.base
    elif func is EnergyMLP.energy_and_grad:
        network, base = owner, 0.0
    else:
        return None
    if (
        not isinstance(network, EnergyMLP)
        or type(network).energy_and_grad is not EnergyMLP.energy_and_grad
        or type(network).weights is not EnergyMLP.weights
        or "energy_and_grad" in vars(network)
        or not network.hidden_sizes
        or x.dim() != 2
        or x.shape[0] == 0
    ):
        return None
    weights = network.weights()
    frequencies = None if network.features is None else network.features.frequencies
    tensors = [t for pair in weights for t in pair] + ([] if frequencies is None else [frequencies])
    if any(t.dtype != x.dtype or t.device != x.device for t in tensors):
        return None
    kernel = _MLPKernel(
        weights, network.activation, x, base=base, scale=scale, inputs=inputs, frequencies=frequencies
    )
    return kernel if mixture is None else _TiltKernel(kernel, mixture, scale)


def langevin_chain(energy_and_grad, x, *, steps, step_size, noise_scale, project=None, generator=None):
    """Run Langevin dynamics in place from ``x`` and return it.

    ``x <- x - (step_size / 2) * grad E(x) + sqrt(step_size) * noise_scale * N(0, I)``,
    then ``project(x)`` (an in-place constraint such as a clamp) when given.
    ``energy_and_grad`` maps ``x`` to ``(energies, gradients)``. This is the
    hot loop of training: everything that does not change between steps is
    computed before it, and the noise reuses one preallocated buffer. The
    ``energy_and_grad`` of an :class:`EnergyMLP` (or of a
    :class:`GaussianBaseEnergy` on one) is replaced by an :class:`_MLPKernel`
    made once per call, which fuses the drift into the last matrix product;
    the result is the same up to floating-point rounding, with the same
    random draws.
    """
    drift = -0.5 * step_size
    noise_std = math.sqrt(step_size) * noise_scale
    noise = torch.empty_like(x)
    kernel = _mlp_kernel(energy_and_grad, x) if steps > 0 else None
    if kernel is not None:
        with torch.no_grad():
            for _ in range(steps):
                kernel.step(x, drift, out=x)
                if noise_std:
                    x.add_(noise.normal_(generator=generator), alpha=noise_std)
                if project is not None:
                    project(x)
        return x
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

    Each step draws the noise ``N(0, I)`` of shape ``x.shape``, then the
    uniforms of the acceptance test, of shape ``(batch,)``, from
    ``generator``. As in :func:`langevin_chain`, an :class:`EnergyMLP`'s
    ``energy_and_grad`` runs as an :class:`_MLPKernel` with buffers made once
    per call (see :func:`_mala_kernel_chain`); the result is the same up to
    floating-point rounding, with the same random draws.

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
    kernel = _mlp_kernel(energy_and_grad, x, scale=inv_temperature) if steps > 0 else None
    if kernel is not None:
        with torch.no_grad():
            return _mala_kernel_chain(kernel, x, steps, eps, project, generator)

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


# From this many state entries (batch x (2 d + 1)) on, a CPU chain keeps its
# rejected moves by copying their rows back rather than by a masked copy of
# all rows: on the CPU torch.where costs several times a plain copy per entry
# (about 0.6 ns against 0.1 ns measured), and most moves are accepted.
_ROW_COPY_MIN_SIZE = 16384


def _mala_kernel_chain(kernel, x, steps, eps, project, generator):
    """:func:`mala_chain`'s loop on an :class:`_MLPKernel` (tempered energy), in place.

    The same updates and random draws as the generic loop, in buffers made
    once. A point is kept with its energy and the mean of its proposal,
    ``m(x) = x - (eps / 2) grad E(x)``, in one row ``[x | E(x) | m(x)]`` of a
    state buffer. Then a proposal is ``m(x) + sqrt(eps) * noise``; the
    backward residual ``x - y + (eps / 2) grad E(y)`` is ``x - m(y)``, so no
    gradient is ever stored; the log acceptance ratio's sums of squares are
    one matrix-vector product; and keeping or replacing a point is one row
    copy.
    Two state buffers alternate as current points and proposals: on the CPU,
    with large batches, the rows of rejected moves are copied back into the
    proposals, which then become the current points; otherwise a masked copy
    takes the accepted proposals.
    """
    batch, dim = x.shape
    drift, noise_std = -0.5 * eps, math.sqrt(eps)
    buffers = [x.new_empty(batch, 2 * dim + 1) for _ in range(2)]
    # Per buffer: points, energies, proposal means.
    views = [(b[:, :dim], b[:, dim], b[:, dim + 1 :]) for b in buffers]
    noise = torch.empty_like(x)
    residual = x.new_empty(batch, dim)
    ones = x.new_ones(dim)
    log_ratio = x.new_empty(batch)
    uniform = x.new_empty(batch)
    # One row of acceptances per step, counted at the end.
    history = torch.empty(steps, batch, dtype=torch.bool, device=x.device)
    copy_rows = x.device.type == "cpu" and buffers[0].numel() >= _ROW_COPY_MIN_SIZE
    current = 0
    points, energies, means = views[0]
    points.copy_(x)
    kernel.step(points, drift, out=means, energies=energies)
    for accept in history:
        state, proposed = buffers[current], buffers[1 - current]
        points, energies, means = views[current]
        proposal, proposal_energies, proposal_means = views[1 - current]
        noise.normal_(generator=generator)
        torch.add(means, noise, alpha=noise_std, out=proposal)
        if project is not None:
            project(proposal)
        kernel.step(proposal, drift, out=proposal_means, energies=proposal_energies)
        # log q(x | y) - log q(y | x) = (||noise||^2 - ||x - m(y)||^2 / eps) / 2.
        torch.sub(points, proposal_means, out=residual).square_().addcmul_(noise, noise, value=-eps)
        torch.sub(energies, proposal_energies, out=log_ratio).addmv_(residual, ones, alpha=-0.5 / eps)
        # torch.rand's draw (the same stream), and the same test (NaN rejects).
        uniform.uniform_(generator=generator).log_()
        torch.lt(uniform, log_ratio, out=accept)
        if copy_rows:
            rows = accept.logical_not().nonzero().view(-1)
            proposed.index_copy_(0, rows, state.index_select(0, rows))
            current = 1 - current
        else:
            torch.where(accept[:, None], proposed, state, out=state)
    x.copy_(views[current][0])
    return x, float(history.sum()) / max(1, steps * batch)


def clamp_projection(clamp):
    """An in-place clamp to ``clamp = (lo, hi)`` for :func:`langevin_chain`, or None."""
    if clamp is None:
        return None
    lo, hi = clamp
    return lambda x: x.clamp_(lo, hi)


class ClampInUserUnits:
    """In-place clamp of whitened points ``z`` to a box ``clamp = (lo, hi)`` in the
    user's units, where ``x = z @ inverse + mean`` and ``z = (x - mean) @ forward``
    (all tensors on the chains' device)."""

    def __init__(self, clamp, forward, inverse, mean):
        self.lo, self.hi = clamp
        self.forward = forward
        self.inverse = inverse
        self.mean = mean

    def __call__(self, z):
        x = torch.addmm(self.mean, z, self.inverse).clamp_(self.lo, self.hi)
        z.copy_((x - self.mean) @ self.forward)


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
    energy_and_grad = energy_and_grad_of(energy_fn)
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


@dataclass(frozen=True)
class LangevinSettings:
    """How negatives are drawn: steps, step size, noise scale, an optional
    in-place projection, and whether moves are Metropolis-adjusted (MALA)."""

    steps: int
    step_size: float
    noise_scale: float
    project: object = None
    metropolis: bool = True


def draw_negatives(model, start, langevin, generator=None):
    """Advance ``start`` (modified in place) by Langevin dynamics on ``model``.

    The model is put in eval mode (no dropout) and spectrally normalized
    weights are computed once for all the steps.

    A :class:`GaussianBaseEnergy` whose network reads only the last
    ``network_inputs`` coordinates factorizes: the others are exactly
    ``N(0, noise_scale**2 I)`` (the tempered base) and independent of the
    rest. With MALA and no projection they are drawn so, an exact Gibbs
    step, and the chains run where the network reads: on 1,500 features
    with a network reading 256, a step costs what 256 features cost, and
    the acceptance test is not diluted by the directions the network cannot
    change.
    """
    was_training = model.training
    model.eval()
    chain = mala_chain if langevin.metropolis else langevin_chain
    factorizes = type(model) is GaussianBaseEnergy and langevin.metropolis and langevin.project is None
    unread = model.unread_columns(start.shape[1]) if factorizes else 0
    chains, energy = start, model
    if unread:
        # Drawn contiguous: normal_ on a column slice is several times slower.
        draws = start.new_empty((start.shape[0], unread)).normal_(generator=generator)
        start[:, :unread] = draws.mul_(langevin.noise_scale)
        chains, energy = start[:, unread:].contiguous(), GaussianBaseEnergy(model.network)
    try:
        with torch.no_grad(), parametrize.cached():
            out = chain(
                energy.energy_and_grad,
                chains,
                steps=langevin.steps,
                step_size=langevin.step_size,
                noise_scale=langevin.noise_scale,
                project=langevin.project,
                generator=generator,
            )
    finally:
        model.train(was_training)
    if unread:
        start[:, unread:] = chains
        return start
    return out[0] if langevin.metropolis else out

