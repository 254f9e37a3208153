"""Fit cost and scaling: fit time, peak memory and quality against rows and features.

The "fit cost and scaling" measurement of ``shared/BENCHMARK.md`` ("Speed") and issue 16. The
default ``EBMOutlierDetector`` is compared with IsolationForest and, where PyOD is installed
(``pip install sklearn-ebm[benchmarks]``), PyOD's ``AutoEncoder`` with its defaults
(``verbose=0`` only, to keep stdout for the tables), all in the same run, on two series:

1. Rows (``--rows``, default 10,000 / 100,000 / 1,000,000) on a real dev set (``--dataset``,
   default ``30_satellite``, 36 features). A stratified 70/30 split of the set (outlier protocol,
   float64, columns constant on train dropped); the training side keeps its inliers and only a
   few of its outliers (``--contamination`` of the training rows, default 0.05) and is then
   subsampled to n rows, or, where it is smaller, resampled with replacement with a small
   Gaussian jitter (``--jitter`` times each column's standard deviation, default 0.01). The
   held-out 30% (capped at 10,000 rows) is scored with its labels. A StandardScaler is fitted
   on the training rows and applied to both sides, outside the timed fit.
2. Widths (``--features``, default 3 / 32 / 300 / 1,500) on synthetic data: ``--width-rows``
   (default 10,000) training rows from a Gaussian mixture on a low-dimensional subspace
   (``min(d, 4)`` latent dimensions, 6 clusters, mapped by a random linear map, plus isotropic
   noise of 0.1) with the same ``--contamination`` of planted outliers (uniform over the
   inliers' latent bounding box, so mostly between the clusters, mapped the same way, with
   three times the noise), and 3,000 held-out rows of which 10% are planted outliers;
   standardized as above.

Each fit runs in a fresh subprocess (multiprocessing, 'spawn' context), one at a time, with
torch and BLAS on ``--threads`` threads (default 1). The child builds its data, builds the
detector, then reads its ``ru_maxrss``; it fits, reads ``ru_maxrss`` again and the fit's
process CPU time (``time.process_time``) and wall time. Reported: fit CPU and wall seconds (on a
GPU, ``--param device=cuda``, the wall time is the one to read), the peak resident memory
of the child, the growth of that peak during the fit (the fit's own memory), the held-out
ROC-AUC of ``-score_samples``, and for the EBM the epochs run and, up to
``--loglik-max-features`` features (default 64, where the AIS estimate of ``log Z`` costs a few
seconds), the held-out log-likelihood ``score`` (nats per row, on the held-out inliers, in
standardized units; the ``log Z`` estimate is not part of the fit time).

Printed to stdout: one table per series (every detector at every size), the ratios
EBM / IsolationForest per size (fit time and peak-memory growth), and the goals of issue 16 as
met / not met / not measured lines (10,000 x 32 within 15x IsolationForest, with the width
series' 32-feature run; a 1,000,000-row fit at most 3x the 10,000-row fit with a held-out
ROC-AUC no worse than 0.01 below; 1,500 features within 15 s). ``--plot PATH`` writes a
log-log plot of fit time against rows for each detector (matplotlib, the ``[plot]`` extra).
Progress goes to stderr.

Run from the repository root::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/scaling.py
    python benchmarks/scaling.py --rows 10000,100000 --features 3,32,300 --plot scaling.png
    python benchmarks/scaling.py --features none --detectors ebm,iforest --json out.json

The data directory is ``../shared/data/adbench-dev`` next to the repository, or ``$ADBENCH_DIR``,
or ``--data-dir``.
"""

import argparse
import importlib.util
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from _common import (
    add_common_arguments, check_choices, data_dir, find_datasets, fmt, limit_threads, load_npz,
    log, outlier_split, parse_params, print_table, split_list, write_json,
)

# Goals of issue 16 (one thread).
GOAL_RATIO_10K_32 = 15.0
GOAL_ROWS_GROWTH = 3.0
GOAL_WIDE_SECONDS = 15.0
GOAL_WIDE_FEATURES = 1500
TOLERANCE = 0.01  # "quality no worse": held-out ROC-AUC at most this much lower
TEST_ROWS = 3000  # held-out rows of the synthetic width series
TEST_OUTLIERS = 0.1


