"""Choosing the torch device a model runs on."""

import torch

__all__ = ["resolve_device"]


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def resolve_device(device="auto"):
    """Return the :class:`torch.device` that ``device`` names, checking it exists.

    Parameters
    ----------
    device : "auto", str or torch.device, default="auto"
        ``"auto"`` picks CUDA when available, then Apple MPS, then the CPU.
        Any other value is passed to :class:`torch.device` (``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, ``"mps"``) and must name a device that is
        present on this machine.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``device`` is not a valid device name or names one that is absent.

    Examples
    --------
    >>> from sklearn_ebm import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu', "
            "'cuda', 'cuda:N' or 'mps'."
        ) from exc
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = resolved.index if resolved.index is not None else 0
        if index >= count:
            raise ValueError(
                f"device={device!r} was requested but this machine has "
                f"{count} CUDA device(s); use device='auto' or 'cpu'."
            )
    elif resolved.type == "mps" and not _mps_available():
        raise ValueError(
            f"device={device!r} was requested but Apple MPS is not available; "
            "use device='auto' or 'cpu'."
        )
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device={device!r} is not supported; use 'auto', 'cpu', 'cuda', "
            "'cuda:N' or 'mps'."
        )
    return resolved
