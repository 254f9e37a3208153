"""Device selection: resolve_device and the estimator's device parameter."""

import numpy as np
import pytest
import torch

from sklearn_ebm import resolve_device

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
without_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")

# A CUDA index this machine never has, GPU or not.
ABSENT_CUDA = f"cuda:{torch.cuda.device_count() if torch.cuda.is_available() else 1}"


@pytest.fixture
def fake_accelerators(monkeypatch):
    """Set which accelerators torch reports: ``fake_accelerators(cuda=..., mps=...)``."""

    def set_available(cuda, mps):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return set_available


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(fake_accelerators, cuda, mps, expected):
    fake_accelerators(cuda=cuda, mps=mps)
    device = resolve_device("auto")
    assert isinstance(device, torch.device)
    assert device.type == expected


def test_auto_is_the_default():
    assert resolve_device() == resolve_device("auto")


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_cpu(device):
    assert resolve_device(device) == torch.device("cpu")


@pytest.mark.parametrize("name", [ABSENT_CUDA, "cuda:7"])
def test_absent_cuda_index_is_a_clear_error(name):
    with pytest.raises(ValueError, match=name):
        resolve_device(name)


@without_cuda
@pytest.mark.parametrize("name", ["cuda", torch.device("cuda")])
def test_cuda_without_gpu_is_a_clear_error(name):
    with pytest.raises(ValueError, match="cuda"):
        resolve_device(name)


def test_mps_without_mps_is_a_clear_error(fake_accelerators):
    fake_accelerators(cuda=False, mps=False)
    with pytest.raises(ValueError, match="mps"):
        resolve_device("mps")


@pytest.mark.parametrize("name", ["gpu0", "tpu", "", "cpu:x"])
def test_invalid_device_names(name):
    with pytest.raises(ValueError):
        resolve_device(name)


# ----------------------------------------------------------- the estimator


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_estimator_on_cpu(make_model, X_small, device):
    model = make_model(device=device).fit(X_small)
    assert model.device_ == torch.device("cpu")
    assert model.get_params()["device"] is device  # never rewritten
    assert all(p.device.type == "cpu" for p in model.network_.parameters())
    assert model.score_samples(X_small).shape == (len(X_small),)
    assert model.sample(3, random_state=0).shape == (3, 3)


def test_estimator_auto_records_choice(make_model, X_small):
    model = make_model(device="auto").fit(X_small)
    assert model.device_ == resolve_device("auto")
    assert model.get_params()["device"] == "auto"
    assert all(p.device.type == model.device_.type for p in model.network_.parameters())


def test_estimator_absent_cuda_is_a_clear_error(make_model, X_small):
    model = make_model(device=ABSENT_CUDA)
    with pytest.raises(ValueError, match=ABSENT_CUDA):
        model.fit(X_small)
    assert not hasattr(model, "network_")
    assert model.get_params()["device"] == ABSENT_CUDA


@without_cuda
def test_estimator_cuda_without_gpu_is_a_clear_error(make_model, X_small):
    with pytest.raises(ValueError, match="cuda"):
        make_model(device="cuda").fit(X_small)


# ------------------------------------------------------------ on a real GPU


@requires_cuda
def test_fit_on_cuda(make_model, X_small):
    model = make_model(device="cuda").fit(X_small)
    assert model.device_.type == "cuda"
    assert all(p.device.type == "cuda" for p in model.network_.parameters())
    scores = model.score_samples(X_small)
    assert scores.dtype == np.float64 and np.all(np.isfinite(scores))
    samples = model.sample(50, random_state=0)
    assert samples.shape == (50, 3) and np.all(np.isfinite(samples))
    # A seeded fit repeats exactly on the same GPU, as on the CPU.
    again = make_model(device="cuda").fit(X_small)
    np.testing.assert_array_equal(again.score_samples(X_small), scores)
    np.testing.assert_array_equal(again.sample(50, random_state=0), samples)


@requires_cuda
def test_auto_uses_cuda_when_present(make_model, X_small):
    model = make_model(device="auto").fit(X_small)
    assert model.device_.type == "cuda"
    assert model.get_params()["device"] == "auto"


@requires_cuda
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_int_seed_leaves_cuda_rng_untouched(make_model, X_small, device):
    torch.cuda.manual_seed_all(99)
    cuda_states = torch.cuda.get_rng_state_all()
    cpu_state = torch.get_rng_state()
    model = make_model(device=device, random_state=0).fit(X_small)
    model.sample(5)
    for before, after in zip(cuda_states, torch.cuda.get_rng_state_all()):
        assert torch.equal(before, after)
    assert torch.equal(torch.get_rng_state(), cpu_state)


@requires_cuda
@pytest.mark.parametrize("first, then", [("cuda", "cpu"), ("cpu", "cuda")])
def test_continued_fit_moves_to_the_new_device(make_model, X_small, first, then):
    model = make_model(device=first).fit(X_small)
    model.set_params(device=then, warm_start=True).fit(X_small)
    assert model.device_.type == then
    assert all(p.device.type == then for p in model.network_.parameters())
    assert model._replay_buffer.chains.device.type == then
    model.partial_fit(X_small)
    assert np.all(np.isfinite(model.score_samples(X_small)))
