"""The energy network: an MLP mapping ``(batch, input_size)`` to ``(batch, 1)``.

Besides the ordinary ``forward``, :class:`EnergyMLP` offers
:meth:`EnergyMLP.energy_and_grad`, the energy together with its gradient with
respect to the input computed by hand (one forward and one backward matrix
product per layer, no autograd graph). Langevin sampling calls it at every
step, so it is the hot path of training.
"""

import functools
import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

__all__ = [
    "ACTIVATIONS",
    "EnergyMLP",
    "GaussianBaseEnergy",
    "build_energy_network",
    "build_energy_head",
]

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LEAKY_SLOPE = 0.01


# Activation helpers. Each ``_name_(a, d)`` overwrites the pre-activation
# ``a`` with the activation and writes the derivative into ``d`` (a buffer of
# a's shape; either may be a strided view), returning ``(a, d)``. Elementwise
# passes are few and in place: on the sampler's hot path each one is a pass
# over the batch, and fewer buffers stay in cache. ``_name(a)`` is the pure
# form, returning new tensors and leaving ``a`` alone.


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


class EnergyMLP(nn.Module):
    """A multilayer perceptron with a scalar energy output.

    ``Linear -> activation (-> Dropout)`` for each hidden size, then
    ``Linear -> 1``. With ``spectral_norm=True`` every Linear layer is
    spectrally normalized (Miyato et al. 2018), which bounds the network's
    Lipschitz constant as in Du & Mordatch (2019).

    Parameters
    ----------
    input_size : int
        Number of input features.
    hidden_sizes : sequence of int, default=(256, 128)
        Width of each hidden layer.
    activation : str, default="silu"
        One of ``sorted(ACTIVATIONS)``.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    spectral_norm : bool, default=False
        Spectrally normalize every Linear layer.

    Attributes
    ----------
    layers : torch.nn.Sequential
        The layers, in order.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm import EnergyMLP
    >>> net = EnergyMLP(4, hidden_sizes=(16,))
    >>> net(torch.zeros(3, 4)).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        input_size,
        hidden_sizes=(256, 128),
        activation="silu",
        dropout=0.0,
        spectral_norm=False,
    ):
        super().__init__()
        _check_activation(activation)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        self.input_size = int(input_size)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.activation = activation
        self.dropout = float(dropout)
        self.spectral_norm = bool(spectral_norm)
        make_activation = ACTIVATIONS[activation]
        layers = []
        width = self.input_size
        for hidden in self.hidden_sizes:
            layers.append(self._linear(width, hidden))
            layers.append(make_activation())
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            width = hidden
        layers.append(self._linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def _linear(self, in_features, out_features):
        layer = nn.Linear(in_features, out_features)
        return _spectral_norm(layer) if self.spectral_norm else layer

    def forward(self, x):
        """Energies of ``x``, shape ``(batch, 1)``."""
        return self.layers(x)

    def config(self):
        """The constructor arguments, to rebuild an identical module."""
        return {
            "input_size": self.input_size,
            "hidden_sizes": self.hidden_sizes,
            "activation": self.activation,
            "dropout": self.dropout,
            "spectral_norm": self.spectral_norm,
        }

    def linear_layers(self):
        """The Linear layers in order, the output layer last."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def energy_and_grad(self, x):
        """Energies ``(batch, 1)`` and their gradient ``(batch, input_size)``.

        Computed without autograd; dropout is not applied (the module is
        treated as in eval mode), so use it for sampling, not for training.
        Spectrally normalized weights are computed once per call; wrap many
        calls in :func:`torch.nn.utils.parametrize.cached` or use
        :meth:`weights` to share them.
        """
        return mlp_energy_and_grad(self.weights(), self.activation, x)

    def weights(self):
        """Detached ``(weight, bias)`` pairs of the Linear layers, in order."""
        with torch.no_grad():
            return [(m.weight.detach(), m.bias.detach()) for m in self.linear_layers()]


def mlp_energy_and_grad(weights, activation, x):
    """Energy and input gradient of an MLP given as ``(weight, bias)`` pairs.

    The backward pass reuses the derivatives saved in the forward pass, so a
    call costs two matrix products per layer plus a few elementwise passes.
    Returns new tensors: energies ``(batch, 1)`` and gradients ``(batch, d)``.
    Langevin chains use :class:`_MLPKernel` instead, which works in buffers
    allocated once per chain.
    """
    act = _ACTIVATIONS_INPLACE[activation]
    derivatives = []
    h = x
    for weight, bias in weights[:-1]:
        pre = torch.addmm(bias, h, weight.t())
        h, derivative = act(pre, torch.empty_like(pre))
        derivatives.append(derivative)
    out_weight, out_bias = weights[-1]
    energies = torch.addmm(out_bias, h, out_weight.t())
    if not derivatives:
        return energies, out_weight.expand(x.shape[0], -1)
    grad = derivatives[-1].mul_(out_weight)
    for (weight, _), derivative in zip(reversed(weights[1:-1]), reversed(derivatives[:-1])):
        grad = torch.mm(grad, weight).mul_(derivative)
    return energies, torch.mm(grad, weights[0][0])


