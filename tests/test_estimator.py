"""EnergyBasedModel: API, fitted attributes, reproducibility, composition, errors, quality."""

import inspect
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, DensityMixin, clone
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sklearn_ebm import (
    EnergyBasedModel,
    ReplayBuffer,
    build_energy_network,
    resolve_device,
)


def numpy_state_equal(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def linear_widths(network):
    return [(m.in_features, m.out_features) for m in network.modules() if isinstance(m, nn.Linear)]


# ------------------------------------------------------------------ API


def test_is_a_density_estimator():
    model = EnergyBasedModel()
    assert isinstance(model, DensityMixin)
    assert isinstance(model, BaseEstimator)
    mro = EnergyBasedModel.__mro__
    assert mro.index(DensityMixin) < mro.index(BaseEstimator)
    # Its own score, not DensityMixin's placeholder.
    assert EnergyBasedModel.score is not DensityMixin.score


def test_score_is_normalized_mean_of_score_samples(fitted_model, X_small):
    # The estimator's own score runs (DensityMixin's returns None): the mean
    # log-likelihood, score_samples less the estimated log partition function.
    score = fitted_model.score(X_small)
    assert isinstance(score, float)
    assert np.isfinite(score)
    expected = np.mean(fitted_model.score_samples(X_small)) - fitted_model.log_partition_
    assert score == pytest.approx(expected, rel=1e-12)
    assert fitted_model.score(X_small, y=np.zeros(len(X_small))) == score


PARAMETER_NAMES = [
    "hidden_sizes", "activation", "dropout", "spectral_norm", "reg_alpha", "langevin_steps",
    "step_size", "noise_scale", "clamp", "max_iter", "batch_size", "learning_rate",
    "weight_decay", "device",
    "random_state", "verbose", "warm_start", "replay_buffer_size", "reinit_freq",
    "negative_fraction",
    "early_stopping", "validation_fraction", "n_iter_no_change", "tol",
]


def test_parameter_names():
    params = EnergyBasedModel().get_params()
    for name in PARAMETER_NAMES:
        assert name in params, name


def test_network_defaults_match_build_energy_network():
    params = EnergyBasedModel().get_params()
    assert tuple(params["hidden_sizes"]) == (256, 128)
    assert params["activation"] == "silu"
    assert params["dropout"] == 0.0
    assert params["spectral_norm"] is False
    assert params["reg_alpha"] == 0.01
    assert params["device"] == "auto"
    assert params["random_state"] is None
    assert params["warm_start"] is False
    builder = inspect.signature(build_energy_network).parameters
    for name in ("hidden_sizes", "activation", "dropout", "spectral_norm"):
        assert params[name] == builder[name].default, name


def test_init_stores_parameters_unchanged():
    sizes = [4, 3]
    model = EnergyBasedModel(hidden_sizes=sizes, device=torch.device("cpu"), clamp=(0.0, 1.0))
    params = model.get_params()
    assert params["hidden_sizes"] is sizes
    assert params["device"] == torch.device("cpu")
    assert params["clamp"] == (0.0, 1.0)


# ------------------------------------------------------------- fit & attrs


def test_not_fitted_errors():
    model = EnergyBasedModel()
    with pytest.raises(NotFittedError):
        model.score_samples(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        model.sample(2)


def test_fit_returns_self_and_sets_attributes(make_model, X_small):
    model = make_model(max_iter=4)
    assert model.fit(X_small) is model
    assert isinstance(model.network_, nn.Module)
    assert isinstance(model.device_, torch.device)
    assert model.device_ == resolve_device("auto")
    assert model.n_features_in_ == 3
    assert not hasattr(model, "feature_names_in_")
    assert model.n_iter_ == 4  # no early stopping in the fast configuration
    assert len(model.loss_curve_) == model.n_iter_
    assert len(model.energy_gap_curve_) == model.n_iter_
    assert all(np.isfinite(model.loss_curve_))
    assert all(np.isfinite(model.energy_gap_curve_))
    assert all(isinstance(v, float) for v in model.loss_curve_ + model.energy_gap_curve_)


def test_fitted_network_matches_hyperparameters(make_model, X_small):
    model = make_model(hidden_sizes=(6, 5), activation="tanh").fit(X_small)
    assert linear_widths(model.network_) == [(3, 6), (6, 5), (5, 1)]
    assert sum(isinstance(m, nn.Tanh) for m in model.network_.modules()) == 2
    model = make_model(spectral_norm=True, dropout=0.2).fit(X_small)
    linears = [m for m in model.network_.modules() if isinstance(m, nn.Linear)]
    assert all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in linears)
    assert any(isinstance(m, nn.Dropout) and m.p == 0.2 for m in model.network_.modules())


def test_training_changes_the_network(make_model, X_small):
    one = make_model(max_iter=1).fit(X_small)
    four = make_model(max_iter=4).fit(X_small)
    assert not np.allclose(one.score_samples(X_small), four.score_samples(X_small))


def test_score_samples_dtype_and_shape(fitted_model, X_small):
    scores = fitted_model.score_samples(X_small)
    assert isinstance(scores, np.ndarray)
    assert scores.dtype == np.float64
    assert scores.shape == (len(X_small),)
    assert np.all(np.isfinite(scores))
    single = fitted_model.score_samples(X_small[:1])
    assert single.shape == (1,)
    np.testing.assert_allclose(single, scores[:1], rtol=1e-5, atol=1e-5)


def test_score_samples_accepts_float32_and_lists(fitted_model, X_small):
    scores = fitted_model.score_samples(X_small)
    np.testing.assert_allclose(fitted_model.score_samples(X_small.astype(np.float32)), scores, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fitted_model.score_samples(X_small.tolist()), scores, rtol=1e-12)


def test_score_samples_row_independent(fitted_model, X_small):
    # Each row's score depends on that row only: order and batch do not matter.
    scores = fitted_model.score_samples(X_small)
    perm = np.random.RandomState(0).permutation(len(X_small))
    np.testing.assert_allclose(fitted_model.score_samples(X_small[perm]), scores[perm], rtol=1e-5, atol=1e-5)


def test_score_samples_does_not_modify_input(fitted_model, X_small):
    X = X_small.copy()
    fitted_model.score_samples(X)
    np.testing.assert_array_equal(X, X_small)


def test_affine_rescaling_shifts_scores_by_log_jacobian(make_model, X_small):
    # Inputs are standardized internally, so rescaled data gives the same
    # model; as a density in the new units the log density shifts by -sum(log c).
    c = np.array([3.0, 0.01, 50.0])
    b = np.array([-7.0, 2.0, 1e3])
    raw = make_model().fit(X_small)
    scaled = make_model().fit(X_small * c + b)
    diff = scaled.score_samples(X_small * c + b) - raw.score_samples(X_small)
    np.testing.assert_allclose(diff, -np.log(c).sum(), atol=1e-3)


def test_sample_shape_dtype_and_units(make_model):
    rng = np.random.RandomState(0)
    X = rng.randn(300, 2) * [10.0, 0.1] + [100.0, -5.0]
    model = make_model().fit(X)
    samples = model.sample(2000, random_state=0)
    assert samples.shape == (2000, 2)
    assert samples.dtype == np.float64
    assert np.all(np.isfinite(samples))
    # In the units of the data, feature by feature.
    mean, std = samples.mean(axis=0), samples.std(axis=0)
    assert abs(mean[0] - 100.0) < 2.0 and abs(mean[1] + 5.0) < 0.02
    np.testing.assert_allclose(std, [10.0, 0.1], rtol=0.2)
    assert model.sample().shape == (1, 2)


def test_sample_respects_clamp(make_model):
    rng = np.random.RandomState(0)
    X = rng.randn(200, 2)
    model = make_model(clamp=(-0.5, 0.75)).fit(X)
    samples = model.sample(500, random_state=0)
    assert samples.min() >= -0.5 and samples.max() <= 0.75
    assert samples.min() < 0.0 < samples.max()


@pytest.mark.parametrize("n_samples", [0, -3, 2.5, True, "4"])
def test_sample_rejects_bad_n_samples(fitted_model, n_samples):
    with pytest.raises((ValueError, TypeError)):
        fitted_model.sample(n_samples)


@pytest.mark.parametrize("base", ["gaussian", "mixture"])
def test_network_reads_the_leading_principal_directions(make_model, base):
    # 6 features on a 2-D plane plus noise, a network reading 2: the
    # whitened coordinates of the two largest principal components of the
    # standardized columns (the last two, eigenvalues ascending).
    rng = np.random.RandomState(0)
    X = rng.randn(300, 2) @ rng.randn(2, 6) + 0.1 * rng.randn(300, 6)
    model = make_model(max_network_inputs=2, base=base).fit(X)
    assert model.network_.input_size == 2
    z = model.whitening_.transform(X)
    # Row j of the inverse map, in standardized units, is sqrt(eigenvalue j) times its direction.
    root_eigenvalues = np.linalg.norm(model.whitening_.inverse / X.std(axis=0), axis=1)
    assert np.all(np.diff(root_eigenvalues) >= 0)
    assert root_eigenvalues[-2] > 5 * root_eigenvalues[-3]
    with torch.no_grad():
        inputs = torch.as_tensor(z[:, -2:], dtype=torch.float32, device=model.device_)
        network = model.network_(inputs)[:, 0].double().cpu().numpy()
    if base == "gaussian":
        expected = -(network + 0.5 * (z**2).sum(axis=1)) + model.whitening_.log_det
        np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-5, atol=1e-5)
    assert np.isfinite(model.score_samples(X)).all()
    assert model.sample(50, random_state=0).shape == (50, 6)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.score_samples(X), model.score_samples(X))


