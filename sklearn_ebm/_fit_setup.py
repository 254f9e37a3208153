"""An estimator's parameters and fitted state, as what one fit trains.

The estimator decides whether a fit is fresh or continued; these functions
turn its parameters (read by name, as ``get_params`` lists them) into the
torch-level :class:`~sklearn_ebm._training_state.TrainingState` and
:class:`~sklearn_ebm._training.TrainingSchedule`.
"""

from numbers import Integral

import warnings

import numpy as np
import torch

from ._columns import find_discrete_columns, lattice_steps
from ._mixture_choice import MIXTURE_MAX_FEATURES, fit_mixture, standard_normal
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
    "check_enough_rows",
    "clamp_bounds",
    "discrete_columns",
    "low_dimensional",
    "network_params",
    "resolved_base",
    "resolved_objective",
    "training_state",
    "langevin_settings",
    "training_schedule",
]

#: The parameters that define the network's architecture.
NETWORK_PARAMS = (
    "hidden_sizes", "activation", "dropout", "spectral_norm", "fourier_features", "fourier_scale",
)
# base="auto" and fourier_features="auto": the low-dimensional model (a
# mixture base, 64 Fourier frequencies) up to this many features.
_LOW_DIMENSIONAL_FEATURES = 2
# The low-dimensional model's mixture: at most 16 components. With 32 the
# validation rows chose a sharper mixture that the Fourier network then could
# not improve on (checkerboard: held-out NLL 1.986 against 1.909 with 16,
# 2spirals 1.768 against 1.760; means over 3 seeds), where with 16 it does.
_LOW_DIMENSIONAL_MAX_COMPONENTS = 16
_AUTO_FOURIER_FEATURES = 64
# Rows the whitening is fitted on, at most (evenly spaced): its mean and
# covariance then err by about 0.3% of a standard deviation.
_MAX_WHITENING_ROWS = 100_000


def _network_inputs(max_network_inputs, n_features):
    """How many whitened coordinates the network reads: the last ones, the leading principal directions."""
    return n_features if max_network_inputs is None else min(n_features, max_network_inputs)


def low_dimensional(n_features):
    """Whether ``base="auto"`` and ``fourier_features="auto"`` choose the low-dimensional model.

    In few dimensions an MLP on the raw coordinates resolves fine structure
    (rings, spirals, sharp edges) slowly, and importance sampling from a
    mixture estimates ``log Z`` well enough for early stopping to follow the
    held-out log-likelihood. Measured in two dimensions only (the 2-D
    densities of ``benchmarks/density2d.py``: better on all 18 pairs of toy
    and seed), so the rule goes no further.
    """
    return n_features <= _LOW_DIMENSIONAL_FEATURES


def resolved_base(estimator, n_features):
    """``"gaussian"`` or ``"mixture"``: ``base``, with "auto" resolved for the data's shape."""
    if estimator.base != "auto":
        return estimator.base
    return "mixture" if n_features <= MIXTURE_MAX_FEATURES else "gaussian"


def resolved_objective(estimator, mixture_base, n_features):
    """``"cd"`` or ``"nce"``: ``objective``, with "auto" resolved for the fitted base.

    A mixture fitted first is close to the data and gives exact draws, so
    the correction is learned as the log ratio of the data's density to the
    mixture's by telling the rows from its draws (as residual energy models
    are trained, Deng et al. 2020); contrastive divergence's short chains
    mix poorly between a mixture's sharp components. The Gaussian base
    keeps contrastive divergence, which reaches beyond the base's draws, and
    so does the low-dimensional model, whose Fourier network learned fine
    structure (rings, spirals, checkerboard) by it and stopped at the
    mixture by noise-contrastive estimation.
    """
    if estimator.objective != "auto":
        return estimator.objective
    return "nce" if mixture_base and not low_dimensional(n_features) else "cd"


def network_params(estimator, n_features):
    """The architecture parameters, as :class:`EnergyMLP` takes them for ``n_features`` features."""
    params = {name: getattr(estimator, name) for name in NETWORK_PARAMS}
    if params["fourier_features"] == "auto":
        params["fourier_features"] = _AUTO_FOURIER_FEATURES if low_dimensional(n_features) else 0
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
    if clamp is None or isinstance(clamp, str):
        return
    try:
        lo, hi = (np.asarray(bound, dtype=np.float64) for bound in clamp)
    except (TypeError, ValueError):
        lo = hi = None
    if lo is None or lo.ndim > 1 or hi.ndim > 1:
        raise ValueError(
            f"clamp must be None, 'range' or a pair (lo, hi) of numbers or of arrays of one "
            f"bound per feature, got {clamp!r}; for example clamp=(0, 1) or clamp='range'."
        )
    if lo.shape != hi.shape and lo.ndim == hi.ndim or not np.all(lo < hi):
        raise ValueError(
            f"clamp must be None, 'range' or a pair (lo, hi) with lo < hi for every feature, got {clamp!r}."
        )


