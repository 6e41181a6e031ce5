"""Moods: named anchors in latent space, and the walk the body takes among them.

Each ``[[moods]]`` entry is an anchor (from a seed, a saved ``.npy`` latent, or an image
through the VAE encoder) placed at a position in control space: ``[calm, arousal]`` or
``[calm, arousal, valence]``. The controls are a point in that space; every mood pulls the
latent with a Gaussian weight of its distance, and the anchors are blended on the sphere
(normalised weighted directions, weighted norms: slerp generalised to many anchors).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from installation.errors import ModelError, ShowError
from installation.messages import Controls
from installation.show import GeneratorSpec, MoodSpec

Encoder = Callable[[Path], torch.Tensor]


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def bounded_step(current: torch.Tensor | None, target: torch.Tensor, max_step: float
                 ) -> torch.Tensor:
    """Move from ``current`` towards ``target`` by at most ``max_step`` (Euclidean)."""
    if current is None:
        return target
    step = target - current
    norm = float(step.norm())
    if norm > max_step:
        step = step * (max_step / norm)
    return current + step


def seeded_latent(seed: int, latent_dim: int) -> torch.Tensor:
    """The standard-normal latent a mood's ``seed`` names."""
    return torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed))


def load_latent(path: Path, latent_dim: int) -> torch.Tensor:
    """A saved latent ``.npy`` of shape ``(latent_dim,)`` or ``(1, latent_dim)``.

    Raises
    ------
    ModelError
        One line naming the file when it is unreadable or has the wrong shape or values.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelError(f"{path}: latent file not found") from None
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: not a readable .npy latent ({error})") from None
    if array.shape not in ((latent_dim,), (1, latent_dim)):
        raise ModelError(f"{path}: latent must have shape ({latent_dim},), got {array.shape}")
    if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
        raise ModelError(f"{path}: latent must hold finite floats")
    return torch.from_numpy(array.reshape(-1).astype(np.float32))


def resolve_anchors(
    moods: Sequence[MoodSpec], latent_dim: int, encoder: Encoder | None = None,
) -> torch.Tensor:
    """Stack every mood's anchor latent into ``(len(moods), latent_dim)``.

    Parameters
    ----------
    moods
        The show's ``[[moods]]``.
    latent_dim
        The model's latent size.
    encoder
        Image -> latent (the VAE encoder); ``None`` when the model has none.
    """
    anchors = []
    for i, mood in enumerate(moods):
        if mood.seed is not None:
            anchors.append(seeded_latent(mood.seed, latent_dim))
        elif mood.latent is not None:
            anchors.append(load_latent(mood.latent, latent_dim))
        else:
            if encoder is None:
                raise ShowError(f"moods[{i}].image ({mood.name}): an image mood needs "
                                f'model = "vae" or "gan" (their images can be encoded)')
            anchors.append(encoder(mood.image))  # type: ignore[arg-type]
    return torch.stack(anchors)


def mood_weights(positions: torch.Tensor, point: torch.Tensor, spread: float) -> torch.Tensor:
    """Gaussian pull of each mood at ``point`` in control space, summing to 1."""
    d2 = ((positions - point) ** 2).sum(dim=1)
    return torch.softmax(-d2 / (2.0 * spread * spread), dim=0)


def blend(anchors: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Blend anchors on the sphere: weighted unit directions, renormalised, weighted norms."""
    norms = anchors.norm(dim=1, keepdim=True).clamp_min(1e-8)
    direction = (weights[:, None] * anchors / norms).sum(dim=0)
    radius = float((weights * norms[:, 0]).sum())
    length = float(direction.norm())
    if length < 1e-6:  # opposite anchors cancelling: fall back to the linear blend
        return (weights[:, None] * anchors).sum(dim=0)
    return direction * (radius / length)


@dataclass
class MoodWalk:
    """Stateful stage: ``MoodWalk(spec, moods, anchors)(controls) -> z``.

    The mood/energy(/valence) controls place a point among the moods; the blended anchor is
    where the walk heads. A seeded, slow sinusoidal wander (amplitude ``drift/4`` always, so
    the piece drifts with nobody there, plus ``temperature`` times the temperature control)
    takes it away from the anchors; the pulse control (a beat envelope, so in phase with the
    heartbeat) kicks it along a fixed direction. Each call moves at most ``max_step``.
    """

    spec: GeneratorSpec
    moods: Sequence[MoodSpec]
    anchors: torch.Tensor
    _z: torch.Tensor | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if len(self.moods) == 0 or len(self.moods) != len(self.anchors):
            raise ValueError("MoodWalk needs one anchor per mood, at least one mood")
        self._dims = 3 if self.spec.valence_control else 2
        # A 2-value position sits at neutral valence (0.5) when valence is used.
        self.positions = torch.tensor(
            [(*m.position, 0.5)[: self._dims] for m in self.moods], dtype=torch.float32
        )
        gen = torch.Generator().manual_seed(self.spec.seed + 2)
        d = self.anchors.shape[1]
        self._freq = 0.03 + 0.12 * torch.rand(d, generator=gen)  # Hz: slow, incommensurate
        self._phase = 2.0 * math.pi * torch.rand(d, generator=gen)
        kick = torch.randn(d, generator=gen)
        self._kick = kick / kick.norm()

    def point(self, controls: Controls) -> torch.Tensor:
        """The controls as a point in mood space."""
        spec = self.spec
        values = [_clip01(controls.get(spec.mood_control, 0.5)),
                  _clip01(controls.get(spec.energy_control, 0.3))]
        if self._dims == 3:
            values.append(_clip01(controls.get(spec.valence_control, 0.5)))
        return torch.tensor(values, dtype=torch.float32)

    def target(self, controls: Controls) -> torch.Tensor:
        """Where the controls say the latent should be, before the step limit."""
        spec = self.spec
        weights = mood_weights(self.positions, self.point(controls), spec.mood_spread)
        base = blend(self.anchors, weights)
        temp = (_clip01(controls.get(spec.temperature_control, 0.5))
                if spec.temperature_control else 0.5)
        amplitude = spec.drift * 0.25 + spec.temperature * temp
        wander = torch.sin(2.0 * math.pi * self._freq * controls.t + self._phase) * amplitude
        pulse = _clip01(controls.get(spec.pulse_control, 0.0))
        return base + wander + spec.pulse_kick * pulse * self._kick

    def __call__(self, controls: Controls) -> torch.Tensor:
        self._z = bounded_step(self._z, self.target(controls), self.spec.max_step)
        return self._z
