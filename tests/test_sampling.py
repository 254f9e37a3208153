"""langevin_sample: defaults, the update formula, clamping, seeding and correctness."""

import inspect
import math

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_ebm import ReplayBuffer, build_energy_network, langevin_sample

# A non-diagonal precision matrix; the target covariance is its inverse.
A = torch.tensor([[2.0, 0.6], [0.6, 1.5]])


def quadratic(x):
    """E(x) = 0.5 x^T A x, shape (batch, 1)."""
    return 0.5 * ((x @ A) * x).sum(dim=1, keepdim=True)


class QuadraticEnergy(nn.Module):
    """The same energy as a module with a hand-written gradient (the fast path)."""

    def __init__(self, precision):
        super().__init__()
        self.register_buffer("precision", precision)
        self.fast_calls = 0

    def forward(self, x):
        return 0.5 * ((x @ self.precision) * x).sum(dim=1, keepdim=True)

    def energy_and_grad(self, x):
        self.fast_calls += 1
        return self.forward(x), x @ self.precision


def test_signature_defaults():
    params = inspect.signature(langevin_sample).parameters
    expected = {
        "batch_size": 32,
        "steps": 60,
        "step_size": 10.0,
        "noise_scale": 0.005,
        "init": None,
        "clamp": None,
        "generator": None,
    }
    for name, default in expected.items():
        assert params[name].default == default, name
        assert type(params[name].default) is type(default), name
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert list(params)[:2] == ["energy_fn", "input_size"]


