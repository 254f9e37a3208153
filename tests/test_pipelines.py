"""Both estimators at the end of a Pipeline on mixed-type DataFrames.

- A ColumnTransformer (StandardScaler for numbers, OneHotEncoder for
  categories) then the model: score_samples, decision_function and predict
  through the pipeline, cross_val_score and GridSearchCV(n_jobs=2) over the
  pipeline's parameters.
- Worker processes of GridSearchCV(n_jobs=2) run torch on at most
  cpu_count // 2 threads (joblib's loky backend sets OMP_NUM_THREADS and
  friends in its workers, and torch reads it).
- sample_from_pipeline draws samples and maps them back to the input's
  columns, categories and units.
- feature_contributions_from_pipeline sums the final model's contributions
  back to the input's columns (one-hot groups, scalers, passthrough, ...).
"""

import os

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    StandardScaler,
)

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel
from sklearn_ebm import feature_contributions_from_pipeline, sample_from_pipeline

NUMERIC = ["age", "income"]
CATEGORICAL = ["color", "owner"]
COLORS = ["red", "green", "blue"]


def mixed_frame(n=240, seed=0):
    """Numbers in different units and two string columns, in mixed order."""
    rng = np.random.RandomState(seed)
    age = rng.normal(40, 10, n)
    return pd.DataFrame(
        {
            "age": age,
            "color": rng.choice(COLORS, n, p=[0.5, 0.3, 0.2]),
            "income": np.exp(10 + 0.02 * (age - 40) + 0.3 * rng.randn(n)),
            "owner": rng.choice(["yes", "no"], n),
        }
    )


@pytest.fixture
def frame():
    return mixed_frame()


@pytest.fixture
def labelled_frame():
    """``frame`` with 10% planted outliers (extreme age and income); y is +1 for
    inliers, -1 for outliers, as the detector's predict."""
    df = mixed_frame()
    rng = np.random.RandomState(1)
    outliers = rng.choice(len(df), len(df) // 10, replace=False)
    df.loc[outliers, "age"] = rng.choice([-40.0, 130.0], len(outliers)) + rng.randn(len(outliers))
    df.loc[outliers, "income"] *= rng.choice([0.01, 50.0], len(outliers))
    y = np.ones(len(df), dtype=int)
    y[outliers] = -1
    return df, y


def preprocessing(**encoder):
    return ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(sparse_output=False, **encoder), CATEGORICAL),
        ]
    )


def pipeline(estimator):
    return Pipeline([("prep", preprocessing()), ("ebm", estimator)])


# ------------------------------------------------------- mixed-type frames


def test_density_pipeline_on_mixed_frame(fast_params, frame):
    pipe = pipeline(EnergyBasedModel(**fast_params)).fit(frame)
    scores = pipe.score_samples(frame)
    assert scores.shape == (len(frame),) and np.all(np.isfinite(scores))
    # The pipeline scores what the model sees: the transformed frame.
    Z = pipe["prep"].transform(frame)
    assert Z.shape == (len(frame), 2 + 3 + 2)
    np.testing.assert_array_equal(scores, pipe["ebm"].score_samples(Z))
    assert pipe["ebm"].n_features_in_ == 7
    assert np.isfinite(pipe.score(frame))


def test_detector_pipeline_on_mixed_frame(fast_params, labelled_frame):
    X, y = labelled_frame
    pipe = pipeline(EBMOutlierDetector(**fast_params, contamination=0.1)).fit(X)
    decision = pipe.decision_function(X)
    np.testing.assert_allclose(decision, pipe.score_samples(X) - pipe["ebm"].offset_)
    predicted = pipe.predict(X)
    assert set(np.unique(predicted)) == {-1, 1}
    np.testing.assert_array_equal(predicted, np.where(decision < 0, -1, 1))
    # The planted outliers are far out: most flagged rows are planted ones.
    flagged = predicted == -1
    assert np.mean(y[flagged] == -1) > 0.8


def test_cross_val_score_density_pipeline(fast_params, frame):
    # The default score: the normalized log-likelihood of the held-out fold,
    # in the space the model sees (after the ColumnTransformer).
    scores = cross_val_score(
        pipeline(EnergyBasedModel(**fast_params)), frame, cv=KFold(3, shuffle=True, random_state=0)
    )
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


