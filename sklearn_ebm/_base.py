"""The shared base of the estimators: where scikit-learn's conventions meet torch.

Parameters, their validation, the fitted attributes and the public methods
live here; the torch-level modules do the work: :mod:`._training_state`
builds what a fit trains, :mod:`._training` runs the epochs,
:mod:`._inference` answers queries of the fitted energy and
:mod:`._persistence` pickles it.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._activations import ACTIVATIONS
from ._columns import snap_to_values
from ._device import resolve_device
from ._fit_setup import (
    check_enough_rows,
    check_network_unchanged,
    check_structure_params,
    clamp_bounds,
    discrete_columns,
    langevin_settings,
    training_schedule,
    training_state,
)
from ._inference import draw_samples, energies, integrated_gradients
from ._network import GaussianBaseEnergy
from ._partition import ais_log_partition
from ._persistence import from_plain_state, to_plain_state
from ._rng import isolated_rng
from ._training import run_training
from ._training_state import with_base
from ._validation import validate_data

__all__ = ["BaseEnergyModel"]

# sample() runs this many times langevin_steps from the base distribution.
_SAMPLE_STEPS_FACTOR = 10


def _check_int_at_least(name, value, minimum, hint=""):
    """Raise ValueError unless ``value`` is an integer (not a bool) >= ``minimum``."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value!r}{hint}.")