def test_default_batch_and_uniform_init():
    # A flat energy without noise leaves the starting points where they are.
    flat = lambda x: 0.0 * x.sum(dim=1, keepdim=True)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    x = langevin_sample(flat, 2, noise_scale=0.0, generator=g)
    assert x.shape == (32, 2)
    assert x.min() >= 0.0 and x.max() < 1.0
    expected = torch.rand((32, 2), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(x, expected)


@pytest.mark.parametrize("step_size, noise_scale", [(0.3, 0.7), (10.0, 0.005), (0.05, 1.0)])
def test_one_step_matches_formula(step_size, noise_scale):
    x0 = torch.randn(10, 2, generator=torch.Generator().manual_seed(1))
    out = langevin_sample(
        quadratic, 2, init=x0, steps=1, step_size=step_size, noise_scale=noise_scale,
        generator=torch.Generator().manual_seed(5),
    )
    noise = torch.empty(10, 2).normal_(generator=torch.Generator().manual_seed(5))
    expected = x0 - (step_size / 2) * (x0 @ A) + math.sqrt(step_size) * noise_scale * noise
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_several_steps_from_uniform_init_match_formula():
    step_size, noise_scale = 0.2, 0.5
    out = langevin_sample(
        quadratic, 2, batch_size=7, steps=3, step_size=step_size, noise_scale=noise_scale,
        generator=torch.Generator().manual_seed(11),
    )
    g = torch.Generator().manual_seed(11)
    x = torch.rand((7, 2), generator=g)
    for _ in range(3):
        noise = torch.empty(7, 2).normal_(generator=g)
        x = x - (step_size / 2) * (x @ A) + math.sqrt(step_size) * noise_scale * noise
    torch.testing.assert_close(out, x, rtol=1e-5, atol=1e-6)


def test_noise_free_step_is_gradient_descent():
    x0 = torch.tensor([[1.0, -2.0], [0.5, 0.5]])
    out = langevin_sample(quadratic, 2, init=x0, steps=1, step_size=0.4, noise_scale=0.0)
    torch.testing.assert_close(out, x0 - 0.2 * (x0 @ A))


def test_energy_of_shape_batch_works():
    flat = lambda x: quadratic(x)[:, 0]  # noqa: E731
    x0 = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    a = langevin_sample(flat, 2, init=x0, steps=4, step_size=0.1, generator=torch.Generator().manual_seed(2))
    b = langevin_sample(quadratic, 2, init=x0, steps=4, step_size=0.1, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b)


def test_clamp_keeps_samples_within_bounds():
    # The energy's minimum (3, -3) lies outside the box: unclamped chains leave it.
    shifted = lambda x: 0.5 * ((x - torch.tensor([3.0, -3.0])) ** 2).sum(dim=1, keepdim=True)  # noqa: E731
    kwargs = dict(batch_size=200, steps=30, step_size=0.5, noise_scale=1.0)
    out = langevin_sample(shifted, 2, clamp=(-1.0, 1.0), generator=torch.Generator().manual_seed(0), **kwargs)
    assert out.min() >= -1.0 and out.max() <= 1.0
    free = langevin_sample(shifted, 2, generator=torch.Generator().manual_seed(0), **kwargs)
    assert free.abs().max() > 1.0


def test_clamp_applies_after_every_step():
    # E = 0.5 ||x||^2 with step_size 3 and no noise: x <- x - 1.5 x = -0.5 x.
    # From 1 with the box [-0.3, 10]: step 1 gives -0.5, clamped to -0.3;
    # step 2 gives 0.15. Clamping only at the end would give 0.25 instead.
    half_square = lambda x: 0.5 * (x ** 2).sum(dim=1, keepdim=True)  # noqa: E731
    out = langevin_sample(half_square, 2, init=torch.ones(4, 2), steps=2, step_size=3.0,
                          noise_scale=0.0, clamp=(-0.3, 10.0))
    torch.testing.assert_close(out, torch.full((4, 2), 0.15))


def test_init_not_modified_and_output_detached():
    x0 = torch.randn(6, 2, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    before = x0.detach().clone()
    out = langevin_sample(quadratic, 2, init=x0, steps=5, step_size=0.1, noise_scale=1.0,
                          generator=torch.Generator().manual_seed(0))
    assert torch.equal(x0.detach(), before)
    assert out.data_ptr() != x0.data_ptr()
    assert not out.requires_grad
    assert out.shape == (6, 2)
    assert not torch.equal(out, before)


def test_init_overrides_batch_size():
    out = langevin_sample(quadratic, 2, batch_size=3, init=torch.zeros(9, 2), steps=1, step_size=0.1)
    assert out.shape == (9, 2)


def test_same_generator_seed_same_output():
    run = lambda seed: langevin_sample(  # noqa: E731
        quadratic, 2, batch_size=20, steps=10, step_size=0.1, noise_scale=1.0,
        generator=torch.Generator().manual_seed(seed),
    )
    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_generator_leaves_global_rng_alone():
    state = torch.get_rng_state()
    langevin_sample(quadratic, 2, batch_size=5, steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), state)


def test_global_rng_used_without_generator():
    torch.manual_seed(123)
    a = langevin_sample(quadratic, 2, batch_size=5, steps=3, noise_scale=1.0, step_size=0.1)
    torch.manual_seed(123)
    b = langevin_sample(quadratic, 2, batch_size=5, steps=3, noise_scale=1.0, step_size=0.1)
    assert torch.equal(a, b)


def _check_covariance(samples):
    cov = np.cov(samples.double().numpy(), rowvar=False)
    target = np.linalg.inv(A.double().numpy())  # [[0.568, -0.227], [-0.227, 0.758]]
    # Statistical error with 6000 chains is about 2% of each entry; the
    # step-size bias of the unadjusted sampler about 0.6%.
    np.testing.assert_allclose(cov, target, atol=0.04)
    np.testing.assert_allclose(samples.double().numpy().mean(axis=0), [0.0, 0.0], atol=0.05)


def test_samples_covariance_autograd_path():
    samples = langevin_sample(quadratic, 2, batch_size=6000, steps=400, step_size=0.01,
                              noise_scale=1.0, generator=torch.Generator().manual_seed(0))
    _check_covariance(samples)


def test_samples_covariance_fast_path():
    module = QuadraticEnergy(A)
    samples = langevin_sample(module, 2, batch_size=6000, steps=400, step_size=0.01,
                              noise_scale=1.0, generator=torch.Generator().manual_seed(1))
    assert module.fast_calls == 400  # the hand-written gradient was used, once per step
    _check_covariance(samples)


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("activation", ["silu", "relu", "tanh"])
def test_fast_path_equals_autograd_path(activation, spectral_norm):
    torch.manual_seed(0)
    net = build_energy_network(3, hidden_sizes=(16, 8), activation=activation,
                               spectral_norm=spectral_norm).eval()
    calls = []
    original = net.energy_and_grad

    def counting(x):
        calls.append(1)
        return original(x)

    net.energy_and_grad = counting
    kwargs = dict(batch_size=50, steps=20, step_size=0.1, noise_scale=0.5)
    fast = langevin_sample(net, 3, generator=torch.Generator().manual_seed(7), **kwargs)
    assert len(calls) == 20
    slow = langevin_sample(lambda x: net(x), 3, generator=torch.Generator().manual_seed(7), **kwargs)
    assert len(calls) == 20
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-5)


def test_network_dtype_is_used():
    net = build_energy_network(2, hidden_sizes=(8,)).double()
    out = langevin_sample(net, 2, batch_size=4, steps=2, step_size=0.1,
                          init=torch.zeros(4, 2, dtype=torch.float32))
    assert out.dtype == torch.float64


# ---------------------------------------------------------------- replay buffer


def test_replay_buffer_draw_and_store():
    g = torch.Generator().manual_seed(0)
    buffer = ReplayBuffer.from_normal(50, 3, reinit_freq=0.0, generator=g)
    assert buffer.chains.shape == (50, 3)
    index, start = buffer.draw(10, generator=g)
    assert index.shape == (10,) and start.shape == (10, 3)
    torch.testing.assert_close(start, buffer.chains[index])  # no restarts at reinit_freq=0
    start += 100.0  # a copy: the buffer is unchanged until store
    assert buffer.chains.abs().max() < 100.0
    buffer.store(index, start)
    torch.testing.assert_close(buffer.chains[index], start)


def test_replay_buffer_restarts_all_at_reinit_freq_one():
    buffer = ReplayBuffer(torch.full((20, 2), 1000.0), reinit_freq=1.0)
    _, start = buffer.draw(15, generator=torch.Generator().manual_seed(0))
    assert start.abs().max() < 10.0  # fresh N(0, I) draws, not the stored chains
