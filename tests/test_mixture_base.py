"""base="mixture": the energy as an exponential tilt of a BIC-selected Gaussian mixture."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons
from sklearn.mixture import GaussianMixture

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel
from sklearn_ebm._mixture import MixtureBase
from sklearn_ebm._network import EnergyMLP, MixtureBaseEnergy
from sklearn_ebm._sampling import mala_chain


@pytest.fixture(scope="module")
def moons():
    return make_moons(n_samples=600, noise=0.1, random_state=0)[0] * [2.0, 0.5] + [10.0, -3.0]


@pytest.fixture(scope="module")
def mixture():
    X = np.random.RandomState(0).randn(400, 3) * [1.0, 2.0, 0.5]
    return GaussianMixture(3, covariance_type="full", random_state=0).fit(X)


def test_mixture_base_energy_gradient_and_draws(mixture):
    base = MixtureBase.from_sklearn(mixture)
    z = torch.randn(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    energies, grad = base.energy_and_grad(z)
    np.testing.assert_allclose(energies.numpy(), -mixture.score_samples(z.numpy()), rtol=1e-10)
    z.requires_grad_(True)
    (autograd,) = torch.autograd.grad(base.energy(z).sum(), z)
    np.testing.assert_allclose(grad.numpy(), autograd.numpy(), rtol=1e-8, atol=1e-10)
    draws = base.sample(20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    reference = mixture.sample(20000)[0]
    np.testing.assert_allclose(draws.mean(0), reference.mean(0), atol=0.06)
    np.testing.assert_allclose(np.cov(draws.T), np.cov(reference.T), atol=0.12)


def test_fast_sampler_path_matches_the_generic_one(mixture):
    network = EnergyMLP(3, hidden_sizes=(8, 8))
    model = MixtureBaseEnergy(network, MixtureBase.from_sklearn(mixture))
    start = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))

    def run(energy_and_grad):
        return mala_chain(
            energy_and_grad, start.clone(), steps=5, step_size=0.05, generator=torch.Generator().manual_seed(2)
        )[0]

    with torch.no_grad():
        fast = run(model.energy_and_grad)  # recognized: the hand-written kernel plus the mixture
        generic = run(lambda x: model.energy_and_grad(x))  # not recognized: plain calls
    torch.testing.assert_close(fast, generic, rtol=1e-4, atol=1e-4)


def test_a_fit_that_keeps_the_base_is_the_mixture(moons, fast_params):
    # No epoch beats the base by tol: early stopping keeps the untrained
    # network (zero output), and the model is the BIC mixture fitted in the
    # whitened coordinates, in the user's units.
    model = EnergyBasedModel(**{**fast_params, "early_stopping": True, "tol": 1e9, "base": "mixture"}).fit(moons)
    assert model.best_epoch_ == 0
    assert model.base_.n_components > 1
    z = model.whitening_.transform(moons[:20])
    expected = -model.base_.energy(torch.as_tensor(z)).numpy() + model.whitening_.log_det
    np.testing.assert_allclose(model.score_samples(moons[:20]), expected, rtol=1e-6)
    log_z, stderr = model.log_partition(n_chains=64, n_temperatures=8, random_state=0)
    assert (log_z, stderr) == (0.0, 0.0)  # AIS from the base itself, f = 0


def test_early_stopping_keeps_the_best_held_out_log_likelihood(moons, fast_params):
    model = EnergyBasedModel(
        **{**fast_params, "hidden_sizes": (32, 32), "early_stopping": True, "max_iter": 15, "base": "mixture"}
    ).fit(moons)
    # validation_scores_ are held-out log-likelihoods (nats per row, whitened
    # units), and the kept weights are the best of them or the base's.
    scores = model.validation_scores_
    if model.best_epoch_ == 0:
        assert model.best_validation_score_ + model.tol >= max(scores)
    else:
        assert model.best_validation_score_ == scores[model.best_epoch_ - 1] == max(scores)


@pytest.mark.parametrize("Est", [EnergyBasedModel, EBMOutlierDetector])
def test_mixture_base_pickles_samples_and_continues(moons, fast_params, Est):
    model = Est(**{**fast_params, "base": "mixture"}).fit(moons)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.score_samples(moons[:10]), model.score_samples(moons[:10]))
    np.testing.assert_array_equal(loaded.sample(5, random_state=0), model.sample(5, random_state=0))
    samples = model.sample(500, random_state=0)
    assert np.all(np.isfinite(samples))
    assert np.abs(samples.mean(0) - moons.mean(0)).max() < 0.5
    base = model.base_
    model.set_params(warm_start=True).fit(moons)
    assert model.base_ is base  # a continued fit keeps its base


def test_gaussian_base_has_no_mixture(fast_params, X_small):
    model = EnergyBasedModel(**fast_params).fit(X_small)
    assert model.base_ is None


def test_the_base_is_chosen_on_the_validation_rows():
    from sklearn_ebm._fit_setup import fit_mixture

    rng = np.random.RandomState(0)
    two_modes = np.r_[rng.randn(300, 2) * 0.3 - 2.0, rng.randn(300, 2) * 0.3 + 2.0]
    rng.shuffle(two_modes)
    assert fit_mixture(two_modes[:500], two_modes[500:], random_state=0).n_components == 2
    # Few rows in several dimensions: the standard normal beats every
    # maximum-likelihood mixture on held-out rows.
    few = rng.randn(40, 8)
    base = fit_mixture(few[:30], few[30:], random_state=0)
    np.testing.assert_array_equal(base.covariances, np.eye(8)[None])
    # Without validation rows, BIC on the training rows.
    assert fit_mixture(two_modes, random_state=0).n_components == 2


def test_validation_scores_are_held_out_log_likelihoods_of_the_mixture_model():
    # Early stopping scores the network over the mixture itself: the best
    # validation score, moved to the data's units, is a held-out
    # log-likelihood close to the model's score on all rows (it was the
    # Gaussian's energy plus the network's, a nat off on these two clusters).
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(1000, 3) * 0.3 - 2.0, rng.randn(1000, 3) * 0.3 + 2.0]
    model = EnergyBasedModel(hidden_sizes=(16,), max_iter=5, ema_decay=0.0, base="mixture", random_state=0).fit(X)
    held_out = model.best_validation_score_ + model.whitening_.log_det
    assert abs(held_out - model.score(X)) < 0.3
