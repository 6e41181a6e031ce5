"""Pause, seek, speed and loop over a recording's :class:`~installation.clock.PlaybackClock`.

Live input has no transport: time is the LSL clock. There ``pause`` freezes the picture
(the window sink holds it) while the features keep up, and the other keys give a notice.
"""

from __future__ import annotations

from installation.clock import PlaybackClock

SEEK_S = 5.0
SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
ACTIONS = ("pause", "back", "forward", "faster", "slower", "loop")


class Transport:
    """Applies the transport keys to a playback clock (``None``: live input).

    Attributes
    ----------
    frozen
        Live input only: the picture is frozen (``pause``).
    notice
        One line for the HUD about the last key, or ``""``.
    """

    def __init__(self, clock: PlaybackClock | None) -> None:
        self.clock = clock
        self.frozen = False
        self.notice = ""

    @property
    def live(self) -> bool:
        return self.clock is None

    def press(self, action: str) -> None:
        """One of :data:`ACTIONS`."""
        clock = self.clock
        self.notice = ""
        if clock is None:
            if action == "pause":
                self.frozen = not self.frozen
            else:
                self.notice = "live input: no seek, speed or loop"
        elif action == "pause":
            clock.toggle_pause()
        elif action in ("back", "forward"):
            clock.seek(clock.now() + (SEEK_S if action == "forward" else -SEEK_S))
        elif action in ("faster", "slower"):
            i = min(range(len(SPEEDS)), key=lambda j: abs(SPEEDS[j] - clock.speed))
            i = min(len(SPEEDS) - 1, i + 1) if action == "faster" else max(0, i - 1)
            clock.set_speed(SPEEDS[i])
        elif action == "loop":
            clock.loop = not clock.loop
        else:
            raise ValueError(f"not a transport action: {action!r}")

    def describe(self, fps: float) -> str:
        """The HUD's first line: where playback is, or LIVE."""
        clock = self.clock
        if clock is None:
            return f"LIVE{'  FROZEN' if self.frozen else ''}  {fps:4.1f} fps"
        state = "PAUSED" if clock.paused else "playing"
        return (f"{clock.now():6.1f}/{clock.duration or 0.0:.1f} s  x{clock.speed:g}  {state}"
                f"{'  loop' if clock.loop else ''}  {fps:4.1f} fps")
