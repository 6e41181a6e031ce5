"""Where the body puts the generator: a smooth walk in latent space steered by controls."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from installation.messages import Controls
from installation.show import GeneratorSpec


def slerp(a: torch.Tensor, b: torch.Tensor, w: float) -> torch.Tensor:
    """Spherical interpolation: keeps the latent's norm where Gaussian latents live."""
    na, nb = a.norm(), b.norm()
    cos = torch.clamp(torch.dot(a / na, b / nb), -1.0, 1.0)
    omega = torch.arccos(cos)
    if float(omega) < 1e-4:
        return a + w * (b - a)
    so = torch.sin(omega)
    return (torch.sin((1.0 - w) * omega) / so) * a + (torch.sin(w * omega) / so) * b


@dataclass
class LatentWalk:
    """Stateful stage: ``LatentWalk(spec)(controls) -> z``.

    The mood control slerps between two seeded anchors (0: restless, 1: calm); the energy
    control scales a slow seeded drift (so the piece moves by itself when nobody is there);
    the pulse control kicks the latent along a fixed direction on each heartbeat. Each call
    moves at most ``spec.max_step`` so nothing the sensors do can make the image jump.
    """

    spec: GeneratorSpec
    _z: torch.Tensor | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        gen = torch.Generator().manual_seed(self.spec.seed + 1)
        d = self.spec.latent_dim
        self._anchor_restless = torch.randn(d, generator=gen)
        self._anchor_calm = torch.randn(d, generator=gen)
        self._freq = 0.03 + 0.12 * torch.rand(d, generator=gen)  # Hz: slow, incommensurate
        self._phase = 2.0 * math.pi * torch.rand(d, generator=gen)
        kick = torch.randn(d, generator=gen)
        self._kick = kick / kick.norm()

    def target(self, controls: Controls) -> torch.Tensor:
        """Where the controls say the latent should be, before the step limit."""
        mood = min(1.0, max(0.0, controls.get(self.spec.mood_control, 0.5)))
        energy = min(1.0, max(0.0, controls.get(self.spec.energy_control, 0.3)))
        pulse = min(1.0, max(0.0, controls.get(self.spec.pulse_control, 0.0)))
        base = slerp(self._anchor_restless, self._anchor_calm, mood)
        wander = torch.sin(2.0 * math.pi * self._freq * controls.t + self._phase)
        wander = wander * (self.spec.drift * (0.25 + energy))
        return base + wander + self.spec.pulse_kick * pulse * self._kick

    def __call__(self, controls: Controls) -> torch.Tensor:
        target = self.target(controls)
        if self._z is None:
            self._z = target
        else:
            step = target - self._z
            norm = float(step.norm())
            if norm > self.spec.max_step:
                step = step * (self.spec.max_step / norm)
            self._z = self._z + step
        return self._z