class PyODScores:
    """A PyOD detector behind sklearn's convention: ``score_samples = -decision_function``."""

    def __init__(self, detector):
        self.detector = detector

    def fit(self, X, y=None):
        self.detector.fit(X)
        return self

    def score_samples(self, X):
        return -self.detector.decision_function(X)


def make_ebm(seed, params):
    """EBMOutlierDetector with its defaults and the ``--param`` overrides.

    The detector trains as EnergyBasedModel does, on its own default budget
    (``max_iter=30``, ``learning_rate=1e-2``, ``max_samples=2048``); its
    ``score_samples`` is the model's ``-E(x)``.
    """
    # torch.optim imports torch._dynamo on a process's first optimizer (about
    # 1.3 s of CPU): a one-time import, imported here before the timed fit
    # like every other module, not a cost of the fit.
    import torch._dynamo  # noqa: F401
    from sklearn_ebm import EBMOutlierDetector

    return EBMOutlierDetector(random_state=seed, **params)


def make_autoencoder(seed, params):
    """PyOD's AutoEncoder with its defaults (quiet)."""
    from pyod.models.auto_encoder import AutoEncoder

    return PyODScores(AutoEncoder(random_state=seed, verbose=0))


DETECTORS = {
    "ebm": ("EBM", make_ebm),
    "iforest": ("IForest", lambda seed, params: IsolationForest(random_state=seed)),
    "ae": ("PyOD AE", make_autoencoder),
}


def pyod_available():
    return importlib.util.find_spec("pyod") is not None


def thin_outliers(X, y, contamination, rng):
    """All inliers of ``(X, y)`` and at most ``contamination`` of the result as outliers."""
    inliers, outliers = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    n_out = min(len(outliers), int(round(contamination * len(inliers) / (1 - contamination))))
    keep = np.concatenate([inliers, rng.choice(outliers, n_out, replace=False)])
    return X[keep], y[keep]


def resize(X, y, n_rows, jitter, rng):
    """``n_rows`` rows of ``(X, y)``: a subsample, or a resample with jitter where smaller."""
    if n_rows <= len(X):
        index = rng.choice(len(X), n_rows, replace=False)
        return X[index], y[index], False
    index = rng.choice(len(X), n_rows, replace=True)
    noise = jitter * X.std(axis=0) * rng.standard_normal((n_rows, X.shape[1]))
    return X[index] + noise, y[index], True


def real_data(spec):
    """Standardized train/test sides of the rows series (see the module docstring)."""
    rng = np.random.default_rng(spec["seed"])
    X, y = load_npz(spec["path"])
    X_train, X_test, y_train, y_test = outlier_split(X, y, spec["seed"])
    X_train, y_train = thin_outliers(X_train, y_train, spec["contamination"], rng)
    X_train, y_train, resampled = resize(X_train, y_train, spec["n_rows"], spec["jitter"], rng)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test, resampled


def mixture_rows(n_inliers, n_outliers, d, rng, structure):
    """Rows of the synthetic mixture (``structure``: centers and the linear map) and outliers."""
    centers, mapping = structure
    labels = rng.integers(0, len(centers), n_inliers)
    latent = centers[labels] + 0.5 * rng.standard_normal((n_inliers, centers.shape[1]))
    inliers = latent @ mapping + 0.1 * rng.standard_normal((n_inliers, d))
    low, high = latent.min(axis=0), latent.max(axis=0)
    off_clusters = rng.uniform(low, high, (n_outliers, centers.shape[1]))
    outliers = off_clusters @ mapping + 0.3 * rng.standard_normal((n_outliers, d))
    X = np.vstack([inliers, outliers])
    y = np.concatenate([np.zeros(n_inliers, int), np.ones(n_outliers, int)])
    order = rng.permutation(len(X))
    return X[order], y[order]


def synthetic_data(spec):
    """Standardized train/test sides of the width series (see the module docstring)."""
    d, n = spec["n_features"], spec["n_rows"]
    rng = np.random.default_rng(spec["seed"])
    k = min(d, 4)
    structure = (2.0 * rng.standard_normal((6, k)), rng.standard_normal((k, d)) / np.sqrt(k))
    n_out = int(round(spec["contamination"] * n))
    X_train, y_train = mixture_rows(n - n_out, n_out, d, rng, structure)
    n_test_out = int(round(TEST_OUTLIERS * TEST_ROWS))
    X_test, y_test = mixture_rows(TEST_ROWS - n_test_out, n_test_out, d, rng, structure)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test, False


