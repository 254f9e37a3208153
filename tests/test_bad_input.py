"""Bad input: every public method either answers correctly or refuses clearly.

For ``fit``, ``score_samples``, ``sample``, ``decision_function``, ``predict``
and ``feature_contributions`` of both estimators, each kind of input gets
either a correct result (finite float64 scores of the right shape) or a
ValueError / TypeError whose message names the problem (and, where the
problem is the user's to fix, the fix). Tiny networks and two epochs keep
the whole matrix to a few seconds.
"""

import math
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel

TINY = dict(
    hidden_sizes=(8,),
    max_iter=2,
    langevin_steps=2,
    replay_buffer_size=64,
    early_stopping=False,
    random_state=0,
)

ESTIMATORS = [EnergyBasedModel, EBMOutlierDetector]
EST_IDS = ["density", "detector"]

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:X has feature names, but:UserWarning"),
]


def make(Est, **overrides):
    return Est(**{**TINY, **overrides})


def base_data(n=40, d=3, seed=0):
    rng = np.random.RandomState(seed)
    mixing = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 0.3], [0.0, 0.0, 0.2]])[:d, :d]
    return rng.randn(n, d) @ mixing + np.arange(1.0, d + 1.0)


@pytest.fixture(scope="module")
def fitted():
    """One tiny fitted model per estimator class, on ``base_data()``; read-only use."""
    X = base_data()
    return {Est: make(Est).fit(X) for Est in ESTIMATORS}


def predict_methods(model):
    """Names of the methods that take X after fit (besides ``fit`` itself)."""
    names = ["score_samples", "feature_contributions"]
    if isinstance(model, EBMOutlierDetector):
        names += ["decision_function", "predict"]
    else:
        names += ["score"]
    return names


def check_outputs(model, X, n_rows, n_features):
    """Every prediction method answers with finite float64 of the right shape."""
    scores = model.score_samples(X)
    assert isinstance(scores, np.ndarray)
    assert scores.shape == (n_rows,) and scores.dtype == np.float64
    assert np.all(np.isfinite(scores)), f"non-finite scores: {scores[~np.isfinite(scores)][:5]}"
    contributions = np.asarray(model.feature_contributions(X))
    assert contributions.shape == (n_rows, n_features) and contributions.dtype == np.float64
    assert np.all(np.isfinite(contributions))
    if isinstance(model, EBMOutlierDetector):
        decision = model.decision_function(X)
        assert decision.shape == (n_rows,) and decision.dtype == np.float64
        assert np.all(np.isfinite(decision))
        labels = model.predict(X)
        assert labels.shape == (n_rows,)
        assert set(np.unique(labels)) <= {-1, 1}
    else:
        score = model.score(X)
        assert isinstance(score, float) and math.isfinite(score)


# ------------------------------------------------------- inputs that must work


def _read_only(X, tmp_path):
    X = X.copy()
    X.flags.writeable = False
    return X


def _memmap_read_only(X, tmp_path):
    path = tmp_path / "X.dat"
    writer = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    writer[:] = X
    writer.flush()
    del writer
    return np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)


def _with_column(X, j, value):
    X = X.copy()
    X[:, j] = value
    return X


# name -> builder(X, tmp_path): the same 40 x 3 data in another form.
GOOD_INPUTS = {
    "bool": lambda X, p: X > X.mean(axis=0),
    "int64": lambda X, p: np.round(10 * X).astype(np.int64),
    "int16": lambda X, p: np.round(10 * X).astype(np.int16),
    "uint8": lambda X, p: np.clip(np.round(10 * X) + 50, 0, 255).astype(np.uint8),
    "float16": lambda X, p: X.astype(np.float16),
    "float32": lambda X, p: X.astype(np.float32),
    "fortran-ordered": lambda X, p: np.asfortranarray(X),
    "non-contiguous": lambda X, p: np.repeat(X, 2, axis=1)[:, ::2],
    "read-only": _read_only,
    "memmap-mode-r": _memmap_read_only,
    "list-of-lists": lambda X, p: X.tolist(),
    "object-numeric": lambda X, p: X.astype(object),
    "dataframe-int-columns": lambda X, p: pd.DataFrame(X),
    "dataframe-named": lambda X, p: pd.DataFrame(X, columns=["a", "b", "c"]),
    "dataframe-mixed-dtypes": lambda X, p: pd.DataFrame(
        {"a": X[:, 0], "b": np.round(X[:, 1]).astype(int), "c": X[:, 2] > 3}
    ),
    "constant-column": lambda X, p: _with_column(X, 1, 7.0),
    "all-columns-constant": lambda X, p: np.full_like(X, 2.5),
    "duplicated-rows": lambda X, p: np.repeat(X[:20], 2, axis=0),
    "identical-rows": lambda X, p: np.tile(X[:1], (X.shape[0], 1)),
    "collinear-columns": lambda X, p: np.column_stack([X[:, 0], 2 * X[:, 0] + 1, X[:, 2]]),
    "magnitude-1e30": lambda X, p: X * 1e30,
    "magnitude-1e-30": lambda X, p: X * 1e-30,
    "mixed-magnitudes": lambda X, p: X * np.array([1e30, 1.0, 1e-30]),
}


