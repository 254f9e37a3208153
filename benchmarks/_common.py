"""Helpers shared by the benchmark scripts.

Data loading, the tune/confirm halves of the dev sets and the outlier split of
``shared/BENCHMARK.md``, ``--param key=value`` parsing, a BIC-selected Gaussian mixture, a
k-th-neighbour distance detector, plain-text tables, thread limiting and JSON output.
"""

import ast
import json
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors

DATA_ENV = "ADBENCH_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/adbench-dev"
ROW_CAP = 10_000
HALVES = ("tune", "confirm")


def log(message):
    """Print a progress line to stderr (tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)


def data_dir(cli_value=None):
    """The adbench directory: ``--data-dir`` if given, else ``$ADBENCH_DIR``, else the default."""
    return Path(cli_value or os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR)


def _dataset_order(path):
    prefix = path.stem.split("_", 1)[0]
    return (int(prefix) if prefix.isdigit() else math.inf, path.stem)


def dataset_halves(directory):
    """``{stem: "tune" | "confirm"}`` for every ``*.npz`` file of ``directory``.

    The project's split of the dev sets: the file names in plain ``sorted()`` order (so
    ``2_annthyroid`` sorts after ``29_Pima``), even indices to "tune" and odd ones to "confirm".
    Defaults are chosen on the tune half and checked on the confirm half. The halves depend on
    the whole directory, never on a ``--datasets`` selection.
    """
    names = sorted(path.name for path in Path(directory).glob("*.npz"))
    return {Path(name).stem: HALVES[i % 2] for i, name in enumerate(names)}


def find_datasets(directory, selectors=None, half="all"):
    """The ``*.npz`` files of ``directory``, in numeric-prefix order.

    ``selectors`` is a list of case-insensitive substrings; a file is kept if its stem contains
    any of them. ``half`` ("tune", "confirm" or "all") keeps one half of the directory's sets
    (:func:`dataset_halves`). Raises if nothing matches.
    """
    paths = sorted(Path(directory).glob("*.npz"), key=_dataset_order)
    if selectors:
        wanted = [s.lower() for s in selectors]
        paths = [p for p in paths if any(s in p.stem.lower() for s in wanted)]
    if half != "all":
        halves = dataset_halves(directory)
        paths = [p for p in paths if halves[p.stem] == half]
    if not paths:
        raise SystemExit(f"no dataset in {directory} matches {selectors} (half: {half})")
    return paths


def add_half_argument(parser):
    """``--half tune|confirm|all``, the dev-set half to run (see :func:`dataset_halves`)."""
    parser.add_argument("--half", choices=(*HALVES, "all"), default="all",
                        help="tune = even, confirm = odd indices of the sorted file names "
                             "(default all)")


def half_groups(datasets, halves):
    """``[(label, row indices)]``: each half present in ``datasets``, then all of them.

    Only halves with at least one dataset are listed; "all" is listed when both halves are.
    """
    groups = [(half, [i for i, d in enumerate(datasets) if halves.get(d) == half])
              for half in HALVES]
    groups = [(half, rows) for half, rows in groups if rows]
    if len(groups) > 1:
        groups.append(("all", list(range(len(datasets)))))
    return groups


def load_npz(path):
    """``X`` and ``y`` (1 = outlier) of one adbench ``.npz`` file."""
    with np.load(path) as data:
        return data["X"], data["y"].astype(int)


def stratified_cap(X, y, cap, seed):
    """At most ``cap`` rows of ``(X, y)``, subsampled with stratification on ``y``."""
    if len(X) <= cap:
        return X, y
    X_kept, _, y_kept, _ = train_test_split(X, y, train_size=cap, stratify=y, random_state=seed)
    return X_kept, y_kept


def outlier_split(X, y, seed, cap=ROW_CAP):
    """Train/test split of the outlier protocol.

    70/30 stratified split, each side capped at ``cap`` rows by a stratified subsample (same
    seed), cast to float64, columns constant on train dropped from both sides.
    Returns ``X_train, X_test, y_train, y_test``.
    """
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    X_train, y_train = stratified_cap(X_train, y_train, cap, seed)
    X_test, y_test = stratified_cap(X_test, y_test, cap, seed)
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    varying = np.ptp(X_train, axis=0) > 0
    return X_train[:, varying], X_test[:, varying], y_train, y_test


def parse_value(text):
    """``text`` as a Python literal (``3``, ``1e-3``, ``(64, 64)``, ``False``), else as is."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_params(pairs):
    """Parse ``--param`` strings: ``["max_iter=50"]`` -> ``{"max_iter": 50}``."""
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--param expects key=value, got {pair!r}")
        params[key.strip()] = parse_value(value.strip())
    return params


