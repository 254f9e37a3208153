"""What training carries from epoch to epoch and from one fit to the next.

Torch-level: a :class:`TrainingState` holds the model being trained, its
optimizer and persistent chains, the whitening, the data it trains and
validates on, and the sampler's settings. The functions here build its
pieces, fresh or continued from a fitted model; the estimator decides which.
"""

import copy
from dataclasses import dataclass

import torch

from ._network import EnergyMLP, GaussianBaseEnergy, MixtureBaseEnergy
from ._replay import ReplayBuffer
from ._sampling import LangevinSettings
from ._whitening import Whitening

__all__ = [
    "TrainingState",
    "resolution_scale",
    "auto_step_size",
    "initial_network",
    "continued_model",
    "with_base",
    "adamw",
    "start_training",
]

# The finest scale the training data resolve, in whitened units, is taken
# to be Scott's factor n ** (-1 / (d + 4)) (the bandwidth a Gaussian kernel
# density of n points in d dimensions would use). The noise of the denoising
# score matching criterion is this fraction of it, and step_size="auto" makes
# the Langevin noise per step, sqrt(step_size), this fraction of it: finer
# structure (many rows, few features) needs a sharper criterion and smaller
# moves, while few rows in many dimensions only support a smooth energy.
DSM_NOISE_FRACTION = 1 / 8
STEP_NOISE_FRACTION = 1 / 2.5
# An MLP learns the low frequencies of its target first (spectral bias,
# Rahaman et al. 2019): from PyTorch's default initialization, structure as
# fine as the resolution of many rows in few dimensions (the 0.05-wide rings
# of a 2-D toy) takes far longer to appear than the fit runs. The first
# layer's initial weights and biases are therefore scaled by this fraction of
# 1 / resolution (as Fourier features scale their frequencies, Tancik et al.
# 2020): about 3 for 5,000 rows in 2-D, about 1 (PyTorch's default) for
# 10,000 rows of 32 features.
INIT_SCALE_FRACTION = 0.75
# Rows the validation score is computed on when there is no validation split.
_MONITOR_ROWS = 2048
# Held-out rows scored each epoch under early stopping, at most.
_MAX_VALIDATION_ROWS = 10000
# Base draws of the importance-sampling estimate of log Z in the validation
# score: its standard error stays below 0.01 nats where the tilt is mild.
_BASE_DRAWS = 8192


@dataclass
class TrainingState:
    """Everything training reads and updates.

    Attributes
    ----------
    model : GaussianBaseEnergy
        The network being trained (its trained weights, not their average).
    optimizer : torch.optim.Optimizer
        Over ``model.network``'s parameters.
    buffer : ReplayBuffer
        The persistent chains.
    whitening : Whitening
        The map from the user's units to the model's coordinates.
    data : torch.Tensor of shape (n_train, d)
        Training rows, whitened, on ``device``.
    monitor : torch.Tensor of shape (n_monitor, d)
        The rows the validation score is computed on: the validation split,
        or the first training rows without one.
    monitor_noise : torch.Tensor of shape (n_monitor, d)
        A fixed noise draw for the denoising score matching criterion.
    langevin : LangevinSettings
        How negatives are drawn.
    device : torch.device
    averaged_from : dict or None
        The fitted weight average a continued fit's average starts from.
    dequantization : torch.Tensor of shape (k, d) or None
        One lattice step of each of the ``k`` discrete columns, in the
        model's coordinates (see :func:`~sklearn_ebm._training.train_epoch`).
    base_draws : torch.Tensor of shape (n_draws, d) or None
        Fixed exact draws from a mixture base: early stopping then follows
        the held-out log-likelihood, with the base itself the first
        candidate (see :func:`~sklearn_ebm._training.loglik_validation_score`).
    """

    model: GaussianBaseEnergy
    optimizer: torch.optim.Optimizer
    buffer: ReplayBuffer
    whitening: Whitening
    data: torch.Tensor
    monitor: torch.Tensor
    monitor_noise: torch.Tensor
    langevin: LangevinSettings
    device: torch.device
    averaged_from: dict = None
    dequantization: torch.Tensor = None
    base_draws: torch.Tensor = None

    @property
    def step_size(self):
        return self.langevin.step_size


def resolution_scale(n_samples, n_features):
    """Scott's factor: the finest scale ``n_samples`` rows resolve, in whitened units."""
    return n_samples ** (-1.0 / (n_features + 4))


def auto_step_size(resolution):
    """The Langevin step size whose noise per step is a fixed fraction of ``resolution``."""
    return (STEP_NOISE_FRACTION * resolution) ** 2


