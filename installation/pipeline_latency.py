"""The engine's own pipeline latency: from a frame's engine time to its presentation.

A frame made at engine time ``t`` (features, mapping, generator post, GL, read-back, flash
limiter, then the sink's texture upload, draw and buffer swap) reaches the screen some tens of
milliseconds later, and that delay depends on the piece, the machine and its load. ``at_s``
mappings (:mod:`installation.pulse_at`) subtract it so that a pulse is *seen* ``at_s`` after
its R-peak. A fixed guess (``[output] latency_s``) is late whenever the render is heavier than
guessed (the Xvfb photon run measured ~87 ms against 45 ms), so the live modes measure it:
the runtime loop (:class:`installation.runtime.Loop`) reports each presented frame's
``now() - t`` on the engine clock, and :class:`PipelineLatency` keeps a robust running figure:

* the median of the last ``window`` frames (one slow frame moves it by nothing);
* seeded with ``start_s`` (the show's ``latency_s``) until ``min_frames`` were measured;
* the first ``skip`` frames are not measured (shader compilation, the first generator image,
  the window mapping);
* a frame slower than ``stall_s`` is a stall (a reload, a garbage collection, a dragged
  window), not the pipeline's steady latency, and is ignored;
* the figure is bounded to ``[0, max_s]``.

A replay's frame time is its presentation time: it runs with a fixed figure (0) and never
measures, so replays stay byte-identical. Hand-written: a running median over a short window
is a few lines, and no library knows which frames to leave out.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

__all__ = ["LatencySettings", "PipelineLatency"]


@dataclass(frozen=True, slots=True)
class LatencySettings:
    """How :class:`PipelineLatency` measures (times in seconds, counts in frames)."""

    window: int = 61  # frames in the running median (about 2 s at 30 fps)
    min_frames: int = 15  # measured frames before the median replaces the start value
    skip: int = 30  # first frames not measured (compilation, first image, window mapping)
    stall_s: float = 0.5  # a frame slower than this is a stall, not the steady latency
    max_s: float = 0.4  # the figure's bound (at_s itself is at most 0.4 s)


@dataclass
class PipelineLatency:
    """From a frame's engine time to its presentation (s): fixed, or measured live.

    Parameters
    ----------
    start_s
        The figure before enough frames were measured, and the figure for good when
        ``measured`` is false.
    measured
        Measure live (gallery, rehearsal) or keep ``start_s`` (replay, ``latency =
        "fixed"``).
    settings
        Window, skip, stall and bound.
    """

    start_s: float = 0.0
    measured: bool = False
    settings: LatencySettings = field(default_factory=LatencySettings)
    frames: int = field(default=0, init=False)  # frames reported, measured or not
    stalls: int = field(default=0, init=False)  # frames left out as stalls
    _recent: deque[float] = field(init=False, repr=False)
    _value: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._recent = deque(maxlen=self.settings.window)
        self._value = self._bound(self.start_s) if self.measured else max(self.start_s, 0.0)

    @classmethod
    def live(cls, latency_s: float, latency: str) -> PipelineLatency:
        """The live modes' figure from the show's ``[output] latency_s`` and ``latency``
        (``"measured"`` or ``"fixed"``)."""
        return cls(latency_s, measured=latency == "measured")

    @property
    def value(self) -> float:
        """The figure at_s mappings subtract now (s)."""
        return self._value

    @property
    def samples(self) -> int:
        """Frames in the running median now."""
        return len(self._recent)

    def add(self, seconds: float) -> None:
        """One presented frame took ``seconds`` from its engine time to its presentation."""
        if not self.measured:
            return
        self.frames += 1
        cfg = self.settings
        if self.frames <= cfg.skip or not math.isfinite(seconds) or seconds <= 0.0:
            return  # <= 0: a paused clock (a rehearsal's pause) did not move
        if seconds > cfg.stall_s:
            self.stalls += 1
            return
        self._recent.append(seconds)
        if len(self._recent) >= cfg.min_frames:
            self._value = self._bound(statistics.median(self._recent))

    def _bound(self, seconds: float) -> float:
        return min(max(float(seconds), 0.0), self.settings.max_s)