def max_rss_mb():
    """This process's peak resident memory so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_fit(spec):
    """One fit, in a fresh subprocess: data, detector, timed fit, held-out scores."""
    X_train, X_test, _, y_test, resampled = (
        real_data(spec) if spec["series"] == "rows" else synthetic_data(spec))
    name = spec["detector"]
    with limit_threads(spec["threads"]):
        model = DETECTORS[name][1](spec["seed"], spec["params"])
        rss_before = max_rss_mb()
        start, wall_start = time.process_time(), time.perf_counter()
        model.fit(X_train)
        seconds = time.process_time() - start
        # Wall time too: on a GPU the process's CPU time leaves out what the
        # host spends waiting for the device.
        wall_seconds = time.perf_counter() - wall_start
        rss_after = max_rss_mb()
        scores = -np.asarray(model.score_samples(X_test), dtype=np.float64)
        scores = np.nan_to_num(scores, nan=0.0, posinf=np.finfo(float).max,
                               neginf=-np.finfo(float).max)
        record = {
            "n_train": len(X_train), "n_test": len(X_test), "n_features": X_train.shape[1],
            "resampled": resampled, "fit_cpu_s": seconds, "fit_wall_s": wall_seconds, "peak_mb": rss_after,
            "fit_mb": rss_after - rss_before, "roc_auc": roc_auc_score(y_test, scores),
            "loglik": float("nan"), "loglik_s": float("nan"),
        }
        if name == "ebm":
            record["n_iter"] = int(model.n_iter_)
            if X_train.shape[1] <= spec["loglik_max_features"]:
                start = time.process_time()
                # EnergyBasedModel.score's normalized log-likelihood; the
                # detector, as scikit-learn's detectors, has no score method.
                log_z, _ = model.log_partition()
                record["loglik"] = float(np.mean(model.score_samples(X_test[y_test == 0])) - log_z)
                record["loglik_s"] = time.process_time() - start
    return record


def run_in_subprocess(spec):
    """:func:`run_fit` in a fresh 'spawn' subprocess (its own ``ru_maxrss``)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        return executor.submit(run_fit, spec).result()


def run_series(series, sizes, args, base_spec):
    """Every detector at every size of one series; a list of records."""
    key = "n_rows" if series == "rows" else "n_features"
    records = []
    for size in sizes:
        for name in args.detectors:
            if name == "ae" and series == "rows" and size > args.ae_max_rows:
                log(f"{series}={size} ae: skipped (--ae-max-rows {args.ae_max_rows:,})")
                continue
            spec = {**base_spec, "series": series, key: size, "detector": name}
            record = {"series": series, "size": size, "detector": name,
                      **run_in_subprocess(spec)}
            log(f"{series}={size} {name}: {record['fit_cpu_s']:.2f} s CPU, "
                f"peak {record['peak_mb']:.0f} MiB (+{record['fit_mb']:.0f}), "
                f"auc={record['roc_auc']:.3f}"
                + (f", {record['n_iter']} epochs" if "n_iter" in record else ""))
            records.append(record)
    return records


def find(records, series, size, name):
    for record in records:
        if (record["series"], record["size"], record["detector"]) == (series, size, name):
            return record
    return None


def print_series(title, records, series, sizes, detectors, size_label):
    """Fit CPU s, peak and fit memory, ROC-AUC per detector and size (EBM: epochs, log-lik)."""
    rows = []
    for size in sizes:
        for name in detectors:
            r = find(records, series, size, name)
            if r is None:
                continue
            rows.append([f"{size:,}", DETECTORS[name][0], fmt(r["fit_cpu_s"], 2),
                         fmt(r["fit_wall_s"], 2), fmt(r["peak_mb"], 0), fmt(r["fit_mb"], 0), fmt(r["roc_auc"]),
                         r.get("n_iter", ""), fmt(r["loglik"], 2) if name == "ebm" else ""])
    print_table(title, [size_label, "detector", "fit CPU s", "fit wall s", "peak MiB", "fit MiB",
                        "ROC-AUC", "epochs", "log-lik"], rows)