class _MLPKernel:
    """Langevin moves on ``scale * (mlp(x) + base * ||x||^2 / 2)``, in place.

    The hot path of Langevin sampling, for chains of a fixed batch shape:
    the weights are read once (spectral normalization included) and every
    buffer is allocated once, when the kernel is made at the start of a chain
    call, so a step is the layers' matrix products plus a few in-place
    elementwise passes, with no allocation and no autograd. What a sampler
    needs of the gradient is a move ``x + alpha * grad E(x)``, which
    :meth:`step` writes directly. Each layer has two buffers: its
    pre-activation, overwritten by the activation and then, on the way back,
    by the gradient; and the activation's derivative. Folded into the
    weights once: the output layer's weight into the last hidden layer's
    backward product, and ``scale`` (a Metropolis chain's inverse
    temperature). The energy's ``||x||^2`` term is one more column block of
    the output product.

    Parameters
    ----------
    weights : list of (weight, bias)
        As returned by :meth:`EnergyMLP.weights`; at least one hidden layer.
    activation : str
    like : torch.Tensor of shape (batch, d)
        Gives the batch size, dtype and device of the buffers.
    base : float, default=0.0
        Coefficient of the quadratic base energy (1 for :class:`GaussianBaseEnergy`).
    scale : float, default=1.0
        Multiplies energies and gradients.
    """

    def __init__(self, weights, activation, like, *, base=0.0, scale=1.0):
        hidden, (out_weight, out_bias) = weights[:-1], weights[-1]
        batch, dim = like.shape
        widths = [weight.shape[0] for weight, _ in hidden]
        self.base, self.scale = float(base), float(scale)
        self._act = _ACTIVATIONS_INPLACE[activation]
        self._forward = [(weight.t(), bias) for weight, bias in hidden]
        if self.scale != 1.0:
            out_weight, out_bias = self.scale * out_weight, self.scale * out_bias
        # Backward products from the last hidden layer down: g <- (g * d_l) @ W_l,
        # with the output weight folded into the last one.
        backward = [weight for weight, _ in hidden]
        backward[-1] = out_weight.t() * backward[-1]
        # The input layer's product is thin (d columns): MKL is faster on a
        # column-major right-hand side there, and never slower.
        backward[0] = backward[0].t().contiguous().t()
        self._backward = backward[::-1]
        # The last hidden activation and x**2 side by side: one product gives
        # the energy, base term included.
        extra = dim if self.base else 0
        self._energy_inputs = like.new_empty(batch, widths[-1] + extra)
        self._square = self._energy_inputs[:, widths[-1] :] if extra else None
        self._pre = [like.new_empty(batch, width) for width in widths[:-1]]
        self._pre.append(self._energy_inputs[:, : widths[-1]])
        self._derivatives = [like.new_empty(batch, width) for width in widths]
        self._energy_weight = out_weight.reshape(-1)
        if extra:
            base_weight = out_weight.new_full((extra,), 0.5 * self.scale * self.base)
            self._energy_weight = torch.cat([self._energy_weight, base_weight])
        self._energy_bias = out_bias
        self._layers = list(zip(self._forward, self._pre, self._derivatives))
        # (weight, derivative of the layer below, its buffer) for the backward products.
        self._back_layers = list(zip(self._backward, self._derivatives[-2::-1], self._pre[-2::-1]))

    def _forward_pass(self, x):
        h, act = x, self._act
        for (weight_t, bias), pre, derivative in self._layers:
            torch.addmm(bias, h, weight_t, out=pre)
            h, _ = act(pre, derivative)
        return h

    def _hidden_grad(self):
        # dE/d(first pre-activation), before the input layer's product.
        grad = self._derivatives[-1]
        for weight, derivative, buffer in self._back_layers:
            torch.mm(grad, weight, out=buffer)
            grad = buffer.mul_(derivative)
        return grad

    def step(self, x, alpha, out, energies=None):
        """``out <- x + alpha * grad E(x)``, and the energies ``(batch,)`` when given.

        ``out`` may be ``x`` itself. The move is the input layer's gradient
        product itself, with ``x``'s share of the gradient folded into its
        ``beta``: one product past the hidden layers, with no gradient buffer.
        """
        self._forward_pass(x)
        if energies is not None:
            if self._square is not None:
                torch.mul(x, x, out=self._square)
            torch.addmv(self._energy_bias, self._energy_inputs, self._energy_weight, out=energies)
        beta = 1.0 + alpha * self.scale * self.base
        if out is x:
            return x.addmm_(self._hidden_grad(), self._backward[-1], beta=beta, alpha=alpha)
        return torch.addmm(x, self._hidden_grad(), self._backward[-1], beta=beta, alpha=alpha, out=out)


