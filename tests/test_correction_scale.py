"""The scale of the kept correction: the fitted energy is ``B + t f`` with ``t`` chosen
on held-out log-likelihood, ``t = 0`` being the base itself."""

import numpy as np
import pytest
import torch

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel, EnergyMLP
from sklearn_ebm._correction_scale import CORRECTION_SCALES, best_correction_scale, scale_output


def quadratic_correction(sigma):
    """``f(x) = x^2 (1 / sigma^2 - 1) / 2``: tilts N(0, 1) into N(0, sigma^2) exactly."""
    return lambda x: 0.5 * x.square() * (1.0 / sigma**2 - 1.0)


@pytest.fixture(scope="module")
def base_draws():
    return torch.randn(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize(
    "data_std, expected",
    [
        (0.5, 1.0),  # the correction is exact: keep all of it
        (1.0, 0.0),  # the data are the base: keep none
        # precision 1 + t (1 / 0.25 - 1) = 1 / 0.75^2 at t = 0.259: the grid's 0.25
        (0.75, 0.25),
    ],
)
def test_best_scale_recovers_the_tilt_the_data_follow(base_draws, data_std, expected):
    f = quadratic_correction(0.5)
    held_out = data_std * torch.randn(20_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    scale, gain = best_correction_scale(f(held_out), f(base_draws))
    assert scale == expected
    assert gain >= 0.0
    assert (gain == 0.0) == (scale == 1.0)


def test_best_scale_is_never_below_the_base_or_the_trained_model(base_draws):
    # Whatever f, L(t) at the chosen t is at least L(0) (the base) and L(1).
    rng = torch.Generator().manual_seed(2)
    held_out = torch.randn(500, generator=rng, dtype=torch.float64)
    for _ in range(5):
        weights = torch.randn(3, generator=rng, dtype=torch.float64)
        f = lambda x: weights[0] * x + weights[1] * x.square() + weights[2] * torch.sin(3 * x)  # noqa: E731
        scale, gain = best_correction_scale(f(held_out), f(base_draws))

        def value(t):
            tilt = torch.logsumexp(-t * f(base_draws), 0) - np.log(len(base_draws))
            return float(-t * f(held_out).mean() - tilt)

        assert value(scale) >= max(value(0.0), value(1.0)) - 1e-12
        assert gain == pytest.approx(value(scale) - value(1.0), abs=1e-9)


def test_candidates_run_from_the_base_to_the_trained_model():
    assert CORRECTION_SCALES[0] == 0.0 and CORRECTION_SCALES[-1] == 1.0
    assert torch.all(torch.diff(CORRECTION_SCALES) > 0)


def test_scale_output_scales_the_energy():
    network = EnergyMLP(3, hidden_sizes=(8,))
    x = torch.randn(10, 3)
    with torch.no_grad():
        before = network(x)
        assert scale_output(network, 0.3)
        np.testing.assert_allclose(network(x), 0.3 * before, rtol=1e-5, atol=1e-6)


def test_scale_output_leaves_a_spectrally_normalized_output_alone():
    network = EnergyMLP(3, hidden_sizes=(8,), spectral_norm=True)
    weight = network.linear_layers()[-1].parametrizations.weight.original.clone()
    assert not scale_output(network, 0.3)
    assert torch.equal(network.linear_layers()[-1].parametrizations.weight.original, weight)


def _trained_network(model):
    """The network training left, before its output was scaled."""
    network = EnergyMLP(**model.network_.config())
    network.load_state_dict(model._training_weights)
    return network.eval()


@pytest.mark.parametrize("Est", [EnergyBasedModel, EBMOutlierDetector])
def test_fitted_network_is_the_trained_one_scaled(Est, monkeypatch):
    # Whatever scale is chosen, network_ is the trained network with its
    # output scaled by it, and a continued fit resumes from the trained one.
    import sklearn_ebm._training as training_module

    chosen = []

    def pick(f_validation, f_base):
        chosen.append((len(f_validation), len(f_base)))
        return 0.4, 0.1

    monkeypatch.setattr(training_module, "best_correction_scale", pick)
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(300, 3) * 0.3 - 2.0, rng.randn(300, 3) * 0.3 + 2.0]
    params = dict(hidden_sizes=(16,), max_iter=5, ema_decay=0.0, random_state=0)
    if Est is EBMOutlierDetector:
        params["support_fraction"] = None
    model = Est(**params).fit(X)
    assert model.correction_scale_ == 0.4
    n_validation, n_draws = chosen[0]
    assert n_validation == round(0.1 * len(X)) and n_draws == 8192
    z = torch.as_tensor(model.whitening_.transform(X[:50]), dtype=torch.float32)
    with torch.no_grad():
        trained = _trained_network(model)(z)
        kept = model.network_.cpu()(z)
    assert trained.abs().max() > 0
    np.testing.assert_allclose(kept, 0.4 * trained, rtol=1e-4, atol=1e-6)


def test_a_correction_that_only_adds_noise_is_dropped():
    # Standard normal data: the base is the truth, so the held-out likelihood
    # keeps little of whatever the network learned.
    X = np.random.RandomState(1).randn(2000, 4)
    model = EnergyBasedModel(hidden_sizes=(32,), max_iter=10, random_state=0).fit(X)
    assert model.correction_scale_ <= 0.5


@pytest.mark.parametrize(
    "params", [dict(early_stopping=False), dict(spectral_norm=True)], ids=["no early stopping", "spectral norm"]
)
def test_no_scale_without_held_out_rows_or_with_spectral_norm(params):
    X = np.random.RandomState(1).randn(300, 3)
    model = EnergyBasedModel(hidden_sizes=(8,), max_iter=3, random_state=0, **params).fit(X)
    assert model.correction_scale_ == 1.0


def test_partial_fit_keeps_the_correction_whole():
    X = np.random.RandomState(1).randn(300, 3)
    model = EnergyBasedModel(hidden_sizes=(8,), random_state=0).partial_fit(X)
    assert model.correction_scale_ == 1.0