def print_ratios(records, series, sizes, size_label):
    """EBM / IsolationForest per size: fit time, peak and fit memory, and the ROC-AUC delta.

    The fit-memory ratio divides by at least 1 MiB (IsolationForest's growth can be ~0).
    """
    rows = []
    for size in sizes:
        ebm, iforest = find(records, series, size, "ebm"), find(records, series, size, "iforest")
        rows.append([f"{size:,}", fmt(ebm["fit_cpu_s"] / iforest["fit_cpu_s"], 1),
                     fmt(ebm["peak_mb"] / iforest["peak_mb"], 2),
                     fmt(ebm["fit_mb"] / max(iforest["fit_mb"], 1.0), 1),
                     f"{ebm['roc_auc'] - iforest['roc_auc']:+.3f}"])
    print_table(f"EBM / IsolationForest per size ({series} series)",
                [size_label, "fit time", "peak memory", "fit memory",
                 "ROC-AUC delta"], rows)


def goal_lines(records, args):
    """The goals of issue 16 as (goal, figures, verdict) rows."""
    goals = []
    ebm, iforest = find(records, "features", 32, "ebm"), find(records, "features", 32, "iforest")
    goal = f"{args.width_rows:,} x 32: EBM fit <= {GOAL_RATIO_10K_32:g}x IsolationForest"
    if ebm and iforest:
        ratio = ebm["fit_cpu_s"] / iforest["fit_cpu_s"]
        goals.append((goal, f"{ratio:.1f}x ({ebm['fit_cpu_s']:.2f} s vs "
                            f"{iforest['fit_cpu_s']:.2f} s)",
                      "met" if ratio <= GOAL_RATIO_10K_32 else "not met"))
    else:
        goals.append((goal, "32 features not run", "not measured"))

    small, large = find(records, "rows", 10_000, "ebm"), find(records, "rows", 1_000_000, "ebm")
    goal = (f"1,000,000-row EBM fit <= {GOAL_ROWS_GROWTH:g}x the 10,000-row fit, "
            f"ROC-AUC no worse (-{TOLERANCE})")
    if small and large:
        growth = large["fit_cpu_s"] / small["fit_cpu_s"]
        delta = large["roc_auc"] - small["roc_auc"]
        met = growth <= GOAL_ROWS_GROWTH and delta >= -TOLERANCE
        goals.append((goal, f"{growth:.1f}x, ROC-AUC {delta:+.3f}", "met" if met else "not met"))
    else:
        biggest = max((r for r in records if r["series"] == "rows" and r["detector"] == "ebm"),
                      key=lambda r: r["size"], default=None)
        note = "1,000,000 rows not run"
        if small and biggest and biggest["size"] > 10_000:
            note += (f"; {biggest['size']:,} rows: "
                     f"{biggest['fit_cpu_s'] / small['fit_cpu_s']:.1f}x the 10,000-row fit, "
                     f"ROC-AUC {biggest['roc_auc'] - small['roc_auc']:+.3f}")
        goals.append((goal, note, "not measured"))

    wide = find(records, "features", GOAL_WIDE_FEATURES, "ebm")
    goal = f"{GOAL_WIDE_FEATURES:,} features: EBM fit <= {GOAL_WIDE_SECONDS:g} s"
    if wide:
        goals.append((goal, f"{wide['fit_cpu_s']:.2f} s",
                      "met" if wide["fit_cpu_s"] <= GOAL_WIDE_SECONDS else "not met"))
    else:
        goals.append((goal, f"{GOAL_WIDE_FEATURES:,} features not run", "not measured"))
    return goals


def print_goals(goals):
    for goal, figures, verdict in goals:
        print(f"- {goal}: {verdict} ({figures})")
    print()


