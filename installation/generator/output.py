"""Preallocated output buffers: model images become GL-ready uint8 arrays without allocating.

A :class:`FrameBuffers` owns ``count`` host arrays ``(height, width, 3)`` uint8 (pinned memory
on CUDA, so the device-to-host copy is a single DMA) and one device staging tensor. Each
:meth:`FrameBuffers.write` fills one slot in place; the numpy array handed out is that slot,
so it stays valid until the same slot is written again (``count`` writes later when slots
are used round-robin). Two slots are enough for lock-step use (the renderer uploads an
image before the next one is made); the worker uses three (see ``worker.py``).
"""

from __future__ import annotations

import numpy as np
import torch


class FrameBuffers:
    """``count`` reusable uint8 RGB images and the staging tensor that fills them.

    Parameters
    ----------
    width, height
        Image size.
    device, dtype
        Where the model's images live and their float type.
    count
        Number of host slots (at least 2).
    """

    def __init__(
        self, width: int, height: int, device: torch.device, dtype: torch.dtype, count: int = 2,
    ) -> None:
        if count < 2:
            raise ValueError("FrameBuffers needs at least two slots")
        self.width, self.height, self.count = width, height, count
        self.device = device
        shape = (height, width, 3)
        pin = device.type == "cuda"
        self._host = [torch.empty(shape, dtype=torch.uint8, pin_memory=pin) for _ in range(count)]
        # numpy views share the torch storage: filling the tensor fills the array.
        self.arrays = [t.numpy() for t in self._host]
        self._stage = torch.empty(shape, dtype=dtype, device=device)
        self._stage_u8 = (
            None if device.type == "cpu" else torch.empty(shape, dtype=torch.uint8, device=device)
        )

    def write(self, rgb: torch.Tensor, slot: int) -> np.ndarray:
        """Quantise ``rgb`` (``(height, width, 3)``, 0..1, any strides) into ``slot``.

        Returns
        -------
        numpy.ndarray
            The slot's C-contiguous ``(height, width, 3)`` uint8 array (reused storage).
        """
        stage = self._stage
        torch.mul(rgb, 255.0, out=stage)
        stage.add_(0.5).clamp_(0.0, 255.0)
        host = self._host[slot]
        if self._stage_u8 is None:
            host.copy_(stage)  # float -> uint8 truncates, exactly like .to(torch.uint8)
        else:
            self._stage_u8.copy_(stage)
            host.copy_(self._stage_u8)  # pinned, blocking: the frame is complete on return
        return self.arrays[slot]