def test_cross_val_score_detector_pipeline_roc_auc(fast_params, labelled_frame):
    # The detector has no score: grade it on the labelled outliers. y = +1 for
    # inliers is the positive class, ranked by decision_function.
    X, y = labelled_frame
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    auc = cross_val_score(pipeline(EBMOutlierDetector(**fast_params)), X, y, cv=cv, scoring="roc_auc")
    assert auc.shape == (3,) and auc.min() > 0.9


def test_grid_search_over_pipeline_parameters_n_jobs_2(fast_params, frame):
    grid = GridSearchCV(
        pipeline(EnergyBasedModel(**fast_params)),
        {"ebm__reg_alpha": [0.0, 0.1], "ebm__hidden_sizes": [(8,), (4, 4)]},
        cv=KFold(2, shuffle=True, random_state=0),
        n_jobs=2,
    )
    grid.fit(frame)
    means = grid.cv_results_["mean_test_score"]
    assert means.shape == (4,) and np.all(np.isfinite(means))
    assert grid.best_index_ == np.argmax(means)
    assert grid.best_estimator_["ebm"].get_params()["reg_alpha"] == grid.best_params_["ebm__reg_alpha"]
    assert np.all(np.isfinite(grid.score_samples(frame)))


def test_grid_search_detector_over_preprocessing_n_jobs_2(fast_params, labelled_frame):
    # Preprocessing changes the space the density lives in, so candidates that
    # differ there are compared on a task score, not on the log-likelihood.
    X, y = labelled_frame
    grid = GridSearchCV(
        pipeline(EBMOutlierDetector(**fast_params)),
        {"prep__cat__drop": [None, "if_binary"], "ebm__contamination": ["auto", 0.1]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="roc_auc",
        n_jobs=2,
    )
    grid.fit(X, y)
    assert np.all(grid.cv_results_["mean_test_score"] > 0.9)
    assert set(np.unique(grid.predict(X))) <= {-1, 1}


# ------------------------------------------------------------- threads


def test_worker_processes_cap_torch_threads(fast_params, frame, monkeypatch):
    # joblib's loky backend starts its workers with OMP_NUM_THREADS (and the
    # MKL/OpenBLAS variables) set to cpu_count // n_jobs unless the parent
    # sets them; torch sizes its intra-op pool from OMP_NUM_THREADS. The
    # scorer runs in the worker right after fit, in the same process.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    grid = GridSearchCV(
        pipeline(EnergyBasedModel(**fast_params)),
        {"ebm__reg_alpha": [0.0, 0.1]},
        cv=KFold(2, shuffle=True, random_state=0),
        scoring=lambda est, X, y=None: {"threads": torch.get_num_threads(), "pid": os.getpid()},
        refit=False,
        n_jobs=2,
    )
    grid.fit(frame)
    threads = np.concatenate([grid.cv_results_[f"split{i}_test_threads"] for i in range(2)])
    pids = np.concatenate([grid.cv_results_[f"split{i}_test_pid"] for i in range(2)])
    assert os.getpid() not in pids  # the fits ran in worker processes
    assert threads.max() <= max(joblib.cpu_count() // 2, 1)


# ------------------------------------------------- samples in user space


@pytest.fixture
def fitted_pipeline(fast_params, frame):
    return pipeline(EnergyBasedModel(**fast_params)).fit(frame)


def test_sample_from_pipeline_columns_dtypes_and_ranges(fitted_pipeline, frame):
    samples = sample_from_pipeline(fitted_pipeline, 300, random_state=0)
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == list(frame.columns)  # the original order
    assert samples.shape == (300, 4)
    for column in NUMERIC:
        assert samples[column].dtype == np.float64
        values, data = samples[column], frame[column]
        # The model's tails are wider than the data's, but the samples live
        # where the data does: same scale, few far out.
        assert abs(values.mean() - data.mean()) < data.std()
        assert 0.3 * data.std() < values.std() < 3 * data.std()
        assert values.between(data.min() - 3 * data.std(), data.max() + 3 * data.std()).mean() > 0.95
    for column in CATEGORICAL:
        assert not pd.api.types.is_numeric_dtype(samples[column])
        assert set(samples[column]) <= set(frame[column])
    # The samples are rows the pipeline accepts again.
    assert np.all(np.isfinite(fitted_pipeline.score_samples(samples)))


def test_sample_from_pipeline_is_reproducible(fitted_pipeline):
    a = sample_from_pipeline(fitted_pipeline, 20, random_state=3)
    b = sample_from_pipeline(fitted_pipeline, 20, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    # The samples are the model's, mapped back by the preprocessing.
    Z = fitted_pipeline["ebm"].sample(20, random_state=3)
    scaler = fitted_pipeline["prep"].named_transformers_["num"]
    np.testing.assert_allclose(a[NUMERIC].to_numpy(), scaler.inverse_transform(Z[:, :2]))
    encoder = fitted_pipeline["prep"].named_transformers_["cat"]
    colors = encoder.categories_[0][Z[:, 2:5].argmax(axis=1)]
    np.testing.assert_array_equal(a["color"].to_numpy(dtype=object), colors)


def test_sample_from_pipeline_with_detector_and_nested_steps(fast_params, frame):
    # Nested pipelines, an imputer, an ordinal encoder, a dropped encoder
    # category, a passthrough remainder and a dropped column.
    frame = frame.assign(code=np.arange(len(frame)), rooms=np.tile([1.0, 2.0, 3.0], 80))
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income"]),
            ("onehot", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(drop="if_binary", sparse_output=False)), ["owner"]),
            ("ordinal", OrdinalEncoder(), ["color"]),
            ("ignored", "drop", ["code"]),
        ],
        remainder="passthrough",
    )
    pipe = make_pipeline(prep, EBMOutlierDetector(**fast_params)).fit(frame)
    samples = sample_from_pipeline(pipe, 50, random_state=0)
    assert list(samples.columns) == ["age", "color", "income", "owner", "rooms"]
    assert set(samples["color"]) <= set(COLORS)
    assert set(samples["owner"]) <= {"yes", "no"}
    # rooms takes 3 values: the model samples it on them, here integers.
    assert samples["rooms"].dtype == np.int64 and set(samples["rooms"]) <= {1, 2, 3}
    assert samples.notna().all().all()


