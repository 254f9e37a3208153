"""Outlier detection on the adbench-dev tabular sets: ROC-AUC and average precision.

Follows the outlier protocol of ``shared/BENCHMARK.md``: for each dataset and seed, a stratified
70/30 split (each side capped at 10,000 rows), float64, columns constant on train dropped; every
detector is fit inside ``Pipeline([StandardScaler(), detector])`` on X_train alone and scores
X_test by ``-score_samples``. The EBMOutlierDetector is compared with IsolationForest, LOF
(novelty), OneClassSVM, KernelDensity (Scott bandwidth), a BIC-selected GaussianMixture, MCD
(``EllipticEnvelope``, skipped above 200 features), KNN (distance to the 5th nearest training
row) and, where PyOD is installed (``pip install sklearn-ebm[benchmarks]``), ECOD, all in the
same run.

Printed to stdout: per-dataset ROC-AUC and AP (means over seeds) with overall means and the mean
ROC-AUC rank (among all detectors run), the same means per dataset half (``--half``: tune = even,
confirm = odd indices of the sorted file names), EBM vs IsolationForest per dataset, EBM vs the
best of GMM and MCD per dataset (the issue-15 goal: within 0.01 or above), mean fit+score
seconds per detector, and a fit-time check (one default EBM fit vs one IsolationForest fit on
10,000 x 32 synthetic data, 1 thread, same process). Progress goes to stderr.

Run from the repository root::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/outliers.py
    python benchmarks/outliers.py --datasets wine,glass --seeds 0
    python benchmarks/outliers.py --param max_iter=50 --param langevin_steps=10 --json out.json
    python benchmarks/outliers.py --detectors iforest,lof,ocsvm,kde,gmm,mcd,knn,ecod --no-fit-time
    python benchmarks/outliers.py --half tune --detectors ebm,gmm,mcd

The data directory is ``../shared/data/adbench-dev`` next to the repository, or ``$ADBENCH_DIR``,
or ``--data-dir``.
"""

import argparse
import importlib.util
import time
import warnings

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import KernelDensity, LocalOutlierFactor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from _common import (
    BICGaussianMixture, KNNDistance, add_common_arguments, add_half_argument, check_choices,
    data_dir, dataset_halves, find_datasets, fmt, half_groups, limit_threads, load_npz, log,
    outlier_split, parse_params, print_table, split_list, write_json,
)

# MinCovDet's C-steps take minutes on wide data (BENCHMARK.md), so MCD is skipped there.
MCD_MAX_FEATURES = 200
# GMM and MCD are the simple densities the EBM generalizes: the goal is not to lose to either.
TOLERANCE = 0.01


def make_ebm(seed, params):
    """EBMOutlierDetector with its defaults and the ``--param`` overrides.

    The detector trains as EnergyBasedModel does, on its own default budget
    (``max_iter=30``, ``learning_rate=1e-2``, ``max_samples=2048``); its
    ``score_samples`` is the model's ``-E(x)``.
    """
    from sklearn_ebm import EBMOutlierDetector

    return EBMOutlierDetector(random_state=seed, **params)


class PyODScores(BaseEstimator):
    """A PyOD detector behind sklearn's convention: ``score_samples = -decision_function``."""

    def __init__(self, detector):
        self.detector = detector

    def fit(self, X, y=None):
        self.detector_ = self.detector.fit(X)
        return self

    def score_samples(self, X):
        return -self.detector_.decision_function(X)


def make_ecod(seed, params):
    """PyOD's ECOD with its defaults (no randomness, so no seed)."""
    from pyod.models.ecod import ECOD

    return PyODScores(ECOD())


DETECTORS = {
    "ebm": ("EBM", make_ebm),
    "iforest": ("IForest", lambda seed, params: IsolationForest(random_state=seed)),
    "lof": ("LOF", lambda seed, params: LocalOutlierFactor(novelty=True, n_neighbors=20)),
    "ocsvm": ("OCSVM", lambda seed, params: OneClassSVM(gamma="scale", nu=0.1)),
    "kde": ("KDE", lambda seed, params: KernelDensity(bandwidth="scott")),
    "gmm": ("GMM", lambda seed, params: BICGaussianMixture(
        candidates=(1, 2, 4, 8), covariance_type="full", reg_covar=1e-4, random_state=seed)),
    "mcd": ("MCD", lambda seed, params: EllipticEnvelope(random_state=seed)),
    "knn": ("KNN", lambda seed, params: KNNDistance(n_neighbors=5)),
    "ecod": ("ECOD", make_ecod),
}


