"""Seeded, isolated use of torch's global random generators."""

import threading
from contextlib import contextmanager

import torch

__all__ = ["isolated_rng"]

# torch's global generators are per process: fits in threads of one process
# (joblib's threading backend, an in-process Dask cluster) take turns, or
# each would draw from the others' seeded streams.
_GLOBAL_RNG_LOCK = threading.RLock()


@contextmanager
def isolated_rng(device, seed):
    """Seed torch's generators for ``device`` (and the CPU), restoring them on exit.

    Code inside (weight initialization, dropout, spectral norm's power
    iteration) may use torch's global generators; outside, nothing changes.
    Other threads entering it wait, so that each sees only its own seed.
    """
    with _GLOBAL_RNG_LOCK:
        with _seeded_global_rng(device, seed):
            yield


@contextmanager
def _seeded_global_rng(device, seed):
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index], device_type="cuda"):
            torch.default_generator.manual_seed(seed)
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
            yield
    elif device.type == "mps":
        with torch.random.fork_rng(device_type="mps"):
            torch.default_generator.manual_seed(seed)
            torch.mps.manual_seed(seed)
            yield
    else:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            yield
