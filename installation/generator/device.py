"""Pick the torch device: CUDA, then Apple MPS, then CPU; and how many CPU threads to use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def cpu_threads(device: torch.device, threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads on this thread when ``device`` is the CPU.

    The generator shares the CPU with the renderer (llvmpipe draws on every core), and
    torch's OpenMP threads spin-wait at each barrier: on a loaded 2-core machine a CPPN image
    took 4x longer with two threads than with one (BENCHMARKS.md, "Pulse Garden at
    960x540"). OpenMP keeps the thread count per calling thread, so the worker thread's
    setting stays its own; the previous count comes back after the block.

    Parameters
    ----------
    device
        Where the generator runs; anything but ``cpu`` leaves torch as it is.
    threads
        Threads for the block; ``None`` leaves torch as it is.
    """
    if device.type != "cpu" or threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
