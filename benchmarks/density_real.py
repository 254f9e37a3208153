"""Density on real tabular data: held-out log-likelihood and sample fidelity on the dev sets.

Follows the "Density on real tabular data" and "Sample fidelity" protocols of
``shared/BENCHMARK.md``. For each dataset and seed:

* Data: the inliers (y = 0), ``train_test_split(inliers, test_size=0.5, random_state=seed)``,
  train capped at 10,000 rows and test at 5,000 (random subsample, same seed), float64, columns
  constant on train dropped, ``StandardScaler`` fitted on train.
* Dequantization: a column with at most 50 distinct values on train gets uniform noise over one
  lattice step, ``U(-g/2, g/2)`` with ``g`` the smallest gap between its distinct (standardized)
  train values. One noise draw per dataset and seed, to train and test alike, shared by every
  model. All log-likelihoods are in these standardized, dequantized coordinates (nats per row).
* Models, fitted on the dequantized train rows: the EnergyBasedModel (defaults + ``--param``;
  log-likelihood = its normalized ``score``, ``log Z`` by annealed importance sampling),
  GaussianMixture (n_components in 1, 2, 4, 8, 12, 16, 20 by lowest BIC, full, reg_covar=1e-4),
  KernelDensity (bandwidth by 3-fold GridSearchCV over ``geomspace(0.05, 2, 12)``) and zuko's
  neural spline flow (``NSF(features, transforms=5, hidden_features=(128, 128))``, Adam 1e-3,
  batch 256, early stopping on a 10% validation split of train with patience 20, the weights of
  the best validation epoch kept; at most ``--nsf-max-epochs`` epochs, default 300, which the
  small sets never reach). ``--models`` also accepts ``gauss``, one full Gaussian (the EBM's
  f = 0 member; not run by default), for unit checks.
* Sample fidelity (EBM, GMM, NSF): each model draws as many rows as the test part;
  ``HistGradientBoostingClassifier(random_state=seed)`` separates test rows from generated
  rows, 5-fold stratified cross-validated ROC-AUC (0.5 = indistinguishable). Twice: against the
  dequantized test rows, and against the raw (standardized, not dequantized) test rows, where
  continuous samples of a discrete column are told apart. A model fitted on dequantized rows
  cannot know the lattice, so on sets with dequantized columns a second EBM is fitted on the raw
  train rows ("EBM raw fit"; ``--no-raw-ebm`` skips it) and its samples are tested against the
  raw test rows, with the share of its discrete-column values that fall on a train value. The
  same test on as many train rows (real vs real) is the noise floor.

Printed to stdout: log-likelihood per dataset (mean over seeds) and model with the selected
GMM size, KDE bandwidth, EBM / NSF epochs, the EBM's ``log Z`` standard error and its
``correction_scale_``; two-sample ROC-AUCs; the counts of the issue-15
goals (EBM above GMM and KDE, above the flow, sample ROC-AUC within 0.03 of GMM's) overall and
per dataset half; seconds per model. Progress goes to stderr.

Run from the repository root (``pip install sklearn-ebm[benchmarks]`` for zuko)::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/density_real.py
    python benchmarks/density_real.py --datasets wine,glass --seeds 0 --models ebm,gmm
    python benchmarks/density_real.py --half tune --param max_iter=50 --json out.json
    python benchmarks/density_real.py --datasets wine --seeds 0 --models ebm,gauss,gmm \\
        --param max_iter=1 --param early_stopping=False      # units check: EBM ~ its Gaussian

The data directory is ``../shared/data/adbench-dev`` next to the repository, or ``$ADBENCH_DIR``,
or ``--data-dir``.
"""

import argparse
import copy
import time

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import (
    GridSearchCV, StratifiedKFold, cross_val_score, train_test_split,
)
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from _common import (
    BICGaussianMixture, add_common_arguments, add_half_argument, check_choices, data_dir,
    dataset_halves, find_datasets, fmt, half_groups, limit_threads, load_npz, log,
    parse_params, print_table, split_list, write_json,
)

