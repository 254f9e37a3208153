"""Capacity check on the 2-D densities: the estimator's network trained by exact maximum likelihood.

In two dimensions ``log Z`` is a quadrature, so the energy ``E(x) = f(x) + |x|^2 / 2`` that
EnergyBasedModel fits by contrastive divergence can also be fitted by exact maximum likelihood:
minimize ``mean E(batch) + log Z`` with ``log Z`` a differentiable midpoint sum over a grid. Same
whitening, network, initialization, AdamW (``learning_rate``, ``weight_decay``), weight average,
batch size, validation split and patience as the estimator's defaults; early stopping on the
validation NLL itself. The result is what the network and its regularization can reach with
exact gradients; the EBM's distance from it is what contrastive divergence and its sampler cost.

Printed next to EnergyBasedModel (defaults and ``--param`` overrides), KernelDensity and
GaussianMixture of ``density2d.py`` on the same split (held-out NLL by the same quadrature,
standardized units). The exact fit always uses the estimator's defaults (``--weight-decay``
and ``--network`` aside).

``--network`` swaps the estimator's plain MLP (``fourier_features=0``; since this script was
written, the estimator's 2-D default reads Fourier features of its own, with a mixture base)
for a more expressive one, to measure what the architecture is worth: ``fourier`` reads
``[sin(2 pi B z), cos(2 pi B z), z]`` with a fixed ``B ~ N(0, scale^2)`` (Tancik et al. 2020)
through the same MLP; ``residual`` is ``blocks`` residual blocks of ``width`` units. Both keep
the ``|z|^2 / 2`` term and a zero output layer, so training starts from the Gaussian.

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/exact_ml2d.py
    python benchmarks/exact_ml2d.py --datasets rings,2spirals --seeds 0,1 --weight-decay 0
    python benchmarks/exact_ml2d.py --network residual --residual-blocks 3   # ~5x the MLP's epoch time
"""

import argparse
import copy
import math

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from _common import (
    add_common_arguments, fmt, limit_threads, log, parse_params, print_table, split_list, write_json,
)
from _toy2d import TOYS, select_toys
from density2d import fit_ebm, fit_gmm, fit_kde, log_partition, toy_split

TRAIN_GRID = 160  # points per axis of the training quadrature (the evaluation uses --grid)


class FourierFeatureMLP(nn.Module):
    """The estimator's MLP on ``[sin(2 pi B z), cos(2 pi B z), z]``, ``B`` fixed ``N(0, scale^2)``."""

    def __init__(self, mlp, n_frequencies, scale, seed):
        super().__init__()
        generator = torch.Generator().manual_seed(10_000 + seed)
        self.register_buffer("frequencies", scale * torch.randn(n_frequencies, 2, generator=generator))
        self.mlp = mlp

    def forward(self, z):
        phase = 2 * math.pi * z @ self.frequencies.T
        return self.mlp(torch.cat([torch.sin(phase), torch.cos(phase), z], 1))


class ResidualMLP(nn.Module):
    """``blocks`` residual blocks ``h + W2 silu(W1 silu(h))`` of ``width`` units, a zero output layer."""

    def __init__(self, blocks, width, first_layer_scale):
        super().__init__()
        self.first = nn.Linear(2, width)
        with torch.no_grad():
            self.first.weight.mul_(first_layer_scale)
            self.first.bias.mul_(first_layer_scale)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
            for _ in range(blocks)
        )
        self.out = nn.Linear(width, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, z):
        h = self.first(z)
        for block in self.blocks:
            h = h + block(h)
        return self.out(nn.functional.silu(h))


def energy_network(args, seed, first_layer_scale, defaults):
    """The network ``f`` of ``--network``: the estimator's MLP, or a more expressive one."""
    from sklearn_ebm._fit_setup import network_params
    from sklearn_ebm._training_state import initial_network

    if args.network == "residual":
        return ResidualMLP(args.residual_blocks, args.residual_width, first_layer_scale)
    if args.network == "fourier":
        mlp = initial_network(2 * args.fourier_features + 2, first_layer_scale=1.0, **network_params(defaults, 2))
        return FourierFeatureMLP(mlp, args.fourier_features, args.fourier_scale, seed)
    return initial_network(2, first_layer_scale=first_layer_scale, **network_params(defaults, 2))


class ExactMLModel:
    """A trained ``GaussianBaseEnergy`` seen through the whitening: ``score_samples`` in user units."""

    def __init__(self, energy, whitening):
        self.energy, self.whitening = energy, whitening

    def score_samples(self, X):
        z = torch.as_tensor(self.whitening.transform(np.asarray(X, dtype=np.float64)), dtype=torch.float32)
        with torch.no_grad():
            return -self.energy(z).squeeze(1).double().numpy() + self.whitening.log_det


