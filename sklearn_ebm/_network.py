"""The energy network: an MLP mapping ``(batch, input_size)`` to ``(batch, 1)``.

Besides the ordinary ``forward``, :class:`EnergyMLP` offers
:meth:`EnergyMLP.energy_and_grad`, the energy together with its gradient with
respect to the input computed by hand (one forward and one backward matrix
product per layer, no autograd graph). Langevin sampling calls it at every
step, so it is the hot path of training.
"""

import functools

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ._activations import ACTIVATIONS, _check_activation
from ._fourier import FourierFeatures
from ._kernel import mlp_energy_and_grad

__all__ = [
    "ACTIVATIONS",
    "EnergyMLP",
    "FourierFeatures",
    "GaussianBaseEnergy",
    "MixtureBaseEnergy",
    "build_energy_network",
    "build_energy_head",
    "network_view",
]


class EnergyMLP(nn.Module):
    """A multilayer perceptron with a scalar energy output.

    ``Linear -> activation (-> Dropout)`` for each hidden size, then
    ``Linear -> 1``. With ``spectral_norm=True`` every Linear layer is
    spectrally normalized (Miyato et al. 2018), which bounds the network's
    Lipschitz constant as in Du & Mordatch (2019). With
    ``fourier_features > 0`` the first layer reads
    :class:`FourierFeatures` of the input (sines and cosines of fixed random
    projections, then the input itself), which lets the network resolve fine
    structure in few dimensions (Tancik et al. 2020).

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
    fourier_features : int, default=0
        Random frequencies of the :class:`FourierFeatures` the first layer
        reads; 0 reads the input as it is.
    fourier_scale : float, default=0.5
        The features' ``scale``: standard deviation of a typical
        (standardized) row's phases, in turns.

    Attributes
    ----------
    features : FourierFeatures or None
        The input features, when ``fourier_features > 0``.
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
        fourier_features=0,
        fourier_scale=0.5,
    ):
        super().__init__()
        _check_activation(activation)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        if fourier_features < 0:
            raise ValueError(f"fourier_features must be 0 or a positive integer, got {fourier_features!r}.")
        self.input_size = int(input_size)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.activation = activation
        self.dropout = float(dropout)
        self.spectral_norm = bool(spectral_norm)
        self.fourier_features = int(fourier_features)
        self.fourier_scale = float(fourier_scale)
        # Drawn before the layers' weights; nothing is drawn without features,
        # so a plain MLP initializes exactly as before they existed.
        self.features = (
            FourierFeatures(self.input_size, self.fourier_features, self.fourier_scale)
            if self.fourier_features
            else None
        )
        make_activation = ACTIVATIONS[activation]
        layers = []
        width = self.input_size if self.features is None else self.features.out_features
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
        return self.layers(x if self.features is None else self.features(x))

    def config(self):
        """The constructor arguments, to rebuild an identical module (its state dict holds the frequencies)."""
        return {
            "input_size": self.input_size,
            "hidden_sizes": self.hidden_sizes,
            "activation": self.activation,
            "dropout": self.dropout,
            "spectral_norm": self.spectral_norm,
            "fourier_features": self.fourier_features,
            "fourier_scale": self.fourier_scale,
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
        if self.features is None:
            return mlp_energy_and_grad(self.weights(), self.activation, x)
        features, pullback = self.features.features_and_pullback(x)
        energies, grad = mlp_energy_and_grad(self.weights(), self.activation, features)
        return energies, pullback(grad)

    def weights(self):
        """Detached ``(weight, bias)`` pairs of the Linear layers, in order."""
        with torch.no_grad():
            return [(m.weight.detach(), m.bias.detach()) for m in self.linear_layers()]


class GaussianBaseEnergy(nn.Module):
    """``E(x) = network(x) + ||x||^2 / 2``: a network relative to N(0, I).

    Adding the standard normal's energy makes ``exp(-E)`` integrable for any
    network whose output grows at most linearly (every activation in
    :data:`ACTIVATIONS` does), so the model always has a finite partition
    function, and a zero network is exactly the standard normal.

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(batch, d)`` to ``(batch, 1)``, or ``(batch, network_inputs)``
        to ``(batch, 1)``.
    network_inputs : int or None, default=None
        The network reads the last ``network_inputs`` coordinates of ``x``
        (all of them when None or at least ``d``); the others follow the
        base alone. The estimators' whitened coordinates come in increasing
        order of their principal component's variance, so these are the
        leading principal directions.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ebm import EnergyMLP, GaussianBaseEnergy
    >>> model = GaussianBaseEnergy(EnergyMLP(2, hidden_sizes=(8,)))
    >>> model(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    >>> wide = GaussianBaseEnergy(EnergyMLP(2, hidden_sizes=(8,)), network_inputs=2)
    >>> wide(torch.zeros(5, 10)).shape
    torch.Size([5, 1])
    """

    def __init__(self, network, network_inputs=None):
        super().__init__()
        self.network = network
        self.network_inputs = network_inputs

    def base_energy(self, x):
        """The base's energy ``||x||^2 / 2``, shape ``(batch,)``."""
        return 0.5 * x.square().sum(dim=1)

    def network_energy(self, x):
        """The network's share of the energy, shape ``(batch, 1)``."""
        return self.network(network_view(x, self.network_inputs))

    def unread_columns(self, n_features):
        """How many leading coordinates of ``n_features`` the network does not read.

        In those the energy is the base's alone: the model is standard normal
        there and independent of the rest.
        """
        if self.network_inputs is None or self.network_inputs >= n_features:
            return 0
        return n_features - self.network_inputs

    def forward(self, x):
        """Energies of ``x``, shape ``(batch, 1)``."""
        return self.network_energy(x) + 0.5 * x.square().sum(dim=1, keepdim=True)

    def energy_and_grad(self, x):
        """Energies and input gradients; see :meth:`EnergyMLP.energy_and_grad`."""
        energies, grad = _network_energy_and_grad(self.network, x, self.network_inputs)
        return energies + 0.5 * x.square().sum(dim=1, keepdim=True), grad + x


class MixtureBaseEnergy(nn.Module):
    """``E(x) = network(x) - log p(x)``: an exponential tilt of a fitted mixture.

    ``base`` is a :class:`~sklearn_ebm._mixture.MixtureBase` (it has no
    parameters); a zero network is exactly the mixture, and ``exp(-E)`` is
    integrable when the network grows at most linearly, as the mixture's
    tails are Gaussian.

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(batch, d)`` to ``(batch, 1)``, or ``(batch, network_inputs)``
        to ``(batch, 1)``.
    base : MixtureBase
    network_inputs : int or None, default=None
        As in :class:`GaussianBaseEnergy`.
    """

    def __init__(self, network, base, network_inputs=None):
        super().__init__()
        self.network = network
        self.base = base
        self.network_inputs = network_inputs

    def base_energy(self, x):
        """The base's energy ``-log p(x)``, shape ``(batch,)``."""
        return self.base.energy(x)

    def network_energy(self, x):
        """The network's share of the energy, shape ``(batch, 1)``."""
        return self.network(network_view(x, self.network_inputs))

    def forward(self, x):
        """Energies of ``x``, shape ``(batch, 1)``."""
        return self.network_energy(x) + self.base.energy(x)[:, None]

    def energy_and_grad(self, x):
        """Energies and input gradients; see :meth:`EnergyMLP.energy_and_grad`."""
        energies, grad = _network_energy_and_grad(self.network, x, self.network_inputs)
        base_energies, base_grad = self.base.energy_and_grad(x)
        return energies + base_energies[:, None], grad + base_grad


def network_view(x, network_inputs):
    """The last ``network_inputs`` columns of ``x`` (a view), or ``x``."""
    if network_inputs is None or network_inputs >= x.shape[-1]:
        return x
    return x[..., x.shape[-1] - network_inputs :]


def _network_energy_and_grad(network, x, network_inputs):
    """The network's energies and its gradient with respect to all of ``x``."""
    view = network_view(x, network_inputs)
    energies, grad = energy_and_grad_of(network)(view)
    if view is x:
        return energies, grad
    full = torch.zeros_like(x)
    full[..., x.shape[-1] - view.shape[-1] :] = grad
    return energies, full


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
    input_size,
    hidden_sizes=(256, 128),
    activation="silu",
    dropout=0.0,
    spectral_norm=False,
    fourier_features=0,
    fourier_scale=0.5,
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
    fourier_features : int, default=0
        Random frequencies of the :class:`FourierFeatures` the first layer
        reads (an addition to the seed); 0 reads the input as it is.
    fourier_scale : float, default=0.5
        Standard deviation of a typical standardized row's phases, in turns.

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
        fourier_features=fourier_features,
        fourier_scale=fourier_scale,
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
