"""Reliability: failures lose nothing, interrupts keep progress, threads agree,
and inference runs in bounded memory.

- A fit that diverges (non-finite loss or energies) stops with an error that
  says what to change, and a model fitted before keeps its network, scores
  and every fitted attribute, with plain refits and with ``warm_start``.
  So does a fit refused for bad input or bad hyperparameters.
- Ctrl-C (KeyboardInterrupt) during fit leaves a usable model at the last
  completed epoch, with a warning.
- ``score_samples`` from several threads at once equals the single-threaded
  result.
- ``score_samples`` on 2,000,000 rows and ``sample(1_000_000)`` stay within a
  memory bound set by their output and the inference batch (65,536 rows).
"""

import copy
import dataclasses
import json
import math
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

import sklearn_ebm._training as training_module
from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel
from sklearn_ebm._training import EpochStats

TINY = dict(
    hidden_sizes=(8,),
    max_iter=3,
    langevin_steps=2,
    replay_buffer_size=64,
    early_stopping=False,
    random_state=0,
)
ESTIMATORS = [EnergyBasedModel, EBMOutlierDetector]
EST_IDS = ["density", "detector"]
DIVERGED = r"(?s)diverged at epoch \d+.*non-finite.*lower learning_rate"
# The inference batch the memory bounds allow for (the package batches at 65,536 rows).
BATCH = 65536

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def make(Est, **overrides):
    return Est(**{**TINY, **overrides})


def data(n=60, d=3, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n, d) @ np.triu(np.ones((d, d))) + np.arange(d)


# ---------------------------------------------------------------- helpers


def snapshot(model):
    """Deep copies of the fitted state: every public attribute ending in ``_``
    and the private training state that ``warm_start`` continues from."""
    keep = {"_optimizer_state", "_replay_buffer"}
    return {
        key: copy.deepcopy(value)
        for key, value in vars(model).items()
        if (key.endswith("_") and not key.startswith("__")) or key in keep
    }


def assert_same(a, b, where="model"):
    """Exact equality of fitted state, through modules, tensors, arrays and containers."""
    if isinstance(a, torch.nn.Module):
        assert type(a) is type(b), where
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys(), where
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{where}.{key} changed"
        assert a.training == b.training, f"{where}.training changed"
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b), f"{where} changed"
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=f"{where} changed")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{where} changed length"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or a == b, f"{where}: {a} != {b}"
    elif dataclasses.is_dataclass(a) or hasattr(a, "__dict__") and not isinstance(a, type):
        assert type(a) is type(b), where
        assert_same(vars(a), vars(b), where)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_model_unchanged(model, before, X, scores, samples):
    assert_same(before, snapshot(model))
    np.testing.assert_array_equal(model.score_samples(X), scores)
    np.testing.assert_array_equal(model.sample(4, random_state=0), samples)
    if isinstance(model, EBMOutlierDetector):
        np.testing.assert_array_equal(model.decision_function(X), scores - model.offset_)


def record(model, X):
    return snapshot(model), model.score_samples(X), model.sample(4, random_state=0)


def diverge_from_call(monkeypatch, k, loss=float("nan"), gap=0.0):
    """Make the k-th and later epochs (counted from now) report non-finite stats."""
    real = training_module.train_epoch
    calls = {"n": 0}

    def fake(*args, **kwargs):
        calls["n"] += 1
        stats = real(*args, **kwargs)
        return EpochStats(loss, gap) if calls["n"] >= k else stats

    monkeypatch.setattr(training_module, "train_epoch", fake)
    return calls


def interrupt_on_call(monkeypatch, k):
    """Raise KeyboardInterrupt at the start of the k-th epoch (counted from now)."""
    real = training_module.train_epoch
    calls = {"n": 0}

    def fake(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == k:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training_module, "train_epoch", fake)
    return calls


# ------------------------------------------------------------ divergence


@pytest.mark.parametrize(
    "loss, gap",
    [(float("nan"), 0.0), (float("inf"), 0.0), (0.5, float("inf")), (0.5, float("-inf"))],
    ids=["loss-nan", "loss-inf", "energy-inf", "energy-minus-inf"],
)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_divergence_stops_with_a_clear_error(monkeypatch, Est, loss, gap):
    diverge_from_call(monkeypatch, 2, loss, gap)
    with pytest.raises(FloatingPointError, match=DIVERGED) as info:
        make(Est, max_iter=4).fit(data())
    assert "epoch 2" in str(info.value)
    assert "step_size" in str(info.value) and "reg_alpha" in str(info.value)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_non_finite_validation_score_stops_with_a_clear_error(monkeypatch, Est):
    monkeypatch.setattr(training_module, "validation_score", lambda *a, **k: float("nan"))
    with pytest.raises(FloatingPointError, match=DIVERGED):
        make(Est, early_stopping=True).fit(data())


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_absurd_learning_rate_stops_with_a_clear_error(Est):
    with pytest.raises(FloatingPointError, match=DIVERGED):
        make(Est, learning_rate=1e8, max_iter=5).fit(data())


