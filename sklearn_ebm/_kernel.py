"""The energy of an MLP and its input gradient, computed by hand.

One forward and one backward matrix product per layer, no autograd graph:
Langevin sampling needs the gradient at every step, so this is the hot path
of training. :func:`mlp_energy_and_grad` returns new tensors;
:class:`_MLPKernel` works in buffers allocated once per chain.
"""

import torch

from ._activations import _ACTIVATIONS_INPLACE

__all__ = ["mlp_energy_and_grad"]


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
    inputs : int or None, default=None
        The network reads the last ``inputs`` coordinates of ``x`` (all when
        None); the others move under the base energy alone.
    frequencies : torch.Tensor of shape (n_frequencies, inputs) or None, default=None
        The angular frequencies of the :class:`FourierFeatures` the first
        layer reads (``[sin, cos, x]``), or None when it reads ``x``.
    """

    def __init__(self, weights, activation, like, *, base=0.0, scale=1.0, inputs=None, frequencies=None):
        hidden, (out_weight, out_bias) = weights[:-1], weights[-1]
        batch, dim = like.shape
        # Columns of x before those the network reads: a view, no copy.
        self._unread = dim - inputs if inputs is not None and inputs < dim else 0
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
        self._fourier = None
        if frequencies is not None:
            # The move reads the input layer's columns of x; the sines' and
            # cosines' columns (output weight folded in, as here) go through
            # the features' own pullback.
            self._fourier = _FourierBuffers(frequencies, backward[0], like)
            backward[0] = backward[0][:, self._fourier.trig_columns :]
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
        h, act = x[:, self._unread :] if self._unread else x, self._act
        if self._fourier is not None:
            h = self._fourier.forward(h)
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
        in_place, unread, target = out is x, self._unread, out
        if unread:
            # The base's share of the move, where the network reads nothing.
            torch.mul(x[:, :unread], beta, out=out[:, :unread])
            x, target = x[:, unread:], out[:, unread:]
        grad = self._hidden_grad()
        if in_place:
            x.addmm_(grad, self._backward[-1], beta=beta, alpha=alpha)
        else:
            torch.addmm(x, grad, self._backward[-1], beta=beta, alpha=alpha, out=target)
        if self._fourier is not None:
            self._fourier.add_pullback(grad, alpha, target)
        return out


class _FourierBuffers:
    """The :class:`FourierFeatures` of an :class:`_MLPKernel`'s input, in buffers made once.

    ``forward`` writes ``[sin(x B^T), cos(x B^T), x]`` into one buffer, the
    first layer's input; ``add_pullback`` adds the sines' and cosines' share
    of the gradient, ``((g W_sin) * cos - (g W_cos) * sin) B``, to a move
    (the input columns' share is the kernel's own input-layer product).
    """

    def __init__(self, frequencies, first_backward, like):
        batch = like.shape[0]
        self.n_frequencies = n = frequencies.shape[0]
        self.trig_columns = 2 * n
        self._frequencies = frequencies
        self._frequencies_t = frequencies.t()
        # Sine and cosine columns of the first layer's backward product.
        self._trig_weight = first_backward[:, : 2 * n].contiguous()
        self._phase = like.new_empty(batch, n)
        self._features = like.new_empty(batch, 2 * n + frequencies.shape[1])
        self._sin, self._cos = self._features[:, :n], self._features[:, n : 2 * n]
        self._passthrough = self._features[:, 2 * n :]
        self._trig_grad = like.new_empty(batch, 2 * n)

    def forward(self, x):
        torch.mm(x, self._frequencies_t, out=self._phase)
        torch.sin(self._phase, out=self._sin)
        torch.cos(self._phase, out=self._cos)
        self._passthrough.copy_(x)
        return self._features

    def add_pullback(self, grad, alpha, out):
        n = self.n_frequencies
        torch.mm(grad, self._trig_weight, out=self._trig_grad)
        sin_grad, cos_grad = self._trig_grad[:, :n], self._trig_grad[:, n:]
        sin_grad.mul_(self._cos)
        cos_grad.mul_(self._sin)
        sin_grad.sub_(cos_grad)
        out.addmm_(sin_grad, self._frequencies, alpha=alpha)


class _TiltKernel:
    """An :class:`_MLPKernel` (``base=0``) plus a mixture base energy: the same ``step`` contract.

    The mixture's energy and gradient (two matrix products, see
    :class:`~sklearn_ebm._mixture.MixtureBase`) are added to the network's.
    """

    def __init__(self, kernel, base, scale=1.0):
        self.kernel, self.base, self.scale = kernel, base, float(scale)

    def step(self, x, alpha, out, energies=None):
        base_energies, base_grad = self.base.energy_and_grad(x)
        out = self.kernel.step(x, alpha, out, energies)
        out.add_(base_grad, alpha=alpha * self.scale)
        if energies is not None:
            energies.add_(base_energies, alpha=self.scale)
        return out