def initial_network(input_size, *, first_layer_scale=1.0, **network_params):
    """An :class:`EnergyMLP` whose untrained output is zero, first layer scaled.

    A zero output layer makes the untrained model its base exactly
    (spectral normalization would divide the zero weight by zero, and would
    undo the first layer's scale, so a spectrally normalized network keeps
    PyTorch's initialization). Fourier features set the network's
    resolution themselves (``fourier_scale``), so their first layer keeps
    PyTorch's initialization too.
    """
    network = EnergyMLP(input_size, **network_params)
    if not network.spectral_norm:
        first, *_, output = network.linear_layers()
        if network.features is None:
            with torch.no_grad():
                first.weight.mul_(first_layer_scale)
                first.bias.mul_(first_layer_scale)
        torch.nn.init.zeros_(output.weight)
        torch.nn.init.zeros_(output.bias)
    return network


def continued_model(network, training_weights, device):
    """A copy of a fitted ``network`` holding its trained (not averaged) weights.

    A copy, so that a continued fit that fails leaves the fitted model intact.
    """
    model = GaussianBaseEnergy(copy.deepcopy(network), network_inputs=network.input_size).to(device)
    model.network.load_state_dict(training_weights)
    return model


def with_base(model, base):
    """``model``'s network over ``base`` (a :class:`MixtureBase`), or ``model`` for None."""
    return model if base is None else MixtureBaseEnergy(model.network, base, model.network_inputs)


def adamw(network, learning_rate, weight_decay, state=None):
    """AdamW over ``network``'s parameters, continuing from ``state`` when given.

    The state is copied (Adam updates it in place, and a failed fit must not
    change the fitted model); the given ``learning_rate`` and
    ``weight_decay`` apply to it (a 0.1.0 state was plain Adam's).
    """
    optimizer = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=weight_decay)
    if state is not None:
        optimizer.load_state_dict(copy.deepcopy(state))
        for group in optimizer.param_groups:
            group.update(lr=learning_rate, weight_decay=weight_decay, decoupled_weight_decay=True)
    return optimizer


def start_training(
    model,
    data,
    *,
    optimizer,
    whitening,
    langevin,
    device,
    n_validation,
    validation_noise,
    n_chains,
    reinit_freq,
    previous_buffer=None,
    averaged_from=None,
    dequantization=None,
    base=None,
):
    """Split off the validation rows, set up the chains, draw the criterion's noise.

    ``n_validation`` random rows of ``data`` are held out (none when 0);
    ``validation_noise`` is the standard deviation of the criterion's noise.
    ``previous_buffer``'s chains carry over while they still have the shape
    ``(n_chains, d)``; otherwise the chains start afresh from N(0, I) (one
    chain restarting at every draw when ``n_chains`` is 0). With
    ``dequantization``, the monitored rows get one fixed draw of its noise.

    ``base`` is None (the model's base is N(0, I)), a :class:`MixtureBase`,
    or a function ``fit(train_rows, validation_rows_or_None)`` fitting one
    to the training rows (after the validation split). With a mixture, the model is its tilt, chains start and restart
    at exact draws from it, and early stopping follows the held-out
    log-likelihood.
    """
    validation = None
    if n_validation:
        order = torch.randperm(len(data), device=device)
        validation, data = data[order[:n_validation]], data[order[n_validation:]]
    monitor_dequantized = False
    if callable(base):
        # The base is fitted to dequantized rows and chosen on dequantized
        # validation rows, which are then the monitored ones.
        if validation is not None:
            validation, monitor_dequantized = _dequantized(validation, dequantization), True
        base = base(_dequantized(data, dequantization), validation)
    init = None if base is None else lambda n, generator=None: base.sample(n, generator=generator, device=device)
    if previous_buffer is not None and previous_buffer.chains.shape == (n_chains, data.shape[1]):
        buffer = ReplayBuffer(previous_buffer.chains.clone(), reinit_freq, init).to(device)
    elif base is None:
        buffer = ReplayBuffer.from_normal(
            max(n_chains, 1), data.shape[1], reinit_freq if n_chains else 1.0, device=device
        )
    else:
        buffer = ReplayBuffer(init(max(n_chains, 1)), reinit_freq if n_chains else 1.0, init)
    # The validation score costs a pass over the monitored rows every epoch:
    # a bounded random subset of the held-out rows keeps it flat in n.
    monitor = validation[:_MAX_VALIDATION_ROWS] if validation is not None else data[:_MONITOR_ROWS]
    monitor_noise = validation_noise * torch.randn_like(monitor)
    if not monitor_dequantized:
        monitor = _dequantized(monitor, dequantization)
    return TrainingState(
        model=with_base(model, base),
        optimizer=optimizer,
        buffer=buffer,
        whitening=whitening,
        data=data,
        monitor=monitor,
        monitor_noise=monitor_noise,
        langevin=langevin,
        device=device,
        averaged_from=averaged_from,
        dequantization=dequantization,
        base_draws=None if base is None else init(_BASE_DRAWS),
    )


def _dequantized(rows, dequantization):
    """``rows`` plus one draw of uniform noise over each discrete column's lattice step."""
    if dequantization is None:
        return rows
    noise = torch.rand((len(rows), dequantization.shape[0]), device=rows.device, dtype=rows.dtype)
    return torch.addmm(rows, noise.sub_(0.5), dequantization)