def _torch_seed(random_state):
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class BaseEnergyModel(BaseEstimator):
    """Base class of the energy-based estimators; see :class:`EnergyBasedModel`.

    It owns what is scikit-learn's: the parameters' constraints, validation
    at the public methods, and the fitted attributes; each estimator
    declares its parameters in its own ``__init__``. Training
    runs in :func:`~sklearn_ebm._training.run_training`, queries of the
    fitted energy in :mod:`sklearn_ebm._inference`, and pickling in
    :mod:`sklearn_ebm._persistence`; subclasses add the scikit-learn role
    (density estimator, outlier detector).
    """

    _parameter_constraints: dict = {
        "hidden_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "spectral_norm": ["boolean"],
        "fourier_features": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")],
        "fourier_scale": [Interval(Real, 0, None, closed="neither")],
        "max_network_inputs": [Interval(Integral, 1, None, closed="left"), None],
        "reg_alpha": [Interval(Real, 0, None, closed="left")],
        "langevin_steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "noise_scale": [Interval(Real, 0, None, closed="left")],
        "clamp": [StrOptions({"range"}), tuple, None],
        "discrete_columns": [StrOptions({"auto"}), "array-like", None],
        "base": [StrOptions({"auto", "gaussian", "mixture"})],
        "sampler": [StrOptions({"mala", "langevin"})],
        "objective": [StrOptions({"auto", "cd", "nce"})],
        "replay_buffer_size": [Interval(Integral, 0, None, closed="left")],
        "reinit_freq": [Interval(Real, 0, 1, closed="both")],
        "negative_fraction": [Interval(Real, 0, 1, closed="right")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_samples": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    # ------------------------------------------------------------------- fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the energy model to ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; a DataFrame's column names are remembered.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._keeping_state_on_failure(self._validated_fit, X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One epoch over ``X``, continuing from the current state.

        The network, the optimizer's state and the replay buffer carry over
        between calls, so a stream of chunks (or
        ``dask_ml.wrappers.Incremental``) trains one model. The whitening is
        fitted on the first chunk and kept: make the first chunk
        representative (or scale the data upstream). There is no early
        stopping: every call runs one epoch and ``validation_scores_`` is None.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._keeping_state_on_failure(self._validated_fit, X, partial=True)
        return self

    def _keeping_state_on_failure(self, train, X, **kwargs):
        # A fit that fails, for whatever reason, leaves the estimator as it
        # was: fitted state is only stored once training succeeds, and what
        # validate_data sets before that is put back. Returns train's result.
        saved = {k: vars(self)[k] for k in ("n_features_in_", "feature_names_in_") if k in vars(self)}
        try:
            return train(X, **kwargs)
        except BaseException:
            vars(self).pop("n_features_in_", None)
            vars(self).pop("feature_names_in_", None)
            vars(self).update(saved)
            raise

    def _validated_fit(self, X, partial=False):
        check_structure_params(self)
        continuing = hasattr(self, "network_") and (partial or self.warm_start)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=not continuing)
        early_stopping = self.early_stopping and not partial
        if early_stopping and X.shape[0] < 2:
            raise ValueError(
                "early_stopping needs at least 2 rows (one to validate on), got "
                "1 sample; pass more data or early_stopping=False."
            )
        if continuing:
            check_network_unchanged(self)
        check_enough_rows(*X.shape)
        device = resolve_device(self.device)
        # Each continued fit draws fresh minibatches and Langevin noise,
        # reproducibly: reusing one seed would add the same noise to the same
        # persistent chains at every call, a drift that degrades the model
        # (rings NLL 2.58 -> 3.7 nats over 40 warm-started 5-epoch fits).
        seed = (_torch_seed(self.random_state) + (self.n_iter_ if continuing else 0)) % np.iinfo(np.int32).max
        X64 = np.asarray(X, dtype=np.float64)
        discrete = (self.discrete_columns_, self.discrete_values_) if continuing else discrete_columns(self, X64)
        data_range = X64.min(axis=0), X64.max(axis=0)
        if continuing and getattr(self, "data_min_", None) is not None:
            data_range = np.minimum(data_range[0], self.data_min_), np.maximum(data_range[1], self.data_max_)
        with isolated_rng(device, seed):
            state = training_state(
                self,
                self._training_rows(X64),
                device,
                continuing=continuing,
                early_stopping=early_stopping,
                discrete=discrete,
                data_range=data_range,
                seed=seed,
            )
            schedule = training_schedule(
                self,
                1 if partial else self.max_iter,
                len(state.data),
                early_stopping,
                full_epochs=partial,
                mixture_base=getattr(state.model, "base", None) is not None,
            )
            result = run_training(state, schedule)
        # partial_fit runs one epoch whatever max_iter says.
        if result.still_improving and not partial:
            warnings.warn(
                f"Stopped at max_iter={self.max_iter} epochs while the fit was still "
                "improving; raise max_iter for a better model.",
                ConvergenceWarning,
            )
        self._store_fitted(state, result, schedule.batch_size, schedule.objective, continuing)
        self.discrete_columns_, self.discrete_values_ = discrete
        self.data_min_, self.data_max_ = data_range
        return X

    def _training_rows(self, X):
        # The rows the network is trained on: every one for a density
        # estimator, whose job is the density of all of them.
        return X

    def _training_trim(self):
        # The share of training rows left out of each epoch's positive phase
        # (see TrainingSchedule.trim): none for a density estimator.
        return None

    def _store_fitted(self, state, result, batch_size, objective, continuing):
        # A new network invalidates the cached partition function.
        self.log_partition_ = self.log_partition_stderr_ = None
        self.network_ = result.network.eval()
        self._training_weights = result.trained_weights
        self.device_ = state.device
        self.whitening_ = state.whitening
        self.base_ = getattr(state.model, "base", None)
        self.best_epoch_ = result.best_epoch
        self.correction_scale_ = result.correction_scale
        self._optimizer_state = state.optimizer.state_dict()
        self._replay_buffer = state.buffer
        self.step_size_ = state.step_size
        self.batch_size_ = batch_size
        self.objective_ = objective
        self.n_iter_ = len(result.losses) + (self.n_iter_ if continuing else 0)
        self.loss_curve_ = (self.loss_curve_ if continuing else []) + result.losses
        self.energy_gap_curve_ = (self.energy_gap_curve_ if continuing else []) + result.energy_gaps
        if result.best_score is None:
            self.validation_scores_ = self.best_validation_score_ = None
        else:
            earlier = (self.validation_scores_ or []) if continuing else []
            self.validation_scores_ = earlier + result.validation_scores
            self.best_validation_score_ = result.best_score

    # ------------------------------------------------------------- inference

    def _model(self):
        network_inputs = getattr(self.network_, "input_size", None)
        return with_base(GaussianBaseEnergy(self.network_, network_inputs), self.base_).eval()

    def score_samples(self, X):
        """Log density of each row, up to the model's constant ``-log Z``: ``-E(x)``.

        Higher means more typical of the training data. The values are in
        the units of the data passed to ``fit`` (they include the
        log-Jacobian of the internal whitening), so they differ from a
        normalized log-likelihood only by one constant.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), dtype float64
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return np.negative(self._energy(X))

    def _energy(self, X):
        """Energies in the user's units, float64."""
        return energies(self.network_.eval(), self.whitening_, X, self.device_, self.base_)

    def log_partition(self, *, n_chains=512, n_temperatures="auto", random_state=None):
        """Estimate the model's log partition function by annealed importance sampling.

        ``log Z = log integral exp(-E(x)) dx`` in the units of the data passed
        to ``fit``, so that ``score_samples(X) - log Z`` is a normalized
        log-density. Chains anneal from the standard normal (the energy is
        ``f(z) + ||z||^2 / 2`` in whitened coordinates) to ``exp(-E)`` with
        Metropolis-adjusted Langevin moves: see :func:`sklearn_ebm.ais_log_partition`.

        The first call of :meth:`EnergyBasedModel.score` caches the estimate
        with the default settings in ``log_partition_`` (and its standard
        error in ``log_partition_stderr_``).

        Parameters
        ----------
        n_chains : int, default=512
            Independent annealing chains.
        n_temperatures : int or "auto", default="auto"
            Intermediate distributions; "auto" is ``max(256, 8 * k)`` for the
            ``k`` coordinates annealed: every feature, or, where the network
            reads fewer (``max_network_inputs``), those it reads, the others
            being exactly the Gaussian base's.
        random_state : int, RandomState instance or None, default=None
            Seeds the chains; None uses the estimator's ``random_state``.

        Returns
        -------
        log_z : float
            The estimate.
        stderr : float
            Its standard error.
        """
        check_is_fitted(self)
        if n_temperatures == "auto":
            # 8 per annealed coordinate: under a Gaussian base, those the network reads.
            read = getattr(self.network_, "input_size", self.n_features_in_)
            annealed = self.n_features_in_ if self.base_ is not None else min(read, self.n_features_in_)
            n_temperatures = max(256, 8 * annealed)
        _check_int_at_least("n_chains", n_chains, 2)
        _check_int_at_least("n_temperatures", n_temperatures, 2)
        generator = self._generator(random_state)
        return ais_log_partition(
            self._model(),
            self.n_features_in_,
            n_chains=n_chains,
            n_temperatures=n_temperatures,
            generator=generator,
            device=self.device_,
            base=self.base_,
        )

    def _cached_log_partition(self):
        if getattr(self, "log_partition_", None) is None:
            self.log_partition_, self.log_partition_stderr_ = self.log_partition()
        return self.log_partition_

    def _generator(self, random_state):
        seed = _torch_seed(self.random_state if random_state is None else random_state)
        return torch.Generator(device=self.device_).manual_seed(seed)

    def feature_contributions(self, X, n_steps=32):
        """Split each row's energy above the training mean among its features.

        Integrated gradients (Sundararajan et al. 2017) along the straight
        path from the reference point, the mean of the training data (for
        :class:`EBMOutlierDetector`, of the rows in its robust support; the
        whitening's ``whitening_.mean`` in both cases), to each row:
        ``contribution[i, j] = (x[i, j] - mean[j]) * average over the path
        of dE/dx_j``. The average is a ``n_steps``-point Gauss-Legendre rule, so
        each row sums to ``E(x) - E(mean)`` (that is, ``score_samples(mean) -
        score_samples(x)``) up to the quadrature error: below ``1e-3 * (1 +
        |E(x) - E(mean)|)`` with the default 32 points for the smooth
        activations (silu, gelu, tanh, elu, softplus); kinks of relu and
        leaky_relu converge more slowly. Positive values mark features that
        make the row less typical.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_steps : int, default=32
            Quadrature points along the path.

        Returns
        -------
        contributions : ndarray or DataFrame of shape (n_samples, n_features)
            A DataFrame with columns ``feature_names_in_`` (and X's index)
            when the model was fitted on named columns, else an ndarray.
        """
        check_is_fitted(self)
        _check_int_at_least("n_steps", n_steps, 1, "; for example n_steps=32")
        index = getattr(X, "index", None)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = integrated_gradients(self._model(), self.whitening_, X, n_steps, self.device_)
        if hasattr(self, "feature_names_in_"):
            import pandas as pd

            return pd.DataFrame(out, columns=self.feature_names_in_, index=index)
        return out

    def sample(self, n_samples=1, random_state=None):
        """Draw samples from the model by Langevin dynamics.

        Chains start from the Gaussian fitted to the training data and run
        ``10 * langevin_steps`` steps with the training settings.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the chains; None uses the estimator's ``random_state``.

        Returns
        -------
        ndarray of shape (n_samples, `n_features_in_`)
            Samples in the units of the data passed to ``fit``.
        """
        check_is_fitted(self)
        _check_int_at_least("n_samples", n_samples, 1)
        generator = self._generator(random_state)
        data_range = self.data_min_, self.data_max_
        langevin = langevin_settings(self, self.whitening_, self.device_, self.step_size_, data_range)
        out = draw_samples(
            self._model(),
            self.whitening_,
            n_samples,
            langevin,
            _SAMPLE_STEPS_FACTOR,
            generator,
            self.device_,
            self.base_,
        )
        bounds = clamp_bounds(self.clamp, self.n_features_in_, data_range)
        if bounds is not None:
            np.clip(out, *bounds, out=out)
        return snap_to_values(out, self.discrete_columns_, self.discrete_values_, bounds)

    # ------------------------------------------------------------ persistence

    def __getstate__(self):
        # Plain data only (see _persistence): no torch objects in a pickle.
        return to_plain_state(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(from_plain_state(state))
