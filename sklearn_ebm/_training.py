"""The training loop: epochs of persistent contrastive divergence.

Torch-level: these functions know tensors, modules and optimizers, not
scikit-learn. :func:`run_training` runs the epochs of one fit on a
:class:`~sklearn_ebm._training_state.TrainingState` (early stopping with the
best weights, weight averaging and its warm-up, interrupts, divergence,
progress) and returns a :class:`TrainingResult` for the estimator to store.
"""

import copy
import math
import warnings
from dataclasses import dataclass

import torch
from torch.nn.utils import parametrize
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ._contamination import score_threshold
from ._correction_scale import best_correction_scale, scale_output
from ._losses import (
    contrastive_divergence_loss,
    denoising_score_matching_loss,
    noise_contrastive_loss,
)
from ._network import GaussianBaseEnergy
from ._progress import EpochReporter
from ._sampling import draw_negatives
from ._training_state import _BASE_DRAWS, with_base

__all__ = [
    "TrainingSchedule",
    "TrainingResult",
    "EpochStats",
    "run_training",
    "train_epoch",
    "validation_score",
    "loglik_validation_score",
]

# Rows per forward pass when the training rows are scored.
_SCORING_ROWS = 65536


@dataclass(frozen=True)
class TrainingSchedule:
    """How one fit trains.

    ``max_epochs`` epochs in minibatches of ``batch_size``, an epoch being a
    pass over ``epoch_rows`` training rows drawn afresh (all of them when
    None or more than there are);
    ``reg_alpha``, ``negative_fraction`` and ``objective`` as in
    :func:`train_epoch`;
    ``ema_decay`` of the weight average (0: none); with ``early_stopping``,
    stop once the validation score has not improved by ``tol`` for
    ``n_iter_no_change`` epochs and keep the best weights; ``verbose`` as the
    estimators' parameter, ``progress_name`` labelling its output. With ``trim`` ("auto" or a share of outliers, see
    :func:`~sklearn_ebm._contamination.score_threshold`), each epoch leaves
    the training rows that the current model puts beyond that threshold out
    of the positive phase.
    """

    max_epochs: int
    batch_size: int
    reg_alpha: float
    epoch_rows: int = None
    objective: str = "cd"
    negative_fraction: float = 1.0
    ema_decay: float = 0.0
    early_stopping: bool = False
    n_iter_no_change: int = 10
    tol: float = 1e-4
    verbose: int = 0
    trim: object = None
    progress_name: str = "EnergyBasedModel"


@dataclass
class TrainingResult:
    """What a fit produced.

    Attributes
    ----------
    network : torch.nn.Module
        The fitted network: the weight average (or the trained network
        without one) holding the best weights under early stopping, else the
        last epoch's.
    trained_weights : dict
        State dict of the trained network itself, which a continued fit
        resumes from.
    losses, energy_gaps, validation_scores : list of float
        One per completed epoch.
    best_score : float or None
        The best validation score after the warm-up under early stopping
        (the last one when the fit ended within the warm-up); None without
        early stopping.
    still_improving : bool
        True when ``max_epochs`` ran out before ``n_iter_no_change`` epochs
        without improvement.
    best_epoch : int or None
        The epoch whose weights ``network`` holds (0: the weights training
        started from), or None when the fit ended within the warm-up.
    correction_scale : float
        The factor ``network``'s output was scaled by (1.0: unscaled), see
        :func:`_keep_best_correction_scale`.
    """

    network: torch.nn.Module
    trained_weights: dict
    losses: list
    energy_gaps: list
    validation_scores: list
    best_score: float = None
    still_improving: bool = False
    best_epoch: int = None
    correction_scale: float = 1.0


