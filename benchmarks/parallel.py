"""GridSearchCV with n_jobs=1 and n_jobs=2: time, threads per process, identical results.

The same search runs three times in one process run: ``GridSearchCV(EnergyBasedModel(...), grid,
cv=3)`` over ``reg_alpha`` x ``hidden_sizes`` (6 candidates, 18 fits, each scored with the
default normalized log-likelihood) on ``--n-rows`` standardized rows of 8 features: with
``n_jobs=1`` in this process on torch's default threads, again with ``n_jobs=1`` and this
process capped to ``cpu_count // 2`` torch threads (as many as each worker gets), then with
``n_jobs=2`` in joblib's loky worker processes.

Threads are left at their defaults, which is what the benchmark measures: this process runs
torch on ``torch.get_num_threads()`` threads (all cores unless ``OMP_NUM_THREADS`` is set),
and loky starts each worker with ``OMP_NUM_THREADS`` (and the MKL and OpenBLAS variables) set
to ``cpu_count // n_jobs``, which torch honours, so the workers together never use more
threads than there are cores. The script prints the times, their ratios, the torch threads
each process used (read inside the workers by the scorer), and whether the searches gave the
same scores: every fit is seeded, so ``n_jobs=2`` must equal ``n_jobs=1`` on as many threads
exactly; on another thread count float sums, and so the scores, differ slightly. The
workers' one-time start-up (a new Python importing torch) is timed apart and not counted in
the ``n_jobs=2`` time.

Do not set ``OMP_NUM_THREADS`` for this one. Run from the repository root::

    python benchmarks/parallel.py
    python benchmarks/parallel.py --n-rows 4000 --max-iter 10

The fits run on the CPU (``--device cpu``, the default) whatever the machine has: threads are
what this measures.
"""

import argparse
import os
import time
import warnings

import joblib
import numpy as np
import torch
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import StandardScaler

from sklearn_ebm import EnergyBasedModel

GRID = {"reg_alpha": [0.001, 0.01, 0.1], "hidden_sizes": [(32, 32), (64, 64)]}


def _score_and_threads(estimator, X, y=None):
    """The default score, and the torch threads and process that computed it."""
    return {"score": estimator.score(X), "threads": torch.get_num_threads(), "pid": os.getpid()}


def _probe(_):
    return torch.get_num_threads()


def search(X, n_jobs, max_iter, cv, device):
    model = EnergyBasedModel(max_iter=max_iter, early_stopping=False, device=device, random_state=0)
    grid = GridSearchCV(
        model,
        GRID,
        cv=KFold(cv, shuffle=True, random_state=0),
        scoring=_score_and_threads,
        refit=False,
        n_jobs=n_jobs,
    )
    start = time.perf_counter()
    grid.fit(X)
    seconds = time.perf_counter() - start
    results = grid.cv_results_
    threads = sorted({int(t) for i in range(cv) for t in results[f"split{i}_test_threads"]})
    processes = len({int(p) for i in range(cv) for p in results[f"split{i}_test_pid"]})
    return seconds, results["mean_test_score"], threads, processes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-rows", type=int, default=2000)
    parser.add_argument("--max-iter", type=int, default=5)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="torch device of the fits (default: cpu)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    X, _ = make_blobs(n_samples=args.n_rows, n_features=8, centers=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    n_candidates = int(np.prod([len(v) for v in GRID.values()]))
    print(
        f"GridSearchCV: {n_candidates} candidates x {args.cv} folds = {n_candidates * args.cv} fits "
        f"of EnergyBasedModel(max_iter={args.max_iter}) on {X.shape[0]} x {X.shape[1]} rows, "
        "each scored by the normalized log-likelihood"
    )
    print(
        f"cores: {joblib.cpu_count()}, OMP_NUM_THREADS in this process: "
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    # One-time costs kept out of both timings: torch's first fit here, and
    # starting the loky workers (the second search reuses them).
    EnergyBasedModel(max_iter=1, early_stopping=False, device=args.device, random_state=0).fit(X[:200])
    start = time.perf_counter()
    worker_threads = joblib.Parallel(n_jobs=2)(joblib.delayed(_probe)(i) for i in range(2))
    startup = time.perf_counter() - start

    default_threads = torch.get_num_threads()
    rows = [("1", *search(X, 1, args.max_iter, args.cv, args.device))]
    torch.set_num_threads(max(joblib.cpu_count() // 2, 1))
    try:
        rows.append(("1, capped", *search(X, 1, args.max_iter, args.cv, args.device)))
    finally:
        torch.set_num_threads(default_threads)
    rows.append(("2", *search(X, 2, args.max_iter, args.cv, args.device)))
    print(f"{'n_jobs':>10}  {'processes':>9}  {'torch threads each':>18}  {'seconds':>8}")
    for name, seconds, _, threads, processes in rows:
        print(f"{name:>10}  {processes:>9}  {','.join(map(str, threads)):>18}  {seconds:8.1f}")
    (_, t1, s1, _, _), (_, t1c, s1c, _, _), (_, t2, s2, _, _) = rows
    print(f"ratio n_jobs=1 / n_jobs=2: {t1 / t2:.2f}x (with n_jobs=1 capped to the workers' threads: {t1c / t2:.2f}x)")
    print(
        f"same scores, n_jobs=2 vs n_jobs=1 on as many threads: {bool(np.array_equal(s1c, s2))}; "
        f"vs n_jobs=1 on {default_threads} threads, largest difference {np.max(np.abs(s1 - s2)):.2g} nats "
        "(float sums differ with the thread count)"
    )
    print(f"loky worker start-up, not counted above: {startup:.1f} s (workers' torch threads: {worker_threads})")

if __name__ == "__main__":
    main()
