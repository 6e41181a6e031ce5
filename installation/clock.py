"""Engine clocks: where a frame's time comes from, and when the next frame is due.

Every mode runs the same loop (:func:`installation.runtime.run`); only its clock differs:

* :class:`FixedStepClock` (replay): simulated time, exactly ``1 / fps`` per frame, as fast
  as the machine goes; the same input gives the same frames.
* :class:`PlaybackClock` (rehearsal of a recording): real time that can pause, seek, change
  speed and loop.
* :class:`LslClock` (gallery, live rehearsal): this machine's LSL clock, the clock live
  samples are stamped on at the inlet (:mod:`installation.inputs.lsl`).

Real-time clocks pace frames with a :class:`Pacer`: frame ``k`` is due at ``start + k *
period`` and a late frame skips ahead to the next slot instead of bursting to catch up, as
pyglet's ``Clock.schedule_interval`` and mne-lsl's player schedule against a target time
rather than sleeping "period minus elapsed" (which drifts by every frame's overshoot).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FixedStepClock", "LslClock", "Pacer", "PlaybackClock"]


@runtime_checkable
class Clock(Protocol):
    """What the runtime loop asks of a clock."""

    def now(self) -> float:
        """Engine time of the frame about to be made, in seconds."""
        ...

    def tick(self) -> None:
        """Move on to the next frame: step a simulated clock, or wait until it is due."""
        ...

    @property
    def jumps(self) -> int:
        """How often time jumped (a seek, a loop); the loop re-warms the features after one."""
        ...


@dataclass(slots=True)
class FixedStepClock:
    """A simulated clock that advances exactly ``1 / fps`` per tick.

    Times are computed from the integer frame index, never accumulated, so no rounding
    error builds up over a long replay and two runs agree to the last bit.
    """

    fps: float
    start: float = 0.0
    index: int = 0
    jumps: int = 0  # a fixed-step clock never jumps

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError("fps must be positive and finite")

    @property
    def dt(self) -> float:
        return 1.0 / self.fps

    def now(self) -> float:
        """Engine time of the current frame."""
        return self.start + self.index / self.fps

    def tick(self) -> None:
        """Advance to the next frame (at once: replay runs as fast as it can)."""
        self.index += 1


@dataclass
class Pacer:
    """Waits until frame ``k`` is due at ``start + k * period`` on ``wall`` time.

    A late frame does not shorten the following waits to catch up (a burst of frames would
    look worse than one skipped slot): the schedule skips to the next slot still ahead.

    Parameters
    ----------
    period
        Seconds between frames.
    wall, sleep
        Time source and sleep, swappable for tests.
    """

    period: float
    wall: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep
    skipped: int = field(default=0, init=False)  # slots skipped because a frame ran late
    _start: float | None = field(default=None, init=False)
    _k: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.period) and self.period > 0):
            raise ValueError("period must be positive and finite")

    def wait(self) -> None:
        """Sleep until the next frame is due (the first call starts the schedule)."""
        now = self.wall()
        if self._start is None:
            self._start, self._k = now, 0
        self._k += 1
        due = self._start + self._k * self.period
        if due <= now:  # late: the next slot still ahead, not a catch-up burst
            ahead = math.floor((now - self._start) / self.period) + 1
            self.skipped += ahead - self._k
            self._k = ahead
            due = self._start + self._k * self.period
        self.sleep(due - now)

    def restart(self) -> None:
        """Start a new schedule at the next :meth:`wait` (e.g. after a long reload)."""
        self._start = None


@dataclass
class PlaybackClock:
    """Real time that can pause, change speed, jump, and loop over ``duration``.

    Parameters
    ----------
    duration
        Length of the recording; ``None``: unbounded (no loop).
    loop
        Start again at 0 at the end (otherwise stop at the end).
    fps
        Frame rate :meth:`tick` paces at.
    wall
        Wall time source, swappable for tests.
    """

    duration: float | None = None
    loop: bool = True
    speed: float = 1.0
    paused: bool = False
    fps: float = 30.0
    wall: Callable[[], float] = time.perf_counter
    jumps: int = field(default=0, init=False)
    _t: float = field(default=0.0, init=False)
    _since: float = field(default=0.0, init=False)
    _pacer: Pacer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._since = self.wall()
        self._pacer = Pacer(1.0 / self.fps, wall=self.wall)

    def now(self) -> float:
        t = self._t if self.paused else self._t + (self.wall() - self._since) * self.speed
        if self.duration is not None and t >= self.duration:
            if self.loop and self.duration > 0:
                t = t % self.duration
                self.jumps += 1  # back to the start: the features must re-learn
            else:
                t = self.duration  # the end: time stops there, which is no jump
            self._t, self._since = t, self.wall()
        return t

    def tick(self) -> None:
        self._pacer.wait()

    def _anchor(self) -> None:
        self._t, self._since = self.now(), self.wall()

    def toggle_pause(self) -> None:
        self._anchor()
        self.paused = not self.paused

    def seek(self, t: float) -> None:
        """Jump to engine time ``t`` (clamped to the recording)."""
        upper = self.duration if self.duration is not None else math.inf
        self._t, self._since = min(max(0.0, t), upper), self.wall()
        self.jumps += 1

    def set_speed(self, speed: float) -> None:
        self._anchor()
        self.speed = speed


@dataclass
class LslClock:
    """This machine's LSL clock (``pylsl.local_clock``), paced at ``fps``.

    Live samples are stamped on this clock once, at the inlet; engine time is the same
    clock, so a feature's time and a frame's time compare directly. Live time never jumps.
    """

    fps: float = 30.0
    jumps: int = field(default=0, init=False)
    _pacer: Pacer = field(init=False, repr=False)
    _local_clock: Callable[[], float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import pylsl  # imported here: liblsl is only needed by live modes

        self._local_clock = pylsl.local_clock
        self._pacer = Pacer(1.0 / self.fps)

    def now(self) -> float:
        return self._local_clock()

    def tick(self) -> None:
        # vsync paces a real display on its own; a virtual one (Xvfb) needs the pacer.
        self._pacer.wait()