def test_contributions_and_log_partition_of_a_network_reading_the_leading_directions(make_model):
    # The gradient-based explanations and the AIS estimate of log Z go
    # through the same energy: contributions still sum to E(x) - E(mean).
    rng = np.random.RandomState(0)
    X = rng.randn(300, 2) @ rng.randn(2, 6) + 0.1 * rng.randn(300, 6)
    model = make_model(max_network_inputs=2).fit(X)
    energy_above_mean = model.score_samples(X.mean(axis=0, keepdims=True)) - model.score_samples(X[:5])
    np.testing.assert_allclose(np.asarray(model.feature_contributions(X[:5])).sum(axis=1), energy_above_mean, atol=1e-3)
    log_z, stderr = model.log_partition(random_state=0)
    assert np.isfinite(log_z) and stderr < 0.05


def test_max_network_inputs_none_or_large_reads_every_feature(make_model, X_small):
    assert make_model(max_network_inputs=None).fit(X_small).network_.input_size == 3
    assert make_model(max_network_inputs=3).fit(X_small).network_.input_size == 3
    assert make_model().fit(X_small).network_.input_size == 3


def test_samples_follow_the_base_where_the_network_does_not_read(make_model):
    # Whatever the network learns of the leading directions, the others of a
    # sample are exactly the fitted Gaussian's: standard normal once whitened.
    rng = np.random.RandomState(1)
    X = rng.randn(400, 5) * np.array([0.5, 1.0, 1.5, 2.0, 4.0])
    model = make_model(max_network_inputs=1, max_iter=3).fit(X)
    z = model.whitening_.transform(model.sample(4000, random_state=0))
    np.testing.assert_allclose(z[:, :4].mean(axis=0), 0.0, atol=0.1)
    np.testing.assert_allclose(z[:, :4].std(axis=0), 1.0, atol=0.1)


