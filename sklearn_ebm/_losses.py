"""Training and validation objectives for energy-based models."""

from torch.nn.functional import softplus

__all__ = ["contrastive_divergence_loss", "noise_contrastive_loss", "denoising_score_matching_loss"]


def contrastive_divergence_loss(real_energy, neg_energy, reg_alpha=0.01):
    """Contrastive divergence loss with an energy-magnitude penalty.

    ``mean(E_real) - mean(E_neg) + reg_alpha * (mean(E_real**2) + mean(E_neg**2))``

    Minimizing it pushes energy down on data and up on negative samples; the
    L2 term (Du & Mordatch 2019) keeps energies from drifting to extreme
    values. The counterpart of the seed's ``contrastive_divergence_loss/3``.

    Parameters
    ----------
    real_energy : torch.Tensor of shape (batch, 1) or (batch,)
        Energies of real data.
    neg_energy : torch.Tensor of shape (batch, 1) or (batch,)
        Energies of negative samples.
    reg_alpha : float, default=0.01
        Strength of the energy-magnitude penalty.

    Returns
    -------
    torch.Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm import contrastive_divergence_loss
    >>> contrastive_divergence_loss(torch.zeros(4, 1), torch.ones(4, 1), reg_alpha=0.5)
    tensor(-0.5000)
    """
    return (
        real_energy.mean()
        - neg_energy.mean()
        + reg_alpha * (real_energy.square().mean() + neg_energy.square().mean())
    )


def noise_contrastive_loss(real_energy, noise_energy, reg_alpha=0.01):
    """Noise-contrastive estimation loss against the base density, with an energy penalty.

    ``mean(softplus(f_real)) + mean(softplus(-f_noise)) + reg_alpha * (mean(f_real**2) + mean(f_noise**2))``

    ``f`` is the energy the model adds to its base (``E = f + B`` with
    ``exp(-B)`` the normalized base density) and the noise rows are exact
    draws from the base: the loss is the logistic loss of telling data
    (logit ``-f``) from noise, minimized at ``-f = log(p_data / p_base)``
    plus a constant that the output bias absorbs (Gutmann & Hyvarinen 2010;
    against a fitted base, as flow contrastive estimation, Gao et al. 2020).
    Each class's loss is a mean, so the optimum does not depend on how many
    noise rows there are per data row. It needs no sampler.

    Parameters
    ----------
    real_energy : torch.Tensor of shape (batch, 1) or (batch,)
        ``f`` on real data.
    noise_energy : torch.Tensor of shape (n_noise, 1) or (n_noise,)
        ``f`` on draws from the base.
    reg_alpha : float, default=0.01
        Strength of the energy-magnitude penalty.

    Returns
    -------
    torch.Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm import noise_contrastive_loss
    >>> noise_contrastive_loss(torch.zeros(4, 1), torch.zeros(4, 1), reg_alpha=0.0)
    tensor(1.3863)
    """
    return (
        softplus(real_energy).mean()
        + softplus(-noise_energy).mean()
        + reg_alpha * (real_energy.square().mean() + noise_energy.square().mean())
    )


def denoising_score_matching_loss(energy_and_grad, x, noise):
    """Denoising score matching loss (Vincent 2011) of an energy.

    With ``x_noisy = x + noise``, the loss is
    ``mean(sum((grad E(x_noisy) - noise / sigma**2)**2, axis=1)) * sigma**2``
    where ``sigma**2`` is the per-coordinate variance of ``noise``. It needs
    no partition function, and lower is better: it is minimized when
    ``-grad E`` is the score of the data convolved with the noise.

    Parameters
    ----------
    energy_and_grad : callable
        Maps ``x`` to ``(energies, input_gradients)``.
    x : torch.Tensor of shape (batch, d)
        Clean points.
    noise : torch.Tensor of shape (batch, d)
        Gaussian noise of a fixed standard deviation.

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    sigma2 = noise.square().mean()
    _, grad = energy_and_grad(x + noise)
    return (grad - noise / sigma2).square().sum(dim=1).mean() * sigma2
