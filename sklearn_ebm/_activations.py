"""The hidden activations of the energy network, with their derivatives.

Each in-place helper ``_name_(a, d)`` overwrites the pre-activation ``a`` with
the activation and writes the derivative into ``d``: the hand-written
gradient of :mod:`sklearn_ebm._kernel` needs both, and on the sampler's hot
path every elementwise pass counts.
"""

import math

import torch
from torch import nn

__all__ = ["ACTIVATIONS"]

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LEAKY_SLOPE = 0.01


# ``d`` is a buffer of a's shape; either may be a strided view. Elementwise
# passes are few and in place: on the sampler's hot path each one is a pass
# over the batch, and fewer buffers stay in cache.


def _silu_(a, d):
    # silu'(a) = s + a s (1 - s) = s + h (1 - s) = lerp(s, 1, h) with h = a s.
    torch.sigmoid(a, out=d)
    a.mul_(d)
    d.lerp_(_ones_like_scalar(d), a)
    return a, d


def _relu_(a, d):
    torch.gt(a, 0.0, out=d)
    a.clamp_min_(0.0)
    return a, d


def _gelu_(a, d):
    # cdf = erfc(-a / sqrt 2) / 2; gelu = a cdf; gelu' = cdf + a pdf.
    a_pdf = torch.mul(a, a).mul_(-0.5).exp_().mul_(_INV_SQRT_2PI).mul_(a)
    torch.mul(a, -_SQRT_HALF, out=d)
    d.erfc_().mul_(0.5)
    a.mul_(d)
    d.add_(a_pdf)
    return a, d


def _tanh_(a, d):
    a.tanh_()
    torch.addcmul(_ones_like_scalar(a), a, a, value=-1.0, out=d)
    return a, d


def _elu_(a, d):
    # elu = max(a, 0) + expm1(min(a, 0)); elu' = expm1(min(a, 0)) + 1.
    torch.clamp_max(a, 0.0, out=d)
    d.expm1_()
    a.clamp_min_(0.0).add_(d)
    d.add_(1.0)
    return a, d


def _leaky_relu_(a, d):
    torch.gt(a, 0.0, out=d)
    d.mul_(1.0 - _LEAKY_SLOPE).add_(_LEAKY_SLOPE)
    a.mul_(d)
    return a, d


def _softplus_(a, d):
    torch.sigmoid(a, out=d)
    a.copy_(nn.functional.softplus(a))
    return a, d


_ONES = {}


def _ones_like_scalar(t):
    # A 0-d one of t's dtype and device (broadcast by the ops that use it),
    # made once per dtype and device.
    key = (t.dtype, t.device)
    one = _ONES.get(key)
    if one is None:
        one = _ONES[key] = torch.ones((), dtype=t.dtype, device=t.device)
    return one


# name -> in-place helper: activation over the pre-activation, derivative into a buffer.
_ACTIVATIONS_INPLACE = {
    "silu": _silu_,
    "relu": _relu_,
    "gelu": _gelu_,
    "tanh": _tanh_,
    "elu": _elu_,
    "leaky_relu": _leaky_relu_,
    "softplus": _softplus_,
}


# _ACTIVATIONS_INPLACE has the derivative of each.
#: The activations of the energy network: name -> factory of its torch module.
ACTIVATIONS = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "leaky_relu": lambda: nn.LeakyReLU(_LEAKY_SLOPE),
    "softplus": nn.Softplus,
}


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {activation!r}; valid activations are "
            f"{sorted(ACTIVATIONS)}."
        )