def clamp_bounds(clamp, n_features, data_range):
    """The ``clamp`` parameter as arrays ``(lo, hi)`` of shape (n_features,), or None.

    "range" is ``data_range``, each column's training minimum and maximum.
    """
    if clamp is None:
        return None
    if isinstance(clamp, str):  # "range"
        return data_range
    lo, hi = (np.asarray(bound, dtype=np.float64) for bound in clamp)
    for bound in (lo, hi):
        if bound.ndim == 1 and bound.shape != (n_features,):
            raise ValueError(
                f"clamp has bounds for {bound.shape[0]} features but the data has {n_features}; "
                "give one bound per feature, or a number for all."
            )
    return tuple(np.broadcast_to(bound, (n_features,)).copy() for bound in (lo, hi))


def discrete_columns(estimator, X):
    """The columns the ``discrete_columns`` parameter names in ``X``, and their values.

    "auto" finds the columns with few recurring values
    (:func:`~sklearn_ebm._columns.find_discrete_columns`); None, none.
    """
    spec = estimator.discrete_columns
    if spec is None:
        return np.zeros(0, dtype=np.intp), []
    if isinstance(spec, str):  # "auto"
        return find_discrete_columns(X)
    columns = np.asarray(spec)
    if columns.dtype == bool:
        columns = np.flatnonzero(columns) if columns.shape == (X.shape[1],) else None
    if columns is None or columns.ndim != 1 or not np.issubdtype(columns.dtype, np.integer) or not np.all(
        (columns >= 0) & (columns < X.shape[1])
    ):
        raise ValueError(
            f"discrete_columns must be 'auto', None, indices of columns in [0, {X.shape[1]}) or a "
            f"boolean mask of {X.shape[1]} features, got {spec!r}."
        )
    values = [np.unique(X[:, j]) for j in columns]
    # A constant column has no lattice step; the whitening handles it.
    kept = [i for i, v in enumerate(values) if len(v) >= 2]
    return columns[kept].astype(np.intp), [values[i] for i in kept]


def check_enough_rows(n_samples, n_features):
    """Warn when there are too few rows per feature for the network to learn from.

    Below ``max(10, 2 * (n_features + 1))`` rows even the whitening's
    covariance (``n_features * (n_features + 1) / 2`` numbers) is mostly
    shrinkage, and a network fitted to the rows only memorizes them.
    """
    minimum = max(10, 2 * (n_features + 1))
    if n_samples < minimum:
        warnings.warn(
            f"Only {n_samples} training rows for {n_features} features: the model can do "
            "little more than a shrunk Gaussian with this much data, and scores far from the "
            f"rows are unreliable. Fit on at least {minimum} rows, or use a simpler density "
            "(sklearn.covariance.EllipticEnvelope, sklearn.neighbors.KernelDensity).",
            UserWarning,
        )


def check_network_unchanged(estimator):
    """Raise unless the architecture parameters still describe the fitted network.

    warm_start and partial_fit continue the fitted network: a changed
    architecture cannot apply, and silently keeping the old one would make
    get_params() describe a model that does not exist.
    """
    fitted = estimator.network_.config()
    inputs = _network_inputs(estimator.max_network_inputs, estimator.n_features_in_)
    if inputs != fitted["input_size"]:
        raise ValueError(
            f"max_network_inputs={estimator.max_network_inputs!r} gives a network reading {inputs} "
            f"coordinates but the fitted one reads {fitted['input_size']}; warm_start and "
            "partial_fit continue the fitted network. Set warm_start=False (or call fit) to "
            "train a new one, or restore max_network_inputs."
        )
    for name, wanted in network_params(estimator, estimator.n_features_in_).items():
        if wanted != fitted[name]:
            raise ValueError(
                f"{name} is {wanted!r} but the fitted network was built with {fitted[name]!r}; "
                "warm_start and partial_fit continue the fitted network. Set "
                f"warm_start=False (or call fit) to train a new one, or restore {name}."
            )


