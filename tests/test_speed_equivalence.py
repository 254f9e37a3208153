"""The fast sampler computes what the textbook sampler computes.

The chains of :func:`langevin_chain` and :func:`mala_chain` on an
:class:`EnergyMLP` (alone or under :class:`GaussianBaseEnergy`) run on a
hand-written kernel with preallocated buffers and fused updates. Here they are
compared with a textbook reimplementation: the gradient from
``torch.autograd.grad`` on the module's ``forward``, the update formulas
written out, and the same generator seed and order of random draws (per step:
the noise ``N(0, I)`` of the chains' shape, then, for MALA, the uniforms of
the acceptance test as ``torch.rand`` draws them).
"""

import math

import pytest
import torch
from torch.nn.utils import parametrize

import sklearn_ebm._sampling as sampling
from sklearn_ebm import build_energy_network
from sklearn_ebm._network import ACTIVATIONS, EnergyMLP, GaussianBaseEnergy
from sklearn_ebm._sampling import LangevinSettings, draw_negatives, langevin_chain, mala_chain


def textbook_grad(energy_fn, x):
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        energies = energy_fn(x)
        (grad,) = torch.autograd.grad(energies.sum(), x)
    return energies.detach().reshape(-1), grad


def textbook_langevin(energy_fn, x, steps, step_size, noise_scale, generator, project=None):
    x = x.clone()
    for _ in range(steps):
        _, grad = textbook_grad(energy_fn, x)
        noise = torch.empty_like(x).normal_(generator=generator)
        x = x - 0.5 * step_size * grad + math.sqrt(step_size) * noise_scale * noise
        if project is not None:
            project(x)
    return x


def textbook_mala(energy_fn, x, steps, step_size, noise_scale, generator, project=None):
    temperature = noise_scale**2
    eps = step_size * temperature

    def tempered(points):
        energies, grad = textbook_grad(energy_fn, points)
        return energies / temperature, grad / temperature

    x = x.clone()
    energies, grad = tempered(x)
    accepted = 0
    for _ in range(steps):
        noise = torch.empty_like(x).normal_(generator=generator)
        proposal = x - 0.5 * eps * grad + math.sqrt(eps) * noise
        if project is not None:
            project(proposal)
        proposal_energies, proposal_grad = tempered(proposal)
        # log q(x | y) - log q(y | x) with q(y | x) = N(y; x - eps/2 grad(x), eps I).
        backward = x - proposal + 0.5 * eps * proposal_grad
        log_ratio = (
            energies
            - proposal_energies
            - (backward**2).sum(dim=1) / (2 * eps)
            + 0.5 * (noise**2).sum(dim=1)
        )
        uniform = torch.rand(x.shape[0], generator=generator, dtype=x.dtype)
        accept = torch.log(uniform) < log_ratio
        x = torch.where(accept[:, None], proposal, x)
        grad = torch.where(accept[:, None], proposal_grad, grad)
        energies = torch.where(accept, proposal_energies, energies)
        accepted += int(accept.sum())
    return x, accepted / (steps * x.shape[0])