def add_common_arguments(parser):
    """``--param``, ``--json`` and ``--threads``, shared by the scripts."""
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="override of the EBM's parameters, repeatable; values are Python literals or strings",
    )
    parser.add_argument("--json", metavar="PATH", help="write all raw figures to this JSON file")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (default 1)")


def split_list(text):
    """``"a,b"`` -> ``["a", "b"]``; ``None`` stays ``None``."""
    if text is None:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


def check_choices(names, allowed, flag):
    """Exit with a message if ``names`` holds something outside ``allowed``."""
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise SystemExit(f"{flag}: unknown {unknown}; choose from {list(allowed)}")


@contextmanager
def limit_threads(n_threads):
    """Run the block with torch and the BLAS/OpenMP pools limited to ``n_threads``."""
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        torch.set_num_threads(previous)


class BICGaussianMixture(BaseEstimator):
    """A GaussianMixture whose ``n_components`` is the candidate with the lowest BIC on fit data."""

    def __init__(self, candidates=(1, 2, 4, 8), covariance_type="full", reg_covar=1e-6,
                 random_state=None):
        self.candidates = candidates
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit one mixture per candidate and keep the one with the lowest BIC."""
        self.bic_ = {}
        best_bic = math.inf
        for k in self.candidates:
            mixture = GaussianMixture(
                n_components=k, covariance_type=self.covariance_type,
                reg_covar=self.reg_covar, random_state=self.random_state,
            ).fit(X)
            self.bic_[k] = mixture.bic(X)
            if self.bic_[k] < best_bic:
                best_bic, self.best_ = self.bic_[k], mixture
        self.n_components_ = self.best_.n_components
        return self

    def score_samples(self, X):
        """Log density of the selected mixture."""
        return self.best_.score_samples(X)

    def sample(self, n_samples):
        """``n_samples`` draws from the selected mixture (its ``random_state`` fixes them)."""
        return self.best_.sample(n_samples)[0]


class KNNDistance(BaseEstimator):
    """Outlier detector: distance to the ``n_neighbors``-th nearest training row.

    ``score_samples`` is minus that distance (higher = more normal, as in sklearn). Rows scored
    are taken as new rows, so a training row's nearest neighbour is itself.
    """

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def fit(self, X, y=None):
        """Index the training rows."""
        self.neighbors_ = NearestNeighbors(n_neighbors=self.n_neighbors).fit(X)
        return self

    def score_samples(self, X):
        """Minus the distance to the ``n_neighbors``-th nearest training row."""
        distances, _ = self.neighbors_.kneighbors(X)
        return -distances[:, -1]


def fmt(value, digits=3):
    """Fixed-point text for a number, ``nan`` for a missing or non-finite one."""
    if value is None or not np.isfinite(value):
        return "nan"
    return f"{value:.{digits}f}"


def format_table(headers, rows):
    """An aligned markdown table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(3, *(len(row[i]) for row in cells)) for i in range(len(headers))]

    def line(row):
        padded = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join(
        ["-" * widths[0]] + ["-" * (w - 1) + ":" for w in widths[1:]]
    ) + " |"
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def print_table(title, headers, rows):
    """Print a titled table to stdout, followed by a blank line."""
    print(f"{title}\n")
    print(format_table(headers, rows))
    print()


def _to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_json(path, payload):
    """Write ``payload`` as indented JSON (numpy values converted; NaN written as NaN)."""
    Path(path).write_text(json.dumps(payload, indent=2, default=_to_builtin) + "\n")
    log(f"wrote {path}")