def write_plot(path, records, sizes, detectors):
    """Log-log plot of fit CPU seconds against training rows, one line per detector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name in detectors:
        # A detector skipped at some sizes (--ae-max-rows) is drawn where it ran.
        found = [(size, find(records, "rows", size, name)) for size in sizes]
        found = [(size, record["fit_cpu_s"]) for size, record in found if record is not None]
        if found:
            ax.plot(*zip(*found), marker="o", label=DETECTORS[name][0])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training rows")
    ax.set_ylabel("fit CPU seconds (1 thread)")
    ax.set_title("Fit time against rows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    log(f"wrote {path}")


def parse_sizes(text):
    if text is None or text.strip().lower() in ("", "none"):
        return []
    return [int(float(item)) for item in split_list(text)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="10000,100000,1000000",
                        help="training rows of the rows series, or 'none' "
                             "(default 10000,100000,1000000)")
    parser.add_argument("--features", default="3,32,300,1500",
                        help="widths of the synthetic series, or 'none' (default 3,32,300,1500)")
    parser.add_argument("--dataset", default="30_satellite",
                        help="dev set of the rows series, a substring of its name "
                             "(default 30_satellite)")
    parser.add_argument("--width-rows", type=int, default=10_000,
                        help="training rows of the width series (default 10000)")
    parser.add_argument("--contamination", type=float, default=0.05,
                        help="share of outliers in the training rows (default 0.05)")
    parser.add_argument("--jitter", type=float, default=0.01,
                        help="jitter of resampled rows, times each column's std (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and detectors")
    parser.add_argument("--detectors", default=",".join(DETECTORS),
                        help=f"comma-separated subset of {','.join(DETECTORS)} (default all; "
                             f"ae needs PyOD and is skipped without it)")
    parser.add_argument("--ae-max-rows", type=int, default=100_000,
                        help="skip PyOD's AutoEncoder above this many rows: its fit grows "
                             "linearly, about a minute at 100,000 rows (default 100000)")
    parser.add_argument("--loglik-max-features", type=int, default=64,
                        help="EBM held-out log-likelihood up to this many features (default 64)")
    parser.add_argument("--plot", metavar="PATH",
                        help="write a log-log plot of fit time against rows (matplotlib)")
    parser.add_argument("--data-dir", help="adbench directory (default: $ADBENCH_DIR or shared)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.rows = parse_sizes(args.rows)
    args.features = parse_sizes(args.features)
    args.detectors = split_list(args.detectors)
    check_choices(args.detectors, DETECTORS, "--detectors")
    if "ae" in args.detectors and not pyod_available():
        log("ae skipped: PyOD is not installed (pip install sklearn-ebm[benchmarks])")
        args.detectors.remove("ae")
    args.params = parse_params(args.param)
    return args


def main(argv=None):
    args = parse_args(argv)
    path = find_datasets(data_dir(args.data_dir), [args.dataset])[0]
    base_spec = {"path": str(path), "seed": args.seed, "contamination": args.contamination,
                 "jitter": args.jitter, "threads": args.threads, "params": args.params,
                 "n_rows": args.width_rows, "loglik_max_features": args.loglik_max_features}
    records = run_series("rows", args.rows, args, base_spec)
    records += run_series("features", args.features, args, base_spec)
    overrides = ", ".join(f"{k}={v!r}" for k, v in args.params.items()) or "none"
    print(f"Fit cost and scaling: {args.threads} thread(s), one fresh subprocess per fit, "
          f"seed {args.seed}, training contamination {args.contamination}, "
          f"EBM overrides: {overrides}\n")
    n_features = {r["n_features"] for r in records if r["series"] == "rows"}
    if args.rows:
        print_series(f"Rows series: {path.stem} ({', '.join(map(str, sorted(n_features)))} "
                     f"features), held-out {records[0]['n_test']:,} rows; training rows "
                     f"subsampled, or resampled with jitter {args.jitter} where the set is "
                     f"smaller", records, "rows", args.rows, args.detectors, "rows")
    if args.features:
        print_series(f"Width series: synthetic low-dimensional Gaussian mixture, "
                     f"{args.width_rows:,} training rows, {TEST_ROWS:,} held-out rows "
                     f"({TEST_OUTLIERS:.0%} outliers)", records, "features", args.features,
                     args.detectors, "features")
    print("fit CPU s: process CPU time of fit; fit wall s: its wall-clock time; peak MiB: the subprocess's ru_maxrss after the "
          "fit; fit MiB: its growth during the fit; log-lik: EBM held-out score on the "
          "held-out inliers, nats per row (standardized units)\n")
    if {"ebm", "iforest"} <= set(args.detectors):
        if args.rows:
            print_ratios(records, "rows", args.rows, "rows")
        if args.features:
            print_ratios(records, "features", args.features, "features")
    goals = goal_lines(records, args) if "ebm" in args.detectors else []
    if goals:
        print("Goals of issue 16 (one thread):\n")
        print_goals(goals)
    if args.plot and args.rows:
        write_plot(args.plot, records, args.rows, args.detectors)
    if args.json:
        write_json(args.json, {"args": vars(args), "records": records,
                               "goals": [dict(zip(("goal", "figures", "verdict"), g))
                                         for g in goals]})


if __name__ == "__main__":
    main()
