"""Few-step schedules for turbo and LCM models (1-4 steps), at any img2img strength.

A turbo model (SD-Turbo, SDXL-Turbo: adversarial diffusion distillation, Sauer et al. 2023)
or an LCM (Luo et al. 2023) denoises in one to four steps from timesteps on a *trailing*
schedule (Lin et al. 2024, "Common diffusion noise schedules and sample steps are flawed",
table 2). Img2img starts lower on that schedule: ``strength`` is the fraction of the noise
range repainted. Passing the timesteps explicitly makes strength continuous; the pipelines'
own ``strength`` rounds it to ``1/num_inference_steps``, which at one step means 1, 1/2,
1/3... and a body that slides between them would see the picture jump.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch

# Below this much of the schedule there is nothing worth repainting: the stage passes through.
MIN_STRENGTH = 0.02


def trailing_timesteps(strength: float, steps: int, train_steps: int = 1000,
                       grid: int = 1) -> list[int]:
    """Descending timesteps covering the top ``strength`` of the noise schedule.

    ``strength = 1`` gives the trailing schedule itself (``[999]``, ``[999, 499]``...).
    ``grid`` snaps them to an LCM's distillation grid (``k * i - 1``). Empty when
    ``strength`` is below :data:`MIN_STRENGTH`.
    """
    if strength < MIN_STRENGTH:
        return []
    top = min(1.0, strength) * train_steps
    out: list[int] = []
    for i in range(steps):
        t = round(top * (1.0 - i / steps)) - 1
        if grid > 1:
            t = max(grid - 1, grid * round((t + 1) / grid) - 1)
        if t >= 0 and (not out or t < out[-1]):
            out.append(int(t))
    return out


@cache
def _euler_ancestral_class(base: type) -> type:
    class ExplicitEulerAncestral(base):  # type: ignore[misc, valid-type]
        """Euler ancestral that also takes explicit ``timesteps`` (diffusers' does not).

        The sigmas are computed exactly as the parent does for its own spacings
        (``EulerAncestralDiscreteScheduler.set_timesteps``), only at the given timesteps.
        """

        def set_timesteps(self, num_inference_steps: int | None = None,
                          device: Any = None, timesteps: list[int] | None = None) -> None:
            if timesteps is None:
                super().set_timesteps(num_inference_steps, device=device)
                return
            steps = np.asarray(timesteps, dtype=np.float32)
            self.num_inference_steps = len(steps)
            alphas = torch.as_tensor(self.alphas_cumprod, dtype=torch.float32)
            sigmas = (((1 - alphas) / alphas) ** 0.5).numpy()
            sigmas = np.interp(steps, np.arange(0, len(sigmas)), sigmas)
            sigmas = np.concatenate([sigmas, [0.0]]).astype(np.float32)
            self.sigmas = torch.from_numpy(sigmas)  # on the CPU, as the parent keeps them
            self.timesteps = torch.from_numpy(steps).to(device=device)
            self._step_index = None
            self._begin_index = None

    return ExplicitEulerAncestral


def make_scheduler(diffusers: Any, name: str, config: Any) -> tuple[Any, int]:
    """The sampler ``name`` (``euler_a`` | ``lcm``) from the model's scheduler config.

    Returns
    -------
    scheduler, grid
        ``grid`` is the timestep grid explicit schedules snap to (1: none).
    """
    if name == "lcm":
        scheduler = diffusers.LCMScheduler.from_config(config)
        grid = max(1, scheduler.config.num_train_timesteps
                   // scheduler.config.original_inference_steps)
        return scheduler, grid
    cls = _euler_ancestral_class(diffusers.EulerAncestralDiscreteScheduler)
    return cls.from_config(config, timestep_spacing="trailing"), 1