def fit_exact_ml(X, seed, args):
    """Exact maximum likelihood of the estimator's energy (``--network``); returns (model, epochs)."""
    from sklearn_ebm import EnergyBasedModel, GaussianBaseEnergy
    from sklearn_ebm._fit_setup import training_schedule
    from sklearn_ebm._training_state import INIT_SCALE_FRACTION, resolution_scale
    from sklearn_ebm._whitening import fit_whitening

    # The plain MLP: the estimator's 2-D default reads Fourier features of its own.
    defaults = EnergyBasedModel(random_state=seed, fourier_features=0)
    torch.manual_seed(seed)
    whitening = fit_whitening(X)
    data = torch.as_tensor(whitening.transform(X), dtype=torch.float32)
    order = torch.randperm(len(data))
    n_val = math.ceil(defaults.validation_fraction * len(data))
    validation, train = data[order[:n_val]], data[order[n_val:]]
    resolution = resolution_scale(len(train), X.shape[1])
    network = energy_network(args, seed, INIT_SCALE_FRACTION / resolution, defaults)
    energy = GaussianBaseEnergy(network)

    half_width = float(data.abs().max()) + 1.5
    step = 2 * half_width / TRAIN_GRID
    axis = -half_width + step * (torch.arange(TRAIN_GRID) + 0.5)
    grid = torch.cartesian_prod(axis, axis)

    def log_z(model):
        return torch.logsumexp(-model(grid).squeeze(1), 0) + 2 * math.log(step)

    optimizer = torch.optim.AdamW(network.parameters(), lr=defaults.learning_rate, weight_decay=args.weight_decay)
    averaged = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(defaults.ema_decay), use_buffers=True)
    scored = GaussianBaseEnergy(averaged.module)
    batch_size = training_schedule(defaults, 1, len(train), early_stopping=False).batch_size
    best, best_weights, since_best = math.inf, None, 0
    for epoch in range(args.max_epochs):
        for index in torch.randperm(len(train)).split(batch_size):
            loss = energy(train[index]).mean() + log_z(energy)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            averaged.update_parameters(network)
        with torch.no_grad():
            validation_nll = float(scored(validation).mean() + log_z(scored))
        if validation_nll < best - defaults.tol:
            best, best_weights, since_best = validation_nll, copy.deepcopy(averaged.module.state_dict()), 0
        else:
            since_best += 1
        if since_best >= defaults.n_iter_no_change:
            break
    averaged.module.load_state_dict(best_weights)
    return ExactMLModel(scored.eval(), whitening), epoch + 1


def held_out_nll(model, X_train, X_test, n_grid, tol):
    quadrature = log_partition(model, np.ceil(np.abs(X_train).max()) + 1, n_grid, tol)
    return quadrature["log_z"] - float(np.mean(model.score_samples(X_test)))


def run_dataset(name, seed, args):
    log(f"{name} seed {seed}")
    X_train, X_test = toy_split(name, seed)
    exact, epochs = fit_exact_ml(X_train, seed, args)
    row = {"exact_ml": held_out_nll(exact, X_train, X_test, args.grid, args.tol), "exact_ml_epochs": epochs}
    for key, fit in (("ebm", fit_ebm), ("kde", fit_kde), ("gmm", fit_gmm)):
        row[key] = held_out_nll(fit(X_train, seed, args.params), X_train, X_test, args.grid, args.tol)
    log(f"  exact ML {row['exact_ml']:.3f} ({epochs} epochs), EBM {row['ebm']:.3f}, "
        f"KDE {row['kde']:.3f}, GMM {row['gmm']:.3f}")
    return row


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", help=f"comma-separated substrings of {','.join(TOYS)}")
    parser.add_argument("--seeds", default="0", help="comma-separated data and model seeds (default 0)")
    parser.add_argument("--weight-decay", type=float, default=0.1,
                        help="AdamW weight decay of the exact fit (default 0.1, the estimator's)")
    parser.add_argument("--max-epochs", type=int, default=300, help="epoch cap of the exact fit")
    parser.add_argument("--network", choices=("mlp", "fourier", "residual"), default="mlp",
                        help="network of the exact fit (default: the estimator's plain MLP)")
    parser.add_argument("--fourier-features", type=int, default=64, help="frequencies of --network fourier")
    parser.add_argument("--fourier-scale", type=float, default=0.25,
                        help="standard deviation of the frequencies, in whitened units (default 0.25)")
    parser.add_argument("--residual-blocks", type=int, default=2, help="blocks of --network residual")
    parser.add_argument("--residual-width", type=int, default=256, help="width of --network residual")
    parser.add_argument("--grid", type=int, default=400, help="evaluation quadrature points per axis")
    parser.add_argument("--tol", type=float, default=0.01, help="widening tolerance on log Z in nats")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.datasets = select_toys(split_list(args.datasets))
    args.seeds = [int(s) for s in split_list(args.seeds)]
    args.params = parse_params(args.param)
    return args


def main(argv=None):
    args = parse_args(argv)
    with limit_threads(args.threads):
        rows = {(name, seed): run_dataset(name, seed, args) for seed in args.seeds for name in args.datasets}
    print(f"Exact maximum likelihood, network {args.network} (weight decay {args.weight_decay}) vs "
          f"EnergyBasedModel (overrides: {args.params or 'none'}), KDE and GMM\n")
    print_table(
        "Held-out NLL (nats, standardized units; lower is better)",
        ["dataset", "seed", "exact ML", "EBM (CD)", "EBM - exact", "KDE", "GMM", "exact epochs"],
        [[name, seed, fmt(r["exact_ml"], 3), fmt(r["ebm"], 3), fmt(r["ebm"] - r["exact_ml"], 3),
          fmt(r["kde"], 3), fmt(r["gmm"], 3), r["exact_ml_epochs"]] for (name, seed), r in rows.items()],
    )
    beats = sum(r["exact_ml"] < min(r["kde"], r["gmm"]) for r in rows.values())
    print(f"Exact ML beats both KDE and GMM on {beats} of {len(rows)} (dataset, seed) pairs")
    if args.json:
        write_json(args.json, {"args": vars(args), "rows": [
            {"dataset": name, "seed": seed, **r} for (name, seed), r in rows.items()]})


if __name__ == "__main__":
    main()
