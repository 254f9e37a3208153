"""A fitted estimator's state as plain data, and back: pickling and skops.

The stored state holds numpy arrays and plain Python types, no torch
objects: spectrally normalized modules do not pickle, a model fitted on a
GPU must load on a machine without one, and skops.io stores such a state
securely, trusting only the estimator's own class. Modules are stored as
their build arguments and state dicts, the device by its name, the whitening
and replay buffer as dicts. States saved by 0.1.0 (CPU tensors, a
ReplayBuffer, a Whitening and a torch.device) load too.
"""

import warnings

import numpy as np
import torch

from . import _version
from ._device import resolve_device
from ._mixture import MixtureBase
from ._network import EnergyMLP
from ._replay import ReplayBuffer
from ._whitening import Whitening

__all__ = ["to_plain_state", "from_plain_state"]

_VERSION_KEY = "_sklearn_ebm_version"
# Parameters added since 0.1.0, and the defaults an older state loads with.
# discrete_columns=None: those models were trained without dequantization.
_ADDED_PARAMETERS = {
    "weight_decay": 0.1,
    "negative_fraction": 1.0,
    "discrete_columns": None,
    "base": "gaussian",
    # Those models passed over all the training rows every epoch.
    "max_samples": None,
    "objective": "cd",
    # Those networks read every feature.
    "max_network_inputs": None,
    "fourier_features": 0,
    "fourier_scale": 0.5,
}
# Fitted attributes added since 0.1.0, as an older fitted state loads them.
_ADDED_FITTED = {
    "discrete_columns_": lambda: np.zeros(0, dtype=np.intp),
    "discrete_values_": list,
    "data_min_": lambda: None,
    "data_max_": lambda: None,
    "batch_size_": lambda: None,
    "base_": lambda: None,
    "best_epoch_": lambda: None,
    # Networks fitted before the scale was chosen were kept whole.
    "correction_scale_": lambda: 1.0,
}


def to_plain_state(state):
    """``state`` (an estimator's ``__dict__``, copied) with plain data for torch objects."""
    state = dict(state)
    state[_VERSION_KEY] = _version.__version__
    if "network_" in state:
        network = state["network_"]
        state["network_"] = {"config": network.config(), "state_dict": _to_numpy(network.state_dict())}
        state["device_"] = str(state["device_"])
        state["whitening_"] = dict(vars(state["whitening_"]))
        buffer = state["_replay_buffer"]
        state["_replay_buffer"] = {"chains": _to_numpy(buffer.chains), "reinit_freq": buffer.reinit_freq}
        state["_optimizer_state"] = _to_numpy(state["_optimizer_state"])
        state["_training_weights"] = _to_numpy(state["_training_weights"])
        if state.get("base_") is not None:
            state["base_"] = state["base_"].state()
    return state


def from_plain_state(state):
    """The inverse of :func:`to_plain_state`, on the device the model was fitted on if there is one."""
    state = dict(state)
    _check_saved_version(state.pop(_VERSION_KEY, "0.1.0"))
    for name, default in _ADDED_PARAMETERS.items():
        state.setdefault(name, default)
    stored = state.get("network_")
    if not isinstance(stored, dict):
        return state
    device = _loading_device(state["device_"])
    with torch.random.fork_rng(devices=[]):
        network = EnergyMLP(**stored["config"])
    network.load_state_dict(_to_tensor(stored["state_dict"]))
    buffer = state["_replay_buffer"]
    if isinstance(buffer, dict):
        buffer = ReplayBuffer(_to_tensor(buffer["chains"]), buffer["reinit_freq"])
    whitening = state["whitening_"]
    if isinstance(whitening, dict):
        whitening = Whitening(**whitening)
    # 0.1.0 had no step_size="auto": its step size was the parameter, and
    # no objective="auto" before objective_.
    state.setdefault("step_size_", state["step_size"])
    state.setdefault("objective_", state["objective"])
    for name, make_default in _ADDED_FITTED.items():
        state.setdefault(name, make_default())
    if isinstance(state["base_"], dict):
        state["base_"] = MixtureBase(**state["base_"])
    return {
        **state,
        "device_": device,
        "network_": network.to(device).eval(),
        "whitening_": whitening,
        "_replay_buffer": buffer.to(device),
        "_optimizer_state": _to_tensor(state["_optimizer_state"]),
        "_training_weights": _to_tensor(state["_training_weights"]),
    }


def _loading_device(saved):
    try:
        return torch.device(resolve_device(saved))
    except ValueError:
        warnings.warn(
            f"This model was fitted on {saved}, which is not available here; it was loaded on the CPU.",
            UserWarning,
        )
        return torch.device("cpu")


def _check_saved_version(saved):
    """Warn when a model saved by another minor version of sklearn-ebm is loaded."""
    here = _version.__version__
    if str(saved).split(".")[:2] != here.split(".")[:2]:
        warnings.warn(
            f"This model was saved with sklearn-ebm {saved} and is loaded with sklearn-ebm "
            f"{here}: models load across the patch releases of one minor version "
            f"only, so it may fail or behave differently. Refit it with sklearn-ebm "
            f"{here}, or load it with sklearn-ebm {saved}.",
            UserWarning,
        )


def _to_numpy(obj):
    """Tensors (in dicts and lists) to numpy arrays on the CPU, copied."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy().copy()
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_numpy(v) for v in obj]
    return obj


def _to_tensor(obj):
    """The inverse of :func:`_to_numpy`: numpy arrays to CPU tensors, copied."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, torch.Tensor):  # states saved by 0.1.0
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_tensor(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_tensor(v) for v in obj]
    return obj