def test_warm_start_with_another_max_network_inputs_raises(make_model):
    X = np.random.RandomState(0).randn(100, 4)
    model = make_model(max_network_inputs=2, warm_start=True).fit(X)
    before = model.network_.state_dict()
    with pytest.raises(ValueError, match="max_network_inputs=3 gives a network reading 3"):
        model.set_params(max_network_inputs=3).fit(X)
    assert model.network_.input_size == 2
    assert all(torch.equal(before[k], v) for k, v in model.network_.state_dict().items())


def test_whitening_of_many_rows_is_fitted_on_evenly_spaced_ones(make_model, monkeypatch):
    # Beyond 100,000 rows (50 here) the whitening's mean and covariance come
    # from every k-th row; the network still trains on all of them.
    from sklearn_ebm import _fit_setup
    from sklearn_ebm._whitening import fit_whitening

    monkeypatch.setattr(_fit_setup, "_MAX_WHITENING_ROWS", 50)
    X = np.random.RandomState(4).randn(200, 3) @ np.array([[1.0, 0.3, 0.0], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]])
    model = make_model(discrete_columns=None).fit(X)
    expected = fit_whitening(X[::4])
    np.testing.assert_array_equal(model.whitening_.mean, expected.mean)
    np.testing.assert_array_equal(model.whitening_.forward, expected.forward)
    assert not np.allclose(model.whitening_.mean, fit_whitening(X).mean)


# ----------------------------------------------------------- reproducibility


def test_same_seed_same_results(make_model, X_small):
    a = make_model(random_state=7).fit(X_small)
    b = make_model(random_state=7).fit(X_small)
    np.testing.assert_array_equal(a.score_samples(X_small), b.score_samples(X_small))
    np.testing.assert_array_equal(a.sample(30, random_state=1), b.sample(30, random_state=1))
    np.testing.assert_array_equal(a.sample(30), b.sample(30))  # the estimator's own seed
    assert a.loss_curve_ == b.loss_curve_


def test_different_seeds_differ(make_model, X_small):
    a = make_model(random_state=1).fit(X_small)
    b = make_model(random_state=2).fit(X_small)
    assert not np.array_equal(a.score_samples(X_small), b.score_samples(X_small))
    assert not np.array_equal(a.sample(30, random_state=1), a.sample(30, random_state=2))


def test_refit_is_idempotent(make_model, X_small):
    model = make_model(random_state=3)
    first = model.fit(X_small).score_samples(X_small)
    second = model.fit(X_small).score_samples(X_small)
    np.testing.assert_array_equal(first, second)
    assert model.n_iter_ == model.max_iter


def test_dropout_with_int_seed_is_reproducible(make_model, X_small):
    a = make_model(dropout=0.3, random_state=5).fit(X_small)
    b = make_model(dropout=0.3, random_state=5).fit(X_small)
    np.testing.assert_array_equal(a.score_samples(X_small), b.score_samples(X_small))
    np.testing.assert_array_equal(a.sample(20, random_state=0), b.sample(20, random_state=0))


def test_int_seed_leaves_global_rngs_untouched(make_model, X_small):
    torch.manual_seed(1234)
    np.random.seed(1234)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()
    model = make_model(random_state=0).fit(X_small)
    model.sample(10)
    model.sample(10, random_state=3)
    model.score_samples(X_small)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert numpy_state_equal(np.random.get_state(), numpy_state)


def test_none_seed_uses_numpy_global_but_not_torch(make_model, X_small):
    np.random.seed(0)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()
    model = make_model(random_state=None).fit(X_small)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert not numpy_state_equal(np.random.get_state(), numpy_state)
    numpy_state = np.random.get_state()
    model.sample(5)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert not numpy_state_equal(np.random.get_state(), numpy_state)
    # ... so seeding numpy's global generator makes random_state=None reproducible.
    np.random.seed(42)
    a = make_model(random_state=None).fit(X_small).score_samples(X_small)
    np.random.seed(42)
    b = make_model(random_state=None).fit(X_small).score_samples(X_small)
    np.testing.assert_array_equal(a, b)


def test_random_state_instance_is_accepted(make_model, X_small):
    a = make_model(random_state=np.random.RandomState(3)).fit(X_small)
    b = make_model(random_state=np.random.RandomState(3)).fit(X_small)
    np.testing.assert_array_equal(a.score_samples(X_small), b.score_samples(X_small))


def test_scores_deterministic_with_dropout(make_model, X_small):
    model = make_model(dropout=0.5).fit(X_small)
    first = model.score_samples(X_small)
    np.testing.assert_array_equal(model.score_samples(X_small), first)


def test_sample_leaves_network_in_eval_mode(make_model, X_small):
    # Dropout must stay off at inference: drawing samples must not switch the
    # fitted network back to training mode (else score_samples turns random).
    model = make_model(dropout=0.5).fit(X_small)
    before = model.score_samples(X_small)
    assert not model.network_.training
    model.sample(5, random_state=0)
    assert not model.network_.training
    np.testing.assert_array_equal(model.score_samples(X_small), before)
    np.testing.assert_array_equal(model.score_samples(X_small), before)


# -------------------------------------------------------- set_params, warm start


