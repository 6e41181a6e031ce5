"""Find WCAG 2.3.1 flash violations in frames or in a video file (``check-flashes``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from installation.errors import UserError
from installation.safety.flashes import (
    AREA_FRACTION,
    DARKER_BELOW,
    DEFAULT_GRID,
    LUMINANCE_STEP,
    MAX_TRANSITIONS_PER_S,
    RED_STEP,
    CellGrid,
    TransitionTracker,
    WindowCounter,
    field_blocks,
    worst_field,
)


@dataclass(frozen=True)
class Violation:
    """A stretch of time during which one kind of flash broke the three-per-second rule.

    ``rate`` is the most transitions per second seen in a flashing cell, divided by two
    (flashes per second); ``region`` is the worst 10 degree field ``(x, y, w, h)`` in pixels.
    """

    kind: str  # "general" or "red"
    start_s: float
    end_s: float
    rate: float
    area: float  # largest fraction of a 10 degree field that was flashing
    region: tuple[int, int, int, int]

    def describe(self) -> str:
        x, y, w, h = self.region
        return (f"{self.start_s:7.2f}-{self.end_s:7.2f} s  {self.kind} flash"
                f"  {self.rate:.1f} flashes/s over {self.area:.0%} of the field at"
                f" x={x} y={y} {w}x{h}")


@dataclass
class _Open:
    start: float
    end: float
    rate: float
    area: float
    region: tuple[int, int, int, int]


@dataclass
class FlashDetector:
    """Stateful stage: feed ``(t, pixels)`` frames, collect :class:`Violation` s.

    Parameters
    ----------
    size
        Frame ``(width, height)``.
    grid
        Measuring grid ``(columns, rows)``.
    """

    size: tuple[int, int]
    grid: tuple[int, int] = DEFAULT_GRID
    violations: list[Violation] = field(default_factory=list, init=False)
    frames: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._cells = CellGrid(self.size, self.grid)
        shape = self._cells.shape
        self._trackers = {
            "general": TransitionTracker(shape, LUMINANCE_STEP, DARKER_BELOW),
            "red": TransitionTracker(shape, RED_STEP, np.inf),
        }
        self._counters = {kind: WindowCounter(shape) for kind in self._trackers}
        self._open: dict[str, _Open] = {}

    def __call__(self, t: float, pixels: np.ndarray) -> None:
        measured = self._cells.measure(pixels)
        values = {"general": measured.luminance, "red": measured.red}
        self.frames += 1
        for kind, tracker in self._trackers.items():
            counts = self._counters[kind].add(t, tracker.update(values[kind]))
            flashing = counts > MAX_TRANSITIONS_PER_S
            area, row, col = worst_field(flashing)
            if area > AREA_FRACTION:
                kr, kc = field_blocks(flashing.shape)
                rows, cols = self._cells.row_px, self._cells.col_px
                region = (int(cols[col]), int(rows[row]), int(cols[col + kc] - cols[col]),
                          int(rows[row + kr] - rows[row]))
                rate = float(counts.max()) / 2.0
                current = self._open.get(kind)
                if current is None:
                    self._open[kind] = _Open(t, t, rate, area, region)
                else:
                    current.end = t
                    if area > current.area:
                        current.area, current.region = area, region
                    current.rate = max(current.rate, rate)
            elif kind in self._open:
                self._close(kind)

    def _close(self, kind: str) -> None:
        o = self._open.pop(kind)
        self.violations.append(Violation(kind, o.start, o.end, o.rate, o.area, o.region))

    def finish(self) -> list[Violation]:
        """Close any violation still running; returns all of them in time order."""
        for kind in list(self._open):
            self._close(kind)
        return sorted(self.violations, key=lambda v: (v.start_s, v.kind))


def decode_frames(path: str | Path) -> Iterator[tuple[float, np.ndarray]]:
    """``(t, rgb24 pixels)`` for every frame of a video, ``t`` from its timestamps."""
    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FileNotFoundError, FileNotFoundError):
        raise UserError(f"{path}: video file not found") from None
    except av.error.FFmpegError as error:
        raise UserError(f"{path}: cannot open video ({error})") from None
    with container:
        if not container.streams.video:
            raise UserError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else index / rate
                yield t, frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as error:
            raise UserError(f"{path}: cannot decode video ({error})") from None


def analyse_frames(frames: Iterable[tuple[float, np.ndarray]]) -> tuple[list[Violation], int]:
    """Run a :class:`FlashDetector` over ``(t, pixels)`` frames; returns violations, count."""
    detector: FlashDetector | None = None
    for t, pixels in frames:
        if detector is None:
            detector = FlashDetector((pixels.shape[1], pixels.shape[0]))
        detector(t, pixels)
    if detector is None:
        return [], 0
    return detector.finish(), detector.frames


def analyse_video(path: str | Path) -> tuple[list[Violation], int]:
    """Violations in a video file and its frame count."""
    return analyse_frames(decode_frames(path))