def pyod_available():
    return importlib.util.find_spec("pyod") is not None


def skip_reason(name, n_features):
    """Why a detector is not run on a split, or None."""
    if name == "mcd" and n_features > MCD_MAX_FEATURES:
        return f"{n_features} features > {MCD_MAX_FEATURES}"
    return None


def outlier_scores(pipeline, X_test, label):
    """``-score_samples(X_test)``; infinities are clipped to the float range (order kept)."""
    scores = -np.asarray(pipeline.score_samples(X_test), dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        log(f"  warning: {label}: {np.sum(~np.isfinite(scores))} non-finite scores")
        scores = np.nan_to_num(scores, nan=np.nan, posinf=np.finfo(float).max,
                               neginf=-np.finfo(float).max)
    return scores


def evaluate(name, seed, params, split):
    """Fit one detector on one split; ROC-AUC, AP, fit+score seconds (and epochs for the EBM).

    A skipped detector (:func:`skip_reason`) gets NaN figures and a ``skipped`` note.
    """
    X_train, X_test, _, y_test = split
    reason = skip_reason(name, X_train.shape[1])
    if reason:
        return {"roc_auc": float("nan"), "ap": float("nan"), "seconds": float("nan"),
                "skipped": reason}
    pipeline = Pipeline([("scale", StandardScaler()), (name, DETECTORS[name][1](seed, params))])
    start = time.perf_counter()
    with warnings.catch_warnings():
        # MinCovDet warns on rank-deficient (discrete) data and on its own C-step noise
        # ("Determinant has increased"); both are expected here and would flood stderr.
        if name == "mcd":
            warnings.filterwarnings("ignore", message="The covariance matrix associated")
            warnings.filterwarnings("ignore", message="Determinant has increased")
        pipeline.fit(X_train)
        scores = outlier_scores(pipeline, X_test, name)
    seconds = time.perf_counter() - start
    has_nan = np.any(np.isnan(scores))
    record = {
        "roc_auc": float("nan") if has_nan else roc_auc_score(y_test, scores),
        "ap": float("nan") if has_nan else average_precision_score(y_test, scores),
        "seconds": seconds,
    }
    if name == "ebm":
        record["n_iter"] = int(pipeline[-1].n_iter_)
    return record


def run_dataset(path, seeds, detectors, params):
    """All seeds x detectors on one dataset; a list of raw records."""
    X, y = load_npz(path)
    records = []
    for seed in seeds:
        split = outlier_split(X, y, seed)
        shape = {"n_train": len(split[0]), "n_test": len(split[1]), "n_features": split[0].shape[1]}
        for name in detectors:
            record = evaluate(name, seed, params, split)
            log(f"{path.stem} seed={seed} {name}: {record['seconds']:.2f}s "
                f"auc={record['roc_auc']:.3f}")
            records.append(
                {"dataset": path.stem, "seed": seed, "detector": name, **shape, **record})
    return records


def mean_table(records, datasets, detectors, key):
    """``table[i, j]``: mean over seeds of ``key`` for dataset i and detector j."""
    table = np.full((len(datasets), len(detectors)), np.nan)
    for i, dataset in enumerate(datasets):
        for j, name in enumerate(detectors):
            values = [r[key] for r in records if r["dataset"] == dataset and r["detector"] == name]
            table[i, j] = np.mean(values)
    return table


def rank_table(auc):
    """Each detector's ROC-AUC rank per dataset (1 = best, ties averaged).

    Detectors skipped on a dataset (NaN) are left out of its ranking and get a NaN rank.
    """
    ranks = np.full(auc.shape, np.nan)
    for i, row in enumerate(auc):
        ran = ~np.isnan(row)
        ranks[i, ran] = rankdata(-row[ran], method="average")
    return ranks


def column_means(table):
    """Mean of each column over the datasets where the detector ran (NaN entries left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN
        return np.nanmean(table, axis=0)


def print_score_tables(datasets, detectors, auc, ap):
    """ROC-AUC table (with overall mean and mean rank) and AP table (with overall mean)."""
    labels = [DETECTORS[name][0] for name in detectors]
    rows = [[d] + [fmt(v) for v in row] for d, row in zip(datasets, auc)]
    rows.append(["**mean**"] + [fmt(v) for v in column_means(auc)])
    rows.append(["**mean rank**"] + [fmt(v, 2) for v in column_means(rank_table(auc))])
    print_table("ROC-AUC (mean over seeds)", ["dataset"] + labels, rows)
    rows = [[d] + [fmt(v) for v in row] for d, row in zip(datasets, ap)]
    rows.append(["**mean**"] + [fmt(v) for v in column_means(ap)])
    print_table("Average precision (mean over seeds)", ["dataset"] + labels, rows)
    skipped = [f"{DETECTORS[name][0]} on {d}" for j, name in enumerate(detectors)
               for d, value in zip(datasets, auc[:, j]) if np.isnan(value)]
    if skipped:
        print(f"Not run or no score (left out of means and ranks): {', '.join(skipped)}\n")


def print_half_means(datasets, detectors, auc, ap, halves):
    """Mean ROC-AUC, AP and ROC-AUC rank per dataset half (ranks are among all detectors)."""
    labels = [DETECTORS[name][0] for name in detectors]
    ranks = rank_table(auc)
    rows = []
    for metric, table, digits in (("ROC-AUC", auc, 3), ("AP", ap, 3), ("rank", ranks, 2)):
        for half, indices in half_groups(datasets, halves):
            rows.append([f"{metric}, {half} ({len(indices)})"]
                        + [fmt(v, digits) for v in column_means(table[indices])])
    print_table("Means per dataset half (tune = even, confirm = odd indices of the sorted "
                "file names)", ["figure (sets)"] + labels, rows)


def print_ebm_vs_simple(datasets, detectors, auc, halves):
    """EBM ROC-AUC against the best of GMM and MCD per dataset, and the issue-15 count.

    The goal: ``EBM >= max(GMM, MCD) - 0.01``. With only one of them run, it alone is used.
    """
    simple = [name for name in ("gmm", "mcd") if name in detectors]
    label = "max(" + ", ".join(DETECTORS[name][0] for name in simple) + ")"
    ebm = auc[:, detectors.index("ebm")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # both skipped on a set: NaN
        best = np.nanmax(auc[:, [detectors.index(name) for name in simple]], axis=1)
    delta = ebm - best
    met = delta >= -TOLERANCE
    rows = [[d, fmt(e), fmt(b), f"{x:+.3f}", "yes" if m else "no"]
            for d, e, b, x, m in zip(datasets, ebm, best, delta, met)]
    print_table(f"EBM vs {label} (ROC-AUC)",
                ["dataset", "EBM", label, "delta", f">= {label} - {TOLERANCE}"], rows)
    per_half = "; ".join(f"{half}: {np.sum(met[indices])} of {len(indices)}"
                         for half, indices in half_groups(datasets, halves) if half != "all")
    print(f"EBM within {TOLERANCE} of {label} or above on {np.sum(met)} of {len(datasets)}"
          f"{f' ({per_half})' if per_half else ''}\n")


def print_ebm_vs_iforest(datasets, detectors, auc):
    """Per-dataset ROC-AUC of EBM and IsolationForest, their delta, and the win/loss count."""
    ebm, iforest = auc[:, detectors.index("ebm")], auc[:, detectors.index("iforest")]
    delta = ebm - iforest
    outcome = np.where(delta > 0, "win", np.where(delta < 0, "loss", "tie"))
    rows = [[d, fmt(e), fmt(i), f"{x:+.3f}", o]
            for d, e, i, x, o in zip(datasets, ebm, iforest, delta, outcome)]
    print_table("EBM vs IsolationForest (ROC-AUC)",
                ["dataset", "EBM", "IForest", "delta", "outcome"], rows)
    print(f"EBM vs IsolationForest: {np.sum(delta > 0)} wins, {np.sum(delta < 0)} losses, "
          f"{np.sum(delta == 0)} ties over {len(datasets)} datasets; "
          f"mean delta {np.mean(delta):+.3f}\n")


def print_seconds(records, detectors):
    """Mean fit+score seconds per detector over all datasets and seeds."""
    rows = []
    for name in detectors:
        seconds = [r["seconds"] for r in records
                   if r["detector"] == name and not r.get("skipped")]
        rows.append([DETECTORS[name][0], fmt(np.mean(seconds) if seconds else None, 3),
                     fmt(np.sum(seconds), 1)])
    print_table("Fit+score seconds per detector (mean per run, total)",
                ["detector", "mean s", "total s"], rows)


def synthetic_data(n_samples=10_000, n_features=32, n_clusters=8, seed=0):
    """Standardized draws from a fixed-seed Gaussian mixture (unit-variance clusters)."""
    rng = np.random.default_rng(seed)
    centers = 3.0 * rng.standard_normal((n_clusters, n_features))
    labels = rng.integers(0, n_clusters, n_samples)
    X = centers[labels] + rng.standard_normal((n_samples, n_features))
    return StandardScaler().fit_transform(X)


def timed_fit(model, X):
    """Seconds taken by ``model.fit(X)``."""
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start


def fit_time_check(params):
    """Seconds of one IsolationForest fit and one EBM fit on the same data, 1 thread."""
    X = synthetic_data()
    ebm = make_ebm(0, params)
    with limit_threads(1):
        iforest_seconds = timed_fit(IsolationForest(random_state=0), X)
        log(f"fit-time iforest: {iforest_seconds:.2f}s")
        ebm_seconds = timed_fit(ebm, X)
        log(f"fit-time ebm: {ebm_seconds:.2f}s")
    return {"shape": list(X.shape), "params": params, "iforest_seconds": iforest_seconds,
            "ebm_seconds": ebm_seconds, "ebm_n_iter": int(ebm.n_iter_),
            "ratio": ebm_seconds / iforest_seconds}


def print_fit_time(timings):
    """The fit-time table: EBM and IsolationForest seconds and their ratio."""
    overrides = ", ".join(f"{k}={v!r}" for k, v in timings["params"].items()) or "none"
    rows = [[f"{timings['shape'][0]} x {timings['shape'][1]}", fmt(timings["ebm_seconds"], 2),
             timings["ebm_n_iter"], fmt(timings["iforest_seconds"], 2), fmt(timings["ratio"], 1)]]
    print_table(f"Fit time, 1 thread, same process (EBM overrides: {overrides})",
                ["data", "EBM s", "EBM epochs", "IForest s", "EBM / IForest"], rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", help="comma-separated substrings of dataset names")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--detectors", default=",".join(DETECTORS),
                        help=f"comma-separated subset of {','.join(DETECTORS)} (default all; "
                             f"ecod needs PyOD and is skipped without it)")
    parser.add_argument("--data-dir", help="adbench directory (default: $ADBENCH_DIR or shared)")
    parser.add_argument("--fit-time", action=argparse.BooleanOptionalAction, default=True,
                        help="run the 10,000 x 32 fit-time check (needs the EBM; default on)")
    add_half_argument(parser)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in split_list(args.seeds)]
    args.detectors = split_list(args.detectors)
    check_choices(args.detectors, DETECTORS, "--detectors")
    if "ecod" in args.detectors and not pyod_available():
        log("ecod skipped: PyOD is not installed (pip install sklearn-ebm[benchmarks])")
        args.detectors.remove("ecod")
    args.params = parse_params(args.param)
    return args


def main(argv=None):
    args = parse_args(argv)
    directory = data_dir(args.data_dir)
    paths = find_datasets(directory, split_list(args.datasets), args.half)
    halves = dataset_halves(directory)
    records = []
    with limit_threads(args.threads):
        for path in paths:
            records.extend(run_dataset(path, args.seeds, args.detectors, args.params))
    datasets = [p.stem for p in paths]
    auc = mean_table(records, datasets, args.detectors, "roc_auc")
    ap = mean_table(records, datasets, args.detectors, "ap")
    print(f"Outlier protocol, seeds {args.seeds}, {len(datasets)} datasets (half: {args.half}), "
          f"EBM overrides: {args.params or 'none'}\n")
    print_score_tables(datasets, args.detectors, auc, ap)
    print_half_means(datasets, args.detectors, auc, ap, halves)
    if {"ebm", "iforest"} <= set(args.detectors):
        print_ebm_vs_iforest(datasets, args.detectors, auc)
    if "ebm" in args.detectors and {"gmm", "mcd"} & set(args.detectors):
        print_ebm_vs_simple(datasets, args.detectors, auc, halves)
    print_seconds(records, args.detectors)
    timings = None
    if args.fit_time and "ebm" in args.detectors:
        timings = fit_time_check(args.params)
        print_fit_time(timings)
    elif args.fit_time:
        log("fit-time check skipped: the EBM is not among --detectors")
    if args.json:
        write_json(args.json, {"args": vars(args), "halves": halves, "records": records,
                               "fit_time": timings})


if __name__ == "__main__":
    main()
