"""Pick the torch device: CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

import torch


def pick_device(preferred: str | None = None) -> torch.device:
    """Return ``preferred`` if given, else the best available device.

    Parameters
    ----------
    preferred
        ``"cuda"``, ``"mps"``, ``"cpu"`` or ``None`` for automatic choice.
    """
    if preferred:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def inference_dtype(device: torch.device) -> torch.dtype:
    """Half precision on GPUs (twice the throughput, invisible in 8-bit output), float32 on CPU."""
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32
