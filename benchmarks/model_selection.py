"""Model selection by the default ``score``: does GridSearchCV pick the best EBM on held-out NLL?

``EnergyBasedModel.score(X)`` is a normalized mean log-likelihood, ``mean(score_samples(X)) -
log Z`` with ``log Z`` estimated by annealed importance sampling (``log_partition``), so a
``GridSearchCV`` without ``scoring`` compares held-out log-likelihoods across hyperparameters
that change ``log Z``. This benchmark checks the choice against exact figures on the six 2-D toy
densities of ``shared/BENCHMARK.md`` (see ``_toy2d.py``), standardized with a scaler fit on train
(5,000 train by default, ``--n-train`` to shrink; always 5,000 test). For each dataset:

1. ``GridSearchCV(EnergyBasedModel(random_state=seed, **--param), grid, cv=--cv)`` on train,
   default score, ``refit=False``. The default grid is ``hidden_sizes`` in (32, 32), (256, 128)
   and ``reg_alpha`` in 0.001, 0.01, 0.1.
2. Every grid point is refit on all of train (in this process, one at a time) and its held-out
   NLL on test is computed exactly, with ``log Z`` by quadrature as in ``density2d.py``.
   The chosen model is the refit of the chosen grid point.
3. Reported: chosen params, chosen and best exact NLL in the grid, the gap chosen - best (goal:
   <= 0.05 nats on every dataset), the CV estimate of every grid point; for the chosen model
   the AIS ``log Z`` (one ``log_partition()`` call, default settings) against quadrature, and
   that call's seconds against the model's fit seconds.

The search runs in ``--n-jobs`` worker processes with one torch/BLAS thread each (joblib's
default on two cores; set the variables below to be sure). Run from the repository root::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/model_selection.py
    python benchmarks/model_selection.py --datasets moons --n-train 1000
    python benchmarks/model_selection.py --grid '{"reg_alpha": [0.001, 0.1]}' --json out.json
    python benchmarks/model_selection.py --datasets rings,pinwheel --cv 5 --param max_iter=50
"""

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from _common import (
    add_common_arguments, fmt, limit_threads, log, parse_params, print_table, split_list,
    write_json,
)
from _toy2d import TOYS, make_toy, select_toys
from density2d import N_TEST
from density2d import log_partition as quadrature_log_partition

DEFAULT_GRID = {"hidden_sizes": [(32, 32), (256, 128)], "reg_alpha": [0.001, 0.01, 0.1]}
GOAL = 0.05
QUADRATURE_GRID = 400
QUADRATURE_TOL = 0.01


def toy_split(name, seed, n_train):
    """Standardized ``n_train`` train and ``N_TEST`` test draws (as ``density2d.toy_split``)."""
    rng = np.random.default_rng([seed, list(TOYS).index(name)])
    X_train, X_test = make_toy(name, n_train, rng), make_toy(name, N_TEST, rng)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def base_model(seed, params):
    from sklearn_ebm import EnergyBasedModel

    return EnergyBasedModel(random_state=seed, **params)


def warm_up():
    """One tiny fit, so that torch's first-use setup is not in the first timed fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base_model(0, {"max_iter": 1}).fit(np.random.default_rng(0).standard_normal((64, 2)))


def search(X_train, seed, params, grid, cv, n_jobs):
    """The fitted ``GridSearchCV`` (default score, no refit) and its seconds."""
    start = time.perf_counter()
    searcher = GridSearchCV(base_model(seed, params), grid, cv=cv, n_jobs=n_jobs, refit=False)
    searcher.fit(X_train)
    return searcher, time.perf_counter() - start


def exact_nll(model, X_train, X_test):
    """Held-out NLL with ``log Z`` by quadrature (box widened until it holds the mass)."""
    half_width = np.ceil(np.abs(X_train).max()) + 1
    quadrature = quadrature_log_partition(model, half_width, QUADRATURE_GRID, QUADRATURE_TOL)
    nll = quadrature["log_z"] - float(np.mean(model.score_samples(X_test)))
    return {"nll": nll, **quadrature}


def refit_point(point, X_train, X_test, seed, params):
    """Fit one grid point on all of train; the model and its exact figures."""
    start = time.perf_counter()
    model = base_model(seed, {**params, **point}).fit(X_train)
    fit_seconds = time.perf_counter() - start
    figures = {"params": point, "fit_seconds": fit_seconds, "n_iter": int(model.n_iter_),
               **exact_nll(model, X_train, X_test)}
    log(f"  {label(point)}: fit {fit_seconds:.1f}s, {model.n_iter_} epochs, "
        f"NLL {figures['nll']:.3f}")
    return model, figures


def ais_check(model, quadrature_log_z):
    """One default ``log_partition()`` call: its estimate, stderr and seconds vs quadrature."""
    start = time.perf_counter()
    log_z, stderr = model.log_partition()
    seconds = time.perf_counter() - start
    return {"ais_log_z": log_z, "ais_stderr": stderr, "ais_seconds": seconds,
            "ais_minus_quadrature": log_z - quadrature_log_z}


def run_dataset(name, args):
    """Search, refit every grid point, compare the choice with the grid's best."""
    log(name)
    X_train, X_test = toy_split(name, args.seed, args.n_train)
    searcher, search_seconds = search(X_train, args.seed, args.params, args.grid, args.cv,
                                      args.n_jobs)
    cv = searcher.cv_results_
    log(f"  search {search_seconds:.0f}s, chose {label(searcher.best_params_)}")
    points = []
    for i, point in enumerate(cv["params"]):
        model, figures = refit_point(point, X_train, X_test, args.seed, args.params)
        figures.update(cv_nll=-cv["mean_test_score"][i], cv_std=cv["std_test_score"][i])
        points.append(figures)
        if i == searcher.best_index_:
            chosen_model = model
    chosen = points[searcher.best_index_]
    best = points[int(np.nanargmin([p["nll"] for p in points]))]
    return {"search_seconds": search_seconds, "points": points,
            "chosen": chosen, "best": best, "gap": chosen["nll"] - best["nll"],
            **ais_check(chosen_model, chosen["log_z"])}


