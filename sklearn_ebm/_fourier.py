"""Random Fourier features: ``x -> [sin(x B^T), cos(x B^T), x]`` with fixed frequencies ``B``.

An MLP on raw coordinates is biased toward smooth functions and resolves
fine low-dimensional structure (rings, spirals, sharp cluster edges) slowly;
reading sinusoids of random projections first lets it (Tancik et al. 2020,
"Fourier features let networks learn high frequency functions in low
dimensional domains"). The frequencies are drawn once and never trained.
"""

import math

import torch
from torch import nn

__all__ = ["FourierFeatures"]


class FourierFeatures(nn.Module):
    """Map ``(batch, d)`` to ``(batch, 2 * n_frequencies + d)``: sines, cosines, then ``x``.

    Each row of the angular frequencies ``B`` (the buffer ``frequencies``,
    shape ``(n_frequencies, d)``) is drawn from
    ``N(0, (2 pi scale)**2 / d * I)``, so that at a point of norm ``sqrt(d)``
    (a typical standardized row) every phase has standard deviation
    ``2 pi scale``: the same scale means the same wiggliness whatever ``d``.
    ``x`` itself is passed through, so the smooth part of a function needs
    no sinusoid.

    Parameters
    ----------
    input_size : int
        ``d``, the number of input features.
    n_frequencies : int
        Number of random frequencies; the output has ``2 * n_frequencies + d`` columns.
    scale : float, default=0.5
        Standard deviation of a typical row's phases, in turns.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm import FourierFeatures
    >>> features = FourierFeatures(2, n_frequencies=8)
    >>> features(torch.zeros(3, 2)).shape
    torch.Size([3, 18])
    """

    def __init__(self, input_size, n_frequencies, scale=0.5):
        super().__init__()
        if n_frequencies < 1:
            raise ValueError(f"n_frequencies must be a positive integer, got {n_frequencies!r}.")
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}.")
        self.input_size = int(input_size)
        self.n_frequencies = int(n_frequencies)
        self.scale = float(scale)
        std = 2 * math.pi * self.scale / math.sqrt(self.input_size)
        self.register_buffer("frequencies", std * torch.randn(self.n_frequencies, self.input_size))

    @property
    def out_features(self):
        """Width of the output, ``2 * n_frequencies + input_size``."""
        return 2 * self.n_frequencies + self.input_size

    def forward(self, x):
        """The features of ``x``, shape ``(batch, out_features)``."""
        phase = x @ self.frequencies.T
        return torch.cat([torch.sin(phase), torch.cos(phase), x], dim=1)

    def features_and_pullback(self, x):
        """The features of ``x`` and a function mapping a feature gradient to ``x``'s gradient.

        For gradients computed by hand (no autograd graph): given
        ``dE/dfeatures`` of shape ``(batch, out_features)``, the returned
        function gives ``dE/dx``, shape ``(batch, d)``.
        """
        phase = x @ self.frequencies.T
        sin, cos = torch.sin(phase), torch.cos(phase)
        features = torch.cat([sin, cos, x], dim=1)
        n = self.n_frequencies

        def pullback(grad):
            # d sin / d phase = cos, d cos / d phase = -sin, d phase / dx = B.
            phase_grad = grad[:, :n] * cos - grad[:, n : 2 * n] * sin
            return torch.addmm(grad[:, 2 * n :], phase_grad, self.frequencies)

        return features, pullback