def make_model(dim, activation, spectral_norm, hidden_sizes=(16, 8), dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    network = build_energy_network(
        dim, hidden_sizes=hidden_sizes, activation=activation, spectral_norm=spectral_norm
    ).to(dtype)
    if spectral_norm:
        # A few power iterations in training mode so that u, v are meaningful.
        network.train()
        for _ in range(5):
            network(torch.zeros(1, dim, dtype=dtype))
    else:
        # Sharpen the untrained network so that the chains feel it.
        with torch.no_grad():
            network.linear_layers()[-1].weight.mul_(4.0)
    return GaussianBaseEnergy(network).eval()


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the fast kernels made, to prove the fast path ran."""
    made = []
    original = sampling._MLPKernel

    def counting(*args, **kwargs):
        made.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(sampling, "_MLPKernel", counting)
    return made


@pytest.fixture(params=["masked copy", "row copy"])
def accept_by(request, monkeypatch):
    """Both ways the fast MALA loop keeps rejected moves (chosen by size on the CPU)."""
    monkeypatch.setattr(sampling, "_ROW_COPY_MIN_SIZE", math.inf if request.param == "masked copy" else 0)
    return request.param


TOL32 = dict(rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("metropolis", [True, False])
@pytest.mark.parametrize("step_size", [0.1, 1.0])
def test_draw_negatives_matches_textbook(activation, spectral_norm, metropolis, step_size, kernel_calls, accept_by):
    # The estimator's settings (step 0.1, about 1% of MALA moves rejected) and a
    # long step (about 20% rejected), with the estimator's model.
    model = make_model(3, activation, spectral_norm)
    start = 1.5 * torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    settings = LangevinSettings(20, step_size=step_size, noise_scale=1.0, metropolis=metropolis)
    fast = draw_negatives(model, start.clone(), settings, torch.Generator().manual_seed(7))
    assert kernel_calls == [1]
    textbook = textbook_mala if metropolis else textbook_langevin
    with torch.no_grad(), parametrize.cached():
        slow = textbook(model, start, 20, step_size, 1.0, torch.Generator().manual_seed(7))
    if metropolis:
        slow, rate = slow
        assert rate < 1.0
    torch.testing.assert_close(fast, slow, **TOL32)


@pytest.mark.parametrize("activation", ["silu", "gelu", "tanh"])
@pytest.mark.parametrize("noise_scale", [1.0, 0.6])
@pytest.mark.parametrize("base", [True, False])
def test_mala_chain_matches_textbook(activation, noise_scale, base, kernel_calls, accept_by):
    # Tempered targets (noise_scale != 1), and the bare network without the Gaussian base.
    model = make_model(4, activation, spectral_norm=False, hidden_sizes=(32, 16, 8))
    energy_fn = model if base else model.network
    if not base:
        # Without the base the untrained energy is flat: keep the chains near the origin.
        project = lambda z: z.clamp_(-2.0, 2.0)  # noqa: E731
    else:
        project = None
    start = torch.randn(50, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        fast, fast_rate = mala_chain(
            energy_fn.energy_and_grad, start.clone(), steps=25, step_size=0.2, noise_scale=noise_scale,
            project=project, generator=torch.Generator().manual_seed(3),
        )
        slow, slow_rate = textbook_mala(
            energy_fn, start, 25, 0.2, noise_scale, torch.Generator().manual_seed(3), project=project
        )
    assert kernel_calls == [1]
    torch.testing.assert_close(fast, slow, **TOL32)
    assert fast_rate == slow_rate
    assert 0.0 < fast_rate < 1.0


def _model_reading_last_inputs():
    # The network reads 3 of 7 coordinates.
    torch.manual_seed(0)
    network = build_energy_network(3, hidden_sizes=(16, 8)).eval()
    with torch.no_grad():
        network.linear_layers()[-1].weight.mul_(4.0)
    return GaussianBaseEnergy(network, network_inputs=3).eval()


def test_kernel_step_on_a_network_reading_the_last_inputs(kernel_calls):
    # The other 4 coordinates move under the base alone, written to another buffer.
    model = _model_reading_last_inputs()
    start = torch.randn(30, 7, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        kernel = sampling._mlp_kernel(model.energy_and_grad, start)
        out = torch.full_like(start, float("nan"))
        kernel.step(start, -0.05, out)
    assert kernel_calls == [1]
    torch.testing.assert_close(out, start - 0.05 * textbook_grad(model, start)[1], **TOL32)


@pytest.mark.parametrize("metropolis", [True, False])
def test_chains_on_a_network_reading_the_last_inputs_match_textbook(metropolis, kernel_calls, accept_by):
    model = _model_reading_last_inputs()
    start = torch.randn(30, 7, generator=torch.Generator().manual_seed(6))
    chain, textbook = (mala_chain, textbook_mala) if metropolis else (langevin_chain, textbook_langevin)
    with torch.no_grad():
        fast = chain(
            model.energy_and_grad, start.clone(), steps=20, step_size=0.2, noise_scale=1.0,
            generator=torch.Generator().manual_seed(7),
        )
        slow = textbook(model, start, 20, 0.2, 1.0, torch.Generator().manual_seed(7))
    assert kernel_calls == [1]
    if metropolis:
        torch.testing.assert_close(fast[0], slow[0], **TOL32)
        assert fast[1] == slow[1]
    else:
        torch.testing.assert_close(fast, slow, **TOL32)


@pytest.mark.parametrize("noise_scale", [1.0, 0.5])
def test_draw_negatives_draws_unread_coordinates_from_the_base(noise_scale):
    # A network reading 2 of 6 coordinates: the other 4 are drawn exactly
    # from the tempered base N(0, noise_scale**2), and the chains in the
    # last 2 are those of the 2-coordinate model, with the same draws after.
    torch.manual_seed(0)
    network = build_energy_network(2, hidden_sizes=(16,)).eval()
    model = GaussianBaseEnergy(network, network_inputs=2)
    settings = LangevinSettings(steps=5, step_size=0.1, noise_scale=noise_scale)
    start = torch.full((20000, 6), 3.0)
    out = draw_negatives(model, start, settings, generator=torch.Generator().manual_seed(1))
    assert out is start
    unread = out[:, :4]
    assert abs(unread.mean().item()) < 0.02
    assert abs(unread.std().item() / noise_scale - 1.0) < 0.02
    generator = torch.Generator().manual_seed(1)
    torch.empty(20000, 4).normal_(generator=generator)
    alone = draw_negatives(GaussianBaseEnergy(network), torch.full((20000, 2), 3.0), settings, generator=generator)
    torch.testing.assert_close(out[:, 4:], alone)


@pytest.mark.parametrize("activation", ["silu", "relu", "elu"])
@pytest.mark.parametrize("noise_scale", [1.0, 0.3, 0.0])
def test_langevin_chain_matches_textbook(activation, noise_scale, kernel_calls):
    model = make_model(5, activation, spectral_norm=True, hidden_sizes=(24,))
    start = torch.randn(40, 5, generator=torch.Generator().manual_seed(4))
    project = lambda z: z.clamp_(-1.5, 1.5)  # noqa: E731
    with torch.no_grad(), parametrize.cached():
        fast = langevin_chain(
            model.energy_and_grad, start.clone(), steps=30, step_size=0.05, noise_scale=noise_scale,
            project=project, generator=torch.Generator().manual_seed(5),
        )
        slow = textbook_langevin(
            model, start, 30, 0.05, noise_scale, torch.Generator().manual_seed(5), project=project
        )
    assert kernel_calls == [1]
    torch.testing.assert_close(fast, slow, **TOL32)


@pytest.mark.parametrize("metropolis", [True, False])
@pytest.mark.parametrize("activation", ["silu", "softplus", "leaky_relu"])
def test_float64_chains_match_to_double_precision(activation, metropolis, kernel_calls, accept_by):
    model = make_model(3, activation, spectral_norm=False, dtype=torch.float64)
    start = torch.randn(30, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    settings = LangevinSettings(15, step_size=0.3, noise_scale=1.0, metropolis=metropolis)
    fast = draw_negatives(model, start.clone(), settings, torch.Generator().manual_seed(8))
    textbook = textbook_mala if metropolis else textbook_langevin
    with torch.no_grad():
        slow = textbook(model, start, 15, 0.3, 1.0, torch.Generator().manual_seed(8))
    if metropolis:
        slow = slow[0]
    assert kernel_calls == [1]
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)


def test_fast_and_generic_paths_agree_and_draw_the_same_numbers(kernel_calls, accept_by):
    # The generic loop (an arbitrary callable) and the kernel consume the
    # generator identically: afterwards both generators are in the same state.
    model = make_model(6, "silu", spectral_norm=False, hidden_sizes=(32, 32))
    start = torch.randn(33, 6, generator=torch.Generator().manual_seed(9))
    for chain in (mala_chain, langevin_chain):
        g_fast, g_slow = torch.Generator().manual_seed(10), torch.Generator().manual_seed(10)
        with torch.no_grad():
            fast = chain(model.energy_and_grad, start.clone(), steps=12, step_size=0.1, noise_scale=1.0,
                         generator=g_fast)
            slow = chain(lambda z: model.energy_and_grad(z), start.clone(), steps=12, step_size=0.1,
                         noise_scale=1.0, generator=g_slow)
        if chain is mala_chain:
            assert fast[1] == slow[1]
            fast, slow = fast[0], slow[0]
        torch.testing.assert_close(fast, slow, **TOL32)
        assert torch.equal(g_fast.get_state(), g_slow.get_state())
    assert kernel_calls == [1, 1]


def test_chain_modifies_and_returns_the_tensor_passed(kernel_calls):
    model = make_model(3, "silu", spectral_norm=False)
    x = torch.randn(10, 3)
    settings = LangevinSettings(3, step_size=0.1, noise_scale=1.0, metropolis=True)
    before = x.clone()
    out = draw_negatives(model, x, settings, torch.Generator().manual_seed(0))
    assert out is x and not torch.equal(x, before)
    x = torch.randn(10, 3)
    out = langevin_chain(model.energy_and_grad, x, steps=2, step_size=0.1, noise_scale=1.0)
    assert out is x


@pytest.mark.parametrize("metropolis", [True, False])
def test_spectral_norm_is_computed_once_per_chain_call(metropolis):
    model = make_model(4, "silu", spectral_norm=True)
    calls = []
    for layer in model.network.linear_layers():
        layer.parametrizations.weight[0].register_forward_hook(lambda *args: calls.append(1))
    settings = LangevinSettings(25, step_size=0.1, noise_scale=1.0, metropolis=metropolis)
    draw_negatives(model, torch.randn(16, 4), settings, torch.Generator().manual_seed(0))
    assert len(calls) == 3  # one normalization per Linear layer, not one per step
    # The fast path reads the weights once per call even outside parametrize.cached().
    chain = mala_chain if metropolis else langevin_chain
    with torch.no_grad():
        chain(model.energy_and_grad, torch.randn(16, 4), steps=25, step_size=0.1, noise_scale=1.0)
    assert len(calls) == 6


def test_patched_or_foreign_energy_takes_the_generic_path(kernel_calls):
    model = make_model(3, "tanh", spectral_norm=False)
    network = model.network
    original = network.energy_and_grad
    calls = []

    def patched(x):
        calls.append(1)
        return original(x)

    network.energy_and_grad = patched
    x = torch.randn(8, 3)
    with torch.no_grad():
        mala_chain(model.energy_and_grad, x, steps=4, step_size=0.1)
    assert kernel_calls == [] and len(calls) == 5  # the initial point, then one per step

    class Sub(EnergyMLP):
        def energy_and_grad(self, x):
            calls.append(1)
            return super().energy_and_grad(x)

    sub = Sub(3, hidden_sizes=(8,))
    with torch.no_grad():
        langevin_chain(sub.energy_and_grad, torch.randn(8, 3), steps=3, step_size=0.1, noise_scale=1.0)
    assert kernel_calls == [] and len(calls) == 8


def test_non_finite_proposals_are_rejected(accept_by):
    # A proposal with a NaN energy must be rejected, as the textbook test
    # log(u) < NaN is False, whichever way rejected moves are kept.
    network = EnergyMLP(2, hidden_sizes=(8,))
    with torch.no_grad():
        network.linear_layers()[-1].bias.fill_(float("nan"))
    model = GaussianBaseEnergy(network)
    x = torch.randn(64, 2)
    before = x.clone()
    with torch.no_grad():
        out, rate = mala_chain(model.energy_and_grad, x, steps=3, step_size=0.1,
                               generator=torch.Generator().manual_seed(0))
    assert rate == 0.0
    torch.testing.assert_close(out, before)