def label(point):
    return ", ".join(f"{key}={value}" for key, value in point.items())


def quadrature_flag(figures):
    return "" if abs(figures["widen_diff"]) <= QUADRATURE_TOL else " (!)"


def print_grid(results):
    """Every grid point: CV estimate (AIS-normalized) and exact NLL of the refit on all train."""
    headers = ["dataset", "params", "CV NLL", "CV std", "exact NLL", "epochs", "fit s", ""]
    rows = []
    for name, result in results.items():
        for p in result["points"]:
            mark = " ".join(m for m, q in (("chosen", result["chosen"]), ("best", result["best"]))
                            if q is p)
            rows.append([name, label(p["params"]), fmt(p["cv_nll"]), fmt(p["cv_std"]),
                         fmt(p["nll"]) + quadrature_flag(p), p["n_iter"],
                         fmt(p["fit_seconds"], 1), mark])
    print_table("Grid points: CV NLL (default score, AIS log Z) and exact held-out NLL of the "
                "refit on all train (nats; (!) = quadrature not converged)", headers, rows)


def print_selection(results):
    """Chosen vs best exact NLL per dataset."""
    headers = ["dataset", "chosen", "chosen NLL", "best", "best NLL", "gap",
               f"<= {GOAL}", "search s"]
    rows = [[name, label(r["chosen"]["params"]), fmt(r["chosen"]["nll"]),
             label(r["best"]["params"]), fmt(r["best"]["nll"]), fmt(r["gap"]),
             "yes" if r["gap"] <= GOAL else "no", fmt(r["search_seconds"], 0)]
            for name, r in results.items()]
    print_table("Selection: exact held-out NLL of the chosen grid point vs the grid's best",
                headers, rows)


def print_ais(results):
    """AIS vs quadrature log Z of the chosen model, and the cost of one AIS call."""
    headers = ["dataset", "AIS log Z", "AIS stderr", "quadrature log Z", "AIS - quadrature",
               "log_partition s", "fit s", "log_partition / fit"]
    rows = [[name, fmt(r["ais_log_z"], 4), fmt(r["ais_stderr"], 4), fmt(r["chosen"]["log_z"], 4),
             fmt(r["ais_minus_quadrature"], 4), fmt(r["ais_seconds"], 2),
             fmt(r["chosen"]["fit_seconds"], 1),
             fmt(r["ais_seconds"] / r["chosen"]["fit_seconds"], 3)]
            for name, r in results.items()]
    print_table("Chosen model: log Z by one default log_partition() call (AIS) vs quadrature",
                headers, rows)


def parse_grid(text):
    """A JSON object of lists; inner lists become tuples (``[[32, 32]]`` -> ``[(32, 32)]``)."""
    grid = json.loads(text)
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise SystemExit(f"--grid expects a JSON object of non-empty lists, got {text!r}")
    return {key: [tuple(v) if isinstance(v, list) else v for v in values]
            for key, values in grid.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", help=f"comma-separated substrings of {','.join(TOYS)}")
    parser.add_argument("--n-train", type=int, default=5_000, help="train rows (default 5000)")
    parser.add_argument("--grid", type=parse_grid, default=DEFAULT_GRID,
                        help=f"param grid as JSON (default {json.dumps(DEFAULT_GRID)})")
    parser.add_argument("--cv", type=int, default=3, help="CV folds (default 3)")
    parser.add_argument("--n-jobs", type=int, default=2, help="GridSearchCV workers (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="data and model seed (default 0)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.datasets = select_toys(split_list(args.datasets))
    args.params = parse_params(args.param)
    return args


def main(argv=None):
    args = parse_args(argv)
    with limit_threads(args.threads):
        warm_up()
        results = {name: run_dataset(name, args) for name in args.datasets}
    print(f"2-D densities, seed {args.seed}, {args.n_train:,} train / {N_TEST:,} test, "
          f"{args.cv}-fold GridSearchCV with the default score over {json.dumps(args.grid)}, "
          f"EBM overrides: {args.params or 'none'}\n")
    print_grid(results)
    print_selection(results)
    print_ais(results)
    within = sum(r["gap"] <= GOAL for r in results.values())
    print(f"Chosen within {GOAL} nats of the grid's best exact NLL on {within} of "
          f"{len(results)} datasets")
    if args.json:
        write_json(args.json, {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
