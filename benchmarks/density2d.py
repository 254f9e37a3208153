"""Exact 2-D density estimation: held-out NLL by quadrature and sample MMD on six toy densities.

Follows the density protocol of ``shared/BENCHMARK.md``. For each toy density (8 gaussians, two
moons, rings, checkerboard, pinwheel, two spirals; see ``_toy2d.py``): 5,000 train and 5,000
test points, standardized with a scaler fit on train; all figures are in the standardized units.

* NLL: ``log Z`` of each model by midpoint quadrature of ``exp(score_samples)`` on a
  ``G x G`` grid over ``[-L, L]^2`` (``L`` starts at ``ceil(max |x_train|) + 1``); the grid is
  widened 1.5x until two successive widths agree within ``--tol`` nats (at most 4 times; the last
  difference is printed). Held-out NLL = ``log Z - mean(score_samples(X_test))`` in nats. KDE
  and GMM are normalized, so their quadrature ``log Z`` is a sanity check that should be ~0.
* Sample quality: biased (V-statistic) squared MMD with an RBF kernel between 2,000 model samples
  and 2,000 test points. The kernel width is the median pairwise distance of 2,000 train and
  the 2,000 test points pooled, one width per dataset so the models' figures are comparable.
  The MMD^2 of the 2,000 train points vs the test points is the noise floor.
* Models: EnergyBasedModel (defaults + ``--param`` overrides), KernelDensity with the bandwidth
  by 5-fold GridSearchCV over ``logspace(-2, 0, 20)``, GaussianMixture with n_components 1..20
  by BIC.
* Seeds: ``--seeds`` (comma-separated, default ``0``; ``--seed N`` is an alias for one seed).
  Each seed draws its own train/test split (``toy_split(name, seed)``) and is every model's
  ``random_state``. With one seed the tables are those of that seed. With several: the NLL table
  of each seed, the quadrature checks summarized over seeds (EBM mean ``log Z``, KDE/GMM max
  ``|log Z|``, max ``L`` and max ``|widen diff|``), the mean NLL over seeds (with the EBM's sample
  standard deviation), the mean MMD^2, and the win counts computed on the means (the per-seed
  counts in parentheses). ``--json`` holds every seed's raw figures.

Run from the repository root::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/density2d.py
    python benchmarks/density2d.py --models kde,gmm
    python benchmarks/density2d.py --seeds 0,1,2                 # means (and EBM sd) over 3 seeds
    python benchmarks/density2d.py --datasets moons,rings --param max_iter=200 --json out.json
    python benchmarks/density2d.py --max-iter-factor 10     # stability: 10x the default epochs
"""

import argparse
import time

import numpy as np
from scipy.spatial.distance import cdist, pdist
from scipy.special import logsumexp
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from _common import (
    BICGaussianMixture, add_common_arguments, check_choices, fmt, limit_threads, log,
    parse_params, print_table, split_list, write_json,
)
from _toy2d import TOYS, make_toy, select_toys

N_TRAIN = N_TEST = 5_000
N_MMD = 2_000
KDE_BANDWIDTHS = np.logspace(-2, 0, 20)
GMM_COMPONENTS = tuple(range(1, 21))
WIDEN = 1.5
MAX_WIDENINGS = 4
CHUNK = 40_000


def fit_ebm(X, seed, params):
    """EnergyBasedModel with its defaults and the overrides."""
    from sklearn_ebm import EnergyBasedModel

    return EnergyBasedModel(random_state=seed, **params).fit(X)


def fit_kde(X, seed, params):
    """KernelDensity with the bandwidth of best 5-fold held-out log-likelihood."""
    search = GridSearchCV(KernelDensity(), {"bandwidth": KDE_BANDWIDTHS}, cv=5).fit(X)
    return search.best_estimator_


