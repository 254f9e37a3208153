"""One epoch of persistent contrastive divergence, and the validation criterion.

Torch-level: these functions know tensors, modules and optimizers, not
scikit-learn. The estimator owns the loop over epochs, early stopping and
the bookkeeping of fitted attributes.
"""

import math
from dataclasses import dataclass

import torch
from torch.nn.utils import parametrize

from ._losses import contrastive_divergence_loss, denoising_score_matching_loss
from ._sampling import langevin_chain, mala_chain

__all__ = ["LangevinSettings", "EpochStats", "train_epoch", "validation_score"]


@dataclass(frozen=True)
class LangevinSettings:
    """How negatives are drawn: steps, step size, noise scale, an optional
    in-place projection, and whether moves are Metropolis-adjusted (MALA)."""

    steps: int
    step_size: float
    noise_scale: float
    project: object = None
    metropolis: bool = True


@dataclass(frozen=True)
class EpochStats:
    """Means over an epoch's batches: loss and energy gap ``E(neg) - E(real)``."""

    loss: float
    energy_gap: float


def draw_negatives(model, start, langevin, generator=None):
    """Advance ``start`` (modified in place) by Langevin dynamics on ``model``.

    The model is put in eval mode (no dropout) and spectrally normalized
    weights are computed once for all the steps.
    """
    was_training = model.training
    model.eval()
    chain = mala_chain if langevin.metropolis else langevin_chain
    try:
        with torch.no_grad(), parametrize.cached():
            out = chain(
                model.energy_and_grad,
                start,
                steps=langevin.steps,
                step_size=langevin.step_size,
                noise_scale=langevin.noise_scale,
                project=langevin.project,
                generator=generator,
            )
    finally:
        model.train(was_training)
    return out[0] if langevin.metropolis else out


def train_epoch(
    model,
    optimizer,
    data,
    buffer,
    *,
    batch_size,
    langevin,
    reg_alpha,
    negative_fraction=1.0,
    averaged=None,
    generator=None,
):
    """One pass over ``data`` in shuffled minibatches; returns :class:`EpochStats`.

    Parameters
    ----------
    model : GaussianBaseEnergy
        The energy; only ``model.network`` has parameters.
    optimizer : torch.optim.Optimizer
        Over ``model.network``'s parameters.
    data : torch.Tensor of shape (n, d)
        Training points, on the model's device, in the model's coordinates.
    buffer : ReplayBuffer
        Persistent chains; updated in place.
    batch_size : int
    langevin : LangevinSettings
    reg_alpha : float
        Energy-magnitude penalty of :func:`contrastive_divergence_loss`. It
        applies to the network's output only: the Gaussian base has no
        parameters, and penalizing it would push the network to cancel it.
    negative_fraction : float in (0, 1], default=1.0
        Chains advanced per minibatch, as a fraction of its rows (at least
        one): the sampler's cost scales with it.
    averaged : torch.optim.swa_utils.AveragedModel, optional
        Updated with ``model.network`` after every optimizer step.
    generator : torch.Generator, optional
    """
    model.train()
    n_samples = data.shape[0]
    order = torch.randperm(n_samples, generator=generator, device=data.device)
    total_loss = data.new_zeros(())
    total_gap = data.new_zeros(())
    n_batches = 0
    for batch_index in order.split(batch_size):
        real = data[batch_index]
        # Rounded first: 0.07 * 100 is 7.000000000000001 in floating point.
        n_negatives = max(1, math.ceil(round(negative_fraction * real.shape[0], 9)))
        chain_index, start = buffer.draw(n_negatives, generator)
        negatives = draw_negatives(model, start, langevin, generator)
        buffer.store(chain_index, negatives)

        network_energy = model.network(torch.cat([real, negatives]))
        real_energy, neg_energy = network_energy.split(real.shape[0])
        loss = contrastive_divergence_loss(real_energy, neg_energy, reg_alpha)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if averaged is not None:
            averaged.update_parameters(model.network)

        with torch.no_grad():
            base_gap = 0.5 * (negatives.square().sum(1).mean() - real.square().sum(1).mean())
            total_gap += neg_energy.mean() - real_energy.mean() + base_gap
            total_loss += loss.detach()
        n_batches += 1
    return EpochStats(float(total_loss) / n_batches, float(total_gap) / n_batches)


def validation_score(model, data, noise):
    """Minus the denoising score matching loss of ``model`` on ``data + noise``.

    Higher is better. It needs no partition function, and a fixed ``noise``
    draw makes it comparable from epoch to epoch.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), parametrize.cached():
            return -float(denoising_score_matching_loss(model.energy_and_grad, data, noise))
    finally:
        model.train(was_training)