TRAIN_CAP = 10_000
TEST_CAP = 5_000
MAX_DISCRETE_VALUES = 50
GMM_COMPONENTS = (1, 2, 4, 8, 12, 16, 20)
KDE_BANDWIDTHS = np.geomspace(0.05, 2, 12)
NSF_BATCH = 256
NSF_PATIENCE = 20
NSF_VALIDATION = 0.1
C2ST_FOLDS = 5
SAMPLE_MARGIN = 0.03  # issue 15: EBM samples within 0.03 ROC-AUC of the GMM's
SAMPLED = ("ebm", "gmm", "nsf")


# --- data -------------------------------------------------------------------------------------

def cap_rows(X, cap, seed):
    """At most ``cap`` rows of ``X``, a random subsample with ``seed``."""
    if len(X) <= cap:
        return X
    return train_test_split(X, train_size=cap, random_state=seed)[0]


def lattice_steps(X_train):
    """Per column: the smallest gap between distinct train values if at most 50, else 0."""
    steps = np.zeros(X_train.shape[1])
    for j, column in enumerate(X_train.T):
        values = np.unique(column)
        if len(values) <= MAX_DISCRETE_VALUES:
            steps[j] = np.min(np.diff(values))
    return steps


def density_split(X, y, seed):
    """Standardized raw and dequantized train/test inliers of one dataset and seed.

    Returns a dict with ``train``/``test`` (dequantized), ``train_raw``/``test_raw`` (not) and
    ``steps`` (the lattice step of each dequantized column, 0 for the others).
    """
    inliers = np.asarray(X[y == 0], dtype=np.float64)
    train, test = train_test_split(inliers, test_size=0.5, random_state=seed)
    train, test = cap_rows(train, TRAIN_CAP, seed), cap_rows(test, TEST_CAP, seed)
    varying = np.ptp(train, axis=0) > 0
    scaler = StandardScaler().fit(train[:, varying])
    train_raw, test_raw = scaler.transform(train[:, varying]), scaler.transform(test[:, varying])
    # Steps measured after scaling, so the noise is one lattice step in the model's coordinates.
    steps = lattice_steps(train_raw)
    rng = np.random.default_rng(seed)
    noise_train = rng.uniform(-0.5, 0.5, train_raw.shape) * steps
    noise_test = rng.uniform(-0.5, 0.5, test_raw.shape) * steps
    return {"train": train_raw + noise_train, "test": test_raw + noise_test,
            "train_raw": train_raw, "test_raw": test_raw, "steps": steps}


# --- models -----------------------------------------------------------------------------------