def fit_gmm(X, seed, params):
    """Full-covariance GaussianMixture with n_components in 1..20 by lowest BIC."""
    return BICGaussianMixture(candidates=GMM_COMPONENTS, random_state=seed).fit(X)


MODELS = {
    "ebm": ("EBM", fit_ebm, lambda model, n, seed: model.sample(n, random_state=seed)),
    "kde": ("KDE", fit_kde, lambda model, n, seed: model.sample(n, random_state=seed)),
    "gmm": ("GMM", fit_gmm, lambda model, n, seed: model.sample(n)),
}


def model_details(name, model):
    """The selected hyperparameter or training length worth printing next to the NLL."""
    if name == "ebm":
        return {"n_iter": int(model.n_iter_)}
    if name == "kde":
        return {"bandwidth": float(model.bandwidth)}
    return {"n_components": int(model.n_components_)}


def toy_split(name, seed):
    """Standardized train and test draws of one toy (scaler fit on train)."""
    rng = np.random.default_rng([seed, list(TOYS).index(name)])
    X_train, X_test = make_toy(name, N_TRAIN, rng), make_toy(name, N_TEST, rng)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def grid_log_z(model, half_width, n_grid):
    """``log`` of the midpoint-rule integral of ``exp(score_samples)`` over ``[-L, L]^2``."""
    step = 2 * half_width / n_grid
    axis = -half_width + step * (np.arange(n_grid) + 0.5)
    xx, yy = np.meshgrid(axis, axis)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    scores = np.concatenate([model.score_samples(chunk)
                             for chunk in np.array_split(points, -(-len(points) // CHUNK))])
    return float(logsumexp(scores) + 2 * np.log(step))


def log_partition(model, half_width, n_grid, tol):
    """Quadrature ``log Z``, widening the box 1.5x until two widths agree within ``tol`` nats."""
    log_z = grid_log_z(model, half_width, n_grid)
    for _ in range(MAX_WIDENINGS):
        wider = WIDEN * half_width
        wider_log_z = grid_log_z(model, wider, n_grid)
        diff = wider_log_z - log_z
        half_width, log_z = wider, wider_log_z
        if abs(diff) <= tol:
            break
    return {"log_z": log_z, "half_width": half_width, "widen_diff": diff}


def mmd2(X, Y, bandwidth):
    """Biased squared MMD between samples X and Y, kernel ``exp(-|x-y|^2 / (2 bandwidth^2))``."""
    def kernel_mean(A, B):
        return np.exp(-cdist(A, B, "sqeuclidean") / (2 * bandwidth**2)).mean()

    return float(kernel_mean(X, X) + kernel_mean(Y, Y) - 2 * kernel_mean(X, Y))


def evaluate_model(name, X_train, X_test, seed, params, n_grid, tol, bandwidth):
    """Fit one model; its NLL, quadrature figures, MMD^2 and fit seconds."""
    label, fit, draw = MODELS[name]
    start = time.perf_counter()
    model = fit(X_train, seed, params)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    quadrature = log_partition(model, np.ceil(np.abs(X_train).max()) + 1, n_grid, tol)
    nll = quadrature["log_z"] - float(np.mean(model.score_samples(X_test)))
    samples = np.asarray(draw(model, N_MMD, seed), dtype=np.float64)
    result = {"nll": nll, **quadrature, "fit_seconds": fit_seconds,
              "mmd2": mmd2(samples, X_test[:N_MMD], bandwidth), **model_details(name, model)}
    log(f"  {label}: fit {fit_seconds:.1f}s, evaluation {time.perf_counter() - start:.1f}s, "
        f"NLL {nll:.3f}, log Z {quadrature['log_z']:.4f} (L={quadrature['half_width']:.1f}, "
        f"widen diff {quadrature['widen_diff']:.1e})")
    return result


def run_dataset(name, models, seed, params, n_grid, tol):
    """All models on one toy density; a dict of raw figures."""
    log(f"{name}")
    X_train, X_test = toy_split(name, seed)
    reference = np.vstack([X_train[:N_MMD], X_test[:N_MMD]])
    bandwidth = float(np.median(pdist(reference)))
    result = {"mmd_bandwidth": bandwidth,
              "mmd2_train_floor": mmd2(X_train[:N_MMD], X_test[:N_MMD], bandwidth),
              "models": {}}
    for model in models:
        result["models"][model] = evaluate_model(
            model, X_train, X_test, seed, params, n_grid, tol, bandwidth)
    return result


def print_nll(results, models, title="Held-out NLL (nats, standardized units; lower is better)"):
    """NLL per dataset and model, with the selected KDE bandwidth, GMM size and EBM epochs."""
    headers = ["dataset"] + [f"{MODELS[m][0]} NLL" for m in models]
    details = [("kde", "KDE h", "bandwidth", 3), ("gmm", "GMM k", "n_components", None),
               ("ebm", "EBM epochs", "n_iter", None), ("ebm", "EBM fit s", "fit_seconds", 1)]
    details = [d for d in details if d[0] in models]
    headers += [d[1] for d in details]
    rows = []
    for name, result in results.items():
        figures = result["models"]
        row = [name] + [fmt(figures[m]["nll"]) for m in models]
        row += [figures[m][key] if digits is None else fmt(figures[m][key], digits)
                for m, _, key, digits in details]
        rows.append(row)
    print_table(title, headers, rows)


def print_quadrature(results, models, tol):
    """Quadrature log Z, final half-width L and last widening difference per model."""
    headers = ["dataset"]
    for m in models:
        label = MODELS[m][0]
        headers += [f"{label} log Z", f"{label} L", f"{label} widen diff"]
    rows = []
    for name, result in results.items():
        row = [name]
        for m in models:
            q = result["models"][m]
            flag = "" if abs(q["widen_diff"]) <= tol else " (!)"
            row += [fmt(q["log_z"], 4), fmt(q["half_width"], 1), f"{q['widen_diff']:.1e}{flag}"]
        rows.append(row)
    print_table(f"Quadrature log Z (KDE and GMM are normalized: ~0 expected; "
                f"(!) = widening changed log Z by more than {tol} nats)", headers, rows)


def print_mmd(results, models, note=""):
    """Sample MMD^2 of each model and the train-vs-test noise floor."""
    headers = ["dataset"] + [f"{MODELS[m][0]} MMD^2" for m in models]
    headers += ["train MMD^2 (floor)", "kernel width"]
    rows = []
    for name, result in results.items():
        row = [name] + [f"{result['models'][m]['mmd2']:.2e}" for m in models]
        row += [f"{result['mmd2_train_floor']:.2e}", fmt(result["mmd_bandwidth"], 2)]
        rows.append(row)
    print_table(f"Sample quality: MMD^2 of {N_MMD:,} samples vs {N_MMD:,} test points "
                f"(RBF, biased; lower is better){note}", headers, rows)


def summary_counts(results, models):
    """``(NLL wins, MMD^2 wins, n datasets)``: EBM NLL below both baselines, EBM MMD^2 <= GMM's.

    A count is ``None`` when a model it needs was not run.
    """
    figures = [r["models"] for r in results.values()]
    nll_wins = mmd_wins = None
    if {"ebm", "kde", "gmm"} <= set(models):
        nll_wins = sum(f["ebm"]["nll"] < min(f["kde"]["nll"], f["gmm"]["nll"]) for f in figures)
    if {"ebm", "gmm"} <= set(models):
        mmd_wins = sum(f["ebm"]["mmd2"] <= f["gmm"]["mmd2"] for f in figures)
    return nll_wins, mmd_wins, len(figures)


def print_summary(results, models, per_seed=None):
    """How often the EBM beats both baselines on NLL, and matches the GMM on MMD^2.

    ``results`` are one seed's figures or the means over seeds; ``per_seed`` (a list of one
    seed's results each) adds the per-seed counts in parentheses.
    """
    nll_wins, mmd_wins, n_datasets = summary_counts(results, models)
    counts = [summary_counts(r, models) for r in per_seed or []]

    def note(index):
        if not counts:
            return ""
        return (f" (means over {len(counts)} seeds; per seed: "
                f"{', '.join(str(c[index]) for c in counts)})")

    if nll_wins is not None:
        print(f"EBM NLL beats both KDE and GMM on {nll_wins} of {n_datasets} datasets{note(0)}")
    if mmd_wins is not None:
        print(f"EBM MMD^2 <= GMM MMD^2 on {mmd_wins} of {n_datasets} datasets{note(1)}")


def seed_means(by_seed, models):
    """Per dataset and model: means over seeds of the figures, with the sample sd of the NLL.

    ``by_seed`` maps each seed to its results. The returned dict has the layout of one seed's
    results (``mmd_bandwidth``, ``mmd2_train_floor``, ``models``), every figure a mean, plus
    ``nll_sd`` (``ddof=1``), ``log_z_max_abs``, ``half_width_max`` and ``widen_diff_max_abs``
    per model.
    """
    runs = list(by_seed.values())
    means = {}
    for name in runs[0]:
        per_seed = [run[name] for run in runs]
        entry = {key: float(np.mean([r[key] for r in per_seed]))
                 for key in ("mmd_bandwidth", "mmd2_train_floor")}
        entry["models"] = {}
        for m in models:
            figures = [r["models"][m] for r in per_seed]
            summary = {key: float(np.mean([f[key] for f in figures]))
                       for key in figures[0] if isinstance(figures[0][key], (int, float))}
            nll = [f["nll"] for f in figures]
            summary["nll_sd"] = float(np.std(nll, ddof=1)) if len(nll) > 1 else float("nan")
            summary["log_z_max_abs"] = float(max(abs(f["log_z"]) for f in figures))
            summary["half_width_max"] = float(max(f["half_width"] for f in figures))
            summary["widen_diff_max_abs"] = float(max(abs(f["widen_diff"]) for f in figures))
            entry["models"][m] = summary
        means[name] = entry
    return means


def print_mean_nll(means, models, n_seeds):
    """Mean NLL over seeds per dataset and model, the EBM's sd, mean EBM epochs and fit time."""
    headers = ["dataset"]
    for m in models:
        headers.append(f"{MODELS[m][0]} NLL")
        if m == "ebm":
            headers.append("EBM NLL sd")
    if "ebm" in models:
        headers += ["EBM epochs", "EBM fit s"]
    rows = []
    for name, result in means.items():
        figures = result["models"]
        row = [name]
        for m in models:
            row.append(fmt(figures[m]["nll"]))
            if m == "ebm":
                row.append(fmt(figures[m]["nll_sd"]))
        if "ebm" in models:
            row += [fmt(figures["ebm"]["n_iter"], 1), fmt(figures["ebm"]["fit_seconds"], 1)]
        rows.append(row)
    print_table(f"Held-out NLL, mean over {n_seeds} seeds (nats, standardized units; lower is "
                f"better; sd = sample standard deviation over seeds)", headers, rows)


def print_quadrature_over_seeds(means, models, tol, n_seeds):
    """Quadrature checks over seeds: EBM mean log Z, KDE/GMM max |log Z|, max L and widen diff."""
    headers = ["dataset"]
    for m in models:
        label = MODELS[m][0]
        headers += [f"{label} mean log Z" if m == "ebm" else f"{label} max |log Z|",
                    f"{label} max L", f"{label} max |widen diff|"]
    rows = []
    for name, result in means.items():
        row = [name]
        for m in models:
            q = result["models"][m]
            flag = "" if q["widen_diff_max_abs"] <= tol else " (!)"
            log_z = q["log_z"] if m == "ebm" else q["log_z_max_abs"]
            row += [fmt(log_z, 4), fmt(q["half_width_max"], 1),
                    f"{q['widen_diff_max_abs']:.1e}{flag}"]
        rows.append(row)
    print_table(f"Quadrature log Z over {n_seeds} seeds (KDE and GMM are normalized: ~0 "
                f"expected; (!) = on some seed widening changed log Z by more than {tol} nats)",
                headers, rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", help=f"comma-separated substrings of {','.join(TOYS)}")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--seeds", help="comma-separated data and model seeds (default 0)")
    parser.add_argument("--seed", type=int, help="one data and model seed (alias of --seeds N)")
    parser.add_argument("--max-iter-factor", type=float, metavar="K",
                        help="multiply the EBM max_iter (default or --param) by K")
    parser.add_argument("--grid", type=int, default=400, help="quadrature points per axis")
    parser.add_argument("--tol", type=float, default=0.01,
                        help="widening tolerance on log Z in nats (default 0.01)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.models = split_list(args.models)
    check_choices(args.models, MODELS, "--models")
    args.datasets = select_toys(split_list(args.datasets))
    if args.seed is not None and args.seeds is not None:
        raise SystemExit("give --seeds or --seed, not both")
    if args.seed is not None:
        args.seeds = [args.seed]
    else:
        try:
            args.seeds = [int(s) for s in split_list(args.seeds or "0")]
        except ValueError:
            raise SystemExit(f"--seeds expects comma-separated integers, got {args.seeds!r}")
        if not args.seeds or len(set(args.seeds)) != len(args.seeds):
            raise SystemExit(f"--seeds expects distinct integers, got {args.seeds}")
    args.seed = args.seeds[0] if len(args.seeds) == 1 else None
    args.params = parse_params(args.param)
    if args.max_iter_factor is not None:
        from sklearn_ebm import EnergyBasedModel

        base = args.params.get("max_iter", EnergyBasedModel().max_iter)
        args.params["max_iter"] = max(1, round(args.max_iter_factor * base))
    return args


def main(argv=None):
    args = parse_args(argv)
    by_seed = {}
    with limit_threads(args.threads):
        for seed in args.seeds:
            if len(args.seeds) > 1:
                log(f"seed {seed}")
            by_seed[seed] = {name: run_dataset(name, args.models, seed, args.params, args.grid,
                                               args.tol)
                             for name in args.datasets}
    overrides = args.params or "none"
    if len(args.seeds) == 1:
        results = by_seed[args.seeds[0]]
        print(f"2-D densities, seed {args.seeds[0]}, {N_TRAIN:,} train / {N_TEST:,} test, "
              f"EBM overrides: {overrides}\n")
        print_nll(results, args.models)
        print_quadrature(results, args.models, args.tol)
        print_mmd(results, args.models)
        print_summary(results, args.models)
        payload = {"args": vars(args), "results": results}
    else:
        n_seeds = len(args.seeds)
        print(f"2-D densities, seeds {args.seeds}, {N_TRAIN:,} train / {N_TEST:,} test, "
              f"EBM overrides: {overrides}\n")
        for seed, results in by_seed.items():
            print_nll(results, args.models,
                      f"Held-out NLL, seed {seed} (nats, standardized units; lower is better)")
        means = seed_means(by_seed, args.models)
        print_quadrature_over_seeds(means, args.models, args.tol, n_seeds)
        print_mean_nll(means, args.models, n_seeds)
        print_mmd(means, args.models, f", mean over {n_seeds} seeds")
        print_summary(means, args.models, per_seed=list(by_seed.values()))
        payload = {"args": vars(args), "means": means}
    if args.json:
        # per_seed keys are the seeds as strings (JSON object keys)
        payload["per_seed"] = {str(seed): results for seed, results in by_seed.items()}
        write_json(args.json, payload)


if __name__ == "__main__":
    main()