@dataclass(frozen=True)
class EpochStats:
    """Means over an epoch's batches: loss and energy gap ``E(neg) - E(real)``."""

    loss: float
    energy_gap: float


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
    dequantization=None,
    averaged=None,
    generator=None,
    max_rows=None,
    objective="cd",
):
    """One pass over ``data`` (or ``max_rows`` of its rows) in shuffled minibatches.

    Returns :class:`EpochStats`.

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
    dequantization : torch.Tensor of shape (k, d), optional
        Rows of real data get fresh noise ``(U(0, 1)^k - 1/2) @ dequantization``
        in every minibatch: uniform over one lattice step of each of ``k``
        discrete columns, mapped to the model's coordinates.
    averaged : torch.optim.swa_utils.AveragedModel, optional
        Updated with ``model.network`` after every optimizer step.
    generator : torch.Generator, optional
    max_rows : int, optional
        Rows of ``data`` the pass draws without replacement (all when None):
        the epoch's cost then stops growing with the data.
    objective : {"cd", "nce"}, default="cd"
        "cd": contrastive divergence against negatives that continue the
        persistent chains of ``buffer`` (:func:`contrastive_divergence_loss`).
        "nce": noise-contrastive estimation against exact draws from the
        model's base (:func:`noise_contrastive_loss`); no chain is advanced
        and ``buffer`` and ``langevin`` go unused.
    """
    model.train()
    n_samples = data.shape[0]
    # A prefix of a permutation: the same draws as a full pass, cut short.
    order = torch.randperm(n_samples, generator=generator, device=data.device)[:max_rows]
    total_loss = data.new_zeros(())
    total_gap = data.new_zeros(())
    n_batches = 0
    for batch_index in order.split(batch_size):
        real = data[batch_index]
        if dequantization is not None:
            noise = torch.rand(
                (real.shape[0], dequantization.shape[0]), generator=generator, device=real.device, dtype=real.dtype
            )
            real = torch.addmm(real, noise.sub_(0.5), dequantization)
        # Rounded first: 0.07 * 100 is 7.000000000000001 in floating point.
        n_negatives = max(1, math.ceil(round(negative_fraction * real.shape[0], 9)))
        if objective == "nce":
            negatives = _base_draws(model, n_negatives, real, generator)
        else:
            chain_index, start = buffer.draw(n_negatives, generator)
            negatives = draw_negatives(model, start, langevin, generator)
            buffer.store(chain_index, negatives)

        network_energy = model.network_energy(torch.cat([real, negatives]))
        real_energy, neg_energy = network_energy.split(real.shape[0])
        loss = _LOSSES[objective](real_energy, neg_energy, reg_alpha)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if averaged is not None:
            averaged.update_parameters(model.network)

        with torch.no_grad():
            base_gap = model.base_energy(negatives).mean() - model.base_energy(real).mean()
            total_gap += neg_energy.mean() - real_energy.mean() + base_gap
            total_loss += loss.detach()
        n_batches += 1
    return EpochStats(float(total_loss) / n_batches, float(total_gap) / n_batches)


_LOSSES = {"cd": contrastive_divergence_loss, "nce": noise_contrastive_loss}


def _base_draws(model, n, like, generator):
    """``n`` exact draws from ``model``'s base: N(0, I), or its mixture."""
    base = getattr(model, "base", None)
    if base is None:
        return torch.randn((n, like.shape[1]), generator=generator, device=like.device, dtype=like.dtype)
    return base.sample(n, generator=generator, device=like.device, dtype=like.dtype)


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