def test_sample_from_pipeline_keeps_discrete_columns_on_their_values(fast_params):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {
            "rooms": rng.randint(1, 6, 400),
            "rating": rng.randint(1, 10, 400) / 2,  # 0.5 .. 4.5 in steps of 0.5
            "size": rng.normal(80, 20, 400),
            "kind": rng.choice(["flat", "house"], 400),
        }
    )
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["rooms", "size"]),
            ("log", FunctionTransformer(np.log, inverse_func=np.exp), ["rating"]),
            ("cat", OneHotEncoder(sparse_output=False), ["kind"]),
        ]
    )
    pipe = make_pipeline(prep, EnergyBasedModel(**fast_params)).fit(frame)
    samples = sample_from_pipeline(pipe, 200, random_state=0)
    assert samples["rooms"].dtype == np.int64
    assert set(samples["rooms"]) <= set(frame["rooms"])
    assert samples["rating"].dtype == np.float64
    assert set(samples["rating"]) <= set(frame["rating"])  # exactly, not 1.5000000000000002
    assert samples["size"].dtype == np.float64 and samples["size"].nunique() > 100
    assert set(samples["kind"]) <= {"flat", "house"}


def test_sample_from_pipeline_fitted_on_array(fast_params, frame):
    X = frame[NUMERIC].to_numpy()
    pipe = make_pipeline(StandardScaler(), EnergyBasedModel(**fast_params)).fit(X)
    samples = sample_from_pipeline(pipe, 10, random_state=0)
    assert list(samples.columns) == [0, 1]
    np.testing.assert_allclose(samples.to_numpy(), pipe[0].inverse_transform(pipe[-1].sample(10, random_state=0)))


def test_sample_from_pipeline_names_the_step_it_cannot_invert(fast_params, frame):
    prep = ColumnTransformer([("num", PolynomialFeatures(), NUMERIC)])
    pipe = Pipeline([("prep", prep), ("ebm", EnergyBasedModel(**fast_params))]).fit(frame)
    with pytest.raises(TypeError, match=r"'prep' > 'num' \(PolynomialFeatures\).*inverse_transform"):
        sample_from_pipeline(pipe, 5)
    pipe = Pipeline([("log", FunctionTransformer(np.log1p)), ("ebm", EnergyBasedModel(**fast_params))])
    pipe.fit(frame[NUMERIC])
    with pytest.raises(TypeError, match=r"'log'.*inverse_func"):
        sample_from_pipeline(pipe, 5)
    pipe.set_params(log=FunctionTransformer(np.log1p, inverse_func=np.expm1)).fit(frame[NUMERIC])
    assert (sample_from_pipeline(pipe, 5, random_state=0) > -1).all().all()


