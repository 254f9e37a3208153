"""FourierFeatures, and the energy network and estimators that read them."""

import math
import pickle

import numpy as np
import pytest
import torch

from sklearn_ebm import (
    EnergyBasedModel,
    EnergyMLP,
    FourierFeatures,
    GaussianBaseEnergy,
    build_energy_network,
)
from sklearn_ebm._sampling import _mlp_kernel, mala_chain


def test_features_are_sines_cosines_then_the_input():
    torch.manual_seed(0)
    features = FourierFeatures(3, n_frequencies=5, scale=0.5)
    x = torch.randn(4, 3)
    out = features(x)
    assert out.shape == (4, 13) == (4, features.out_features)
    phase = x @ features.frequencies.T
    torch.testing.assert_close(out[:, :5], torch.sin(phase))
    torch.testing.assert_close(out[:, 5:10], torch.cos(phase))
    torch.testing.assert_close(out[:, 10:], x)


@pytest.mark.parametrize("d", [2, 50])
def test_phase_spread_at_a_typical_row_follows_scale_whatever_d(d):
    # Rows of norm sqrt(d), as standardized rows have: the phases' standard
    # deviation is 2 pi scale in every dimension.
    torch.manual_seed(0)
    features = FourierFeatures(d, n_frequencies=4000, scale=0.3)
    rows = torch.randn(64, d)
    rows *= math.sqrt(d) / rows.norm(dim=1, keepdim=True)
    spread = (rows @ features.frequencies.T).std()
    assert spread == pytest.approx(2 * math.pi * 0.3, rel=0.05)


def test_frequencies_are_a_buffer_not_a_parameter():
    features = FourierFeatures(2, n_frequencies=3)
    assert list(features.parameters()) == []
    assert "frequencies" in features.state_dict()


@pytest.mark.parametrize("kwargs", [{"n_frequencies": 0}, {"n_frequencies": 2, "scale": 0.0}])
def test_bad_feature_arguments_are_refused(kwargs):
    with pytest.raises(ValueError, match="must be a positive|must be positive"):
        FourierFeatures(2, **kwargs)


@pytest.mark.parametrize("hidden_sizes", [(), (16,), (16, 8)])
def test_energy_and_grad_through_features_matches_autograd(hidden_sizes):
    torch.manual_seed(0)
    net = build_energy_network(3, hidden_sizes=hidden_sizes, fourier_features=6, fourier_scale=0.7).double()
    x = torch.randn(9, 3, dtype=torch.float64)
    energies, grad = net.energy_and_grad(x)
    leaf = x.clone().requires_grad_(True)
    expected = net(leaf)
    (expected_grad,) = torch.autograd.grad(expected.sum(), leaf)
    torch.testing.assert_close(energies, expected.detach())
    torch.testing.assert_close(grad, expected_grad)


def test_network_with_features_reads_them_and_rebuilds_from_its_config():
    torch.manual_seed(0)
    net = EnergyMLP(2, hidden_sizes=(8,), fourier_features=4)
    assert net.linear_layers()[0].in_features == 2 * 4 + 2
    copy = EnergyMLP(**net.config())
    copy.load_state_dict(net.state_dict())
    x = torch.randn(5, 2)
    torch.testing.assert_close(copy(x), net(x))


def test_plain_network_draws_no_frequencies():
    # Without features nothing extra is drawn: a plain MLP initializes as it
    # did before features existed.
    torch.manual_seed(0)
    plain = EnergyMLP(2, hidden_sizes=(8,))
    torch.manual_seed(0)
    expected = torch.nn.Linear(2, 8)
    assert plain.features is None
    torch.testing.assert_close(plain.linear_layers()[0].weight, expected.weight)


