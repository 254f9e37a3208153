"""The shared base of the estimators: parameters, training, scoring, sampling.

This is where scikit-learn's conventions meet the torch modules; the torch
side (network, sampler, losses, training epoch) knows nothing of them.
"""

import copy
import math
import threading
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._device import resolve_device
from ._network import ACTIVATIONS, EnergyMLP, GaussianBaseEnergy
from ._partition import ais_log_partition
from ._progress import EpochReporter
from ._replay import ReplayBuffer
from ._validation import validate_data
from ._training import LangevinSettings, draw_negatives, train_epoch, validation_score
from ._whitening import fit_whitening

__all__ = ["BaseEnergyModel"]

# Rows per forward pass at inference: bounds memory on large inputs.
_INFERENCE_BATCH = 65536
# Whitened coordinates beyond this are clipped before the network (far
# outside any data, where only the Gaussian term matters), and energies
# that overflow float64 are capped at its largest value.
_NETWORK_INPUT_LIMIT = 1e6
_MAX_ENERGY = np.finfo(np.float64).max
# The finest scale the training data resolve, in whitened units, is taken
# to be Scott's factor n ** (-1 / (d + 4)) (the bandwidth a Gaussian kernel
# density of n points in d dimensions would use). The noise of the denoising
# score matching criterion is this fraction of it, and step_size="auto" makes
# the Langevin noise per step, sqrt(step_size), this fraction of it: finer
# structure (many rows, few features) needs a sharper criterion and smaller
# moves, while few rows in many dimensions only support a smooth energy.
_DSM_NOISE_FRACTION = 1 / 8
_STEP_NOISE_FRACTION = 1 / 2.5
# An MLP learns the low frequencies of its target first (spectral bias,
# Rahaman et al. 2019): from PyTorch's default initialization, structure as
# fine as the resolution of many rows in few dimensions (the 0.05-wide rings
# of a 2-D toy) takes far longer to appear than the fit runs. The first
# layer's initial weights and biases are therefore scaled by this fraction of
# 1 / resolution (as Fourier features scale their frequencies, Tancik et al.
# 2020): about 3 for 5,000 rows in 2-D, about 1 (PyTorch's default) for
# 10,000 rows of 32 features.
_INIT_SCALE_FRACTION = 0.75


def _resolution_scale(n_samples, n_features):
    return n_samples ** (-1.0 / (n_features + 4))


# sample() runs this many times langevin_steps from the base distribution.
_SAMPLE_STEPS_FACTOR = 10


def _check_int_at_least(name, value, minimum, hint=""):
    """Raise ValueError unless ``value`` is an integer (not a bool) >= ``minimum``."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value!r}{hint}.")


class _ClampInUserUnits:
    """In-place clamp of whitened points to a box given in the user's units."""

    def __init__(self, clamp, forward, inverse, mean):
        self.lo, self.hi = clamp
        self.forward = forward
        self.inverse = inverse
        self.mean = mean

    def __call__(self, z):
        x = torch.addmm(self.mean, z, self.inverse).clamp_(self.lo, self.hi)
        z.copy_((x - self.mean) @ self.forward)


# torch's global generators are per process: fits in threads of one process
# (joblib's threading backend, an in-process Dask cluster) take turns, or
# each would draw from the others' seeded streams.
_GLOBAL_RNG_LOCK = threading.RLock()


@contextmanager
def isolated_rng(device, seed):
    """Seed torch's generators for ``device`` (and the CPU), restoring them on exit.

    Code inside (weight initialization, dropout, spectral norm's power
    iteration) may use torch's global generators; outside, nothing changes.
    Other threads entering it wait, so that each sees only its own seed.
    """
    with _GLOBAL_RNG_LOCK:
        with _seeded_global_rng(device, seed):
            yield


@contextmanager
def _seeded_global_rng(device, seed):
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index], device_type="cuda"):
            torch.default_generator.manual_seed(seed)
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
            yield
    elif device.type == "mps":
        with torch.random.fork_rng(device_type="mps"):
            torch.default_generator.manual_seed(seed)
            torch.mps.manual_seed(seed)
            yield
    else:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            yield