class GaussianBaseEnergy(nn.Module):
    """``E(x) = network(x) + ||x||^2 / 2``: a network relative to N(0, I).

    Adding the standard normal's energy makes ``exp(-E)`` integrable for any
    network whose output grows at most linearly (every activation in
    :data:`ACTIVATIONS` does), so the model always has a finite partition
    function, and a zero network is exactly the standard normal.

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(batch, d)`` to ``(batch, 1)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm import EnergyMLP, GaussianBaseEnergy
    >>> model = GaussianBaseEnergy(EnergyMLP(2, hidden_sizes=(8,)))
    >>> model(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x):
        """Energies of ``x``, shape ``(batch, 1)``."""
        return self.network(x) + 0.5 * x.square().sum(dim=1, keepdim=True)

    def energy_and_grad(self, x):
        """Energies and input gradients; see :meth:`EnergyMLP.energy_and_grad`."""
        energies, grad = energy_and_grad_of(self.network)(x)
        return energies + 0.5 * x.square().sum(dim=1, keepdim=True), grad + x


def energy_and_grad_of(energy_fn):
    """``energy_fn.energy_and_grad`` when it has one (computed by hand), else autograd's."""
    if hasattr(energy_fn, "energy_and_grad"):
        return energy_fn.energy_and_grad
    return functools.partial(_autograd_energy_and_grad, energy_fn)


def _autograd_energy_and_grad(energy_fn, x):
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        energies = energy_fn(x)
        (grad,) = torch.autograd.grad(energies.sum(), x)
    return energies.detach(), grad


def build_energy_network(
    input_size, hidden_sizes=(256, 128), activation="silu", dropout=0.0, spectral_norm=False
):
    """Build the energy network: an MLP from ``(batch, input_size)`` to ``(batch, 1)``.

    The counterpart of the seed's ``EBM.build/1``.

    Parameters
    ----------
    input_size : int
        Number of input features.
    hidden_sizes : sequence of int, default=(256, 128)
        Width of each hidden layer.
    activation : {"silu", "relu", "gelu", "tanh", "elu", "leaky_relu", "softplus"}, default="silu"
        Activation after each hidden Linear layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    spectral_norm : bool, default=False
        Apply spectral normalization to every Linear layer.

    Returns
    -------
    EnergyMLP
        A plain :class:`torch.nn.Module`.

    Raises
    ------
    ValueError
        If ``activation`` is unknown; the message lists the valid names.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm import build_energy_network
    >>> net = build_energy_network(784, hidden_sizes=(256, 128))
    >>> net(torch.rand(32, 784)).shape
    torch.Size([32, 1])
    """
    return EnergyMLP(
        input_size,
        hidden_sizes=hidden_sizes,
        activation=activation,
        dropout=dropout,
        spectral_norm=spectral_norm,
    )


def build_energy_head(
    backbone,
    backbone_features,
    hidden_sizes=(256, 128),
    activation="silu",
    dropout=0.0,
    spectral_norm=False,
):
    """Put an energy MLP on top of an existing module.

    The counterpart of the seed's ``EBM.build_energy/2`` ("build from an
    existing input"): ``backbone`` maps the raw input to
    ``(batch, backbone_features)`` (for example embeddings of categorical
    columns), and the returned module maps the raw input to energies
    ``(batch, 1)``. Training the result trains the backbone too.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps inputs to ``(batch, backbone_features)``.
    backbone_features : int
        Width of the backbone's output.
    hidden_sizes, activation, dropout, spectral_norm
        As in :func:`build_energy_network`.

    Returns
    -------
    torch.nn.Sequential
        ``Sequential(backbone, EnergyMLP(backbone_features, ...))``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sklearn_ebm import build_energy_head
    >>> class Embed(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.colour = nn.Embedding(5, 3)
    ...     def forward(self, x):  # column 0: category code, column 1: a number
    ...         return torch.cat([self.colour(x[:, 0].long()), x[:, 1:]], dim=1)
    >>> model = build_energy_head(Embed(), backbone_features=4, hidden_sizes=(16,))
    >>> x = torch.tensor([[0.0, 1.5], [4.0, -0.2]])
    >>> model(x).shape
    torch.Size([2, 1])
    """
    head = EnergyMLP(
        backbone_features,
        hidden_sizes=hidden_sizes,
        activation=activation,
        dropout=dropout,
        spectral_norm=spectral_norm,
    )
    return nn.Sequential(backbone, head)
