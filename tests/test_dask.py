"""Dask: ``dask_ml.wrappers.Incremental`` over a chunked dask array, and
``GridSearchCV`` on joblib's dask backend, against an in-process
``LocalCluster`` of two single-threaded workers.

Two workers, because joblib's dask backend runs on as many jobs as the
cluster has threads, and falls back to running everything in the calling
thread when that is one.
"""

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel
from sklearn_ebm._whitening import fit_whitening

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
wrappers = pytest.importorskip("dask_ml.wrappers")

CHUNK = 100


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def X():
    return make_moons(n_samples=6 * CHUNK, noise=0.05, random_state=0)[0]


def _ran_on_a_dask_worker():
    try:
        distributed.get_worker()
    except ValueError:
        return 0.0
    return 1.0


def test_incremental_fits_chunk_by_chunk(client, fast_params, X):
    X_dask = da.from_array(X, chunks=(CHUNK, 2))
    assert X_dask.numblocks[0] == 6
    with distributed.get_task_stream(client) as stream:
        inc = wrappers.Incremental(EnergyBasedModel(**fast_params), shuffle_blocks=False).fit(X_dask)
    assert any("fit" in str(task["key"]) for task in stream.data)  # the cluster ran the chunks
    model = inc.estimator_
    assert model.n_iter_ == inc.n_iter_ == 6  # one epoch per chunk
    # The whitening statistics are those of the first chunk.
    np.testing.assert_allclose(model.whitening_.mean, fit_whitening(X[:CHUNK]).mean)
    # Incremental calls partial_fit on each chunk in turn: the same model as a local loop.
    local = EnergyBasedModel(**fast_params)
    for start in range(0, len(X), CHUNK):
        local.partial_fit(X[start : start + CHUNK])
    np.testing.assert_array_equal(model.score_samples(X), local.score_samples(X))


def test_incremental_shuffles_blocks_reproducibly(client, fast_params, X):
    X_dask = da.from_array(X, chunks=(CHUNK, 2))
    a = wrappers.Incremental(EnergyBasedModel(**fast_params), random_state=0).fit(X_dask)
    b = wrappers.Incremental(EnergyBasedModel(**fast_params), random_state=0).fit(X_dask)
    np.testing.assert_array_equal(a.estimator_.score_samples(X), b.estimator_.score_samples(X))
    order = np.arange(6)
    np.random.RandomState(0).shuffle(order)
    np.testing.assert_allclose(
        a.estimator_.whitening_.mean, fit_whitening(X[order[0] * CHUNK : (order[0] + 1) * CHUNK]).mean
    )


def test_score_a_dask_array_block_by_block(client, fast_params, X):
    X_dask = da.from_array(X, chunks=(CHUNK, 2))
    model = wrappers.Incremental(EnergyBasedModel(**fast_params), random_state=0).fit(X_dask).estimator_
    scores = X_dask.map_blocks(model.score_samples, drop_axis=1, dtype=np.float64)
    np.testing.assert_array_equal(scores.compute(), model.score_samples(X))


def test_incremental_detector_predicts(client, fast_params, X):
    X_dask = da.from_array(X, chunks=(CHUNK, 2))
    # The detector has no score method: Incremental needs a scoring to accept it.
    inc = wrappers.Incremental(EBMOutlierDetector(**fast_params), scoring="roc_auc").fit(X_dask)
    labels = inc.predict(X_dask).compute()
    assert set(np.unique(labels)) <= {-1, 1} and labels.shape == (len(X),)
    # The threshold comes from the scores of the last chunk seen (Incremental
    # shuffles the blocks) under the final model.
    thresholds = []
    for start in range(0, len(X), CHUNK):
        scores = inc.estimator_.score_samples(X[start:start + CHUNK])
        median = np.median(scores)
        thresholds.append(median - 3 * 1.4826 * np.median(np.abs(scores - median)))
    assert np.isclose(thresholds, inc.estimator_.offset_).sum() == 1


def test_grid_search_on_the_dask_backend(client, fast_params, X):
    def scoring(estimator, X_test, y=None):
        return {"score": estimator.score(X_test), "on_worker": _ran_on_a_dask_worker()}

    grid = GridSearchCV(
        EnergyBasedModel(**fast_params),
        {"reg_alpha": [0.0, 0.1], "hidden_sizes": [(8,), (4,)]},
        cv=KFold(2, shuffle=True, random_state=0),
        scoring=scoring,
        refit="score",
    )
    with joblib.parallel_backend("dask"):
        grid.fit(X)
    on_worker = np.concatenate([grid.cv_results_[f"split{i}_test_on_worker"] for i in range(2)])
    assert on_worker.min() == 1.0  # every fit and score ran on the cluster
    means = grid.cv_results_["mean_test_score"]
    assert means.shape == (4,) and np.all(np.isfinite(means))
    assert grid.best_index_ == np.argmax(means)
    # The refit on all of X ran here, and the search's model is usable.
    assert grid.best_estimator_.n_iter_ == fast_params["max_iter"]
    assert np.all(np.isfinite(grid.score_samples(X)))
