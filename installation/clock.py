"""Clocks. Replay uses :class:`FixedStepClock` so the same input gives the same frames."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class FixedStepClock:
    """A simulated clock that advances exactly ``1 / fps`` per tick.

    Times are computed from the integer frame index, never accumulated, so no rounding
    error builds up over a long replay and two runs agree to the last bit.
    """

    fps: float
    start: float = 0.0
    index: int = 0

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError("fps must be positive")

    @property
    def dt(self) -> float:
        return 1.0 / self.fps

    @property
    def now(self) -> float:
        """Engine time of the current frame."""
        return self.start + self.index / self.fps

    def tick(self) -> float:
        """Advance to the next frame and return its time."""
        self.index += 1
        return self.now
