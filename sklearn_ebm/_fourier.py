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

    The sinusoids read ``x`` clamped to ``[lower, upper]`` per coordinate
    (the buffers ``lower`` and ``upper``, unbounded until :meth:`bound_to`
    sets them to data's range). Random sinusoids take arbitrary values far
    from the points a network was trained on, and an energy on them can put
    mass there that nothing in training checks (a 2-D model trained for
    1,000 epochs without early stopping moved most of its mass outside the
    data); clamped, they hold their values at the data's edge, and beyond it
    the network extrapolates through ``x`` alone, as a plain MLP does.

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
        self.register_buffer("lower", torch.full((self.input_size,), -math.inf))
        self.register_buffer("upper", torch.full((self.input_size,), math.inf))

    def bound_to(self, x):
        """Clamp the sinusoids' input to the range of the rows ``x``, per coordinate; returns self."""
        with torch.no_grad():
            self.lower.copy_(x.amin(dim=0))
            self.upper.copy_(x.amax(dim=0))
        return self

    @property
    def out_features(self):
        """Width of the output, ``2 * n_frequencies + input_size``."""
        return 2 * self.n_frequencies + self.input_size

    def forward(self, x):
        """The features of ``x``, shape ``(batch, out_features)``."""
        phase = torch.clamp(x, self.lower, self.upper) @ self.frequencies.T
        return torch.cat([torch.sin(phase), torch.cos(phase), x], dim=1)

    def features_and_pullback(self, x):
        """The features of ``x`` and a function mapping a feature gradient to ``x``'s gradient.

        For gradients computed by hand (no autograd graph): given
        ``dE/dfeatures`` of shape ``(batch, out_features)``, the returned
        function gives ``dE/dx``, shape ``(batch, d)``.
        """
        clamped = torch.clamp(x, self.lower, self.upper)
        phase = clamped @ self.frequencies.T
        sin, cos = torch.sin(phase), torch.cos(phase)
        features = torch.cat([sin, cos, x], dim=1)
        n = self.n_frequencies

        def pullback(grad):
            # d sin / d phase = cos, d cos / d phase = -sin, d phase / dx = B
            # where x is inside its bounds, 0 where clamped.
            phase_grad = grad[:, :n] * cos - grad[:, n : 2 * n] * sin
            return grad[:, 2 * n :] + (phase_grad @ self.frequencies) * (clamped == x)

        return features, pullback
