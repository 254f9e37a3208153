"""Pickle and joblib round trips, including a model fitted on a GPU loaded without one."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch

from sklearn_ebm import EnergyBasedModel


def roundtrip(model):
    return pickle.loads(pickle.dumps(model))


def assert_same_model(a, b, X):
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    np.testing.assert_array_equal(a.sample(20, random_state=0), b.sample(20, random_state=0))
    assert a.get_params() == b.get_params()
    assert b.n_features_in_ == a.n_features_in_
    assert b.n_iter_ == a.n_iter_
    assert b.loss_curve_ == a.loss_curve_


def test_pickle_roundtrip(fitted_model, X_small):
    loaded = roundtrip(fitted_model)
    assert loaded is not fitted_model
    assert loaded.network_ is not fitted_model.network_
    assert loaded.device_ == fitted_model.device_
    assert_same_model(fitted_model, loaded, X_small)


def test_joblib_roundtrip(fitted_model, X_small, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted_model, path)
    loaded = joblib.load(path)
    assert_same_model(fitted_model, loaded, X_small)


def test_joblib_compressed_in_memory(fitted_model, X_small):
    buffer = io.BytesIO()
    joblib.dump(fitted_model, buffer, compress=3)
    buffer.seek(0)
    assert_same_model(fitted_model, joblib.load(buffer), X_small)


def test_unfitted_pickle_roundtrip():
    model = EnergyBasedModel(hidden_sizes=(4,), random_state=3)
    loaded = roundtrip(model)
    assert loaded.get_params() == model.get_params()
    assert not hasattr(loaded, "network_")


@pytest.mark.parametrize(
    "params",
    [{"dropout": 0.3}, {"spectral_norm": True}, {"early_stopping": True}, {"clamp": (-5.0, 8.0)}],
    ids=["dropout", "spectral_norm", "early_stopping", "clamp"],
)
def test_pickle_roundtrip_variants(make_model, X_small, params):
    model = make_model(**params).fit(X_small)
    assert_same_model(model, roundtrip(model), X_small)


def test_dataframe_model_roundtrip(make_model, X_small):
    import pandas as pd

    df = pd.DataFrame(X_small, columns=["a", "b", "c"])
    model = make_model().fit(df)
    loaded = roundtrip(model)
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(loaded.score_samples(df), model.score_samples(df))


def test_warm_start_after_unpickling(make_model, X_small):
    # The optimizer state and replay buffer travel with the model: continuing
    # a loaded model equals continuing the original.
    model = make_model(warm_start=True, max_iter=2).fit(X_small)
    loaded = roundtrip(model)
    model.fit(X_small)
    loaded.fit(X_small)
    assert loaded.n_iter_ == model.n_iter_ == 4
    np.testing.assert_array_equal(loaded.score_samples(X_small), model.score_samples(X_small))


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without a GPU")
def test_model_fitted_on_gpu_loads_without_gpu(fitted_model, X_small):
    scores = fitted_model.score_samples(X_small)
    samples = fitted_model.sample(20, random_state=0)
    # Pretend the model was fitted on a GPU (its tensors are on the CPU already).
    fitted_model.device_ = torch.device("cuda")
    payload = pickle.dumps(fitted_model)
    assert fitted_model.device_ == torch.device("cuda")  # pickling leaves the original alone
    with pytest.warns(UserWarning, match="cuda"):
        loaded = pickle.loads(payload)
    assert loaded.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.network_.parameters())
    np.testing.assert_array_equal(loaded.score_samples(X_small), scores)
    np.testing.assert_array_equal(loaded.sample(20, random_state=0), samples)
    assert loaded.get_params()["device"] == fitted_model.get_params()["device"]
    # The loaded model trains on: a warm start from it works on the CPU.
    loaded.set_params(warm_start=True, max_iter=1).fit(X_small)
    assert loaded.n_iter_ == fitted_model.n_iter_ + 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without a GPU")
def test_model_fitted_on_gpu_loads_with_joblib(fitted_model, X_small, tmp_path):
    scores = fitted_model.score_samples(X_small)
    fitted_model.device_ = torch.device("cuda:0")
    joblib.dump(fitted_model, tmp_path / "gpu.joblib")
    with pytest.warns(UserWarning, match="cuda"):
        loaded = joblib.load(tmp_path / "gpu.joblib")
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.score_samples(X_small), scores)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_model_pickle_roundtrip(make_model, X_small):
    model = make_model(device="cuda").fit(X_small)
    loaded = roundtrip(model)
    assert loaded.device_.type == "cuda"
    np.testing.assert_array_equal(loaded.score_samples(X_small), model.score_samples(X_small))
    np.testing.assert_array_equal(loaded.sample(10, random_state=0), model.sample(10, random_state=0))
