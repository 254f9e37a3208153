"""An estimator's parameters and fitted state, as what one fit trains.

The estimator decides whether a fit is fresh or continued; these functions
turn its parameters (read by name, as ``get_params`` lists them) into the
torch-level :class:`~sklearn_ebm._training_state.TrainingState` and
:class:`~sklearn_ebm._training.TrainingSchedule`.
"""

from numbers import Integral, Real

import numpy as np
import torch

from ._network import GaussianBaseEnergy
from ._sampling import ClampInUserUnits, LangevinSettings
from ._training import TrainingSchedule
from ._training_state import (
    DSM_NOISE_FRACTION,
    INIT_SCALE_FRACTION,
    adamw,
    auto_step_size,
    continued_model,
    initial_network,
    resolution_scale,
    start_training,
)
from ._whitening import fit_whitening

__all__ = [
    "NETWORK_PARAMS",
    "check_structure_params",
    "check_network_unchanged",
    "network_params",
    "training_state",
    "langevin_settings",
    "training_schedule",
]

#: The parameters that define the network's architecture.
NETWORK_PARAMS = ("hidden_sizes", "activation", "dropout", "spectral_norm")


def network_params(estimator):
    """The architecture parameters, as :class:`EnergyMLP` takes them."""
    params = {name: getattr(estimator, name) for name in NETWORK_PARAMS}
    return {**params, "hidden_sizes": tuple(params["hidden_sizes"])}


def check_structure_params(estimator):
    """The checks of ``hidden_sizes`` and ``clamp`` that ``_parameter_constraints`` cannot express."""
    sizes = estimator.hidden_sizes
    if (
        isinstance(sizes, str)
        or len(sizes) == 0
        or not all(isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in sizes)
    ):
        raise ValueError(
            f"hidden_sizes must be a non-empty sequence of positive integers, "
            f"got {sizes!r}; for example hidden_sizes=(256, 128)."
        )
    clamp = estimator.clamp
    if clamp is not None:
        if len(clamp) != 2 or not all(isinstance(v, Real) for v in clamp) or not clamp[0] < clamp[1]:
            raise ValueError(f"clamp must be None or a pair (lo, hi) of numbers with lo < hi, got {clamp!r}.")


def check_network_unchanged(estimator):
    """Raise unless the architecture parameters still describe the fitted network.

    warm_start and partial_fit continue the fitted network: a changed
    architecture cannot apply, and silently keeping the old one would make
    get_params() describe a model that does not exist.
    """
    fitted = estimator.network_.config()
    for name, wanted in network_params(estimator).items():
        if wanted != fitted[name]:
            raise ValueError(
                f"{name} is {wanted!r} but the fitted network was built with {fitted[name]!r}; "
                "warm_start and partial_fit continue the fitted network. Set "
                f"warm_start=False (or call fit) to train a new one, or restore {name}."
            )


def training_state(estimator, X, device, *, continuing, early_stopping):
    """What training needs, fresh or taken over from the fitted ``estimator``.

    ``X`` is the validated training data, float64.
    """
    whitening = estimator.whitening_ if continuing else fit_whitening(X)
    data = torch.as_tensor(whitening.transform(X), dtype=torch.float32, device=device)
    if not torch.isfinite(data).all():
        raise ValueError(
            "X spans too wide a range for float32 arithmetic after whitening; rescale X "
            "first, for example with sklearn.preprocessing.MaxAbsScaler."
        )
    n_validation = _n_validation(estimator.validation_fraction, len(data)) if early_stopping else 0
    resolution = resolution_scale(len(data) - n_validation, data.shape[1])
    if continuing:
        model = continued_model(estimator.network_, estimator._training_weights, device)
    else:
        network = initial_network(
            X.shape[1], first_layer_scale=INIT_SCALE_FRACTION / resolution, **network_params(estimator)
        )
        model = GaussianBaseEnergy(network).to(device)
    if estimator.step_size != "auto":
        step_size = estimator.step_size
    else:
        step_size = estimator.step_size_ if continuing else auto_step_size(resolution)
    previous_optimizer = getattr(estimator, "_optimizer_state", None) if continuing else None
    return start_training(
        model,
        data,
        optimizer=adamw(model.network, estimator.learning_rate, estimator.weight_decay, previous_optimizer),
        whitening=whitening,
        langevin=langevin_settings(estimator, whitening, device, step_size),
        device=device,
        n_validation=n_validation,
        validation_noise=DSM_NOISE_FRACTION * resolution,
        n_chains=estimator.replay_buffer_size,
        reinit_freq=estimator.reinit_freq,
        previous_buffer=getattr(estimator, "_replay_buffer", None) if continuing else None,
        averaged_from=estimator.network_.state_dict() if continuing else None,
    )


def _n_validation(validation_fraction, n_samples):
    n_validation = max(1, int(np.ceil(validation_fraction * n_samples)))
    if n_validation >= n_samples:
        raise ValueError(
            f"validation_fraction={validation_fraction} of {n_samples} rows leaves "
            "no rows to train on; lower validation_fraction or pass more data."
        )
    return n_validation


def langevin_settings(estimator, whitening, device, step_size):
    """The sampler the estimator's parameters describe, clamping in the user's units."""
    project = None
    if estimator.clamp is not None:
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        project = ClampInUserUnits(
            estimator.clamp, as_tensor(whitening.forward), as_tensor(whitening.inverse), as_tensor(whitening.mean)
        )
    return LangevinSettings(
        estimator.langevin_steps, step_size, estimator.noise_scale, project, metropolis=estimator.sampler == "mala"
    )


def training_schedule(estimator, max_epochs, n_train, early_stopping):
    """The schedule of one fit on ``n_train`` training rows."""
    if estimator.batch_size == "auto":
        # Large data trains in batches of 256; small data still gets about
        # ten updates per epoch.
        batch_size = min(256, max(16, n_train // 10))
    else:
        batch_size = estimator.batch_size
    return TrainingSchedule(
        max_epochs=max_epochs,
        batch_size=min(batch_size, n_train),
        reg_alpha=estimator.reg_alpha,
        negative_fraction=estimator.negative_fraction,
        ema_decay=estimator.ema_decay,
        early_stopping=early_stopping,
        n_iter_no_change=estimator.n_iter_no_change,
        tol=estimator.tol,
        verbose=estimator.verbose,
    )