def test_set_params_then_refit_changes_network(make_model, X_small):
    model = make_model(hidden_sizes=(8,)).fit(X_small)
    assert linear_widths(model.network_) == [(3, 8), (8, 1)]
    model.set_params(hidden_sizes=(5, 4), activation="relu")
    model.fit(X_small)
    assert linear_widths(model.network_) == [(3, 5), (5, 4), (4, 1)]
    assert any(isinstance(m, nn.ReLU) for m in model.network_.modules())
    assert model.n_iter_ == model.max_iter
    assert len(model.loss_curve_) == model.max_iter


def test_refit_on_new_feature_count(make_model, X_small):
    model = make_model().fit(X_small)
    model.fit(X_small[:, :2])
    assert model.n_features_in_ == 2
    # Two features: the network reads 64 Fourier frequencies besides them.
    assert linear_widths(model.network_)[0] == (2 * 64 + 2, 8)
    assert model.sample(3, random_state=0).shape == (3, 2)


def test_warm_start_continues_training(make_model, X_small):
    # Training continues from the trained weights (network_ holds their average).
    model = make_model(warm_start=True, max_iter=2).fit(X_small)
    assert model.n_iter_ == 2
    end_of_first = {k: v.detach().clone() for k, v in model._training_weights.items()}
    first_curve = list(model.loss_curve_)

    start_of_second = []

    def record(module, args):
        if not start_of_second:
            start_of_second.append({k: v.detach().clone() for k, v in module.state_dict().items()})

    handle = model.network_.register_forward_pre_hook(record)
    try:
        model.fit(X_small)
    finally:
        handle.remove()
    assert start_of_second, "the second fit did not train the fitted network"
    assert start_of_second[0].keys() == end_of_first.keys()
    for name, value in end_of_first.items():
        torch.testing.assert_close(start_of_second[0][name], value, rtol=0, atol=0, msg=name)
    assert model.n_iter_ == 4
    assert len(model.loss_curve_) == 4 and model.loss_curve_[:2] == first_curve
    assert len(model.energy_gap_curve_) == 4
    changed = any(
        not torch.equal(v, end_of_first[k]) for k, v in model.network_.state_dict().items()
    )
    assert changed, "the second fit did not update the weights"


def test_warm_start_differs_from_cold_refit(make_model, X_small):
    warm = make_model(warm_start=True, max_iter=2).fit(X_small).fit(X_small)
    cold = make_model(warm_start=False, max_iter=2).fit(X_small).fit(X_small)
    once = make_model(max_iter=2).fit(X_small)
    assert cold.n_iter_ == 2
    np.testing.assert_array_equal(cold.score_samples(X_small), once.score_samples(X_small))
    assert not np.allclose(warm.score_samples(X_small), once.score_samples(X_small))


def test_warm_start_fits_draw_fresh_randomness(make_model, X_small, monkeypatch):
    # With an integer random_state, each continued fit must not replay the
    # first fit's minibatches and Langevin noise on the same chains; the
    # sequence of fits stays reproducible.
    from sklearn_ebm import _base

    seeds = []
    isolated_rng = _base.isolated_rng

    def recording(device, seed):
        seeds.append(seed)
        return isolated_rng(device, seed)

    monkeypatch.setattr(_base, "isolated_rng", recording)
    runs = []
    for _ in range(2):
        model = make_model(warm_start=True, max_iter=1, random_state=0)
        seeds.clear()
        model.fit(X_small).fit(X_small).fit(X_small)
        runs.append((list(seeds), model.score_samples(X_small)))
    (fit_seeds, scores), (fit_seeds_again, scores_again) = runs
    assert len(set(fit_seeds)) == 3
    assert fit_seeds == fit_seeds_again
    np.testing.assert_array_equal(scores, scores_again)


def test_warm_start_with_early_stopping_accumulates(make_model, X_small):
    model = make_model(warm_start=True, early_stopping=True, max_iter=2).fit(X_small)
    first = model.n_iter_
    model.fit(X_small)
    assert model.n_iter_ == first + 2
    assert len(model.loss_curve_) == model.n_iter_
    assert len(model.validation_scores_) == model.n_iter_


def test_warm_start_rejects_new_feature_count(make_model, X_small):
    model = make_model(warm_start=True).fit(X_small)
    with pytest.raises(ValueError, match="features"):
        model.fit(X_small[:, :2])


@pytest.mark.parametrize(
    "change",
    [
        {"hidden_sizes": (8, 8)},
        {"activation": "tanh"},
        {"dropout": 0.5},
        {"spectral_norm": True},
        {"fourier_features": 4},
        {"fourier_scale": 0.25},
    ],
    ids=lambda c: next(iter(c)),
)
@pytest.mark.parametrize("continue_with", ["warm_start", "partial_fit"])
def test_continued_fit_rejects_a_changed_network(make_model, X_small, change, continue_with):
    # The fitted network cannot take a new architecture; the error names the
    # parameter and the fix, and the fitted model is left as it was.
    model = make_model(hidden_sizes=(16,)).fit(X_small)
    scores = model.score_samples(X_small)
    model.set_params(warm_start=True, **change)
    name = next(iter(change))
    with pytest.raises(ValueError, match=rf"{name} is .* fitted network was built with .*warm_start=False"):
        model.fit(X_small) if continue_with == "warm_start" else model.partial_fit(X_small)
    np.testing.assert_array_equal(model.score_samples(X_small), scores)
    # A cold fit builds the new network.
    model.set_params(warm_start=False).fit(X_small)
    assert model.network_.config()[name] == (change[name] if name != "hidden_sizes" else (8, 8))