def test_sample_from_pipeline_needs_a_pipeline_ending_in_a_model(fast_params, frame):
    model = EnergyBasedModel(**fast_params).fit(frame[NUMERIC])
    with pytest.raises(TypeError, match="Pipeline.*sample method"):
        sample_from_pipeline(model, 5)
    with pytest.raises(TypeError, match="final step 'standardscaler'.*EnergyBasedModel"):
        sample_from_pipeline(make_pipeline(StandardScaler()).fit(frame[NUMERIC]), 5)


# ------------------------------------------- explanations in user columns


def _encoded_contributions(pipe, X):
    """The final model's contributions per transformed column, as an array."""
    return np.asarray(pipe[-1].feature_contributions(pipe[:-1].transform(X)))


def test_contributions_sum_back_to_the_input_columns(fast_params, frame):
    pipe = pipeline(EBMOutlierDetector(**fast_params)).fit(frame)
    rows = frame.iloc[10:25].set_axis(np.arange(100, 115))
    contributions = feature_contributions_from_pipeline(pipe, rows)
    assert list(contributions.columns) == list(frame.columns)  # the input's order
    assert list(contributions.index) == list(range(100, 115))
    assert (contributions.dtypes == np.float64).all()
    encoded = _encoded_contributions(pipe, rows)
    # The same total per row as the final model's own contributions ...
    np.testing.assert_allclose(contributions.sum(axis=1), encoded.sum(axis=1), rtol=1e-12, atol=1e-9)
    # ... split by input column: [age, income | color_* (3) | owner_* (2)].
    np.testing.assert_allclose(contributions["age"], encoded[:, 0])
    np.testing.assert_allclose(contributions["income"], encoded[:, 1])
    np.testing.assert_allclose(contributions["color"], encoded[:, 2:5].sum(axis=1))
    np.testing.assert_allclose(contributions["owner"], encoded[:, 5:7].sum(axis=1))
    # And to E(x) - E(mean), up to the quadrature error.
    energy = -pipe.score_samples(rows)
    # The reference point: the mean of the rows the detector trained on (its support).
    mean_energy = -pipe[-1].score_samples(pipe[-1].whitening_.mean[None])[0]
    np.testing.assert_allclose(contributions.sum(axis=1), energy - mean_energy, atol=1e-3 * (1 + np.abs(energy - mean_energy).max()))


@pytest.mark.parametrize("column, value", [("age", 130.0), ("income", 5e6)])
def test_a_planted_anomaly_gets_the_largest_contribution(fast_params, frame, column, value):
    pipe = pipeline(EBMOutlierDetector(**fast_params)).fit(frame)
    row = frame.iloc[[3]].copy()
    row[column] = value
    contributions = feature_contributions_from_pipeline(pipe, row).iloc[0]
    assert contributions.idxmax() == column
    assert contributions[column] > 5 * contributions.drop(column).abs().max()


def test_contributions_through_nested_steps(fast_params, frame):
    # A nested pipeline, an imputer with indicators, a dropped encoder
    # category, an ordinal encoder, a dropped column, a column used twice and
    # a passthrough remainder.
    frame = frame.assign(code=np.arange(len(frame)), rooms=np.tile([1.0, 2.0, 3.0], 80))
    frame.loc[::7, "age"] = np.nan
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), ["age", "income"]),
            ("onehot", OneHotEncoder(drop="if_binary", sparse_output=False), ["owner", "color"]),
            ("ordinal", OrdinalEncoder(), ["color"]),
            ("bins", KBinsDiscretizer(n_bins=3, encode="onehot-dense", strategy="uniform"), ["income"]),
            ("ignored", "drop", ["code"]),
        ],
        remainder="passthrough",
    )
    pipe = make_pipeline(prep, EBMOutlierDetector(**fast_params)).fit(frame)
    rows = frame.iloc[:20]
    contributions = feature_contributions_from_pipeline(pipe, rows)
    assert list(contributions.columns) == list(frame.columns)
    encoded = _encoded_contributions(pipe, rows)
    # num: age, income, missingindicator_age | onehot: owner (1), color (3) |
    # ordinal: color | bins: income (3) | remainder: rooms
    assert encoded.shape[1] == 3 + 4 + 1 + 3 + 1
    np.testing.assert_allclose(contributions["age"], encoded[:, [0, 2]].sum(axis=1))
    np.testing.assert_allclose(contributions["income"], encoded[:, [1, 8, 9, 10]].sum(axis=1))
    np.testing.assert_allclose(contributions["owner"], encoded[:, 3])
    np.testing.assert_allclose(contributions["color"], encoded[:, [4, 5, 6, 7]].sum(axis=1))
    np.testing.assert_allclose(contributions["rooms"], encoded[:, 11])
    assert (contributions["code"] == 0.0).all()  # dropped: the model never saw it
    np.testing.assert_allclose(contributions.sum(axis=1), encoded.sum(axis=1))