def run_training(state, schedule):
    """Train ``state.model`` for up to ``schedule.max_epochs`` epochs.

    ``state``'s model, optimizer and chains are updated in place. A
    KeyboardInterrupt after the first completed epoch ends the fit with a
    warning, keeping the last completed epoch; one during the first epoch
    propagates. A non-finite loss, energy gap or validation score raises
    FloatingPointError.

    Returns
    -------
    TrainingResult
    """
    model, data = state.model, state.data
    averaged = _weight_average(model.network, schedule.ema_decay, state.averaged_from)
    # The model early stopping scores, trims with and keeps: the averaged
    # network over the same base as the trained one.
    scored = with_base(
        GaussianBaseEnergy(averaged.module if averaged is not None else model.network, model.network_inputs),
        getattr(model, "base", None),
    )
    warmup_epochs = _warmup_epochs(schedule, len(data)) if averaged is not None else 0
    losses, gaps, scores = [], [], []
    best_score, best_weights, since_best, best_epoch = -math.inf, None, 0, None
    if state.base_draws is not None:
        # The model it starts from (the base itself, for a fresh fit) is the
        # first candidate: training can only be kept where it scores better.
        best_score, best_weights, best_epoch = _score(scored, state), copy.deepcopy(scored.network.state_dict()), 0
    still_improving = False
    # Without early stopping the monitored rows are training rows.
    score_name = "validation score" if schedule.early_stopping else "training score"
    reporter = EpochReporter(
        schedule.verbose, schedule.max_epochs, name=schedule.progress_name, score_name=score_name
    )
    try:
        for epoch in range(schedule.max_epochs):
            try:
                rows = data
                if schedule.trim is not None:
                    rows = _trimmed_rows(scored, data, schedule.trim, schedule.epoch_rows)
                stats = train_epoch(
                    model,
                    state.optimizer,
                    rows,
                    state.buffer,
                    batch_size=schedule.batch_size,
                    langevin=state.langevin,
                    reg_alpha=schedule.reg_alpha,
                    negative_fraction=schedule.negative_fraction,
                    dequantization=state.dequantization,
                    averaged=averaged,
                    max_rows=schedule.epoch_rows,
                    objective=schedule.objective,
                )
            except KeyboardInterrupt:
                if not losses:
                    raise
                warnings.warn(
                    f"fit was interrupted during epoch {epoch + 1}; the model keeps the "
                    f"weights of epoch {len(losses)}"
                    + (" (the best so far)." if schedule.early_stopping else "."),
                    UserWarning,
                )
                break
            losses.append(stats.loss)
            gaps.append(stats.energy_gap)
            scores.append(_score(scored, state))
            reporter.update(epoch, stats, scores[-1])
            if not all(map(math.isfinite, (stats.loss, stats.energy_gap, scores[-1]))):
                raise FloatingPointError(
                    f"Training diverged at epoch {epoch + 1} (non-finite loss or energies); "
                    "lower learning_rate or step_size, or raise reg_alpha."
                )
            last_weights = copy.deepcopy(scored.network.state_dict())
            if epoch + 1 < warmup_epochs:
                continue
            if scores[-1] > best_score + schedule.tol:
                best_score, since_best, best_weights, best_epoch = scores[-1], 0, last_weights, epoch + 1
            else:
                since_best += 1
            if schedule.early_stopping and since_best >= schedule.n_iter_no_change:
                break
        else:
            still_improving = since_best < schedule.n_iter_no_change
    finally:
        reporter.close()
    if best_weights is None:  # max_epochs ended within the warm-up
        best_score = scores[-1] if scores else best_score
    use_best = schedule.early_stopping and best_weights is not None
    scored.network.load_state_dict(best_weights if use_best else last_weights)
    # Copied before the kept network's output is scaled: a continued fit
    # resumes from the trained correction, not from its scaled copy.
    trained_weights = copy.deepcopy(model.network.state_dict())
    correction_scale = _keep_best_correction_scale(scored, state) if use_best else 1.0
    return TrainingResult(
        best_epoch=best_epoch if use_best else len(losses),
        network=scored.network,
        trained_weights=trained_weights,
        correction_scale=correction_scale,
        losses=losses,
        energy_gaps=gaps,
        validation_scores=scores,
        best_score=best_score if schedule.early_stopping else None,
        still_improving=still_improving,
    )


