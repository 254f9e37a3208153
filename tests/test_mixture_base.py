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
        **{**fast_params, "hidden_sizes": (32, 32), "early_stopping": True, "max_iter": 15, "base": "mixture",
           "ema_decay": 0.0}
    ).fit(moons)
    # validation_scores_ are held-out log-likelihoods (nats per row, whitened
    # units), and the kept weights are the best of them or the base's (no
    # weight average, so no warm-up epochs that cannot be kept).
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
    model = EnergyBasedModel(**{**fast_params, "base": "gaussian"}).fit(X_small)
    assert model.base_ is None


def test_auto_keeps_the_gaussian_base_where_no_mixture_beats_it(fast_params, X_small):
    # Gaussian rows: the standard normal wins the cross-validation, and
    # "auto" then trains on the plain Gaussian base.
    assert EnergyBasedModel(**fast_params).fit(X_small).base_ is None
    # base="mixture" asked for a mixture base: the standard normal as one.
    explicit = EnergyBasedModel(**{**fast_params, "base": "mixture"}).fit(X_small).base_
    np.testing.assert_array_equal(explicit.covariances, np.eye(3)[None])
    np.testing.assert_array_equal(explicit.means, 0.0)
    # Two clusters: a mixture wins.
    rng = np.random.RandomState(0)
    clusters = np.r_[rng.randn(150, 4) * 0.3 - 2.0, rng.randn(150, 4) * 0.3 + 2.0]
    assert EnergyBasedModel(**fast_params).fit(clusters).base_.n_components == 3  # and N(0, I)
    # More than 100 features: the Gaussian base without trying mixtures.
    wide = np.c_[clusters, rng.randn(300, 100)]
    assert EnergyBasedModel(**{**fast_params, "max_iter": 1}).fit(wide).base_ is None


def test_the_base_is_chosen_on_held_out_rows():
    from sklearn_ebm._mixture_choice import fit_mixture

    rng = np.random.RandomState(0)
    two_modes = np.r_[rng.randn(1000, 2) * 0.3 - 2.0, rng.randn(1000, 2) * 0.3 + 2.0]
    rng.shuffle(two_modes)
    # From 1,000 rows: on the validation rows (where they are standard
    # normal, any mixture loses).
    assert fit_mixture(two_modes[:1800], two_modes[1800:], random_state=0).n_components > 2
    assert fit_mixture(two_modes[:1800], rng.randn(200, 2), random_state=0) is None
    # Below 1,000 rows, or without validation rows: 5-fold cross-validation
    # on the training rows.
    assert fit_mixture(two_modes[:300], rng.randn(200, 2), random_state=0).n_components > 2
    assert fit_mixture(two_modes, random_state=0).n_components > 2
    # Few rows in several dimensions: the standard normal beats every
    # maximum-likelihood mixture on held-out rows.
    assert fit_mixture(rng.randn(40, 8), random_state=0) is None
    # Too few rows to hold any out.
    assert fit_mixture(two_modes[:9], random_state=0) is None


def test_a_mixture_base_keeps_a_defensive_share_of_the_standard_normal():
    # Two tight modes and one row far from both: undefended, the far row
    # costs hundreds of nats; the base keeps a share of N(0, I), so its
    # log-density there is bounded by log(share) + log N(z; 0, I).
    from sklearn_ebm._mixture_choice import DEFENSIVE_SHARES, fit_mixture

    rng = np.random.RandomState(0)
    two_modes = np.r_[rng.randn(200, 2) * 0.05 - 1.0, rng.randn(200, 2) * 0.05 + 1.0]
    base = fit_mixture(two_modes, random_state=0)
    share = base.weights[-1]
    assert share in DEFENSIVE_SHARES
    np.testing.assert_array_equal(base.means[-1], 0.0)
    np.testing.assert_array_equal(base.covariances[-1], np.eye(2))
    np.testing.assert_allclose(base.weights.sum(), 1.0)
    far = torch.tensor([[0.0, 3.0]], dtype=torch.float64)
    bound = np.log(share) - 0.5 * 9.0 - np.log(2 * np.pi)
    assert -float(base.energy(far)) >= bound


def test_cross_validation_scores_the_candidates_on_every_row():
    # The scores are mean held-out log-densities: the standard normal's
    # candidate (a shrunk Gaussian refitted per fold) scores N(0, s^2 I)
    # rows near their entropy, -d/2 log(2 pi e s^2), and so does one component.
    from sklearn_ebm._mixture_choice import _cross_validated

    rows = np.random.RandomState(0).randn(2000, 3) * 0.5
    scores = {
        **_cross_validated(rows, None, random_state=0),
        **_cross_validated(rows, 1, random_state=0),
        **_cross_validated(rows, 2, random_state=0),
    }
    entropy = -1.5 * np.log(2 * np.pi * np.e * 0.25)
    assert abs(scores[None] - entropy) < 0.05
    assert abs(scores[1, 0.001] - scores[None]) < 0.01
    assert scores[2, 0.001] < scores[1, 0.001] + 0.01
    # Where N(0, I) is too wide, a share of it costs about -log(1 - share).
    assert scores[1, 0.05] < scores[1, 0.001]


def test_components_stop_doubling_once_they_stop_helping(monkeypatch):
    import sklearn_ebm._mixture_choice as choice

    fitted = []
    fit = choice._gaussian_mixture
    monkeypatch.setattr(choice, "_gaussian_mixture", lambda Z, k, seed: fitted.append(k) or fit(Z, k, seed))
    rng = np.random.RandomState(0)
    two_modes = np.r_[rng.randn(1000, 2) * 0.3 - 2.0, rng.randn(1000, 2) * 0.3 + 2.0]
    rng.shuffle(two_modes)
    base = choice.fit_mixture(two_modes[:1800], two_modes[1800:], random_state=0)
    # 2 components are the truth: 4 may edge past them on 200 rows, but the
    # doubling stops within two steps of them, far below 32.
    assert max(fitted) <= 8 and fitted == sorted(fitted)
    assert base.n_components - 1 in fitted


def test_component_counts_are_bounded_by_the_rows():
    from sklearn_ebm._mixture_choice import _components_allowed

    assert _components_allowed(10_000, 2) == (1, 2, 4, 8, 16, 32)
    # 32 features: 560 parameters per component, so 90 rows fit 2 at most.
    assert _components_allowed(90, 32) == (1, 2)
    assert _components_allowed(1000, 101) == (1,)
    assert _components_allowed(10_000, 2, max_components=16) == (1, 2, 4, 8, 16)


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