def _torch_seed(random_state):
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class BaseEnergyModel(BaseEstimator):
    """Base class of the energy-based estimators; see :class:`EnergyBasedModel`.

    It owns the parameters, the training loop over epochs, scoring, sampling
    and persistence; subclasses add the scikit-learn role (density estimator,
    outlier detector).
    """

    _parameter_constraints: dict = {
        "hidden_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "spectral_norm": ["boolean"],
        "reg_alpha": [Interval(Real, 0, None, closed="left")],
        "langevin_steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "noise_scale": [Interval(Real, 0, None, closed="left")],
        "clamp": [tuple, None],
        "sampler": [StrOptions({"mala", "langevin"})],
        "replay_buffer_size": [Interval(Integral, 0, None, closed="left")],
        "reinit_freq": [Interval(Real, 0, 1, closed="both")],
        "negative_fraction": [Interval(Real, 0, 1, closed="right")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
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

    def __init__(
        self,
        *,
        hidden_sizes=(256, 128),
        activation="silu",
        dropout=0.0,
        spectral_norm=False,
        reg_alpha=0.01,
        langevin_steps=10,
        step_size="auto",
        noise_scale=1.0,
        clamp=None,
        sampler="mala",
        replay_buffer_size=10000,
        reinit_freq=0.05,
        negative_fraction=1.0,
        max_iter=100,
        batch_size="auto",
        learning_rate=3e-3,
        weight_decay=0.1,
        ema_decay=0.99,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.spectral_norm = spectral_norm
        self.reg_alpha = reg_alpha
        self.langevin_steps = langevin_steps
        self.step_size = step_size
        self.noise_scale = noise_scale
        self.clamp = clamp
        self.sampler = sampler
        self.replay_buffer_size = replay_buffer_size
        self.reinit_freq = reinit_freq
        self.negative_fraction = negative_fraction
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ checks

    def _check_structure_params(self):
        sizes = self.hidden_sizes
        if (
            isinstance(sizes, str)
            or len(sizes) == 0
            or not all(isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in sizes)
        ):
            raise ValueError(
                f"hidden_sizes must be a non-empty sequence of positive integers, "
                f"got {sizes!r}; for example hidden_sizes=(256, 128)."
            )
        if self.clamp is not None:
            if len(self.clamp) != 2 or not all(isinstance(v, Real) for v in self.clamp) or not (
                self.clamp[0] < self.clamp[1]
            ):
                raise ValueError(
                    f"clamp must be None or a pair (lo, hi) of numbers with lo < hi, "
                    f"got {self.clamp!r}."
                )

    def _check_network_unchanged(self):
        # warm_start and partial_fit continue the fitted network: a changed
        # architecture cannot apply, and silently keeping the old one would
        # make get_params() describe a model that does not exist.
        fitted = self.network_.config()
        for name in ("hidden_sizes", "activation", "dropout", "spectral_norm"):
            wanted = tuple(getattr(self, name)) if name == "hidden_sizes" else getattr(self, name)
            if wanted != fitted[name]:
                raise ValueError(
                    f"{name} is {wanted!r} but the fitted network was built with {fitted[name]!r}; "
                    "warm_start and partial_fit continue the fitted network. Set "
                    f"warm_start=False (or call fit) to train a new one, or restore {name}."
                )

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
        self._fit(X)
        return self

    def _fit(self, X):
        """Train on ``X``; returns ``X`` as validated (float array).

        A fit that fails, for whatever reason, leaves the estimator as it was.
        """
        return self._keeping_state_on_failure(self._validated_fit, X)

    def _validated_fit(self, X, partial=False):
        self._check_structure_params()
        fitted = hasattr(self, "network_")
        continuing = fitted and (partial or self.warm_start)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=not continuing)
        early_stopping = self.early_stopping and not partial
        if early_stopping and X.shape[0] < 2:
            raise ValueError(
                "early_stopping needs at least 2 rows (one to validate on), got "
                "1 sample; pass more data or early_stopping=False."
            )
        if continuing:
            self._check_network_unchanged()
        device = resolve_device(self.device)
        seed = _torch_seed(self.random_state)
        if continuing:
            # Each continued fit draws fresh minibatches and Langevin noise,
            # reproducibly: reusing one seed would add the same noise to the
            # same persistent chains at every call, a drift that degrades the
            # model (rings NLL 2.58 -> 3.7 nats over 40 warm-started 5-epoch fits).
            seed = (seed + self.n_iter_) % np.iinfo(np.int32).max
        with isolated_rng(device, seed):
            state = self._fit_state(X, device, continuing, early_stopping)
            self._run_epochs(state, 1 if partial else self.max_iter, early_stopping, partial)
        return X

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
        # Fitted state is only stored once training succeeds; what
        # validate_data sets before that is put back on any failure.
        saved = {k: vars(self)[k] for k in ("n_features_in_", "feature_names_in_") if k in vars(self)}
        try:
            return train(X, **kwargs)
        except BaseException:
            vars(self).pop("n_features_in_", None)
            vars(self).pop("feature_names_in_", None)
            vars(self).update(saved)
            raise

    def _fit_state(self, X, device, continuing, early_stopping):
        """Everything training needs, fresh or taken over from the fitted model."""
        X = np.asarray(X, dtype=np.float64)
        whitening = self.whitening_ if continuing else fit_whitening(X)
        data = torch.as_tensor(whitening.transform(X), dtype=torch.float32, device=device)
        if not torch.isfinite(data).all():
            raise ValueError(
                "X spans too wide a range for float32 arithmetic after whitening; rescale X "
                "first, for example with sklearn.preprocessing.MaxAbsScaler."
            )
        n_val = 0
        if early_stopping:
            n_val = max(1, int(math.ceil(self.validation_fraction * len(data))))
            if n_val >= len(data):
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} of {len(data)} rows leaves "
                    "no rows to train on; lower validation_fraction or pass more data."
                )
        resolution = _resolution_scale(len(data) - n_val, data.shape[1])
        if continuing:
            # A copy, so that a fit that fails leaves the fitted model intact.
            model = GaussianBaseEnergy(copy.deepcopy(self.network_)).to(device)
            # Training continues from the trained weights, not their average.
            model.network.load_state_dict(self._training_weights)
        else:
            network = self._build_network(first_layer_scale=_INIT_SCALE_FRACTION / resolution)
            model = GaussianBaseEnergy(network).to(device)
        validation = None
        if early_stopping:
            order = torch.randperm(len(data), device=device)
            validation, data = data[order[:n_val]], data[order[n_val:]]
        monitor = validation if validation is not None else data[:2048]
        if self.step_size != "auto":
            step_size = self.step_size
        elif continuing:
            step_size = self.step_size_
        else:
            step_size = (_STEP_NOISE_FRACTION * resolution) ** 2
        optimizer = torch.optim.AdamW(
            model.network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        if continuing and getattr(self, "_optimizer_state", None) is not None:
            # A copy: Adam updates its state in place, and a failed fit must
            # not change the fitted model. The current learning_rate and
            # weight_decay apply (a 0.1.0 state was plain Adam's).
            optimizer.load_state_dict(copy.deepcopy(self._optimizer_state))
            for group in optimizer.param_groups:
                group.update(
                    lr=self.learning_rate, weight_decay=self.weight_decay, decoupled_weight_decay=True
                )
        buffer = self._continued_buffer(device) if continuing else None
        if buffer is None:
            buffer_size = self.replay_buffer_size or 0
            buffer = ReplayBuffer.from_normal(
                max(buffer_size, 1), X.shape[1], self.reinit_freq if buffer_size else 1.0, device=device
            )
        return {
            "whitening": whitening,
            "model": model,
            "data": data,
            "monitor": monitor,
            "monitor_noise": _DSM_NOISE_FRACTION * resolution * torch.randn_like(monitor),
            "step_size": step_size,
            "optimizer": optimizer,
            "buffer": buffer,
            "device": device,
            "continuing": continuing,
        }

    def _continued_buffer(self, device):
        # The persistent chains carry over only while replay_buffer_size
        # still asks for them; a changed size starts a fresh buffer.
        buffer = getattr(self, "_replay_buffer", None)
        # (A stored buffer has at least one chain, so size 0 never matches.)
        if buffer is None or buffer.chains.shape != (self.replay_buffer_size, self.n_features_in_):
            return None
        return ReplayBuffer(buffer.chains.clone(), self.reinit_freq).to(device)

    def _build_network(self, first_layer_scale=1.0):
        network = EnergyMLP(
            self.n_features_in_,
            hidden_sizes=tuple(self.hidden_sizes),
            activation=self.activation,
            dropout=self.dropout,
            spectral_norm=self.spectral_norm,
        )
        if not self.spectral_norm:
            # A zero output layer makes the untrained model the fitted Gaussian
            # (spectral normalization would divide the zero weight by zero,
            # and would undo the first layer's scale).
            first, *_, output = network.linear_layers()
            with torch.no_grad():
                first.weight.mul_(first_layer_scale)
                first.bias.mul_(first_layer_scale)
            torch.nn.init.zeros_(output.weight)
            torch.nn.init.zeros_(output.bias)
        return network

    def _langevin_settings(self, whitening, device, step_size):
        project = None
        if self.clamp is not None:
            as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
            project = _ClampInUserUnits(
                self.clamp, as_tensor(whitening.forward), as_tensor(whitening.inverse), as_tensor(whitening.mean)
            )
        return LangevinSettings(
            self.langevin_steps, step_size, self.noise_scale, project, metropolis=self.sampler == "mala"
        )

    def _batch_size(self, n_train):
        if self.batch_size == "auto":
            return min(256, max(16, n_train // 10))
        return self.batch_size

    def _run_epochs(self, state, max_epochs, early_stopping, partial=False):
        model, data = state["model"], state["data"]
        langevin = self._langevin_settings(state["whitening"], state["device"], state["step_size"])
        batch_size = min(self._batch_size(len(data)), len(data))
        averaged = None
        if self.ema_decay > 0:
            averaged = AveragedModel(
                model.network, multi_avg_fn=get_ema_multi_avg_fn(self.ema_decay), use_buffers=True
            )
            if state["continuing"]:
                # ... and the average continues from the fitted one.
                averaged.module.load_state_dict(self.network_.state_dict())
                averaged.n_averaged.fill_(1)
        scored = GaussianBaseEnergy(averaged.module if averaged is not None else model.network)

        losses, gaps, scores = [], [], []
        best_score, best_weights, since_best = -math.inf, None, 0
        # The average starts at the initial weights: until it has seen about
        # 1 / (1 - ema_decay) optimizer steps its score says little, so those
        # epochs neither count as candidates nor use up n_iter_no_change.
        warmup_epochs = 0
        if averaged is not None:
            steps_per_epoch = math.ceil(len(data) / batch_size)
            warmup_epochs = math.ceil(1.0 / (1.0 - self.ema_decay) / steps_per_epoch)
        reporter = EpochReporter(self.verbose, max_epochs)
        try:
            for epoch in range(max_epochs):
                try:
                    stats = train_epoch(
                        model,
                        state["optimizer"],
                        data,
                        state["buffer"],
                        batch_size=batch_size,
                        langevin=langevin,
                        reg_alpha=self.reg_alpha,
                        negative_fraction=self.negative_fraction,
                        averaged=averaged,
                    )
                except KeyboardInterrupt:
                    if not losses:
                        raise
                    warnings.warn(
                        f"fit was interrupted during epoch {epoch + 1}; the model keeps the "
                        f"weights of epoch {len(losses)}"
                        + (" (the best so far)." if early_stopping else "."),
                        UserWarning,
                    )
                    break
                losses.append(stats.loss)
                gaps.append(stats.energy_gap)
                scores.append(validation_score(scored, state["monitor"], state["monitor_noise"]))
                reporter.update(epoch, stats, scores[-1])
                if not all(map(math.isfinite, (stats.loss, stats.energy_gap, scores[-1]))):
                    raise FloatingPointError(
                        f"Training diverged at epoch {epoch + 1} (non-finite loss or energies); "
                        "lower learning_rate or step_size, or raise reg_alpha."
                    )
                last_weights = copy.deepcopy(scored.network.state_dict())
                if epoch + 1 < warmup_epochs:
                    continue
                if scores[-1] > best_score + self.tol:
                    best_score, since_best, best_weights = scores[-1], 0, last_weights
                else:
                    since_best += 1
                if early_stopping and since_best >= self.n_iter_no_change:
                    break
            else:
                # partial_fit runs one epoch whatever max_iter says.
                if since_best < self.n_iter_no_change and not partial:
                    warnings.warn(
                        f"Stopped at max_iter={self.max_iter} epochs while the fit was still "
                        "improving; raise max_iter for a better model.",
                        ConvergenceWarning,
                    )
        finally:
            reporter.close()
        if best_weights is None:  # max_iter ended within the warm-up
            best_score = scores[-1] if scores else best_score
        use_best = early_stopping and best_weights is not None
        scored.network.load_state_dict(best_weights if use_best else last_weights)
        state["model"], state["trained_network"] = scored, model.network
        self._store_fitted(state, losses, gaps, scores, best_score if early_stopping else None)

    def _store_fitted(self, state, losses, gaps, scores, best_score):
        continuing = state["continuing"]
        # A new network invalidates the cached partition function.
        self.log_partition_ = self.log_partition_stderr_ = None
        self.network_ = state["model"].network.eval()
        self._training_weights = copy.deepcopy(state["trained_network"].state_dict())
        self.device_ = state["device"]
        self.whitening_ = state["whitening"]
        self._optimizer_state = state["optimizer"].state_dict()
        self._replay_buffer = state["buffer"]
        self.step_size_ = state["step_size"]
        self.n_iter_ = len(losses) + (self.n_iter_ if continuing else 0)
        self.loss_curve_ = (self.loss_curve_ if continuing else []) + losses
        self.energy_gap_curve_ = (self.energy_gap_curve_ if continuing else []) + gaps
        if best_score is not None:
            self.validation_scores_ = (
                (self.validation_scores_ or []) if continuing else []
            ) + scores
            self.best_validation_score_ = best_score
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    # ------------------------------------------------------------- inference

    def _model(self):
        return GaussianBaseEnergy(self.network_).eval()

    def _whitened(self, X):
        return torch.as_tensor(self.whitening_.transform(X), dtype=torch.float32)

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
        """Energies in the user's units, float64, computed in bounded batches.

        The Gaussian term is computed in float64 and the network's input is
        clipped, so points however far from the data get large finite energies.
        """
        network = self._model().network
        out = np.empty(X.shape[0], dtype=np.float64)
        with torch.no_grad(), np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, X.shape[0], _INFERENCE_BATCH):
                z = self.whitening_.transform(np.asarray(X[start : start + _INFERENCE_BATCH], dtype=np.float64))
                z_network = torch.as_tensor(
                    np.clip(z, -_NETWORK_INPUT_LIMIT, _NETWORK_INPUT_LIMIT), dtype=torch.float32, device=self.device_
                )
                out[start : start + len(z)] = (
                    network(z_network)[:, 0].cpu().double().numpy() + 0.5 * np.einsum("ij,ij->i", z, z)
                )
            out -= self.whitening_.log_det
        np.nan_to_num(out, copy=False, nan=_MAX_ENERGY, posinf=_MAX_ENERGY)
        return out

    def log_partition(self, *, n_chains=512, n_temperatures="auto", random_state=None):
        """Estimate the model's log partition function by annealed importance sampling.

        ``log Z = log integral exp(-E(x)) dx`` over the whole space, in the
        units of the data passed to ``fit``, so that
        ``score_samples(X) - log Z`` is a normalized log-density. The energy
        is ``f(z) + ||z||^2 / 2`` in whitened coordinates, so the standard
        normal is a natural base: chains anneal from it to ``exp(-E)`` along
        the geometric path ``||z||^2 / 2 + beta * f(z)`` with
        Metropolis-adjusted Langevin moves (Neal 2001); see
        :func:`sklearn_ebm.ais_log_partition`. ``exp(-E)`` is always
        integrable, since ``f`` grows at most linearly.

        The first call of :meth:`EnergyBasedModel.score` caches the estimate
        with the default settings in ``log_partition_`` (and its standard
        error in ``log_partition_stderr_``).

        Parameters
        ----------
        n_chains : int, default=512
            Independent annealing chains.
        n_temperatures : int or "auto", default="auto"
            Intermediate distributions; "auto" is ``max(256, 8 * n_features_in_)``.
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
            n_temperatures = max(256, 8 * self.n_features_in_)
        _check_int_at_least("n_chains", n_chains, 2)
        _check_int_at_least("n_temperatures", n_temperatures, 2)
        seed = _torch_seed(self.random_state if random_state is None else random_state)
        generator = torch.Generator(device=self.device_).manual_seed(seed)
        return ais_log_partition(
            self._model(),
            self.n_features_in_,
            n_chains=n_chains,
            n_temperatures=n_temperatures,
            generator=generator,
            device=self.device_,
        )

    def _cached_log_partition(self):
        if getattr(self, "log_partition_", None) is None:
            self.log_partition_, self.log_partition_stderr_ = self.log_partition()
        return self.log_partition_

    def feature_contributions(self, X, n_steps=32):
        """Split each row's energy above the training mean among its features.

        Integrated gradients (Sundararajan et al. 2017) along the straight
        path from the reference point, the mean of the training data, to each
        row: ``contribution[i, j] = (x[i, j] - mean[j]) * average over the path
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
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        nodes = torch.as_tensor((nodes + 1) / 2, dtype=torch.float32, device=self.device_)
        weights = torch.as_tensor(weights / 2, dtype=torch.float32, device=self.device_)
        forward_t = torch.as_tensor(self.whitening_.forward.T, dtype=torch.float32, device=self.device_)
        model = self._model()
        rows_per_batch = max(1, _INFERENCE_BATCH // len(nodes))
        out = np.empty(X.shape, dtype=np.float64)
        with torch.no_grad():
            for start in range(0, X.shape[0], rows_per_batch):
                rows = np.asarray(X[start : start + rows_per_batch], dtype=np.float64)
                z = self._whitened(rows).to(self.device_)
                path = (nodes[:, None, None] * z).reshape(-1, z.shape[1])
                _, grad = model.energy_and_grad(path)
                mean_grad = (weights[:, None, None] * grad.reshape(len(nodes), *z.shape)).sum(0)
                out[start : start + len(rows)] = (mean_grad @ forward_t).cpu().double().numpy()
                out[start : start + len(rows)] *= rows - self.whitening_.mean
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
        seed = _torch_seed(self.random_state if random_state is None else random_state)
        generator = torch.Generator(device=self.device_).manual_seed(seed)
        model = self._model()
        langevin = self._langevin_settings(self.whitening_, self.device_, self.step_size_)
        out = np.empty((n_samples, self.n_features_in_), dtype=np.float64)
        for start in range(0, n_samples, _INFERENCE_BATCH):
            stop = min(start + _INFERENCE_BATCH, n_samples)
            z = torch.randn((stop - start, self.n_features_in_), generator=generator, device=self.device_)
            for _ in range(_SAMPLE_STEPS_FACTOR):
                z = draw_negatives(model, z, langevin, generator)
            out[start:stop] = self.whitening_.inverse_transform(z.cpu().double().numpy())
        if self.clamp is not None:
            np.clip(out, *self.clamp, out=out)
        return out

    # ------------------------------------------------------------ persistence

    def __getstate__(self):
        # The state holds numpy arrays and plain Python types, no torch
        # objects: spectrally normalized modules do not pickle, a model fitted
        # on a GPU must load on a machine without one, and skops.io stores
        # such a state securely, trusting only the estimator's own class.
        # Modules are stored as their build arguments and state dicts, the
        # device by its name, the whitening and replay buffer as dicts.
        from . import __version__

        state = dict(super().__getstate__())
        state["_sklearn_ebm_version"] = __version__
        if "network_" in state:
            state["network_"] = {
                "config": self.network_.config(),
                "state_dict": _to_numpy(self.network_.state_dict()),
            }
            state["device_"] = str(self.device_)
            state["whitening_"] = dict(vars(self.whitening_))
            state["_replay_buffer"] = {
                "chains": _to_numpy(self._replay_buffer.chains),
                "reinit_freq": self._replay_buffer.reinit_freq,
            }
            state["_optimizer_state"] = _to_numpy(self._optimizer_state)
            state["_training_weights"] = _to_numpy(self._training_weights)
        return state

    def __setstate__(self, state):
        # Also reads the states of 0.1.0, which held CPU tensors, a
        # ReplayBuffer, a Whitening and a torch.device.
        from ._whitening import Whitening

        state = dict(state)
        _check_saved_version(state.pop("_sklearn_ebm_version", "0.1.0"))
        # Parameters added since 0.1.0 take their defaults.
        state.setdefault("weight_decay", 0.1)
        state.setdefault("negative_fraction", 1.0)
        stored = state.get("network_")
        if isinstance(stored, dict):
            device = state["device_"]
            try:
                device = torch.device(resolve_device(device))
            except ValueError:
                warnings.warn(
                    f"This model was fitted on {device}, which is not available here; "
                    "it was loaded on the CPU.",
                    UserWarning,
                )
                device = torch.device("cpu")
            with torch.random.fork_rng(devices=[]):
                network = EnergyMLP(**stored["config"])
            network.load_state_dict(_to_tensor(stored["state_dict"]))
            buffer = state["_replay_buffer"]
            if isinstance(buffer, dict):
                buffer = ReplayBuffer(_to_tensor(buffer["chains"]), buffer["reinit_freq"])
            whitening = state["whitening_"]
            if isinstance(whitening, dict):
                whitening = Whitening(**whitening)
            # 0.1.0 had no step_size="auto": its step size was the parameter.
            state.setdefault("step_size_", state["step_size"])
            state = {
                **state,
                "device_": device,
                "network_": network.to(device).eval(),
                "whitening_": whitening,
                "_replay_buffer": buffer.to(device),
                "_optimizer_state": _to_tensor(state["_optimizer_state"]),
                "_training_weights": _to_tensor(state["_training_weights"]),
            }
        super().__setstate__(state)


def _check_saved_version(saved):
    """Warn when a model saved by another minor version of sklearn-ebm is loaded."""
    from . import __version__

    if str(saved).split(".")[:2] != __version__.split(".")[:2]:
        warnings.warn(
            f"This model was saved with sklearn-ebm {saved} and is loaded with sklearn-ebm "
            f"{__version__}: models load across the patch releases of one minor version "
            f"only, so it may fail or behave differently. Refit it with sklearn-ebm "
            f"{__version__}, or load it with sklearn-ebm {saved}.",
            UserWarning,
        )


def _to_numpy(obj):
    """Tensors (in dicts and lists) to numpy arrays on the CPU, copied."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy().copy()
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_numpy(v) for v in obj]
    return obj


def _to_tensor(obj):
    """The inverse of :func:`_to_numpy`: numpy arrays to CPU tensors, copied."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, torch.Tensor):  # states saved by 0.1.0
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_tensor(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_tensor(v) for v in obj]
    return obj