def training_state(estimator, X, device, *, continuing, early_stopping, discrete, data_range, seed=None):
    """What training needs, fresh or taken over from the fitted ``estimator``.

    ``X`` is the validated training data, float64; ``discrete`` the
    ``(columns, values)`` to dequantize (see :func:`discrete_columns`);
    ``data_range`` each column's ``(min, max)``, for ``clamp="range"``;
    ``seed`` seeds the mixture base's fit.
    """
    columns, values = discrete
    steps = lattice_steps(values)
    if continuing:
        whitening = estimator.whitening_
    else:
        # A mean and a covariance: evenly spaced rows estimate them as well
        # as millions do, in a fraction of the full-data passes.
        dequantized = X[:: -(-X.shape[0] // _MAX_WHITENING_ROWS)]
        # Fitted to dequantized data: the noise widens each discrete column.
        if len(columns):
            noise = torch.rand((dequantized.shape[0], len(columns)), dtype=torch.float64).numpy()
            dequantized = dequantized.copy()
            dequantized[:, columns] += (noise - 0.5) * steps
        whitening = fit_whitening(dequantized)
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
        n_inputs = _network_inputs(estimator.max_network_inputs, X.shape[1])
        network = initial_network(
            n_inputs,
            first_layer_scale=INIT_SCALE_FRACTION / resolution,
            **network_params(estimator, X.shape[1]),
        )
        model = GaussianBaseEnergy(network, n_inputs).to(device)
    if estimator.step_size != "auto":
        step_size = estimator.step_size
    else:
        step_size = estimator.step_size_ if continuing else auto_step_size(resolution)
    previous_optimizer = getattr(estimator, "_optimizer_state", None) if continuing else None
    if continuing:
        base = getattr(estimator, "base_", None)
    elif resolved_base(estimator, X.shape[1]) == "mixture":
        # Fitted to the training rows (dequantized), after the validation split.
        def base(rows, validation):
            validation = None if validation is None else validation.cpu().double().numpy()
            chosen = fit_mixture(
                rows.cpu().double().numpy(),
                validation,
                random_state=seed,
                max_components=_LOW_DIMENSIONAL_MAX_COMPONENTS if low_dimensional(X.shape[1]) else None,
            )
            if chosen is None and estimator.base == "mixture":
                return standard_normal(rows.shape[1])  # asked for: N(0, I) as a mixture base
            # "auto" where no mixture beats the standard normal (None): the
            # Gaussian base, whose early stopping (denoising score matching)
            # does not lean on importance sampling from it, which fails once
            # the correction sharpens (WBC: 8,192 draws, effective sample size 30).
            return chosen
    else:
        base = None
    return start_training(
        model,
        data,
        optimizer=adamw(model.network, estimator.learning_rate, estimator.weight_decay, previous_optimizer),
        whitening=whitening,
        langevin=langevin_settings(estimator, whitening, device, step_size, data_range),
        device=device,
        n_validation=n_validation,
        validation_noise=DSM_NOISE_FRACTION * resolution,
        n_chains=estimator.replay_buffer_size,
        reinit_freq=estimator.reinit_freq,
        previous_buffer=getattr(estimator, "_replay_buffer", None) if continuing else None,
        averaged_from=estimator.network_.state_dict() if continuing else None,
        dequantization=(
            torch.as_tensor(steps[:, None] * whitening.forward[columns], dtype=torch.float32, device=device)
            if len(columns)
            else None
        ),
        base=base,
    )


def _n_validation(validation_fraction, n_samples):
    n_validation = max(1, int(np.ceil(validation_fraction * n_samples)))
    if n_validation >= n_samples:
        raise ValueError(
            f"validation_fraction={validation_fraction} of {n_samples} rows leaves "
            "no rows to train on; lower validation_fraction or pass more data."
        )
    return n_validation


def langevin_settings(estimator, whitening, device, step_size, data_range):
    """The sampler the estimator's parameters describe, clamping in the user's units."""
    project = None
    bounds = clamp_bounds(estimator.clamp, len(whitening.mean), data_range)
    if bounds is not None:
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        project = ClampInUserUnits(
            tuple(map(as_tensor, bounds)),
            as_tensor(whitening.forward),
            as_tensor(whitening.inverse),
            as_tensor(whitening.mean),
        )
    return LangevinSettings(
        estimator.langevin_steps, step_size, estimator.noise_scale, project, metropolis=estimator.sampler == "mala"
    )


def training_schedule(estimator, max_epochs, n_train, early_stopping, *, full_epochs=False, mixture_base=False):
    """The schedule of one fit on ``n_train`` training rows.

    Epochs are passes over ``max_samples`` rows, or over all of them with
    ``full_epochs`` (partial_fit: one pass over the chunk it was given).
    ``mixture_base`` (whether the model corrects a fitted mixture) resolves
    ``objective="auto"`` (see :func:`resolved_objective`).
    """
    if estimator.batch_size == "auto":
        # Large data trains in batches of 256; small data still gets about
        # ten updates per epoch.
        batch_size = min(256, max(16, n_train // 10))
    else:
        batch_size = estimator.batch_size
    return TrainingSchedule(
        max_epochs=max_epochs,
        batch_size=min(batch_size, n_train),
        epoch_rows=None if full_epochs else estimator.max_samples,
        objective=resolved_objective(estimator, mixture_base, estimator.n_features_in_),
        reg_alpha=estimator.reg_alpha,
        negative_fraction=estimator.negative_fraction,
        ema_decay=estimator.ema_decay,
        early_stopping=early_stopping,
        n_iter_no_change=estimator.n_iter_no_change,
        tol=estimator.tol,
        verbose=estimator.verbose,
        trim=estimator._training_trim(),
        progress_name=type(estimator).__name__,
    )
