"""contrastive_divergence_loss and denoising_score_matching_loss."""

import inspect
import math

import pytest
import torch

from sklearn_ebm import contrastive_divergence_loss, denoising_score_matching_loss, noise_contrastive_loss


def hand_cd_loss(real, neg, alpha):
    real = [float(v) for v in real.flatten()]
    neg = [float(v) for v in neg.flatten()]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    return (
        mean(real) - mean(neg)
        + alpha * (mean([r * r for r in real]) + mean([n * n for n in neg]))
    )


def test_default_reg_alpha():
    sig = inspect.signature(contrastive_divergence_loss)
    assert sig.parameters["reg_alpha"].default == 0.01


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.5, 2.0])
def test_cd_loss_matches_hand_computation(alpha):
    real = torch.tensor([[0.5], [-1.0], [2.0], [0.25]], dtype=torch.float64)
    neg = torch.tensor([[3.0], [1.0], [-0.5]], dtype=torch.float64)  # different batch size
    loss = contrastive_divergence_loss(real, neg, reg_alpha=alpha)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(hand_cd_loss(real, neg, alpha), rel=1e-12, abs=1e-12)


def test_cd_loss_known_value():
    # mean(real)=1, mean(neg)=3, mean(real^2)=1, mean(neg^2)=9.
    real = torch.ones(4, 1)
    neg = torch.full((2, 1), 3.0)
    assert contrastive_divergence_loss(real, neg, reg_alpha=0.1).item() == pytest.approx(
        1 - 3 + 0.1 * (1 + 9)
    )


def test_cd_loss_default_alpha_is_used():
    torch.manual_seed(0)
    real, neg = torch.randn(8, 1), torch.randn(8, 1)
    default = contrastive_divergence_loss(real, neg)
    assert default.item() == pytest.approx(hand_cd_loss(real, neg, 0.01), rel=1e-5)
    assert torch.equal(default, contrastive_divergence_loss(real, neg, reg_alpha=0.01))
    assert not torch.equal(default, contrastive_divergence_loss(real, neg, reg_alpha=0.0))


def test_cd_loss_flat_and_column_shapes_agree():
    torch.manual_seed(0)
    real, neg = torch.randn(8), torch.randn(6)
    flat = contrastive_divergence_loss(real, neg, reg_alpha=0.3)
    column = contrastive_divergence_loss(real[:, None], neg[:, None], reg_alpha=0.3)
    torch.testing.assert_close(flat, column)


def test_cd_loss_gradient():
    # d/dE_real_i = 1/n + 2 a E_real_i / n ; d/dE_neg_j = -1/m + 2 a E_neg_j / m.
    alpha = 0.2
    real = torch.tensor([1.0, -2.0, 0.5, 3.0], requires_grad=True)
    neg = torch.tensor([0.5, 4.0], requires_grad=True)
    contrastive_divergence_loss(real, neg, reg_alpha=alpha).backward()
    torch.testing.assert_close(real.grad, (1 + 2 * alpha * real.detach()) / 4)
    torch.testing.assert_close(neg.grad, (-1 + 2 * alpha * neg.detach()) / 2)


def test_denoising_score_matching_loss_hand_computation():
    # E(x) = 0.5 * c * ||x||^2 has gradient c * x.
    torch.manual_seed(0)
    c = 0.7
    x = torch.randn(50, 3, dtype=torch.float64)
    noise = 0.3 * torch.randn(50, 3, dtype=torch.float64)
    energy_and_grad = lambda z: (0.5 * c * (z ** 2).sum(1, keepdim=True), c * z)  # noqa: E731
    sigma2 = (noise ** 2).mean()
    expected = (((c * (x + noise) - noise / sigma2) ** 2).sum(1).mean() * sigma2).item()
    loss = denoising_score_matching_loss(energy_and_grad, x, noise)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_noise_contrastive_loss_hand_computation():
    real = torch.tensor([[0.5], [-1.0], [2.0]])
    noise = torch.tensor([[1.5], [-0.5]])
    alpha = 0.1
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    expected = (
        (softplus(0.5) + softplus(-1.0) + softplus(2.0)) / 3
        + (softplus(-1.5) + softplus(0.5)) / 2
        + alpha * ((0.25 + 1.0 + 4.0) / 3 + (2.25 + 0.25) / 2)
    )
    assert noise_contrastive_loss(real, noise, alpha).item() == pytest.approx(expected, rel=1e-6)
    assert noise_contrastive_loss(real.view(-1), noise.view(-1), alpha).item() == pytest.approx(expected, rel=1e-6)


def test_noise_contrastive_loss_is_minimized_at_the_log_density_ratio():
    # Data N(1, 1) against base N(0, 1): log(p_data / p_base) = x - 1/2, so the
    # loss over f(x) = a * x + b is minimized near a = -1, b = 1/2.
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(20000, generator=generator) + 1.0
    noise = torch.randn(20000, generator=generator)
    params = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.LBFGS([params], max_iter=200)

    def closure():
        optimizer.zero_grad()
        loss = noise_contrastive_loss(params[0] * real + params[1], params[0] * noise + params[1], 0.0)
        loss.backward()
        return loss

    optimizer.step(closure)
    assert params[0].item() == pytest.approx(-1.0, abs=0.05)
    assert params[1].item() == pytest.approx(0.5, abs=0.05)