def test_contributions_of_one_to_one_steps_on_arrays(fast_params, frame):
    X = frame[NUMERIC].to_numpy()
    steps = [
        FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
        StandardScaler(),
        FeatureUnion([("standard", StandardScaler()), ("minmax", MinMaxScaler())]),
    ]
    pipe = make_pipeline(*steps, EnergyBasedModel(**fast_params))
    pipe.fit(X)
    contributions = feature_contributions_from_pipeline(pipe, X[:5])
    assert list(contributions.columns) == ["x0", "x1"]
    assert list(contributions.index) == list(range(5))
    encoded = _encoded_contributions(pipe, X[:5])
    np.testing.assert_allclose(contributions["x0"], encoded[:, 0] + encoded[:, 2])
    np.testing.assert_allclose(contributions["x1"], encoded[:, 1] + encoded[:, 3])


def test_contributions_of_a_model_alone_in_a_pipeline_and_pandas_output(fast_params, frame):
    X = frame[NUMERIC]
    pipe = make_pipeline(EnergyBasedModel(**fast_params)).fit(X)
    contributions = feature_contributions_from_pipeline(pipe, X.iloc[:4], n_steps=8)
    pd.testing.assert_frame_equal(contributions, pipe[-1].feature_contributions(X.iloc[:4], n_steps=8))
    prep = preprocessing().set_output(transform="pandas")
    pipe = make_pipeline(prep, EnergyBasedModel(**fast_params)).fit(frame)
    contributions = feature_contributions_from_pipeline(pipe, frame.iloc[:4])
    assert list(contributions.columns) == list(frame.columns)
    np.testing.assert_allclose(contributions.sum(axis=1), _encoded_contributions(pipe, frame.iloc[:4]).sum(axis=1))


@pytest.mark.parametrize(
    "step, where, why",
    [
        (ColumnTransformer([("num", PCA(2), NUMERIC)]), r"'prep' > 'num' \(PCA\)", "not each computed from one"),
        (ColumnTransformer([("num", PolynomialFeatures(), NUMERIC)]), r"'prep' > 'num' \(PolynomialFeatures\)", "one input"),
        (make_pipeline(Normalizer()), r"'prep' > 'normalizer' \(Normalizer\)", "norm of the whole row"),
        (FunctionTransformer(np.log1p), r"'prep' \(FunctionTransformer\)", "feature_names_out='one-to-one'"),
    ],
)
def test_contributions_name_the_step_they_cannot_map(fast_params, frame, step, where, why):
    pipe = Pipeline([("prep", step), ("ebm", EnergyBasedModel(**fast_params))]).fit(np.abs(frame[NUMERIC]))
    with pytest.raises(TypeError, match=rf"(?s)cannot map contributions back through step {where}.*{why}.*pipeline\[-1\]"):
        feature_contributions_from_pipeline(pipe, np.abs(frame[NUMERIC].iloc[:3]))


def test_contributions_need_a_pipeline_ending_in_a_model(fast_params, frame):
    model = EnergyBasedModel(**fast_params).fit(frame[NUMERIC])
    with pytest.raises(TypeError, match="Pipeline.*feature_contributions method"):
        feature_contributions_from_pipeline(model, frame[NUMERIC])
    with pytest.raises(TypeError, match="final step 'standardscaler'.*EnergyBasedModel"):
        feature_contributions_from_pipeline(make_pipeline(StandardScaler()).fit(frame[NUMERIC]), frame[NUMERIC])
    pipe = make_pipeline(StandardScaler(), EnergyBasedModel(**fast_params)).fit(frame[NUMERIC])
    with pytest.raises(ValueError, match="n_steps"):
        feature_contributions_from_pipeline(pipe, frame[NUMERIC], n_steps=0)