class NSFDensity(BaseEstimator):
    """zuko's neural spline flow trained by maximum likelihood with early stopping.

    Adam, minibatches of ``batch_size``; after each epoch the mean log-likelihood of a held-out
    ``validation_fraction`` of the rows is measured, training stops after ``patience`` epochs
    without improvement (or at ``max_epochs``) and the best epoch's weights are kept.
    """

    def __init__(self, transforms=5, hidden_features=(128, 128), learning_rate=1e-3,
                 batch_size=NSF_BATCH, validation_fraction=NSF_VALIDATION,
                 patience=NSF_PATIENCE, max_epochs=300, random_state=0):
        self.transforms = transforms
        self.hidden_features = hidden_features
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.max_epochs = max_epochs
        self.random_state = random_state

    def fit(self, X, y=None):
        import torch
        import zuko

        torch.manual_seed(self.random_state)
        X_fit, X_val = train_test_split(np.asarray(X, dtype=np.float32),
                                        test_size=self.validation_fraction,
                                        random_state=self.random_state)
        X_fit, X_val = torch.from_numpy(X_fit), torch.from_numpy(X_val)
        self.flow_ = zuko.flows.NSF(X.shape[1], transforms=self.transforms,
                                    hidden_features=tuple(self.hidden_features))
        optimizer = torch.optim.Adam(self.flow_.parameters(), lr=self.learning_rate)
        best, best_state, stale = -np.inf, None, 0
        for epoch in range(1, self.max_epochs + 1):
            for batch in torch.randperm(len(X_fit)).split(self.batch_size):
                loss = -self.flow_().log_prob(X_fit[batch]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                score = float(self.flow_().log_prob(X_val).mean())
            if score > best:  # a NaN score never improves, so a diverged run stops
                best, best_state, stale = score, copy.deepcopy(self.flow_.state_dict()), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        self.flow_.load_state_dict(best_state)
        self.n_epochs_, self.best_epoch_ = epoch, epoch - stale
        self.validation_score_ = best
        return self

    def score_samples(self, X):
        import torch

        with torch.no_grad():
            return self.flow_().log_prob(torch.as_tensor(X, dtype=torch.float32)).double().numpy()

    def sample(self, n_samples, random_state=0):
        import torch

        torch.manual_seed(random_state)
        with torch.no_grad():
            return self.flow_().sample((n_samples,)).double().numpy()


def fit_ebm(X, seed, params, nsf_max_epochs):
    from sklearn_ebm import EnergyBasedModel

    return EnergyBasedModel(random_state=seed, **params).fit(X)


def fit_gmm(X, seed, params, nsf_max_epochs):
    return BICGaussianMixture(candidates=GMM_COMPONENTS, covariance_type="full",
                              reg_covar=1e-4, random_state=seed).fit(X)


def fit_gauss(X, seed, params, nsf_max_epochs):
    return GaussianMixture(n_components=1, covariance_type="full", reg_covar=1e-4,
                           random_state=seed).fit(X)


def fit_kde(X, seed, params, nsf_max_epochs):
    search = GridSearchCV(KernelDensity(), {"bandwidth": KDE_BANDWIDTHS}, cv=3).fit(X)
    return search.best_estimator_


def fit_nsf(X, seed, params, nsf_max_epochs):
    return NSFDensity(max_epochs=nsf_max_epochs, random_state=seed).fit(X)


MODELS = {
    "ebm": ("EBM", fit_ebm),
    "gmm": ("GMM", fit_gmm),
    "kde": ("KDE", fit_kde),
    "nsf": ("NSF", fit_nsf),
    "gauss": ("Gauss", fit_gauss),
}
DEFAULT_MODELS = ("ebm", "gmm", "kde", "nsf")


def log_likelihood(name, model, X):
    """Mean log-density of the rows of ``X`` in nats (the EBM's normalized ``score``)."""
    if name == "ebm":
        return float(model.score(X))
    return float(np.mean(model.score_samples(X)))


def draw(name, model, n_samples, seed):
    """``n_samples`` rows generated by a fitted model, seeded by ``seed``."""
    if name == "ebm":
        return model.sample(n_samples, random_state=seed)
    if name == "gmm":
        return model.sample(n_samples)  # seeded by the mixture's random_state
    return model.sample(n_samples, random_state=seed)


def model_details(name, model):
    """The selected hyperparameter or training length worth printing next to the figures."""
    if name == "ebm":
        return {"n_iter": int(model.n_iter_), "log_z_stderr": float(model.log_partition_stderr_),
                "correction_scale": float(getattr(model, "correction_scale_", 1.0))}
    if name == "gmm":
        return {"n_components": int(model.n_components_)}
    if name == "kde":
        return {"bandwidth": float(model.bandwidth)}
    if name == "nsf":
        return {"n_epochs": int(model.n_epochs_), "best_epoch": int(model.best_epoch_)}
    return {}


# --- sample fidelity --------------------------------------------------------------------------

def two_sample_auc(real, generated, seed):
    """5-fold cross-validated ROC-AUC of a classifier telling ``generated`` from ``real`` rows."""
    generated = np.asarray(generated, dtype=np.float64)
    if not np.all(np.isfinite(generated)):
        # HistGradientBoosting rejects infinities; a far value is as easy to tell apart.
        log(f"  warning: {np.sum(~np.isfinite(generated))} non-finite sample values")
        generated = np.nan_to_num(generated, nan=1e10, posinf=1e10, neginf=-1e10)
    X = np.vstack([real, generated])
    y = np.r_[np.zeros(len(real)), np.ones(len(generated))]
    folds = StratifiedKFold(C2ST_FOLDS, shuffle=True, random_state=seed)
    classifier = HistGradientBoostingClassifier(random_state=seed)
    return float(np.mean(cross_val_score(classifier, X, y, cv=folds, scoring="roc_auc")))


def sample_fidelity(samples, split, seed):
    """Two-sample ROC-AUC against the dequantized and the raw test rows.

    Without discrete columns both are the same test, so the raw figure is copied.
    """
    dequantized = two_sample_auc(split["test"], samples, seed)
    raw = (two_sample_auc(split["test_raw"], samples, seed) if np.any(split["steps"] > 0)
           else dequantized)
    return {"c2st": dequantized, "c2st_raw": raw}


def noise_floor(split, seed):
    """The two-sample test on real rows only: as many train rows as test rows (or fewer)."""
    n = min(len(split["train"]), len(split["test"]))
    return {"c2st": two_sample_auc(split["test"][:n], split["train"][:n], seed),
            "c2st_raw": two_sample_auc(split["test_raw"][:n], split["train_raw"][:n], seed)}


# --- runs -------------------------------------------------------------------------------------

def raw_ebm_fidelity(split, seed, params):
    """An EBM fitted on the raw (not dequantized) train rows: its samples vs raw test rows.

    Only this fit can show whether the model samples discrete columns on their own values.
    """
    start = time.perf_counter()
    model = fit_ebm(split["train_raw"], seed, params, None)
    samples = draw("ebm", model, len(split["test"]), seed)
    return {"c2st_raw_fit": two_sample_auc(split["test_raw"], samples, seed),
            "on_lattice_raw_fit": on_lattice_share(samples, split),
            "raw_fit_seconds": time.perf_counter() - start}


def evaluate(name, split, seed, params, nsf_max_epochs, raw_ebm=True):
    """Fit one model on one split: log-likelihood, sample fidelity, seconds."""
    start = time.perf_counter()
    model = MODELS[name][1](split["train"], seed, params, nsf_max_epochs)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    record = {"log_likelihood": log_likelihood(name, model, split["test"]),
              "fit_seconds": fit_seconds, "score_seconds": time.perf_counter() - start,
              **model_details(name, model)}
    if name in SAMPLED:
        start = time.perf_counter()
        samples = draw(name, model, len(split["test"]), seed)
        record["sample_seconds"] = time.perf_counter() - start
        record.update(sample_fidelity(samples, split, seed))
    if name == "ebm" and raw_ebm and np.any(split["steps"] > 0):
        record.update(raw_ebm_fidelity(split, seed, params))
    return record


def on_lattice_share(samples, split):
    """Share of generated values of the discrete columns that are on a raw train value.

    NaN without discrete columns. 1.0 means the model samples discrete columns on their values.
    """
    discrete = np.flatnonzero(split["steps"] > 0)
    if not len(discrete):
        return float("nan")
    shares = [np.mean(np.isin(samples[:, j], np.unique(split["train_raw"][:, j])))
              for j in discrete]
    return float(np.mean(shares))


def run_dataset(path, seeds, models, params, nsf_max_epochs, raw_ebm):
    """All seeds x models on one dataset; a list of raw records (one per seed and model)."""
    X, y = load_npz(path)
    records = []
    for seed in seeds:
        split = density_split(X, y, seed)
        shape = {"dataset": path.stem, "seed": seed, "n_train": len(split["train"]),
                 "n_test": len(split["test"]), "n_features": split["train"].shape[1],
                 "n_discrete": int(np.sum(split["steps"] > 0))}
        start = time.perf_counter()
        floor = noise_floor(split, seed)
        log(f"{path.stem} seed={seed} ({shape['n_train']} x {shape['n_features']}, "
            f"{shape['n_discrete']} dequantized) floor: c2st {floor['c2st']:.3f} "
            f"raw {floor['c2st_raw']:.3f} ({time.perf_counter() - start:.1f}s)")
        records.append({**shape, "model": "floor", **floor})
        for name in models:
            record = evaluate(name, split, seed, params, nsf_max_epochs, raw_ebm)
            log(f"{path.stem} seed={seed} {name}: fit {record['fit_seconds']:.1f}s "
                f"ll={record['log_likelihood']:.3f}"
                + (f" c2st={record['c2st']:.3f} raw={record['c2st_raw']:.3f}"
                   if "c2st" in record else "")
                + (f" raw fit: c2st={record['c2st_raw_fit']:.3f} on lattice "
                   f"{record['on_lattice_raw_fit']:.2f} ({record['raw_fit_seconds']:.1f}s)"
                   if "c2st_raw_fit" in record else ""))
            records.append({**shape, "model": name, **record})
    return records


# --- tables -----------------------------------------------------------------------------------

def mean_figure(records, dataset, model, key):
    """Mean over seeds of ``key`` for one dataset and model (NaN if absent)."""
    values = [r[key] for r in records if r["dataset"] == dataset and r["model"] == model
              and key in r]
    return float(np.mean(values)) if values else float("nan")


def print_log_likelihood(records, datasets, models):
    """Log-likelihood per dataset and model, with shapes and the selected settings."""
    labels = [MODELS[m][0] for m in models]
    details = [("gmm", "GMM k", "n_components", 1), ("kde", "KDE h", "bandwidth", 3),
               ("ebm", "EBM epochs", "n_iter", 1), ("ebm", "EBM log Z se", "log_z_stderr", 3),
               ("ebm", "EBM scale", "correction_scale", 2),
               ("nsf", "NSF epochs", "best_epoch", 1)]
    details = [d for d in details if d[0] in models]
    headers = (["dataset", "train x d", "deq."] + labels + [d[1] for d in details])
    rows = []
    for dataset in datasets:
        first = next(r for r in records if r["dataset"] == dataset)
        row = [dataset, f"{first['n_train']} x {first['n_features']}", first["n_discrete"]]
        row += [fmt(mean_figure(records, dataset, m, "log_likelihood")) for m in models]
        row += [fmt(mean_figure(records, dataset, m, key), digits)
                for m, _, key, digits in details]
        rows.append(row)
    print_table("Held-out log-likelihood (nats per row, standardized dequantized units, mean "
                "over seeds; higher is better; deq. = dequantized columns; NSF epochs = best "
                "validation epoch)", headers, rows)


def print_fidelity(records, datasets, models):
    """Two-sample ROC-AUC per dataset: dequantized and raw, with the real-vs-real floor."""
    sampled = [m for m in models if m in SAMPLED]
    if not sampled:
        return
    raw_fit = any("c2st_raw_fit" in r for r in records)
    headers = ["dataset"]
    for key in ("", " raw"):
        headers += [f"{MODELS[m][0]}{key}" for m in sampled] + [f"floor{key}"]
    if raw_fit:
        headers += ["EBM raw fit", "on lattice"]
    rows = []
    for dataset in datasets:
        row = [dataset]
        for key in ("c2st", "c2st_raw"):
            row += [fmt(mean_figure(records, dataset, m, key)) for m in sampled + ["floor"]]
        if raw_fit:
            row += [fmt(mean_figure(records, dataset, "ebm", "c2st_raw_fit")),
                    fmt(mean_figure(records, dataset, "ebm", "on_lattice_raw_fit"), 2)]
        rows.append(row)
    print_table("Sample fidelity: two-sample ROC-AUC, 5-fold HistGradientBoosting, test rows vs "
                "as many generated rows (0.5 = indistinguishable; raw = the same samples against "
                "the not-dequantized rows; floor = train rows instead of samples; EBM raw fit = "
                "an EBM fitted on the not-dequantized rows, against them (nan: no dequantized "
                "column); on lattice = share of its discrete-column values on a train value)",
                headers, rows)


def goal_counts(records, datasets, models):
    """Per goal of issue 15, a boolean per dataset (means over seeds); missing models skip."""
    def ll(m):
        return np.array([mean_figure(records, d, m, "log_likelihood") for d in datasets])

    def auc(m, key):
        return np.array([mean_figure(records, d, m, key) for d in datasets])

    goals = {}
    if {"ebm", "gmm", "kde"} <= set(models):
        goals["EBM log-likelihood above GMM and KDE"] = ll("ebm") > np.maximum(ll("gmm"),
                                                                               ll("kde"))
    if {"ebm", "nsf"} <= set(models):
        goals["EBM log-likelihood above NSF"] = ll("ebm") > ll("nsf")
    if {"ebm", "gmm"} <= set(models):
        goals[f"EBM sample ROC-AUC within {SAMPLE_MARGIN} of GMM's (dequantized)"] = (
            auc("ebm", "c2st") <= auc("gmm", "c2st") + SAMPLE_MARGIN)
        # Raw rows: the EBM fitted on them where the set has discrete columns, else as above.
        ebm_raw = np.where(np.isnan(auc("ebm", "c2st_raw_fit")), auc("ebm", "c2st_raw"),
                           auc("ebm", "c2st_raw_fit"))
        goals[f"EBM sample ROC-AUC within {SAMPLE_MARGIN} of GMM's (raw rows, EBM raw fit)"] = (
            ebm_raw <= auc("gmm", "c2st_raw") + SAMPLE_MARGIN)
    return goals


def print_goals(records, datasets, models, halves):
    """The issue-15 goal counts, overall and per dataset half."""
    groups = [(half, rows) for half, rows in half_groups(datasets, halves) if half != "all"]
    for goal, met in goal_counts(records, datasets, models).items():
        per_half = "; ".join(f"{half}: {np.sum(met[rows])} of {len(rows)}"
                             for half, rows in groups)
        print(f"{goal}: {np.sum(met)} of {len(datasets)}"
              f"{f' ({per_half})' if per_half else ''}")
    print()


def print_seconds(records, models):
    """Mean seconds per run (fit, log-likelihood, sampling) and total, per model."""
    rows = []
    for m in models:
        runs = [r for r in records if r["model"] == m]
        fit, score = [r["fit_seconds"] for r in runs], [r["score_seconds"] for r in runs]
        sample = [r["sample_seconds"] for r in runs if "sample_seconds" in r]
        total = np.sum(fit) + np.sum(score) + np.sum(sample)
        rows.append([MODELS[m][0], fmt(np.mean(fit), 2), fmt(np.mean(score), 2),
                     fmt(np.mean(sample) if sample else None, 2), fmt(total, 1)])
    raw_fit = [r["raw_fit_seconds"] for r in records if "raw_fit_seconds" in r]
    if raw_fit:
        rows.append(["EBM raw fit", fmt(np.mean(raw_fit), 2), "", "", fmt(np.sum(raw_fit), 1)])
    print_table("Seconds per model (mean per run: fit, log-likelihood incl. the EBM's AIS, "
                "sampling; total; EBM raw fit = fit + sampling)",
                ["model", "fit s", "score s", "sample s", "total s"], rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", help="comma-separated substrings of dataset names")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help=f"comma-separated subset of {','.join(MODELS)} "
                             f"(default {','.join(DEFAULT_MODELS)})")
    parser.add_argument("--nsf-max-epochs", type=int, default=300,
                        help="epoch cap of the flow's training (default 300)")
    parser.add_argument("--raw-ebm", action=argparse.BooleanOptionalAction, default=True,
                        help="also fit the EBM on the raw rows of sets with discrete columns "
                             "for the raw two-sample test (default on)")
    parser.add_argument("--data-dir", help="adbench directory (default: $ADBENCH_DIR or shared)")
    add_half_argument(parser)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in split_list(args.seeds)]
    args.models = split_list(args.models)
    check_choices(args.models, MODELS, "--models")
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
            records.extend(run_dataset(path, args.seeds, args.models, args.params,
                                       args.nsf_max_epochs, args.raw_ebm))
    datasets = [p.stem for p in paths]
    print(f"Density on real tabular data (inliers), seeds {args.seeds}, {len(datasets)} "
          f"datasets (half: {args.half}), EBM overrides: {args.params or 'none'}, "
          f"NSF epochs <= {args.nsf_max_epochs}\n")
    print_log_likelihood(records, datasets, args.models)
    print_fidelity(records, datasets, args.models)
    print_goals(records, datasets, args.models, halves)
    print_seconds(records, args.models)
    if args.json:
        write_json(args.json, {"args": vars(args), "halves": halves, "records": records})


if __name__ == "__main__":
    main()