@pytest.mark.parametrize("early_stopping", [False, True], ids=["no-es", "es"])
@pytest.mark.parametrize("warm_start", [False, True], ids=["refit", "warm"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_diverged_fit_keeps_the_fitted_model(monkeypatch, Est, warm_start, early_stopping):
    X = data()
    model = make(Est, warm_start=warm_start, early_stopping=early_stopping).fit(X)
    before = record(model, X)
    diverge_from_call(monkeypatch, 2)
    with pytest.raises(FloatingPointError, match=DIVERGED):
        model.fit(X)
    monkeypatch.undo()
    assert_model_unchanged(model, *before[:1], X, *before[1:])


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_absurd_learning_rate_refit_keeps_the_fitted_model(Est):
    X = data()
    model = make(Est).fit(X)
    before = record(model, X)
    with pytest.raises(FloatingPointError, match=DIVERGED):
        model.set_params(learning_rate=1e8, max_iter=5).fit(X)
    assert_model_unchanged(model, *before[:1], X, *before[1:])


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_warm_start_after_a_diverged_fit_continues_as_if_it_never_happened(monkeypatch, Est):
    # The failed fit must not have advanced the optimizer (Adam moments, step
    # count), the replay buffer or anything else the next warm fit reads.
    X = data()
    reference = make(Est, warm_start=True).fit(X).fit(X)
    model = make(Est, warm_start=True).fit(X)
    diverge_from_call(monkeypatch, 2)
    with pytest.raises(FloatingPointError):
        model.fit(X)
    monkeypatch.undo()
    model.fit(X)
    assert model.n_iter_ == reference.n_iter_
    np.testing.assert_array_equal(model.score_samples(X), reference.score_samples(X))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_diverged_refit_on_other_features_keeps_the_fitted_model(monkeypatch, Est):
    X = data()
    model = make(Est).fit(X)
    before = record(model, X)
    diverge_from_call(monkeypatch, 1)
    with pytest.raises(FloatingPointError, match=DIVERGED):
        model.fit(data(d=2))
    monkeypatch.undo()
    assert model.n_features_in_ == 3
    assert_model_unchanged(model, *before[:1], X, *before[1:])


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_warm_start_uses_the_new_learning_rate(monkeypatch, Est):
    # The divergence error says "lower learning_rate"; with warm_start=True
    # that advice must take effect on the next fit.
    X = data()
    model = make(Est, warm_start=True).fit(X)
    real = training_module.train_epoch
    seen = []

    def spy(model_, optimizer, *args, **kwargs):
        seen.append([group["lr"] for group in optimizer.param_groups])
        return real(model_, optimizer, *args, **kwargs)

    monkeypatch.setattr(training_module, "train_epoch", spy)
    model.set_params(learning_rate=1e-5).fit(X)
    assert seen and all(lr == [1e-5] for lr in seen), seen


# ------------------------------------------------- refused fits change nothing


def _nan(X):
    X = np.array(X, dtype=float)
    X[0, 0] = np.nan
    return X


# name -> (builder(X as DataFrame with columns a, b, c), exception, fitted on a DataFrame?)
REFUSED_INPUTS = {
    "nan-array": (lambda df: _nan(df.to_numpy()), ValueError),
    "nan-dataframe-other-columns": (
        lambda df: pd.DataFrame(_nan(df.to_numpy()), columns=["x", "y", "z"]),
        ValueError,
    ),
    "inf-wider": (lambda df: np.hstack([df.to_numpy(), np.full((len(df), 1), np.inf)]), ValueError),
    "strings": (lambda df: df.assign(b="red"), ValueError),
    "sparse": (lambda df: sp.csr_matrix(df.to_numpy()), TypeError),
    "0-rows": (lambda df: df.iloc[:0], ValueError),
    "complex": (lambda df: df.to_numpy() + 1j, ValueError),
}


@pytest.mark.parametrize("named", [False, True], ids=["array-fit", "dataframe-fit"])
@pytest.mark.parametrize("case", list(REFUSED_INPUTS))
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_refused_input_keeps_the_fitted_model(Est, case, named):
    df = pd.DataFrame(data(), columns=["a", "b", "c"])
    X = df if named else df.to_numpy()
    model = make(Est).fit(X)
    before = record(model, X)
    build, error = REFUSED_INPUTS[case]
    with pytest.raises(error):
        model.fit(build(df))
    assert_model_unchanged(model, *before[:1], X, *before[1:])


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_refused_after_validation_keeps_the_fitted_model(Est):
    # Validation passes (1 row, 2 features), then early stopping refuses the
    # single row: the fitted model's n_features_in_ must not follow X.
    X = data()
    model = make(Est).fit(X)
    before = record(model, X)
    with pytest.raises(ValueError, match="1 sample"):
        model.set_params(early_stopping=True).fit(data(d=2)[:1])
    model.set_params(early_stopping=False)
    assert_model_unchanged(model, *before[:1], X, *before[1:])


@pytest.mark.parametrize(
    "params",
    [{"step_size": -1.0}, {"hidden_sizes": ()}, {"dropout": 1.0}, {"device": "tpu"},
     {"activation": "swish"}, {"clamp": (1.0, 0.0)}],
    ids=repr,
)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_refused_hyperparameters_keep_the_fitted_model(Est, params):
    X = data()
    model = make(Est).fit(X)
    before = record(model, X)
    good = {k: getattr(model, k) for k in params}
    with pytest.raises((ValueError, TypeError)):
        model.set_params(**params).fit(X)
    model.set_params(**good)
    assert_model_unchanged(model, *before[:1], X, *before[1:])


@pytest.mark.parametrize("failure", ["diverged", "one-row-early-stopping", "interrupt-in-epoch-1"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_failed_first_fit_leaves_the_estimator_unfitted(monkeypatch, Est, failure):
    # No stray n_features_in_ / feature_names_in_: check_is_fitted would take
    # them for a fitted model, and score_samples would fail with an
    # AttributeError instead of NotFittedError.
    from sklearn.exceptions import NotFittedError

    model = make(Est)
    X = pd.DataFrame(data(), columns=["a", "b", "c"])
    if failure == "diverged":
        diverge_from_call(monkeypatch, 1)
        expected = FloatingPointError
    elif failure == "one-row-early-stopping":
        model.set_params(early_stopping=True)
        X = X.iloc[:1]
        expected = ValueError
    else:
        interrupt_on_call(monkeypatch, 1)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        model.fit(X)
    monkeypatch.undo()
    assert not [k for k in vars(model) if k.endswith("_") and not k.startswith("__")]
    with pytest.raises(NotFittedError):
        model.score_samples(data())


# ------------------------------------------------------- KeyboardInterrupt


def _fit_interrupted(model, X):
    """fit, swallowing a re-raised KeyboardInterrupt; returns the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X)
        except KeyboardInterrupt:
            pass
    return [w for w in caught if "interrupt" in str(w.message).lower()]


@pytest.mark.parametrize("early_stopping", [False, True], ids=["no-es", "es"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_keyboard_interrupt_keeps_the_last_completed_epoch(monkeypatch, Est, early_stopping):
    X = data()
    reference = make(Est, max_iter=2, early_stopping=early_stopping).fit(X)
    model = make(Est, max_iter=6, early_stopping=early_stopping)
    interrupt_on_call(monkeypatch, 3)
    caught = _fit_interrupted(model, X)
    monkeypatch.undo()
    assert caught, "no warning says that training was interrupted"
    assert "epoch" in str(caught[0].message)
    assert model.n_iter_ == 2
    assert len(model.loss_curve_) == 2 and len(model.energy_gap_curve_) == 2
    if early_stopping:
        assert len(model.validation_scores_) == 2
        assert model.best_validation_score_ == reference.best_validation_score_
    # Exactly the model that two epochs give (the best of them with early stopping).
    np.testing.assert_array_equal(model.score_samples(X), reference.score_samples(X))
    assert model.sample(3, random_state=0).shape == (3, 3)
    if isinstance(model, EBMOutlierDetector):
        assert model.offset_ == reference.offset_
        assert model.predict(X).shape == (len(X),)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_keyboard_interrupt_during_warm_start_keeps_progress(monkeypatch, Est):
    X = data()
    reference = make(Est, warm_start=True).fit(X).set_params(max_iter=1).fit(X)
    model = make(Est, warm_start=True).fit(X)
    interrupt_on_call(monkeypatch, 2)
    caught = _fit_interrupted(model, X)
    monkeypatch.undo()
    assert caught, "no warning says that training was interrupted"
    assert model.n_iter_ == TINY["max_iter"] + 1
    np.testing.assert_array_equal(model.score_samples(X), reference.score_samples(X))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_keyboard_interrupt_in_the_first_epoch_of_a_refit_keeps_the_previous_model(monkeypatch, Est):
    X = data()
    model = make(Est).fit(X)
    before = record(model, X)
    interrupt_on_call(monkeypatch, 1)
    _fit_interrupted(model, data(d=2))
    monkeypatch.undo()
    assert_model_unchanged(model, *before[:1], X, *before[1:])


# ------------------------------------------------------------ thread safety


@pytest.mark.parametrize(
    "params", [{}, {"spectral_norm": True}, {"dropout": 0.3}], ids=["plain", "spectral", "dropout"]
)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_concurrent_score_samples_equal_single_thread(Est, params):
    model = make(Est, **params).fit(data())
    rng = np.random.RandomState(1)
    inputs = [rng.randn(int(rng.randint(1, 3000)), 3) * (1 + i % 3) for i in range(20)]
    expected = [model.score_samples(X) for X in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(model.score_samples, inputs))
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)
    # Same input from all threads at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda _: model.score_samples(inputs[0]), range(20)))
    for g in got:
        np.testing.assert_array_equal(g, expected[0])


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_fits_in_threads_equal_fits_one_after_another(Est):
    # Each fit seeds torch's global generators (weight init, dropout): fits
    # running at once in one process must not draw from each other's streams.
    X = data()
    seeds = [0, 1, 2, 3]
    expected = [make(Est, dropout=0.2, random_state=s).fit(X).score_samples(X) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda s: make(Est, dropout=0.2, random_state=s).fit(X).score_samples(X), seeds))
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_concurrent_scoring_while_sampling_and_explaining(Est):
    model = make(Est, spectral_norm=True, dropout=0.2).fit(data())
    X = np.random.RandomState(2).randn(2000, 3)
    expected_scores = model.score_samples(X)
    expected_contributions = model.feature_contributions(X[:200])
    expected_samples = model.sample(50, random_state=3)

    def task(i):
        kind = i % 3
        if kind == 0:
            return kind, model.score_samples(X)
        if kind == 1:
            return kind, model.feature_contributions(X[:200])
        return kind, model.sample(50, random_state=3)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(task, range(21)))
    expected = [expected_scores, expected_contributions, expected_samples]
    for kind, value in results:
        np.testing.assert_array_equal(value, expected[kind])
    assert not model.network_.training


# ---------------------------------------------------------- bounded memory


@pytest.fixture(scope="module")
def model_8d():
    return make(EnergyBasedModel).fit(np.random.RandomState(0).randn(500, 8))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_score_samples_on_2m_rows_has_bounded_numpy_memory(model_8d, dtype):
    n, d = 2_000_000, 8
    X = np.random.default_rng(0).standard_normal((n, d), dtype=np.float32).astype(dtype, copy=False)
    tracemalloc.start()
    try:
        scores = model_8d.score_samples(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scores.shape == (n,) and scores.dtype == np.float64 and np.all(np.isfinite(scores))
    # The float64 result (and a couple of copies of it) plus a few batches;
    # never a full-size copy of X (128 MB as float64).
    bound = 3 * scores.nbytes + 8 * BATCH * d * 8
    assert peak < bound, f"peak {peak / 1e6:.0f} MB > bound {bound / 1e6:.0f} MB for X of {X.nbytes / 1e6:.0f} MB"


def test_sample_1m_has_bounded_numpy_memory():
    model = make(EnergyBasedModel).fit(np.random.RandomState(0).randn(200, 4))
    tracemalloc.start()
    try:
        samples = model.sample(1_000_000, random_state=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert samples.shape == (1_000_000, 4) and np.all(np.isfinite(samples))
    bound = samples.nbytes + 8 * BATCH * 4 * 8
    assert peak < bound, f"peak {peak / 1e6:.0f} MB > bound {bound / 1e6:.0f} MB"


_RSS_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from sklearn_ebm import EnergyBasedModel

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB

    def baseline():
        # Reset the peak to the current RSS where allowed, else use the peak so far.
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        return peak()

    model = EnergyBasedModel(hidden_sizes=(64,), max_iter=1, langevin_steps=1,
                             replay_buffer_size=64, early_stopping=False, random_state=0)
    model.fit(np.random.RandomState(0).randn(300, 8))
    model.score_samples(np.zeros((10, 8)))          # warm up torch's allocator
    X = np.random.default_rng(0).standard_normal((2_000_000, 8))
    X += 0.0                                        # touch every page
    before = baseline()
    scores = model.score_samples(X)
    print(json.dumps({"delta": peak() - before, "x_bytes": X.nbytes,
                      "finite": bool(np.isfinite(scores).all())}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss units differ")
def test_score_samples_on_2m_rows_has_bounded_process_memory():
    # Counts torch's tensors too, which tracemalloc does not see.
    result = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT],
        capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["finite"]
    # Scoring 128 MB of float64 must not need another copy of it: results
    # (16 MB) plus a few 65,536-row batches through a 64-wide layer take
    # about 70 MB; without batching it is over 1 GB.
    assert figures["delta"] < figures["x_bytes"], figures
