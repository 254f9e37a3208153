"""The log partition function: AIS accuracy against closed forms and quadrature,
normalizability, and the normalized ``score``."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.datasets import make_moons

from sklearn_ebm import EnergyBasedModel, GaussianBaseEnergy, ais_log_partition


class ExcessEnergy(torch.nn.Module):
    """A network ``f`` with ``f(z) + ||z||^2 / 2 == target(z)``: plugs a known energy
    into a fitted model (whose energy adds the standard normal's to its network)."""

    def __init__(self, target):
        super().__init__()
        self.target = target
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the module a device and dtype

    def forward(self, z):
        return self.target(z) - 0.5 * z.square().sum(dim=1, keepdim=True) + self.anchor


def quadratic(d, seed=0):
    """0.5 z^T A z with A's eigenvalues from 0.2 to 5 (far from the base's identity)."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    A = ((Q * torch.exp(torch.linspace(math.log(0.2), math.log(5.0), d, dtype=torch.float64))) @ Q.T).float()
    log_z = 0.5 * d * math.log(2 * math.pi) - 0.5 * torch.logdet(A.double()).item()
    return (lambda z: 0.5 * ((z @ A) * z).sum(dim=1, keepdim=True)), log_z


def gaussian_mixture(d):
    """-log of a normalized mixture of four well-separated Gaussians: log Z = 0."""
    means = torch.zeros(4, d)
    for k, (axis, sign) in enumerate([(0, 1), (0, -1), (1, 1), (1, -1)]):
        means[k, axis] = 2.5 * sign
    log_weights = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1]))
    sigma = 0.4

    def energy(z):
        sq = (z[:, None, :] - means[None]).square().sum(-1)
        log_p = torch.logsumexp(
            log_weights - 0.5 * sq / sigma**2 - 0.5 * d * math.log(2 * math.pi * sigma**2), dim=1
        )
        return -log_p[:, None]

    return energy, 0.0


def model_with_energy(target, d):
    X = np.random.RandomState(0).normal(size=(64, d))
    # The target's energy is relative to N(0, I), the Gaussian base's.
    model = EnergyBasedModel(
        hidden_sizes=(4,), base="gaussian", max_iter=1, early_stopping=False, random_state=0,
        device="cpu",  # the target energies hold CPU tensors
    ).fit(X)
    model.network_ = ExcessEnergy(target)
    return model


@pytest.mark.parametrize("d", [2, 16, 64])
def test_quadratic_energy_log_z_within_005(d):
    target, log_z = quadratic(d)
    estimate, stderr = model_with_energy(target, d).log_partition(random_state=0)
    assert abs(estimate - log_z) < 0.05, (estimate, log_z, stderr)
    assert 0 < stderr < 0.05


@pytest.mark.parametrize("d", [2, 16])
def test_gaussian_mixture_log_z_within_01(d):
    target, log_z = gaussian_mixture(d)
    estimate, stderr = model_with_energy(target, d).log_partition(random_state=0)
    assert abs(estimate - log_z) < 0.1, (estimate, stderr)


def test_functional_ais_matches_closed_form_with_autograd_energy():
    target, log_z = quadratic(4, seed=3)
    estimate, _ = ais_log_partition(target, 4, generator=torch.Generator().manual_seed(0))
    assert abs(estimate - log_z) < 0.05


@pytest.fixture(scope="module")
def moons_model():
    X, _ = make_moons(n_samples=1000, noise=0.05, random_state=0)
    return EnergyBasedModel(hidden_sizes=(64, 64), random_state=0).fit(X), X


def quadrature_log_z(model, lo=-4.0, hi=5.0, n=600):
    grid = np.linspace(lo, hi, n)
    points = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    return logsumexp(model.score_samples(points)) + 2 * np.log(grid[1] - grid[0])


def test_trained_2d_model_agrees_with_quadrature(moons_model):
    model, _ = moons_model
    exact = quadrature_log_z(model)
    assert abs(quadrature_log_z(model, -6.0, 7.0, 900) - exact) < 1e-3  # the grid holds the mass
    estimate, _ = model.log_partition(random_state=0)
    assert abs(estimate - exact) < 0.05


def test_score_is_normalized_mean_log_likelihood(moons_model):
    model, X = moons_model
    model.log_partition_ = None
    score = model.score(X[:200])
    assert model.log_partition_ is not None and model.log_partition_stderr_ > 0
    assert score == pytest.approx(model.score_samples(X[:200]).mean() - model.log_partition_)
    assert abs(score - (model.score_samples(X[:200]).mean() - quadrature_log_z(model))) < 0.05


def test_score_in_the_units_of_the_fitted_data(moons_model):
    # Rescaling the data by 10 per axis lowers every log density by log(100).
    model, X = moons_model
    scaled = EnergyBasedModel(**model.get_params()).fit(X * 10.0)
    assert scaled.score(X[:300] * 10.0) == pytest.approx(model.score(X[:300]) - 2 * np.log(10.0), abs=0.05)


def test_log_partition_reproducible_and_cache_reset_by_refit(moons_model):
    model, X = moons_model
    assert model.log_partition(random_state=3) == model.log_partition(random_state=3)
    small = EnergyBasedModel(hidden_sizes=(8,), max_iter=2, early_stopping=False, random_state=0)
    small.fit(X)
    small.score(X)
    assert small.log_partition_ is not None
    small.fit(X[:500])
    assert small.log_partition_ is None


def test_energy_grows_quadratically_far_from_the_data():
    # exp(-E) is integrable over the whole space: E(z) >= ||z||^2 / 2 - L ||z|| - c.
    # Even a network with large random weights cannot cancel the quadratic term.
    X = np.random.RandomState(0).normal(size=(200, 3))
    model = EnergyBasedModel(
        hidden_sizes=(32, 32), max_iter=2, early_stopping=False, random_state=0, device="cpu"
    ).fit(X)
    with torch.no_grad():
        for layer in model.network_.linear_layers():
            layer.weight.mul_(20.0)
    directions = np.random.RandomState(1).normal(size=(50, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    ratios = []
    for radius in (1e2, 1e3, 1e4):
        z = torch.as_tensor(radius * directions, dtype=torch.float32)
        with torch.no_grad():
            energies = model._model()(z)[:, 0].double().numpy()
        ratios.append(energies / radius**2)
    assert np.all(ratios[-1] > 0.45)
    assert np.all(np.abs(ratios[-1] - 0.5) <= np.abs(ratios[0] - 0.5) + 1e-9)


@pytest.mark.parametrize("bad", [1, 0, "many", 2.5])
def test_log_partition_rejects_bad_settings(moons_model, bad):
    model, _ = moons_model
    with pytest.raises(ValueError, match="n_chains"):
        model.log_partition(n_chains=bad)


def test_log_z_of_a_network_reading_the_leading_directions_anneals_only_those():
    # The unread coordinates are exactly standard normal on the whole path:
    # log Z is the estimate over the read ones plus their Gaussian share,
    # the same draws as annealing those alone, and agrees with annealing
    # all of them (a plain callable hides the structure).
    rng = np.random.RandomState(0)
    X = rng.randn(400, 2) @ rng.randn(2, 6) + 0.1 * rng.randn(400, 6)
    fitted = EnergyBasedModel(
        hidden_sizes=(16,), max_network_inputs=2, max_iter=5, random_state=0, device="cpu"
    ).fit(X)
    model = fitted._model()
    log_z, stderr = ais_log_partition(model, 6, generator=torch.Generator().manual_seed(1))
    alone, _ = ais_log_partition(GaussianBaseEnergy(model.network), 2, generator=torch.Generator().manual_seed(1))
    assert log_z == alone + 2 * math.log(2 * math.pi)
    full, full_stderr = ais_log_partition(
        lambda z: model(z), 6, n_chains=2048, n_temperatures=1024, generator=torch.Generator().manual_seed(2)
    )
    assert abs(log_z - full) < 4 * math.hypot(stderr, full_stderr) + 0.02
    # The estimator's default: 8 temperatures per annealed coordinate, at least 256.
    assert fitted.log_partition(random_state=3) == ais_log_partition(
        model, 6, n_temperatures=256, generator=fitted._generator(3)
    )
