"""Robustness of the default estimators on the adbench-dev datasets, and bounded inference memory.

For every dataset, seed and preprocessing, the default ``EBMOutlierDetector()`` (and, with
``--estimators detector,density``, the default ``EnergyBasedModel()``), with only
``random_state=seed`` set, is fit on a stratified 70% train split (each side capped at 10,000
rows like the outlier protocol of ``shared/BENCHMARK.md``, but constant columns *kept*), then
scores the 30% test split and draws 100 samples. Two preprocessings:

- ``raw``: X exactly as stored (some sets are integers, e.g. int16), constant columns and all;
- ``std``: ``StandardScaler`` fitted on the train split.

Per dataset and preprocessing it reports: fits that raised (by exception type), fits whose
loss / energy-gap / validation curves hold a non-finite value, rows with a non-finite test score,
non-finite samples, warnings by category, fit seconds (mean and max), epochs, and the test
ROC-AUC as a sanity check. The goal is zero errors and zero non-finite values.

Then the bounded-memory section: ``score_samples`` on 2,000,000 rows (float64 and float32
input), ``sample(1_000_000)`` and ``feature_contributions`` on 200,000 rows, each measured in its
own subprocess: peak RSS growth (``ru_maxrss``, includes torch's tensors) and peak numpy memory
(``tracemalloc``), next to the sizes of the input and the output. The package scores in batches
of 65,536 rows, so the growth should be about the output plus a few batches, not a multiple of
the input.

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/robustness.py                 # 16 datasets x 5 seeds x 2
    OMP_NUM_THREADS=1 python benchmarks/robustness.py --quick         # 1 seed, 4 small datasets
    python benchmarks/robustness.py --datasets wine,glass --seeds 0,1 --no-memory
    python benchmarks/robustness.py --estimators detector,density --json robustness.json
    python benchmarks/robustness.py --memory-only

The data directory is ``../shared/data/adbench-dev`` next to the repository, or ``$ADBENCH_DIR``,
or ``--data-dir``. Tables go to stdout, progress to stderr.
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections import Counter

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from _common import (
    ROW_CAP, add_common_arguments, check_choices, data_dir, find_datasets, fmt, limit_threads,
    load_npz, log, parse_params, print_table, split_list, stratified_cap, write_json,
)

QUICK_DATASETS = ["45_wine", "21_Lymphography", "14_glass", "42_WBC"]
PREPROCESSINGS = ("raw", "std")
ESTIMATORS = ("detector", "density")
N_SAMPLES = 100


def make_estimator(kind, seed, params):
    """The default estimator of ``kind`` with ``random_state=seed`` and the ``--param`` overrides."""
    from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel

    cls = EBMOutlierDetector if kind == "detector" else EnergyBasedModel
    return cls(random_state=seed, **params)


# ------------------------------------------------------------------ datasets


def robustness_split(X, y, seed, cap=ROW_CAP):
    """70/30 stratified split, each side capped at ``cap`` rows; dtype and columns kept as stored."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    X_train, y_train = stratified_cap(X_train, y_train, cap, seed)
    X_test, y_test = stratified_cap(X_test, y_test, cap, seed)
    return X_train, X_test, y_train, y_test


def preprocess(kind, X_train, X_test):
    if kind == "raw":
        return X_train, X_test
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def _non_finite(values):
    if values is None:
        return 0
    return int(np.sum(~np.isfinite(np.asarray(values, dtype=np.float64))))