@pytest.mark.parametrize("case", list(GOOD_INPUTS))
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_fit_and_predict_on_valid_input(Est, case, tmp_path):
    X = GOOD_INPUTS[case](base_data(), tmp_path)
    n, d = np.shape(X)
    model = make(Est).fit(X)
    assert model.n_features_in_ == d
    check_outputs(model, X, n, d)
    samples = model.sample(5, random_state=0)
    assert samples.shape == (5, d) and samples.dtype == np.float64
    assert np.all(np.isfinite(samples))


@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
@pytest.mark.parametrize("case", list(GOOD_INPUTS))
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_predict_valid_input_on_model_fitted_elsewhere(fitted, Est, case, tmp_path):
    # The model was fitted on ordinary unit-scale data; any finite input of
    # the right width gets finite scores, however far from the training data
    # (magnitude-1e30 rows are ~1e30 whitened units away).
    X = GOOD_INPUTS[case](base_data(), tmp_path)
    check_outputs(fitted[Est], X, *np.shape(X))


@pytest.mark.parametrize(
    "shape", [(1, 3), (1, 1), (40, 1), (2, 1), (2, 5)], ids=lambda s: f"{s[0]}x{s[1]}"
)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_small_shapes(Est, shape):
    X = base_data(n=max(shape[0], 5), d=min(shape[1], 3), seed=1)
    if shape[1] > 3:
        X = np.random.RandomState(2).randn(shape[0], shape[1])
    X = X[: shape[0], : shape[1]]
    model = make(Est).fit(X)
    check_outputs(model, X, *shape)
    check_outputs(model, np.vstack([X, X + 1.0]), 2 * shape[0], shape[1])
    assert model.sample(3, random_state=0).shape == (3, shape[1])


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_single_row_with_early_stopping_says_what_to_do(Est):
    with pytest.raises(ValueError, match=r"1 sample.*early_stopping=False"):
        make(Est, early_stopping=True).fit(base_data()[:1])


@pytest.mark.parametrize("magnitude", [1e10, 1e20, 1e30, 1e100, 1e300])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_far_points_get_finite_scores(fitted, Est, magnitude):
    # Rows far outside the training data are maximally atypical, not NaN/-inf:
    # ranking them (and thresholding them in decision_function) needs numbers.
    model = fitted[Est]
    X = np.array([[magnitude, 0.0, 0.0], [0.0, -magnitude, 0.0], [1.0, 2.0, 3.0]])
    scores = model.score_samples(X)
    assert scores.dtype == np.float64 and scores.shape == (3,)
    assert np.all(np.isfinite(scores)), scores
    assert scores[0] < scores[2] and scores[1] < scores[2]
    if isinstance(model, EBMOutlierDetector):
        assert np.all(np.isfinite(model.decision_function(X)))
        assert list(model.predict(X)[:2]) == [-1, -1]


# ----------------------------------------------------- inputs that must fail


def _with_value(X, value):
    X = np.array(X, dtype=np.float64)
    X[3, 1] = value
    return X


def _strings(X):
    X = X.astype(object)
    X[:, 1] = "red"
    return X


NAN_MESSAGE = r"(?s)contains NaN.*imputer"
STRING_MESSAGE = r"could not convert string to float"