def test_continued_fits_follow_replay_buffer_size(make_model, X_small):
    # replay_buffer_size=0 restarts every chain at every draw, in continued
    # fits too; a changed size starts a fresh buffer of that size.
    model = make_model(replay_buffer_size=0)
    model.partial_fit(X_small)
    model.partial_fit(X_small)
    assert model._replay_buffer.chains.shape == (1, 3) and model._replay_buffer.reinit_freq == 1.0
    model.set_params(replay_buffer_size=50, warm_start=True).fit(X_small)
    assert model._replay_buffer.chains.shape == (50, 3)
    assert model._replay_buffer.reinit_freq == model.reinit_freq
    model.set_params(replay_buffer_size=0).fit(X_small)
    assert model._replay_buffer.chains.shape == (1, 3) and model._replay_buffer.reinit_freq == 1.0


def test_partial_fit_does_not_warn_about_max_iter(make_model, X_small):
    # partial_fit runs one epoch whatever max_iter is.
    model = make_model(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.partial_fit(X_small)
        model.partial_fit(X_small)
    assert model.n_iter_ == 2
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        make_model(max_iter=1, early_stopping=False).fit(X_small)


def test_clone_is_unfitted_with_same_params(fitted_model):
    copy = clone(fitted_model)
    assert copy is not fitted_model
    assert copy.get_params() == fitted_model.get_params()
    for attr in ("network_", "device_", "n_features_in_", "n_iter_", "loss_curve_"):
        assert not hasattr(copy, attr)


def test_device_param_not_rewritten_by_fit(make_model, X_small):
    model = make_model(device="auto").fit(X_small)
    assert model.get_params()["device"] == "auto"
    assert isinstance(model.device_, torch.device)


# ----------------------------------------------------------- early stopping


def test_early_stopping_stops_and_restores_best(make_model, X_small):
    # After the first epoch (the first candidate) no epoch can improve by
    # tol=1e9: training stops n_iter_no_change epochs later and restores the
    # weights of the first epoch.
    # Without weight averaging there is no warm-up: epoch 1 is the first candidate.
    model = make_model(early_stopping=True, tol=1e9, n_iter_no_change=2, max_iter=10, ema_decay=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping early is not "unconverged"
        model.fit(X_small)
    assert model.n_iter_ == 3
    assert len(model.loss_curve_) == 3
    assert len(model.validation_scores_) == 3
    assert model.best_validation_score_ == model.validation_scores_[0]
    one_epoch = make_model(early_stopping=True, max_iter=1, ema_decay=0.0).fit(X_small)
    np.testing.assert_allclose(model.score_samples(X_small), one_epoch.score_samples(X_small), rtol=1e-6)


def test_weight_average_warms_up_before_early_stopping(make_model, X_small):
    # 72 training rows in batches of 32: 3 steps an epoch, so the average of
    # ema_decay=0.9 (10 steps) warms up for 4 epochs, which do not count.
    model = make_model(early_stopping=True, tol=1e9, n_iter_no_change=2, max_iter=20, ema_decay=0.9)
    model.fit(X_small)
    assert model.n_iter_ == 4 + 2
    assert model.best_validation_score_ == model.validation_scores_[3]


def test_validation_scores_attributes(make_model, X_small):
    model = make_model(early_stopping=True, max_iter=3).fit(X_small)
    assert len(model.validation_scores_) == model.n_iter_
    assert all(np.isfinite(model.validation_scores_))
    assert model.best_validation_score_ >= max(model.validation_scores_) - model.tol
    model = make_model(early_stopping=False).fit(X_small)
    assert model.validation_scores_ is None
    assert model.best_validation_score_ is None


def test_convergence_warning_at_max_iter(make_model, X_small):
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        make_model(max_iter=2).fit(X_small)


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_large_validation_fraction(make_model, fraction):
    # Holding out ceil(fraction * n) rows of 5 can leave nothing to train on:
    # either fit anyway or say which parameter is to blame.
    X = np.random.RandomState(0).randn(5, 2)
    model = make_model(early_stopping=True, validation_fraction=fraction)
    try:
        model.fit(X)
    except ValueError as exc:
        assert "validation_fraction" in str(exc)
    else:
        assert np.all(np.isfinite(model.score_samples(X)))


def test_verbose_prints_epochs(make_model, X_small, capsys):
    make_model(verbose=2, max_iter=2).fit(X_small)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    make_model(verbose=0, max_iter=2).fit(X_small)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("buffer_size", [0, 1])
def test_tiny_or_no_replay_buffer(make_model, X_small, buffer_size):
    model = make_model(replay_buffer_size=buffer_size).fit(X_small)
    assert np.all(np.isfinite(model.score_samples(X_small)))


# --------------------------------------------------------------- composition


def test_pipeline_with_scaler(make_model, X_small):
    pipe = make_pipeline(StandardScaler(), make_model())
    pipe.fit(X_small)
    scores = pipe.score_samples(X_small)
    assert scores.shape == (len(X_small),)
    manual = make_model().fit(StandardScaler().fit_transform(X_small))
    np.testing.assert_allclose(scores, manual.score_samples(StandardScaler().fit(X_small).transform(X_small)), rtol=1e-6)
    assert pipe.score(X_small) == pytest.approx(scores.mean() - pipe[-1].log_partition_)
    assert isinstance(pipe, Pipeline)


def test_grid_search_with_default_score(make_model, X_small):
    cv = KFold(n_splits=2, shuffle=True, random_state=0)
    grid = GridSearchCV(make_model(), {"reg_alpha": [0.0, 0.5]}, cv=cv, n_jobs=2)
    grid.fit(X_small)
    assert grid.best_params_["reg_alpha"] in (0.0, 0.5)
    assert hasattr(grid.best_estimator_, "network_")
    means = grid.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(means))
    # The default scorer is the estimator's score: recompute it by hand.
    for alpha, mean in zip(grid.cv_results_["param_reg_alpha"], means):
        folds = [
            make_model(reg_alpha=alpha).fit(X_small[train]).score(X_small[test])
            for train, test in cv.split(X_small)
        ]
        assert mean == pytest.approx(np.mean(folds), rel=1e-5)
    assert grid.best_params_["reg_alpha"] == grid.cv_results_["param_reg_alpha"][np.argmax(means)]


# ------------------------------------------------------------------ DataFrames


def test_dataframe_feature_names(make_model, X_small):
    df = pd.DataFrame(X_small, columns=["height", "weight", "age"])
    model = make_model().fit(df)
    np.testing.assert_array_equal(model.feature_names_in_, ["height", "weight", "age"])
    scores = model.score_samples(df)
    np.testing.assert_allclose(scores, make_model().fit(X_small).score_samples(X_small), rtol=1e-6)
    with pytest.warns(UserWarning, match="feature names"):
        model.score_samples(X_small)
    with pytest.raises(ValueError, match="feature names"):
        model.score_samples(df[["weight", "height", "age"]])
    with pytest.raises(ValueError, match="feature names"):
        model.score_samples(df.rename(columns={"age": "years"}))


def test_array_fit_then_dataframe_warns(make_model, X_small):
    model = make_model().fit(X_small)
    assert not hasattr(model, "feature_names_in_")
    with pytest.warns(UserWarning, match="feature names"):
        model.score_samples(pd.DataFrame(X_small, columns=["a", "b", "c"]))


def test_integer_column_names_not_recorded(make_model, X_small):
    model = make_model().fit(pd.DataFrame(X_small))
    assert not hasattr(model, "feature_names_in_")


# ----------------------------------------------------------------- bad input


def _with(X, value):
    X = X.copy()
    X[3, 1] = value
    return X


@pytest.mark.parametrize(
    "make_bad, match",
    [
        (lambda X: _with(X, np.nan), "NaN"),
        (lambda X: _with(X, np.inf), "infinity"),
        (lambda X: _with(X, -np.inf), "infinity"),
        (lambda X: X[:0], "0 sample"),
        (lambda X: X[:, :0], "0 feature"),
        (lambda X: X[:, 0], "2D array"),
    ],
    ids=["nan", "inf", "-inf", "empty-rows", "empty-columns", "1d"],
)
def test_bad_input_errors(make_model, X_small, make_bad, match):
    with pytest.raises(ValueError, match=match):
        make_model().fit(make_bad(X_small))
    fitted = make_model().fit(X_small)
    with pytest.raises(ValueError, match=match):
        fitted.score_samples(make_bad(X_small))


def test_wrong_feature_count(fitted_model, X_small):
    with pytest.raises(ValueError, match="3 features"):
        fitted_model.score_samples(X_small[:, :2])
    with pytest.raises(ValueError, match="3 features"):
        fitted_model.score(np.hstack([X_small, X_small]))


def test_single_row_with_early_stopping(make_model, X_small):
    with pytest.raises(ValueError, match="1 sample"):
        make_model(early_stopping=True).fit(X_small[:1])
    model = make_model(early_stopping=False).fit(X_small[:1])
    assert np.all(np.isfinite(model.score_samples(X_small)))


@pytest.mark.parametrize(
    "params",
    [
        {"activation": "swish"},
        {"hidden_sizes": ()},
        {"hidden_sizes": (8, 0)},
        {"hidden_sizes": "64"},
        {"dropout": 1.0},
        {"reg_alpha": -1.0},
        {"langevin_steps": 0},
        {"step_size": 0.0},
        {"clamp": (1.0, 0.0)},
        {"clamp": (0.0, 1.0, 2.0)},
        {"max_iter": 0},
        {"max_samples": 0},
        {"max_samples": 0.5},
        {"objective": "ml"},
        {"batch_size": 0},
        {"learning_rate": 0.0},
        {"reinit_freq": 1.5},
        {"validation_fraction": 1.0},
        {"device": "not-a-device"},
    ],
)
def test_invalid_parameters(make_model, X_small, params):
    with pytest.raises(ValueError):
        make_model(**params).fit(X_small)


# ------------------------------------------------------------------- quality


def test_data_scores_higher_than_far_points(make_model):
    rng = np.random.RandomState(0)
    X = rng.randn(200, 2) * [1.0, 3.0] + [5.0, -2.0]
    model = make_model(max_iter=5).fit(X)
    far = np.array([[50.0, 50.0], [-40.0, 0.0], [5.0, 60.0], [25.0, -2.0]])
    assert model.score_samples(X).min() > model.score_samples(far).max()


def _moons_and_gap():
    t = np.linspace(0, np.pi, 50)
    on_moons = np.r_[np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)]]
    grid = np.stack(np.meshgrid(np.linspace(-0.2, 1.2, 29), np.linspace(-0.3, 0.8, 23)), -1).reshape(-1, 2)
    distance = np.min(np.linalg.norm(grid[:, None] - on_moons[None], axis=2), axis=1)
    # The gap between the moons, around the data's mean: a Gaussian fitted to
    # the moons scores it above the moons themselves; only a model that learnt
    # the shape scores it below.
    gap = grid[distance > 0.35]
    return on_moons, gap