def run_one(kind, seed, params, X_train, X_test, y_test):
    """Fit and score one estimator; a record of what went wrong, if anything."""
    record = {"error": None, "curve_non_finite": 0, "score_non_finite": 0,
              "sample_non_finite": 0, "warnings": {}, "seconds": math.nan, "n_iter": None,
              "roc_auc": math.nan}
    model = make_estimator(kind, seed, params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            start = time.perf_counter()
            model.fit(X_train)
            record["seconds"] = time.perf_counter() - start
            record["n_iter"] = int(model.n_iter_)
            record["curve_non_finite"] = sum(
                _non_finite(getattr(model, name, None))
                for name in ("loss_curve_", "energy_gap_curve_", "validation_scores_")
            )
            scores = model.score_samples(X_test)
            record["score_non_finite"] = _non_finite(scores)
            if record["score_non_finite"] == 0 and len(np.unique(y_test)) == 2:
                record["roc_auc"] = float(roc_auc_score(y_test, -scores))
            if kind == "detector":
                record["score_non_finite"] += _non_finite(model.decision_function(X_test))
                model.predict(X_test)
            record["sample_non_finite"] = _non_finite(model.sample(N_SAMPLES, random_state=seed))
        except Exception as exc:  # noqa: BLE001 - every failure is a finding
            first_line = (str(exc).splitlines() or [""])[0]
            record["error"] = f"{type(exc).__name__}: {first_line[:160]}"
    record["warnings"] = dict(Counter(w.category.__name__ for w in caught))
    return record


def run_dataset(path, seeds, estimators, params):
    X, y = load_npz(path)
    records = []
    for seed in seeds:
        X_train, X_test, _, y_test = robustness_split(X, y, seed)
        for prep in PREPROCESSINGS:
            Xtr, Xte = preprocess(prep, X_train, X_test)
            for kind in estimators:
                record = run_one(kind, seed, params, Xtr, Xte, y_test)
                record.update(dataset=path.stem, seed=seed, prep=prep, estimator=kind,
                              n_train=int(Xtr.shape[0]), n_features=int(Xtr.shape[1]),
                              dtype=str(np.asarray(Xtr).dtype))
                status = record["error"] or (
                    f"{record['seconds']:.1f}s {record['n_iter']} epochs auc={fmt(record['roc_auc'])}")
                log(f"{path.stem} seed={seed} {prep} {kind}: {status}")
                records.append(record)
    return records


def _warning_text(records):
    total = Counter()
    for r in records:
        total.update(r["warnings"])
    return ", ".join(f"{name} {n}" for name, n in sorted(total.items())) or "-"


def _error_text(records):
    errors = Counter(r["error"].split(":", 1)[0] for r in records if r["error"])
    return ", ".join(f"{name} {n}" for name, n in sorted(errors.items())) or "0"


def print_robustness(records, datasets, estimators):
    rows = []
    for dataset in datasets:
        for prep in PREPROCESSINGS:
            group = [r for r in records if r["dataset"] == dataset and r["prep"] == prep]
            if not group:
                continue
            ok = [r for r in group if not r["error"]]
            seconds = [r["seconds"] for r in ok]
            aucs = [r["roc_auc"] for r in ok if np.isfinite(r["roc_auc"])]
            rows.append([
                f"{dataset} {prep}",
                f"{group[0]['n_train']}x{group[0]['n_features']} {group[0]['dtype']}",
                len(group),
                _error_text(group),
                sum(r["curve_non_finite"] > 0 for r in ok),
                sum(r["score_non_finite"] for r in ok),
                sum(r["sample_non_finite"] for r in ok),
                _warning_text(group),
                fmt(np.mean(seconds), 2) if seconds else "nan",
                fmt(np.max(seconds), 2) if seconds else "nan",
                fmt(np.mean([r["n_iter"] for r in ok]), 1) if ok else "nan",
                fmt(np.mean(aucs)) if aucs else "nan",
            ])
    print_table(
        f"Robustness of the defaults ({', '.join(estimators)}): per dataset and preprocessing, "
        "summed over seeds",
        ["dataset prep", "train", "fits", "errors", "non-finite curves", "non-finite scores",
         "non-finite samples", "warnings", "mean fit s", "max fit s", "epochs", "ROC-AUC"],
        rows,
    )
    failed = [r for r in records if r["error"]]
    if failed:
        print_table("Errors", ["dataset", "seed", "prep", "estimator", "error"],
                    [[r["dataset"], r["seed"], r["prep"], r["estimator"], r["error"]] for r in failed])
    n_curves = sum(r["curve_non_finite"] > 0 for r in records)
    n_scores = sum(r["score_non_finite"] for r in records)
    n_samples = sum(r["sample_non_finite"] for r in records)
    print(f"Total: {len(records)} fits, {len(failed)} errors, {n_curves} fits with non-finite "
          f"curves, {n_scores} non-finite scores, {n_samples} non-finite samples"
          f" -> {'PASS' if not (failed or n_curves or n_scores or n_samples) else 'FAIL'}\n")


# ------------------------------------------------------------ bounded memory

MEMORY_CASES = {
    # name: (description, rows, features, input dtype or None)
    "score_2m_f64": ("score_samples, 2,000,000 x 8 float64", 2_000_000, 8, np.float64),
    "score_2m_f32": ("score_samples, 2,000,000 x 8 float32", 2_000_000, 8, np.float32),
    "sample_1m": ("sample(1_000_000), 8 features", 1_000_000, 8, None),
    "contrib_200k": ("feature_contributions, 200,000 x 8 float64", 200_000, 8, np.float64),
}


def _peak_rss_bytes():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def _rss_baseline():
    """Reset the peak RSS to the current RSS where Linux allows it; returns the baseline.

    Without the reset, the baseline is the peak so far, which hides growth below an earlier peak.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024, "reset"
    except OSError:
        pass
    return _peak_rss_bytes(), "peak"


def memory_model(quick):
    """A trained default-width model (short training: memory does not depend on it)."""
    from sklearn_ebm import EnergyBasedModel

    params = dict(max_iter=1, early_stopping=False, langevin_steps=1, replay_buffer_size=256,
                  random_state=0)
    if quick:
        params["hidden_sizes"] = (64,)
    X = np.random.default_rng(0).standard_normal((2000, 8))
    return EnergyBasedModel(**params).fit(X)


def run_memory_case(name, quick):
    """Run in a fresh process: returns the figures of one case as a dict."""
    warnings.simplefilter("ignore")
    _, n_rows, n_features, dtype = MEMORY_CASES[name]
    model = memory_model(quick)
    model.score_samples(np.zeros((10, n_features)))  # warm up torch
    X = None
    if dtype is not None:
        X = np.random.default_rng(1).standard_normal((n_rows, n_features), dtype=dtype)
    baseline, method = _rss_baseline()
    tracemalloc.start()
    start = time.perf_counter()
    if name.startswith("score"):
        out = model.score_samples(X)
    elif name.startswith("sample"):
        out = model.sample(n_rows, random_state=0)
    else:
        out = np.asarray(model.feature_contributions(X))
    seconds = time.perf_counter() - start
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "case": name,
        "input_bytes": 0 if X is None else int(X.nbytes),
        "output_bytes": int(out.nbytes),
        "rss_growth_bytes": int(_peak_rss_bytes() - baseline),
        "rss_method": method,
        "numpy_peak_bytes": int(numpy_peak),
        "seconds": seconds,
        "finite": bool(np.all(np.isfinite(out))),
    }


def memory_section(quick, threads):
    results = []
    for name in MEMORY_CASES:
        command = [sys.executable, os.path.abspath(__file__), "--memory-case", name,
                   "--threads", str(threads)] + (["--quick"] if quick else [])
        log(f"memory case {name} ...")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            log(done.stderr[-2000:])
            results.append({"case": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1]})
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        log(f"  {results[-1]}")
    mb = lambda b: fmt(b / 1e6, 1)  # noqa: E731
    rows = []
    for r in results:
        description = MEMORY_CASES[r["case"]][0]
        if "error" in r:
            rows.append([description, "-", "-", "-", "-", "-", r["error"]])
            continue
        rows.append([description, mb(r["input_bytes"]), mb(r["output_bytes"]),
                     mb(r["rss_growth_bytes"]), mb(r["numpy_peak_bytes"]), fmt(r["seconds"], 1),
                     "yes" if r["finite"] else "NO"])
    width = "(64,)" if quick else "(256, 128)"
    print_table(
        f"Bounded memory (each case in its own process; network hidden_sizes={width}; "
        "inference batch 65,536 rows; RSS growth above the RSS just before the call)",
        ["case", "input MB", "output MB", "peak RSS growth MB", "numpy peak MB", "seconds",
         "finite"],
        rows,
    )
    return results


# ---------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", help="comma-separated substrings of dataset names")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds (default 0-4)")
    parser.add_argument("--quick", action="store_true",
                        help="1 seed (0) and 4 small datasets (wine, Lymphography, glass, WBC); "
                             "a narrower network in the memory section")
    parser.add_argument("--estimators", default="detector",
                        help="comma-separated subset of detector,density (default detector)")
    parser.add_argument("--data-dir", help="adbench directory (default: $ADBENCH_DIR or shared)")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="run the bounded-memory section (default on)")
    parser.add_argument("--memory-only", action="store_true", help="only the memory section")
    parser.add_argument("--memory-case", choices=sorted(MEMORY_CASES), help=argparse.SUPPRESS)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.seeds = [0] if args.quick else [int(s) for s in split_list(args.seeds)]
    args.datasets = split_list(args.datasets)
    if args.quick and not args.datasets:
        args.datasets = QUICK_DATASETS
    args.estimators = split_list(args.estimators)
    check_choices(args.estimators, ESTIMATORS, "--estimators")
    args.params = parse_params(args.param)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.memory_case:
        with limit_threads(args.threads):
            print(json.dumps(run_memory_case(args.memory_case, args.quick)))
        return
    records, memory = [], None
    if not args.memory_only:
        paths = find_datasets(data_dir(args.data_dir), args.datasets)
        start = time.perf_counter()
        with limit_threads(args.threads):
            for path in paths:
                records.extend(run_dataset(path, args.seeds, args.estimators, args.params))
        print(f"Robustness run: seeds {args.seeds}, {len(paths)} datasets, preprocessings "
              f"{list(PREPROCESSINGS)}, overrides {args.params or 'none'}, "
              f"{time.perf_counter() - start:.0f} s\n")
        print_robustness(records, [p.stem for p in paths], args.estimators)
    if args.memory or args.memory_only:
        memory = memory_section(args.quick, args.threads)
    if args.json:
        write_json(args.json, {"args": vars(args), "records": records, "memory": memory})


if __name__ == "__main__":
    main()