def _keep_best_correction_scale(model, state):
    """Scale the kept network's output by the factor with the best held-out log-likelihood.

    Early stopping keeps the best epoch by its criterion, which for the
    Gaussian base (denoising score matching) does not follow the held-out
    likelihood: on real tabular data a kept correction could make the model
    less likely than its own base. The model ``B + t f`` with ``t`` in
    ``[0, 1]`` is scored on the held-out rows, ``log Z`` by importance
    sampling from the base (:func:`best_correction_scale`); ``t = 0`` is the
    base itself. Returns the scale (1.0 where the output layer is spectrally
    normalized and cannot be scaled).
    """
    network = model.network
    if parametrize.is_parametrized(network.linear_layers()[-1]):
        return 1.0
    data = state.monitor
    if state.base_draws is not None:
        draws = state.base_draws
    else:
        # The base is N(0, I); the network reads only its last
        # network_inputs coordinates, which are standard normal too.
        draws = torch.randn((_BASE_DRAWS, network.input_size), device=data.device, dtype=data.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), parametrize.cached():
            f_validation = model.network_energy(data)[:, 0]
            f_base = (model.network_energy(draws) if state.base_draws is not None else network(draws))[:, 0]
    finally:
        model.train(was_training)
    scale, _ = best_correction_scale(f_validation, f_base)
    if scale != 1.0:
        scale_output(network, scale)
    return scale


def _score(model, state):
    """The validation score of ``model``: held-out log-likelihood with base draws, else DSM."""
    if state.base_draws is not None:
        return loglik_validation_score(model, state.monitor, state.base_draws)
    return validation_score(model, state.monitor, state.monitor_noise)


def loglik_validation_score(model, data, base_draws):
    """Mean log-likelihood of ``data`` under ``model``, ``log Z`` by importance sampling.

    ``model`` is ``f(z) + B(z)`` with ``exp(-B)`` a normalized base density
    and ``base_draws`` exact draws from it, so ``Z = E_base[exp(-f)]`` is
    estimated by the mean of ``exp(-f)`` over the draws (a fixed set, so
    that the score compares from epoch to epoch). A zero network scores
    exactly the base's held-out log-likelihood. Unlike denoising score
    matching it tracks held-out likelihood on real tabular data.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), parametrize.cached():
            f_data = model.network_energy(data)[:, 0].double()
            f_base = model.network_energy(base_draws)[:, 0].double()
            log_z = torch.logsumexp(-f_base, 0) - math.log(len(f_base))
            return float((-f_data - model.base_energy(data).double()).mean() - log_z)
    finally:
        model.train(was_training)


def _trimmed_rows(model, data, contamination, max_rows):
    """An epoch's training rows less those ``model`` scores as outliers.

    The epoch's rows (at most ``max_rows``, None for all) are drawn first, so
    that trimming costs a pass over them rather than over all of ``data``.
    """
    if max_rows is not None and max_rows < len(data):
        data = data[torch.randperm(len(data), device=data.device)[:max_rows]]
    return data[_inlier_rows(model, data, contamination)]


def _inlier_rows(model, data, contamination):
    """Mask of the rows of ``data`` whose score ``-E`` under ``model`` is not an outlier's.

    Training data holds outliers; fitting them teaches the model to score
    them as normal. Left out of the positive phase, they are only where the
    negatives go, and the model's energy rises there.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), parametrize.cached():
            scores = torch.cat([-model(chunk)[:, 0] for chunk in data.split(_SCORING_ROWS)])
    finally:
        model.train(was_training)
    threshold = score_threshold(scores.cpu().double().numpy(), contamination)
    return scores >= threshold


def _weight_average(network, ema_decay, start=None):
    """An exponential moving average of ``network``'s weights, or None for ``ema_decay=0``.

    A continued fit's average continues from the fitted one, ``start``.
    """
    if ema_decay <= 0:
        return None
    averaged = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
    if start is not None:
        averaged.module.load_state_dict(start)
        averaged.n_averaged.fill_(1)
    return averaged


def _warmup_epochs(schedule, n_train):
    # The average starts at the initial weights: until it has seen about
    # 1 / (1 - ema_decay) optimizer steps its score says little, so those
    # epochs neither count as candidates nor use up n_iter_no_change.
    epoch_rows = n_train if schedule.epoch_rows is None else min(n_train, schedule.epoch_rows)
    steps_per_epoch = math.ceil(epoch_rows / schedule.batch_size)
    return math.ceil(1.0 / (1.0 - schedule.ema_decay) / steps_per_epoch)