@pytest.mark.parametrize("seed", [0, 1])
def test_moons_score_higher_than_the_gap(seed):
    # Verified for seeds 0..4: margin of about 1 nat between the means.
    X, _ = make_moons(n_samples=400, noise=0.05, random_state=seed)
    model = EnergyBasedModel(
        hidden_sizes=(64, 64), max_iter=80, batch_size=64, early_stopping=False, random_state=seed,
    ).fit(X)
    on_moons, gap = _moons_and_gap()
    on, off = model.score_samples(on_moons), model.score_samples(gap)
    assert on.mean() > off.mean() + 0.5
    assert np.median(on) > np.quantile(off, 0.75)


def test_moons_learnt_with_default_training_settings():
    # Default optimisation settings (only a smaller network): early stopping
    # must not give up before the model has learnt anything and return the
    # untrained Gaussian, which scores the gap above the moons.
    X, _ = make_moons(n_samples=1000, noise=0.05, random_state=0)
    model = EnergyBasedModel(hidden_sizes=(32, 32), random_state=0).fit(X)
    on_moons, gap = _moons_and_gap()
    assert model.score_samples(on_moons).mean() > model.score_samples(gap).mean()


def test_auto_step_size_follows_the_data_resolution(make_model):
    # Scott's factor h = n ** (-1 / (d + 4)) of the rows trained on (after the
    # validation split); the auto step makes one step's noise h / 2.5.
    X2 = np.random.RandomState(0).randn(1000, 2)
    X16 = np.random.RandomState(0).randn(1000, 16)
    low_d = make_model(validation_fraction=0.1, early_stopping=True).fit(X2)
    high_d = make_model(validation_fraction=0.1, early_stopping=True).fit(X16)
    assert low_d.step_size_ == pytest.approx((900 ** (-1 / 6) / 2.5) ** 2)
    assert high_d.step_size_ == pytest.approx((900 ** (-1 / 20) / 2.5) ** 2)
    assert low_d.step_size_ < high_d.step_size_
    # A number is used as given, and a warm start keeps the step it had.
    assert make_model(step_size=0.05).fit(X2).step_size_ == 0.05
    step = low_d.step_size_
    low_d.set_params(warm_start=True).fit(X2[:500])
    assert low_d.step_size_ == step


