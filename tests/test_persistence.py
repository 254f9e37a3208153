"""Pickle, joblib and skops.io round trips, including a model fitted on a GPU loaded
without one, and the version check on loading."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch

import sklearn_ebm
from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel


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
    [
        {"dropout": 0.3},
        {"spectral_norm": True},
        {"early_stopping": True},
        {"clamp": (-5.0, 8.0)},
        {"objective": "nce", "max_samples": 40},
    ],
    ids=["dropout", "spectral_norm", "early_stopping", "clamp", "nce"],
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


# ---------------------------------------------------------------- skops.io
# skops.io loads only the types a user trusts. The pickled state holds numpy
# arrays and plain Python types, so the only type to trust is the estimator's
# own class.


def _torch_objects(obj, path="state"):
    """Paths of every torch object inside nested dicts, lists and tuples."""
    if isinstance(obj, (torch.Tensor, torch.nn.Module, torch.device, torch.optim.Optimizer)):
        return [path]
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _torch_objects(v, f"{path}[{k!r}]")]
    if isinstance(obj, (list, tuple)):
        return [p for i, v in enumerate(obj) for p in _torch_objects(v, f"{path}[{i}]")]
    return []


@pytest.mark.parametrize("params", [{}, {"spectral_norm": True}], ids=["plain", "spectral_norm"])
def test_state_holds_no_torch_objects(make_model, X_small, params):
    state = make_model(**params).fit(X_small).__getstate__()
    assert _torch_objects(state) == []
    assert state["_sklearn_ebm_version"] == sklearn_ebm.__version__


def test_skops_roundtrip(fitted_model, X_small, tmp_path):
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "model.skops"
    sio.dump(fitted_model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == ["sklearn_ebm._estimator.EnergyBasedModel"]
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(path)
    loaded = sio.load(path, trusted=untrusted)
    assert isinstance(loaded.device_, torch.device)
    assert_same_model(fitted_model, loaded, X_small)


@pytest.mark.parametrize(
    "params",
    [{"spectral_norm": True}, {"early_stopping": True, "dropout": 0.2}, {"clamp": (-5.0, 8.0)}],
    ids=["spectral_norm", "early_stopping", "clamp"],
)
def test_skops_roundtrip_variants(make_model, X_small, params):
    sio = pytest.importorskip("skops.io")
    model = make_model(**params).fit(X_small)
    data = sio.dumps(model)
    assert_same_model(model, sio.loads(data, trusted=sio.get_untrusted_types(data=data)), X_small)


def test_skops_detector_in_pipeline(fast_params, X_small):
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    sio = pytest.importorskip("skops.io")
    df = pd.DataFrame(X_small, columns=["a", "b", "c"]).assign(kind=np.tile(["u", "v"], 40))
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b", "c"]), ("cat", OneHotEncoder(sparse_output=False), ["kind"])]
    )
    pipe = make_pipeline(prep, EBMOutlierDetector(**fast_params)).fit(df)
    data = sio.dumps(pipe)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == ["sklearn_ebm._outlier.EBMOutlierDetector"]  # scikit-learn's types are trusted
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.decision_function(df), pipe.decision_function(df))
    np.testing.assert_array_equal(loaded[-1].sample(10, random_state=0), pipe[-1].sample(10, random_state=0))
    assert loaded[-1].offset_ == pipe[-1].offset_


def test_warm_start_after_skops(make_model, X_small):
    sio = pytest.importorskip("skops.io")
    model = make_model(warm_start=True, max_iter=2).fit(X_small)
    data = sio.dumps(model)
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    model.fit(X_small)
    loaded.fit(X_small)
    assert loaded.n_iter_ == model.n_iter_ == 4
    np.testing.assert_array_equal(loaded.score_samples(X_small), model.score_samples(X_small))


def test_unfitted_skops_roundtrip():
    sio = pytest.importorskip("skops.io")
    model = EnergyBasedModel(hidden_sizes=(4,), clamp=(-1.0, 1.0), random_state=3)
    data = sio.dumps(model)
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert loaded.get_params() == model.get_params()
    assert not hasattr(loaded, "network_")


# ------------------------------------------------------ version compatibility


@pytest.mark.parametrize("format", ["pickle", "skops"])
def test_other_minor_version_warns(fitted_model, X_small, monkeypatch, format):
    if format == "skops":
        sio = pytest.importorskip("skops.io")
        dumps, loads = sio.dumps, lambda data: sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    else:
        dumps, loads = pickle.dumps, pickle.loads
    here = sklearn_ebm.__version__
    monkeypatch.setattr(sklearn_ebm._version, "__version__", "0.99.0")
    payload = dumps(fitted_model)
    monkeypatch.setattr(sklearn_ebm._version, "__version__", here)
    with pytest.warns(UserWarning, match=rf"saved with sklearn-ebm 0\.99\.0.*loaded with sklearn-ebm {here}"):
        loaded = loads(payload)
    np.testing.assert_array_equal(loaded.score_samples(X_small), fitted_model.score_samples(X_small))
    assert not hasattr(loaded, "_sklearn_ebm_version")


def test_other_patch_version_loads_silently(fitted_model, monkeypatch):
    major, minor = sklearn_ebm.__version__.split(".")[:2]
    monkeypatch.setattr(sklearn_ebm._version, "__version__", f"{major}.{minor}.99")
    payload = pickle.dumps(fitted_model)
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(payload)


def test_state_of_0_1_0_loads(fitted_model, X_small):
    # 0.1.0 pickled CPU tensors, a ReplayBuffer, a Whitening and a
    # torch.device, without a version key: such files still load.
    from sklearn_ebm import ReplayBuffer
    from sklearn_ebm._whitening import Whitening

    # 0.1.0 passed over all rows every epoch, as max_samples=None does (on
    # 80 rows the default trains the same); its networks read every feature
    # (on 3 features, so does the default).
    # Nor did it have base="auto" or Fourier features ("auto" leaves them out
    # on 3 features), or objective="auto" (contrastive divergence over the
    # Gaussian base).
    fitted_model.set_params(
        max_samples=None, max_network_inputs=None, base="gaussian", fourier_features=0, objective="cd"
    )
    state = fitted_model.__getstate__()
    del state["_sklearn_ebm_version"]
    # Parameters added since 0.1.0.
    del state["weight_decay"], state["negative_fraction"], state["max_samples"], state["objective"]
    del state["max_network_inputs"], state["fourier_features"], state["fourier_scale"]
    del state["network_"]["config"]["fourier_features"], state["network_"]["config"]["fourier_scale"]
    # Fitted attributes added since 0.1.0.
    del state["correction_scale_"], state["objective_"]

    def tensors(obj):
        if isinstance(obj, np.ndarray):
            return torch.from_numpy(obj)
        if isinstance(obj, dict):
            return {k: tensors(v) for k, v in obj.items()}
        return obj

    state["network_"]["state_dict"] = tensors(state["network_"]["state_dict"])
    state["_optimizer_state"] = tensors(state["_optimizer_state"])
    # 0.1.0 trained with plain Adam.
    for group in state["_optimizer_state"]["param_groups"]:
        group.update(weight_decay=0, decoupled_weight_decay=False)
    state["_training_weights"] = tensors(state["_training_weights"])
    buffer = state["_replay_buffer"]
    state["_replay_buffer"] = ReplayBuffer(torch.from_numpy(buffer["chains"]), buffer["reinit_freq"])
    state["whitening_"] = Whitening(**state["whitening_"])
    state["device_"] = torch.device(state["device_"])
    old = EnergyBasedModel.__new__(EnergyBasedModel)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old.__setstate__(state)
    assert_same_model(fitted_model, old, X_small)
    assert old.correction_scale_ == 1.0
    assert old.objective_ == "cd"  # what 0.1.0 trained with
    old.set_params(warm_start=True, max_iter=1).fit(X_small)
    assert old.n_iter_ == fitted_model.n_iter_ + 1
    # ... and continues with decoupled weight decay, a parameter 0.1.0 did
    # not have, at its default.
    assert old.get_params()["weight_decay"] == EnergyBasedModel().weight_decay > 0
    assert old.get_params()["negative_fraction"] == 1.0
    # Every epoch a full pass, by contrastive divergence, as 0.1.0 trained.
    assert old.get_params()["max_samples"] is None
    assert old.get_params()["objective"] == "cd"
    # Its network reads every feature.
    assert old.get_params()["max_network_inputs"] is None
    for group in old._optimizer_state["param_groups"]:
        assert group["weight_decay"] == old.weight_decay
        assert group["decoupled_weight_decay"]