@pytest.mark.parametrize("hidden_sizes", [(8,), (8, 4)])
@pytest.mark.parametrize("energy_class", ["gaussian", "plain"])
def test_fused_chains_on_features_move_as_autograd_does(hidden_sizes, energy_class):
    # The fused kernel reads the features too; its chains take the moves
    # (and Metropolis decisions) that autograd's gradient gives.
    torch.manual_seed(0)
    net = EnergyMLP(3, hidden_sizes=hidden_sizes, fourier_features=4, fourier_scale=0.7).double()
    torch.nn.init.normal_(net.linear_layers()[-1].weight)
    model = GaussianBaseEnergy(net) if energy_class == "gaussian" else net
    x = torch.randn(16, 3, dtype=torch.float64)
    assert _mlp_kernel(model.energy_and_grad, x) is not None

    def autograd_energy_and_grad(z):
        z = z.detach().requires_grad_(True)
        e = model(z)
        (g,) = torch.autograd.grad(e.sum(), z)
        return e.detach(), g

    runs = []
    for energy_and_grad in (model.energy_and_grad, autograd_energy_and_grad):
        generator = torch.Generator().manual_seed(1)
        runs.append(mala_chain(energy_and_grad, x.clone(), steps=5, step_size=0.05, generator=generator))
    torch.testing.assert_close(runs[0], runs[1])
    assert not torch.equal(runs[0][0], x)


@pytest.fixture
def rings():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 400)
    radius = rng.choice([1.0, 2.0], 400) + 0.05 * rng.normal(size=400)
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)]


def test_estimator_trains_a_network_on_features(rings):
    model = EnergyBasedModel(
        hidden_sizes=(16,), fourier_features=8, fourier_scale=0.4, max_iter=2, random_state=0
    ).fit(rings)
    features = model.network_.features
    assert isinstance(features, FourierFeatures)
    assert (features.n_frequencies, features.scale) == (8, 0.4)
    assert model.network_.linear_layers()[0].in_features == 2 * 8 + 2
    assert np.isfinite(model.score_samples(rings)).all()
    assert model.sample(5, random_state=0).shape == (5, 2)
    # Seeded: the same frequencies and weights on a refit.
    again = EnergyBasedModel(**model.get_params()).fit(rings)
    np.testing.assert_array_equal(again.score_samples(rings), model.score_samples(rings))


def test_estimator_with_features_round_trips_through_pickle(rings):
    model = EnergyBasedModel(hidden_sizes=(16,), fourier_features=8, max_iter=2, random_state=0).fit(rings)
    loaded = pickle.loads(pickle.dumps(model))
    torch.testing.assert_close(loaded.network_.features.frequencies, model.network_.features.frequencies)
    np.testing.assert_array_equal(loaded.score_samples(rings), model.score_samples(rings))


@pytest.mark.parametrize(("name", "value"), [("fourier_features", -1), ("fourier_scale", 0.0)])
def test_estimator_refuses_bad_feature_parameters(rings, name, value):
    with pytest.raises(ValueError, match=name):
        EnergyBasedModel(**{name: value}).fit(rings)


def test_auto_gives_two_features_the_low_dimensional_model(rings):
    # At most 2 features: Fourier features and a mixture base; wider data
    # keeps the plain network (its base is chosen by the data, see
    # test_mixture_base.py).
    model = EnergyBasedModel(hidden_sizes=(16,), max_iter=2, random_state=0).fit(rings)
    assert model.network_.features.n_frequencies == 64
    assert model.base_ is not None
    # Trained by contrastive divergence over a mixture of at most 16
    # components (and the defensive share).
    assert model.objective_ == "cd" and model.base_.n_components <= 17
    wider = np.c_[rings, np.random.default_rng(0).normal(size=len(rings))]
    model.fit(wider)
    assert model.network_.features is None
    # One feature is low-dimensional too.
    model.fit(rings[:, :1])
    assert model.network_.features is not None and model.base_ is not None


def test_auto_continues_the_network_it_chose(rings):
    # warm_start and partial_fit compare the architecture "auto" resolves to
    # with the fitted one, so continuing a default fit is not refused.
    model = EnergyBasedModel(hidden_sizes=(16,), max_iter=1, warm_start=True, random_state=0).fit(rings)
    model.fit(rings)
    model.partial_fit(rings)
    assert model.network_.features.n_frequencies == 64


def test_detector_keeps_the_plain_model_in_two_dimensions(rings):
    from sklearn_ebm import EBMOutlierDetector

    detector = EBMOutlierDetector(hidden_sizes=(16,), max_iter=1, random_state=0).fit(rings)
    assert detector.network_.features is None
    assert detector.base_ is None