def test_first_layer_initialization_follows_the_data_resolution(make_model, monkeypatch):
    # PyTorch initializes a Linear layer's weights uniformly in +-1/sqrt(d);
    # the first layer starts 0.75 / h times wider (h as above), so that it
    # resolves structure at the data's scale from the start.
    # (Fourier features set their own scale: the plain MLP is checked.)
    from sklearn_ebm import _base

    initial = []
    run_training = _base.run_training

    def recording(state, schedule):
        initial.append(state.model.network.linear_layers()[0].weight.detach().clone())
        return run_training(state, schedule)

    monkeypatch.setattr(_base, "run_training", recording)
    for n, d in [(900, 2), (900, 16), (100, 16)]:
        initial.clear()
        make_model(hidden_sizes=(64,), fourier_features=0).fit(np.random.RandomState(0).randn(n, d))
        bound = 0.75 / n ** (-1 / (d + 4)) / np.sqrt(d)
        largest = float(initial[0].abs().max())
        assert 0.9 * bound < largest <= bound
    # A warm start keeps the trained weights.
    model = make_model(hidden_sizes=(64,), warm_start=True).fit(np.random.RandomState(0).randn(900, 2))
    trained = model._training_weights["layers.0.weight"].clone()
    initial.clear()
    model.fit(np.random.RandomState(1).randn(900, 2))
    torch.testing.assert_close(initial[0].cpu(), trained.cpu(), rtol=0, atol=0)


def test_training_uses_decoupled_weight_decay(make_model, X_small):
    # AdamW with the parameters; weight_decay=0 trains as plain Adam.
    model = make_model(learning_rate=0.02, weight_decay=0.3).fit(X_small)
    for group in model._optimizer_state["param_groups"]:
        assert group["decoupled_weight_decay"]
        assert (group["lr"], group["weight_decay"]) == (0.02, 0.3)
    adam = make_model(weight_decay=0.0).fit(X_small)
    decayed = make_model().fit(X_small)
    assert not np.allclose(adam.score_samples(X_small), decayed.score_samples(X_small))
    # A warm start applies the current weight_decay.
    model.set_params(warm_start=True, weight_decay=0.05).fit(X_small)
    assert all(g["weight_decay"] == 0.05 for g in model._optimizer_state["param_groups"])


def test_negative_fraction_sets_the_chains_advanced_per_minibatch(make_model, X_small, monkeypatch):
    drawn = []
    original = ReplayBuffer.draw

    def recording(self, n_chains, generator=None):
        drawn.append(n_chains)
        return original(self, n_chains, generator)

    monkeypatch.setattr(ReplayBuffer, "draw", recording)
    # 80 rows, no validation split: minibatches of 32, 32 and 16 rows.
    params = dict(batch_size=32, max_iter=1, early_stopping=False)
    full = make_model(**params).fit(X_small)
    assert drawn == [32, 32, 16]
    drawn.clear()
    half = make_model(negative_fraction=0.5, **params).fit(X_small)
    assert drawn == [16, 16, 8]
    assert not np.allclose(full.score_samples(X_small), half.score_samples(X_small))
    drawn.clear()
    make_model(negative_fraction=0.01, **params).fit(X_small)
    assert drawn == [1, 1, 1]
    # 0.14 * 50 is 7.000000000000001 in floating point: still 7 chains.
    drawn.clear()
    make_model(negative_fraction=0.14, batch_size=50, max_iter=1, early_stopping=False).fit(X_small)
    assert drawn == [7, 5]


