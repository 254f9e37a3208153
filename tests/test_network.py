"""build_energy_network, EnergyMLP.energy_and_grad, GaussianBaseEnergy, build_energy_head."""

import inspect

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from sklearn_ebm import (
    ACTIVATIONS,
    EnergyMLP,
    GaussianBaseEnergy,
    build_energy_head,
    build_energy_network,
    contrastive_divergence_loss,
    energy,
)

ALL_ACTIVATIONS = ["silu", "relu", "gelu", "tanh", "elu", "leaky_relu", "softplus"]
ACTIVATION_MODULES = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
}


def leaf_modules(module):
    return [m for m in module.modules() if not list(m.children())]


def linear_layers(module):
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def autograd_energy_and_grad(net, x):
    x = x.detach().clone().requires_grad_(True)
    e = net(x)
    (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g


def test_build_energy_network_defaults():
    sig = inspect.signature(build_energy_network)
    assert sig.parameters["hidden_sizes"].default == (256, 128)
    assert sig.parameters["activation"].default == "silu"
    assert sig.parameters["dropout"].default == 0.0
    assert sig.parameters["spectral_norm"].default is False
    net = build_energy_network(7)
    widths = [(m.in_features, m.out_features) for m in linear_layers(net)]
    assert widths == [(7, 256), (256, 128), (128, 1)]


def test_activations_exported():
    assert sorted(ACTIVATIONS) == sorted(ALL_ACTIVATIONS)


@pytest.mark.parametrize("batch", [1, 5])
def test_output_shape(batch):
    net = build_energy_network(4, hidden_sizes=(16, 8))
    assert isinstance(net, nn.Module)
    out = net(torch.randn(batch, 4))
    assert out.shape == (batch, 1)


def test_layer_structure_without_dropout():
    net = build_energy_network(3, hidden_sizes=(16, 8), activation="tanh")
    types = [type(m) for m in leaf_modules(net)]
    assert types == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    widths = [(m.in_features, m.out_features) for m in linear_layers(net)]
    assert widths == [(3, 16), (16, 8), (8, 1)]


def test_layer_structure_with_dropout():
    net = build_energy_network(3, hidden_sizes=(16, 8), activation="relu", dropout=0.25)
    leaves = leaf_modules(net)
    assert [type(m) for m in leaves] == [
        nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear,
    ]
    assert all(m.p == 0.25 for m in leaves if isinstance(m, nn.Dropout))


def test_dropout_active_in_train_mode_only():
    torch.manual_seed(0)
    net = build_energy_network(3, hidden_sizes=(64,), dropout=0.5)
    x = torch.randn(20, 3)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
def test_each_activation_builds_its_module(name):
    net = build_energy_network(3, hidden_sizes=(8, 8), activation=name)
    acts = [m for m in leaf_modules(net) if not isinstance(m, nn.Linear)]
    assert len(acts) == 2
    assert all(type(m) is ACTIVATION_MODULES[name] for m in acts)
    assert net(torch.randn(4, 3)).shape == (4, 1)


def test_unknown_activation_lists_valid_ones():
    with pytest.raises(ValueError) as excinfo:
        build_energy_network(3, activation="swish")
    message = str(excinfo.value)
    assert "swish" in message
    for name in ALL_ACTIVATIONS:
        assert name in message


def test_spectral_norm_on_every_linear():
    torch.manual_seed(0)
    net = build_energy_network(5, hidden_sizes=(16, 8), spectral_norm=True)
    linears = linear_layers(net)
    assert len(linears) == 3
    for layer in linears:
        assert parametrize.is_parametrized(layer, "weight")
    net.eval()
    # Power iteration ran at registration: each weight's largest singular value ~ 1.
    for layer in linears:
        assert torch.linalg.matrix_norm(layer.weight.detach(), 2).item() <= 1.01


def test_no_spectral_norm_by_default():
    net = build_energy_network(5, hidden_sizes=(16, 8))
    for layer in linear_layers(net):
        assert not parametrize.is_parametrized(layer)


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
def test_energy_and_grad_matches_autograd(name, spectral_norm):
    torch.manual_seed(0)
    net = build_energy_network(5, hidden_sizes=(16, 8), activation=name, spectral_norm=spectral_norm)
    net.eval()
    # Spread-out inputs exercise both sides of relu/elu/leaky_relu and softplus' tails.
    x = 3.0 * torch.randn(64, 5)
    e_fast, g_fast = net.energy_and_grad(x)
    e_ref, g_ref = autograd_energy_and_grad(net, x)
    assert e_fast.shape == (64, 1)
    assert g_fast.shape == (64, 5)
    torch.testing.assert_close(e_fast, e_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-5, atol=1e-5)
    assert not e_fast.requires_grad and not g_fast.requires_grad


@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
def test_energy_and_grad_float64_exact(name):
    # In double precision the hand-written derivative must agree with autograd
    # to double precision, not merely float32 precision.
    torch.manual_seed(1)
    net = build_energy_network(5, hidden_sizes=(16, 8), activation=name).double().eval()
    x = 3.0 * torch.randn(64, 5, dtype=torch.float64)
    e_fast, g_fast = net.energy_and_grad(x)
    e_ref, g_ref = autograd_energy_and_grad(net, x)
    assert e_fast.dtype == g_fast.dtype == torch.float64
    torch.testing.assert_close(e_fast, e_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-12, atol=1e-12)


def test_energy_and_grad_with_dropout_is_eval_mode():
    torch.manual_seed(0)
    net = build_energy_network(4, hidden_sizes=(16,), dropout=0.5)
    x = torch.randn(10, 4)
    net.eval()
    e_ref, g_ref = autograd_energy_and_grad(net, x)
    net.train()
    e_fast, g_fast = net.energy_and_grad(x)
    torch.testing.assert_close(e_fast, e_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-5, atol=1e-6)


def test_gaussian_base_energy():
    torch.manual_seed(0)
    net = build_energy_network(3, hidden_sizes=(8,)).eval()
    model = GaussianBaseEnergy(net)
    x = torch.randn(6, 3)
    expected = net(x) + 0.5 * (x ** 2).sum(dim=1, keepdim=True)
    torch.testing.assert_close(model(x), expected)
    e_fast, g_fast = model.energy_and_grad(x)
    e_ref, g_ref = autograd_energy_and_grad(model, x)
    torch.testing.assert_close(e_fast, e_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-5, atol=1e-6)


def test_gaussian_base_energy_with_plain_module():
    # A network without energy_and_grad goes through autograd.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    model = GaussianBaseEnergy(net)
    x = torch.randn(6, 3)
    e_fast, g_fast = model.energy_and_grad(x)
    e_ref, g_ref = autograd_energy_and_grad(model, x)
    torch.testing.assert_close(e_fast, e_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------- energy()


def test_energy_of_tensor_and_arrays():
    torch.manual_seed(0)
    net = build_energy_network(3, hidden_sizes=(8,))
    X64 = np.random.RandomState(0).randn(5, 3)  # float64 array, float32 network
    expected = net(torch.tensor(X64, dtype=torch.float32)).detach()
    for X in (X64, X64.tolist(), torch.tensor(X64), torch.tensor(X64, dtype=torch.float32)):
        out = energy(net, X)
        assert isinstance(out, torch.Tensor)
        assert out.shape == (5, 1)
        assert out.dtype == torch.float32
        assert not out.requires_grad
        torch.testing.assert_close(out, expected)


# ---------------------------------------------------------- energy heads


class _Embed(nn.Module):
    """Column 0: a category code in 0..4; columns 1-2: numbers."""

    def __init__(self):
        super().__init__()
        self.colour = nn.Embedding(5, 3)

    def forward(self, x):
        return torch.cat([self.colour(x[:, 0].long()), x[:, 1:]], dim=1)


def _categorical_batch(generator, n, categories):
    codes = categories[torch.randint(len(categories), (n,), generator=generator)]
    numbers = torch.randn(n, 2, generator=generator)
    return torch.cat([codes.float().unsqueeze(1), numbers], dim=1)


def test_energy_head_composes_backbone():
    torch.manual_seed(0)
    backbone = _Embed()
    model = build_energy_head(backbone, backbone_features=5, hidden_sizes=(16,), activation="gelu")
    assert any(m is backbone for m in model.modules())
    heads = [m for m in model.modules() if isinstance(m, EnergyMLP)]
    assert len(heads) == 1 and heads[0].linear_layers()[0].in_features == 5
    param_ids = {id(p) for p in model.parameters()}
    assert id(backbone.colour.weight) in param_ids
    x = torch.tensor([[0.0, 1.5, 0.1], [4.0, -0.2, 0.3]])
    assert model(x).shape == (2, 1)


def test_energy_head_trains_through_backbone():
    torch.manual_seed(0)
    backbone = _Embed()
    model = build_energy_head(backbone, backbone_features=5, hidden_sizes=(16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    embedding_before = backbone.colour.weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    real_categories = torch.tensor([0, 1])
    neg_categories = torch.tensor([2, 3, 4])
    losses = []
    for _ in range(20):
        real = _categorical_batch(g, 32, real_categories)
        neg = _categorical_batch(g, 32, neg_categories)
        loss = contrastive_divergence_loss(model(real), model(neg))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    embedding_after = backbone.colour.weight.detach()
    changed_rows = (embedding_after != embedding_before).any(dim=1)
    assert changed_rows.all(), "every category seen in training should have moved"
    # Training separates the categories: real ones get lower energy.
    with torch.no_grad():
        real = _categorical_batch(g, 200, real_categories)
        neg = _categorical_batch(g, 200, neg_categories)
        assert model(real).mean() < model(neg).mean()
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("network_inputs", [2, 5, 9, None])
def test_gaussian_base_network_reads_the_last_inputs(network_inputs):
    # The network reads the last network_inputs coordinates (all of them
    # when None or at least d); the base covers every coordinate.
    torch.manual_seed(0)
    read = 5 if network_inputs is None else min(network_inputs, 5)
    net = build_energy_network(read, hidden_sizes=(8,)).eval()
    model = GaussianBaseEnergy(net, network_inputs=network_inputs)
    x = torch.randn(6, 5)
    expected = net(x[:, 5 - read :]) + 0.5 * (x**2).sum(dim=1, keepdim=True)
    torch.testing.assert_close(model(x), expected)
    torch.testing.assert_close(model.network_energy(x), net(x[:, 5 - read :]))
    assert model.unread_columns(5) == 5 - read
    e_fast, g_fast = model.energy_and_grad(x)
    e_ref, g_ref = autograd_energy_and_grad(model, x)
    torch.testing.assert_close(e_fast, e_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-5, atol=1e-6)
    if read < 5:
        # Where the network reads nothing, the gradient is the base's alone.
        torch.testing.assert_close(g_fast[:, : 5 - read], x[:, : 5 - read])
