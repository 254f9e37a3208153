"""How much of a trained correction to keep: the factor on the network's share of the energy.

A model ``E = B + f`` tilts a normalized base density ``exp(-B)`` by the
network ``f``. Scaling the correction, ``E_t = B + t f`` with ``t`` in
``[0, 1]``, moves between the base (``t = 0``) and the trained model
(``t = 1``). Its held-out log-likelihood is, up to a constant in ``t``,

    L(t) = -t mean f(validation) - log E_base[exp(-t f)],

with the expectation over exact draws from the base (importance sampling).
``L`` is concave in ``t`` (a log-mean-exp of a linear function is convex),
so the best scale on a grid is close to the best over the interval. Where
the estimate of ``log E_base[exp(-f)]`` is poor (a sharp ``f``, few
effective draws), it is biased low, which favours ``t = 1``: the trained
model is kept unless the evidence for less of it is clear.
"""

import math

import torch

__all__ = ["best_correction_scale", "scale_output"]

#: The scales tried, from the base alone to the trained model.
CORRECTION_SCALES = torch.arange(21, dtype=torch.float64) / 20


def best_correction_scale(validation_energies, base_energies, scales=CORRECTION_SCALES):
    """The scale ``t`` of the correction ``f`` with the best held-out log-likelihood.

    Parameters
    ----------
    validation_energies : torch.Tensor of shape (n_validation,)
        ``f`` on held-out rows.
    base_energies : torch.Tensor of shape (n_draws,)
        ``f`` on exact draws from the base density.
    scales : torch.Tensor of shape (n_scales,), default=CORRECTION_SCALES
        The candidates, ascending; ties go to the smaller one.

    Returns
    -------
    scale : float
        The candidate with the highest ``L(t)``.
    gain : float
        ``L(scale) - L(1)``, nats per row: what scaling gains over the
        trained model (0 where ``scale`` is 1).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm._correction_scale import best_correction_scale
    >>> draws = torch.randn(20000, dtype=torch.float64)
    >>> # f(x) = x / 2 on N(0, 1) draws, held-out rows around 0: t = 0 is best.
    >>> best_correction_scale(torch.zeros(50, dtype=torch.float64), draws / 2)[0]
    0.0
    """
    f_validation = validation_energies.double().mean()
    f_base = base_energies.double()
    scales = scales.to(f_base.device, torch.float64)
    log_mean_tilt = torch.logsumexp(-scales[:, None] * f_base[None, :], dim=1) - math.log(len(f_base))
    values = -scales * f_validation - log_mean_tilt
    best = int(torch.argmax(values))  # the first maximum: the smaller scale on a tie
    return float(scales[best]), float(values[best] - values[-1])


def scale_output(network, scale):
    """Multiply the output of ``network``'s last Linear layer (weight and bias) by ``scale``, in place.

    Returns False, leaving the network alone, where that layer is
    parametrized (spectral normalization divides out any scale of its weight).
    """
    layer = network.linear_layers()[-1]
    if torch.nn.utils.parametrize.is_parametrized(layer):
        return False
    with torch.no_grad():
        layer.weight.mul_(scale)
        if layer.bias is not None:
            layer.bias.mul_(scale)
    return True