def test_max_samples_sets_the_rows_of_an_epoch(make_model, X_small, monkeypatch):
    drawn = []
    original = ReplayBuffer.draw

    def recording(self, n_chains, generator=None):
        drawn.append(n_chains)
        return original(self, n_chains, generator)

    monkeypatch.setattr(ReplayBuffer, "draw", recording)
    # 80 rows, no validation split, minibatches of 16: an epoch of 40 rows
    # is three minibatches (16, 16, 8), against five for a full pass.
    params = dict(batch_size=16, max_iter=3, early_stopping=False)
    model = make_model(max_samples=40, **params).fit(X_small)
    assert drawn == [16, 16, 8] * 3
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
    drawn.clear()
    make_model(max_samples=None, **params).fit(X_small)
    assert drawn == [16] * 15
    # partial_fit passes over all of the chunk it is given.
    drawn.clear()
    make_model(max_samples=40, **params).partial_fit(X_small)
    assert drawn == [16] * 5


def test_max_samples_beyond_the_rows_is_a_full_pass(make_model, X_small):
    params = dict(max_iter=3, early_stopping=True, random_state=0)
    full = make_model(max_samples=None, **params).fit(X_small)
    capped = make_model(max_samples=len(X_small), **params).fit(X_small)
    np.testing.assert_array_equal(full.score_samples(X_small), capped.score_samples(X_small))
    smaller = make_model(max_samples=len(X_small) // 3, **params).fit(X_small)
    assert not np.allclose(full.score_samples(X_small), smaller.score_samples(X_small))


@pytest.mark.parametrize("base", ["gaussian", "mixture"])
def test_nce_trains_against_base_draws_without_the_sampler(make_model, X_small, base, monkeypatch):
    import sklearn_ebm._training as training_module

    def no_sampler(*args, **kwargs):
        raise AssertionError("objective='nce' must not run the Langevin sampler in training")

    monkeypatch.setattr(training_module, "draw_negatives", no_sampler)
    with pytest.raises(AssertionError, match="must not run"):
        make_model(objective="cd", base=base, max_iter=1).fit(X_small)
    losses = []
    original = training_module.noise_contrastive_loss

    def recording(real, noise, reg_alpha):
        losses.append((len(real), len(noise)))
        return original(real, noise, reg_alpha)

    monkeypatch.setattr(training_module, "_LOSSES", {"nce": recording})
    # 80 rows, no validation split, minibatches of 32, half as many base draws.
    model = make_model(
        objective="nce", base=base, batch_size=32, negative_fraction=0.5, max_iter=2, early_stopping=False
    ).fit(X_small)
    assert losses == [(32, 16), (32, 16), (16, 8)] * 2
    chains = model._replay_buffer.chains
    assert torch.equal(chains, make_model(objective="nce", base=base, max_iter=1).fit(X_small)._replay_buffer.chains)


def test_auto_objective_is_nce_over_a_fitted_mixture(make_model, X_small):
    rng = np.random.RandomState(0)
    clusters = np.r_[rng.randn(150, 3) * 0.3 - 2.0, rng.randn(150, 3) * 0.3 + 2.0]
    over_mixture = make_model().fit(clusters)
    assert over_mixture.base_ is not None and over_mixture.objective_ == "nce"
    # Gaussian rows: "auto" keeps the Gaussian base, and contrastive divergence.
    over_gaussian = make_model().fit(X_small)
    assert over_gaussian.base_ is None and over_gaussian.objective_ == "cd"
    assert make_model(base="gaussian").fit(clusters).objective_ == "cd"
    # An explicit objective is kept whatever the base.
    assert make_model(objective="cd").fit(clusters).objective_ == "cd"
    assert make_model(objective="nce").fit(X_small).objective_ == "nce"
    # The resolved objective is the one trained with: the same fit as "nce".
    explicit = make_model(objective="nce").fit(clusters)
    np.testing.assert_array_equal(over_mixture.loss_curve_, explicit.loss_curve_)


@pytest.mark.parametrize("seed", [0, 1])
def test_nce_learns_where_the_data_is(seed):
    # The same margin as contrastive divergence's (test_moons_score_higher_than_the_gap).
    X, _ = make_moons(n_samples=400, noise=0.05, random_state=seed)
    model = EnergyBasedModel(
        objective="nce", hidden_sizes=(64, 64), max_iter=80, batch_size=64, early_stopping=False, random_state=seed
    ).fit(X)
    on_moons, gap = _moons_and_gap()
    on, off = model.score_samples(on_moons), model.score_samples(gap)
    assert on.mean() > off.mean() + 0.5
    assert np.median(on) > np.quantile(off, 0.75)


def test_sample_uses_the_fitted_step_size(make_model):
    X = np.random.RandomState(0).randn(200, 2)
    model = make_model(random_state=0).fit(X)
    first = model.sample(5, random_state=1)
    model.step_size_ = 4 * model.step_size_
    assert not np.allclose(model.sample(5, random_state=1), first)


def test_replay_buffer_keeps_the_last_chain_of_a_slot_drawn_twice():
    # Draws are with replacement: a slot can come back twice in one batch.
    # Its stored chain is the last one, however the indexed write is ordered
    # (undefined for repeated indices on CUDA), so seeded fits repeat there too.
    buffer = ReplayBuffer(torch.zeros(4, 2), reinit_freq=0.0)
    index = torch.tensor([1, 3, 1, 1, 0])
    chains = torch.arange(10.0).view(5, 2)
    buffer.store(index, chains)
    expected = torch.tensor([[8.0, 9.0], [6.0, 7.0], [0.0, 0.0], [2.0, 3.0]])
    assert torch.equal(buffer.chains, expected)