# name -> (builder(X), exception type(s), regex on the message)
BAD_INPUTS = {
    "nan": (lambda X: _with_value(X, np.nan), ValueError, NAN_MESSAGE),
    "+inf": (lambda X: _with_value(X, np.inf), ValueError, r"contains infinity"),
    "-inf": (lambda X: _with_value(X, -np.inf), ValueError, r"contains infinity"),
    "pandas-NA": (
        lambda X: pd.DataFrame(
            {"a": pd.array(np.resize([1, None], len(X)).tolist(), dtype="Int64"), "b": X[:, 1], "c": X[:, 2]}
        ),
        ValueError,
        NAN_MESSAGE,
    ),
    "object-strings": (_strings, ValueError, STRING_MESSAGE),
    "numpy-unicode-words": (lambda X: np.full(X.shape, "abc"), ValueError, STRING_MESSAGE),
    "dataframe-string-column": (
        lambda X: pd.DataFrame({"a": X[:, 0], "b": np.resize(["x", "y"], len(X)), "c": X[:, 2]}),
        ValueError,
        STRING_MESSAGE,
    ),
    "dataframe-categorical-column": (
        lambda X: pd.DataFrame({"a": X[:, 0], "b": pd.Categorical(np.resize(["x", "y"], len(X))), "c": X[:, 2]}),
        ValueError,
        STRING_MESSAGE,
    ),
    # Non-numeric columns next to numeric ones of other kinds: numpy's error
    # differs ("Cannot cast str dtype", a dtype promotion error), the hint not.
    "dataframe-categorical-next-to-bool": (
        lambda X: pd.DataFrame({"a": X[:, 0], "b": pd.Categorical(np.resize(["x", "y"], len(X))), "c": X[:, 2] > 3}),
        ValueError,
        r"(?s)needs numeric features, but column 'b' \(category\) is not.*OneHotEncoder",
    ),
    "dataframe-categorical-next-to-Int64": (
        lambda X: pd.DataFrame(
            {"a": pd.array(np.arange(len(X)), dtype="Int64"), "b": pd.Categorical(np.resize(["x", "y"], len(X))), "c": X[:, 2]}
        ),
        ValueError,
        r"(?s)needs numeric features, but column 'b' \(category\) is not.*OneHotEncoder",
    ),
    "dataframe-string-dtype-column": (
        lambda X: pd.DataFrame({"a": X[:, 0], "b": pd.array(np.resize(["x", "y"], len(X)), dtype="string"), "c": X[:, 2]}),
        ValueError,
        r"(?s)needs numeric features, but column 'b' \(string\) is not.*OneHotEncoder",
    ),
    "dataframe-datetime-and-string-columns": (
        lambda X: pd.DataFrame(
            {"a": pd.date_range("2024-01-01", periods=len(X)), "b": np.resize(["x", "y"], len(X)), "c": X[:, 2]}
        ),
        ValueError,
        r"(?s)needs numeric features, but columns 'a' \(datetime64.*\), 'b' \(.*\) are not.*dates into numbers",
    ),
    "complex": (lambda X: X + 1j, ValueError, r"Complex data not supported"),
    "0-rows": (lambda X: X[:0], ValueError, r"0 sample\(s\).*minimum of 1 is required"),
    "0-features": (lambda X: X[:, :0], ValueError, r"0 feature\(s\).*minimum of 1 is required"),
    "1d": (lambda X: X[:, 0], ValueError, r"(?s)Expected 2D array.*reshape"),
    "3d": (lambda X: X[None], ValueError, r"dim 3.*dim <= 2"),
    "scalar": (lambda X: 3.0, ValueError, r"Expected 2D array"),
    "ragged-list": (lambda X: [[1.0, 2.0, 3.0], [1.0, 2.0]], ValueError, r"inhomogeneous|sequence"),
    "csr": (lambda X: sp.csr_matrix(X), TypeError, r"Sparse data was passed.*toarray"),
    "csc": (lambda X: sp.csc_matrix(X), TypeError, r"Sparse data was passed.*toarray"),
    "coo": (lambda X: sp.coo_matrix(X), TypeError, r"Sparse data was passed.*toarray"),
    "csr_array": (lambda X: sp.csr_array(X), TypeError, r"Sparse data was passed.*toarray"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_fit_rejects_bad_input(Est, case):
    build, error, match = BAD_INPUTS[case]
    with pytest.raises(error, match=match):
        make(Est).fit(build(base_data()))


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_predict_methods_reject_bad_input(fitted, Est, case):
    build, error, match = BAD_INPUTS[case]
    model = fitted[Est]
    for name in predict_methods(model):
        with pytest.raises(error, match=match):
            getattr(model, name)(build(base_data()))


# Where scikit-learn's own message names only the problem, the estimator's
# should add what to do about it.
FIX_MESSAGES = {
    "+inf": r"(?s)infinity.*(nan_to_num|clip|replace|remove)",
    "object-strings": r"(?s)could not convert string.*(OneHotEncoder|OrdinalEncoder|encode)",
    "dataframe-categorical-column": r"(?s)could not convert string.*column 'b' \(category\).*(OneHotEncoder|OrdinalEncoder)",
    "dataframe-categorical-next-to-bool": r"(?s)Cannot cast.*column 'b' \(category\).*OneHotEncoder",
    "dataframe-datetime-and-string-columns": r"(?s)column.*'a' \(datetime64.*dates into numbers",
    "complex": r"(?s)Complex data not supported.*(np\.real|np\.abs|real and imaginary)",
}


@pytest.mark.parametrize("case", list(FIX_MESSAGES))
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_error_message_names_the_fix(fitted, Est, case):
    build, error, _ = BAD_INPUTS[case]
    with pytest.raises(error, match=FIX_MESSAGES[case]) as fit_error:
        make(Est).fit(build(base_data()))
    with pytest.raises(error, match=FIX_MESSAGES[case]) as score_error:
        fitted[Est].score_samples(build(base_data(n=2000)))
    # The message is about the problem, not a dump of the data.
    assert len(str(fit_error.value)) < 1000
    assert len(str(score_error.value)) < 1000


@pytest.mark.parametrize("width", [1, 2, 4, 10])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_wrong_feature_count_at_predict(fitted, Est, width):
    model = fitted[Est]
    X = np.random.RandomState(0).randn(5, width)
    for name in predict_methods(model):
        with pytest.raises(ValueError, match=rf"X has {width} features, but {Est.__name__} is expecting 3"):
            getattr(model, name)(X)


@pytest.fixture(scope="module")
def fitted_named():
    X = pd.DataFrame(base_data(), columns=["a", "b", "c"])
    return {Est: make(Est).fit(X) for Est in ESTIMATORS}


@pytest.mark.parametrize(
    "columns, match",
    [
        (["a", "b", "z"], r"(?s)feature names should match.*Feature names unseen at fit time"),
        (["c", "b", "a"], r"(?s)feature names should match.*same order"),
        (["a", "b", "c", "d"], r"(?s)feature names should match.*unseen at fit time"),
    ],
    ids=["renamed", "reordered", "extra"],
)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_renamed_dataframe_columns_at_predict(fitted_named, Est, columns, match):
    model = fitted_named[Est]
    X = pd.DataFrame(np.random.RandomState(0).randn(5, len(columns)), columns=columns)
    for name in predict_methods(model):
        with pytest.raises(ValueError, match=match):
            getattr(model, name)(X)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_array_at_predict_after_dataframe_fit_warns_and_works(fitted_named, Est):
    model = fitted_named[Est]
    X = base_data()
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        scores = model.score_samples(X)
    np.testing.assert_array_equal(scores, model.score_samples(pd.DataFrame(X, columns=["a", "b", "c"])))
    contributions = model.feature_contributions(pd.DataFrame(X[:4], columns=["a", "b", "c"]))
    assert isinstance(contributions, pd.DataFrame) and list(contributions.columns) == ["a", "b", "c"]


# --------------------------------------------------------------------- sample


@pytest.mark.parametrize(
    "n_samples",
    [0, -1, -100, 2.0, 1.5, np.float64(3.0), True, False, None, "3", [3], float("nan"), float("inf")],
    ids=repr,
)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_sample_rejects_bad_n_samples(fitted, Est, n_samples):
    with pytest.raises((ValueError, TypeError), match=r"n_samples must be a positive integer, got"):
        fitted[Est].sample(n_samples)


@pytest.mark.parametrize("n_steps", [0, -3, 2.7, 8.0, "8", True, None], ids=repr)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_feature_contributions_rejects_bad_n_steps(fitted, Est, n_steps):
    with pytest.raises(ValueError, match=r"n_steps must be a positive integer, got .*n_steps=32"):
        fitted[Est].feature_contributions(np.zeros((2, 3)), n_steps=n_steps)


@pytest.mark.parametrize("n_samples", [1, 7, np.int64(3), np.int32(2), np.uint8(4)], ids=repr)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_sample_accepts_integer_types(fitted, Est, n_samples):
    samples = fitted[Est].sample(n_samples, random_state=0)
    assert samples.shape == (int(n_samples), 3) and samples.dtype == np.float64
    assert np.all(np.isfinite(samples))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_unfitted_methods_raise_not_fitted(Est):
    from sklearn.exceptions import NotFittedError

    model = make(Est)
    X = base_data()
    for name in predict_methods(model):
        with pytest.raises(NotFittedError, match="not fitted yet.*fit"):
            getattr(model, name)(X)
    with pytest.raises(NotFittedError):
        model.sample(3)


# ----------------------------------------------------------- hyperparameters

BAD_PARAMS = [
    ({"step_size": -0.1}, r"'step_size' parameter .* range \(0\.0, inf\)"),
    ({"step_size": 0.0}, r"'step_size' parameter .* range \(0\.0, inf\)"),
    ({"hidden_sizes": ()}, r"hidden_sizes must be a non-empty sequence of positive integers.*hidden_sizes=\("),
    ({"hidden_sizes": []}, r"hidden_sizes must be a non-empty sequence of positive integers"),
    ({"hidden_sizes": (8, 0)}, r"hidden_sizes must be a non-empty sequence of positive integers"),
    ({"hidden_sizes": (8, -4)}, r"hidden_sizes must be a non-empty sequence of positive integers"),
    ({"hidden_sizes": (8.5,)}, r"hidden_sizes must be a non-empty sequence of positive integers"),
    ({"hidden_sizes": (True,)}, r"hidden_sizes must be a non-empty sequence of positive integers"),
    ({"hidden_sizes": "64"}, r"hidden_sizes.*(non-empty sequence of positive integers|array-like)"),
    ({"hidden_sizes": 64}, r"'hidden_sizes' parameter .* array-like"),
    ({"dropout": 1.0}, r"'dropout' parameter .* range \[0\.0, 1\.0\)"),
    ({"dropout": -0.1}, r"'dropout' parameter .* range \[0\.0, 1\.0\)"),
    ({"device": "tpu"}, r"device='tpu' is not a valid torch device; use 'auto', 'cpu'"),
    ({"device": "not-a-device"}, r"not a valid torch device; use 'auto'"),
    (
        {"device": "cuda:99"},
        r"device='cuda:99' was requested but this machine has \d+ CUDA device\(s\); use device='auto' or 'cpu'",
    ),
    ({"device": 3}, r"'device' parameter .*'str'.*torch\.device"),
    ({"activation": "swish"}, r"'activation' parameter .* among .*silu"),
    ({"activation": "SiLU"}, r"'activation' parameter .* among"),
    ({"clamp": (1.0, 1.0)}, r"clamp must be None, 'range' or a pair \(lo, hi\) with lo < hi .*got \(1\.0, 1\.0\)"),
    ({"clamp": (2.0, -2.0)}, r"clamp must be None, 'range' or a pair \(lo, hi\) with lo < hi"),
    ({"clamp": (0.0, 1.0, 2.0)}, r"clamp must be None, 'range' or a pair \(lo, hi\)"),
    ({"clamp": (float("nan"), 1.0)}, r"clamp must be None, 'range' or a pair \(lo, hi\)"),
    ({"clamp": ("a", "b")}, r"clamp must be None, 'range' or a pair \(lo, hi\) of numbers"),
    ({"clamp": ([0.0, 1.0], [1.0])}, r"clamp must be None, 'range' or a pair \(lo, hi\) with lo < hi"),
    ({"clamp": ([[0.0]], 1.0)}, r"clamp must be None, 'range' or a pair \(lo, hi\) of numbers or of arrays"),
    ({"learning_rate": -1e-3}, r"'learning_rate' parameter .* range \(0\.0, inf\)"),
    ({"learning_rate": float("nan")}, r"'learning_rate' parameter"),
    ({"weight_decay": -0.1}, r"'weight_decay' parameter .* range \[0\.0, inf\)"),
    ({"max_iter": 0}, r"'max_iter' parameter .* range \[1, inf\)"),
    ({"langevin_steps": 0}, r"'langevin_steps' parameter .* range \[1, inf\)"),
    ({"batch_size": 0}, r"'batch_size' parameter"),
    ({"reinit_freq": 1.5}, r"'reinit_freq' parameter .* range \[0\.0, 1\.0\]"),
    ({"negative_fraction": 0.0}, r"'negative_fraction' parameter .* range \(0\.0, 1\.0\]"),
    ({"negative_fraction": 1.5}, r"'negative_fraction' parameter .* range \(0\.0, 1\.0\]"),
    ({"validation_fraction": 1.0}, r"'validation_fraction' parameter"),
    ({"sampler": "hmc"}, r"'sampler' parameter .* among"),
]


@pytest.mark.parametrize("params, match", BAD_PARAMS, ids=lambda v: repr(v) if isinstance(v, dict) else "")
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_invalid_hyperparameters_are_named(Est, params, match):
    if params.get("device") == "cuda:99":
        import torch

        if torch.cuda.is_available() and torch.cuda.device_count() > 99:
            pytest.skip("this machine has 100 GPUs")
    with pytest.raises((ValueError, TypeError), match=match):
        make(Est, **params).fit(base_data())


@pytest.mark.parametrize("contamination", [0.0, 0.6, -0.1, "high"], ids=repr)
def test_invalid_contamination_is_named(contamination):
    with pytest.raises((ValueError, TypeError), match=r"'contamination' parameter"):
        make(EBMOutlierDetector, contamination=contamination).fit(base_data())


# ------------------------------------------------------------- property-based

_SHAPES = st.tuples(st.integers(2, 30), st.integers(1, 5))
_PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_property_moderate_magnitudes_always_fit(Est):
    """|x| <= 1e30, tiny values included: fit and score_samples always work."""

    @_PROPERTY_SETTINGS
    @given(
        arrays(
            np.float64,
            _SHAPES,
            elements=st.floats(-1e30, 1e30, allow_nan=False, allow_infinity=False, allow_subnormal=False),
        )
    )
    def run(X):
        model = make(Est).fit(X)
        scores = model.score_samples(X)
        assert scores.shape == (X.shape[0],) and scores.dtype == np.float64
        assert np.all(np.isfinite(scores)), (X, scores)

    run()


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_property_any_finite_float64(Est):
    """Any finite float64 up to 1e300: finite scores, or a ValueError that
    names the real problem (the input has no NaN or infinity to complain of)."""

    @_PROPERTY_SETTINGS
    @given(
        arrays(
            np.float64,
            _SHAPES,
            elements=st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False),
        )
    )
    def run(X):
        try:
            model = make(Est).fit(X)
        except ValueError as exc:
            message = str(exc)
            assert not re.search(r"contains (NaN|infinity)", message), (
                f"finite input rejected with a misleading message: {message!r}"
            )
            return
        scores = model.score_samples(X)
        assert scores.shape == (X.shape[0],) and scores.dtype == np.float64
        assert np.all(np.isfinite(scores)), (X, scores)

    run()


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_too_few_rows_per_feature_warn_with_the_minimum(Est):
    X = np.random.RandomState(0).randn(2, 3)
    with pytest.warns(UserWarning, match=r"Only 2 training rows for 3 features.*at least 10 rows"):
        make(Est, early_stopping=False).fit(X)
    X = np.random.RandomState(0).randn(30, 20)
    with pytest.warns(UserWarning, match=r"Only 30 training rows for 20 features.*at least 42 rows"):
        make(Est).fit(X)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Only .* training rows")
        make(Est).fit(np.random.RandomState(0).randn(42, 20))
