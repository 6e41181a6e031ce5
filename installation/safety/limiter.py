"""The last stage before the projector: no more than three flashes per second, ever.

The limiter measures every frame exactly as the analyser does (``flashes.CellGrid``) and
keeps, per cell, the transitions of the last second. While a cell still has budget, the
frame passes untouched. Once a cell's budget is spent, the frame is blended towards the
previous output just enough that the cell's luminance and red value stay inside the band
that makes no new transition. The result is measured again; if any spent cell would still
transition, the blend is tightened, and as a last resort the previous output is held,
which can never make a transition. So the guarantee does not rest on the blend's accuracy.

It works on the read-back frame with numpy: the same frame goes to the window, the video
and the tests, and on a 2-core llvmpipe machine this costs a few milliseconds a frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from installation.messages import Frame
from installation.safety.flashes import (
    DARKER_BELOW,
    DEFAULT_GRID,
    LUMINANCE_STEP,
    RED_STEP,
    CellGrid,
    CellMeasure,
    TransitionTracker,
    WindowCounter,
)


@dataclass(frozen=True)
class LimiterSettings:
    """How strict the limiter is; the defaults keep a margin under WCAG's limits.

    Parameters
    ----------
    transitions_per_s
        Transitions a cell may make in any second (WCAG allows 6, i.e. 3 flashes; the
        margin absorbs video compression and measurement differences).
    strictness
        Factor (<= 1) on the WCAG luminance and red steps: the limiter counts smaller
        changes as transitions than the analyser does.
    darker_margin
        Added to WCAG's 0.80 "darker state" limit, so that a frame the limiter keeps just
        bright enough not to count still does after video compression.
    grid
        Measuring grid ``(columns, rows)``, as the analyser's.
    """

    transitions_per_s: int = 4
    strictness: float = 0.8
    darker_margin: float = 0.05
    grid: tuple[int, int] = DEFAULT_GRID


@dataclass
class FlashLimiter:
    """Stateful stage: ``FlashLimiter()(frame) -> frame`` with flashing held to the budget."""

    settings: LimiterSettings = field(default_factory=LimiterSettings)
    limited_frames: int = field(default=0, init=False)  # frames it changed (status file)

    def __post_init__(self) -> None:
        self._size: tuple[int, int] | None = None

    def _start(self, size: tuple[int, int]) -> None:
        # State resets when the frame size changes (a new output), as ezmsg stages do.
        s = self.settings
        self._size = size
        self._cells = CellGrid(size, s.grid)
        shape = self._cells.shape
        self._lum = TransitionTracker(
            shape, LUMINANCE_STEP * s.strictness, DARKER_BELOW + s.darker_margin)
        self._red = TransitionTracker(shape, RED_STEP * s.strictness, np.inf)
        self._lum_count = WindowCounter(shape)
        self._red_count = WindowCounter(shape)
        self._prev: np.ndarray | None = None
        self._prev_measure: CellMeasure | None = None
        self._interp = _bilinear_weights(size, self._cells)

    def __call__(self, frame: Frame) -> Frame:
        pixels = frame.pixels
        size = (pixels.shape[1], pixels.shape[0])
        if size != self._size:
            self._start(size)
        t = frame.t
        spent_lum = self._lum_count.advance(t) >= self.settings.transitions_per_s
        spent_red = self._red_count.advance(t) >= self.settings.transitions_per_s
        measure = self._cells.measure(pixels)
        out = pixels
        if self._prev is not None and self._violates(measure, spent_lum, spent_red).any():
            out, measure = self._limit(pixels, measure, spent_lum, spent_red)
            self.limited_frames += 1
        self._lum_count.add(t, self._lum.update(measure.luminance))
        self._red_count.add(t, self._red.update(measure.red))
        self._prev, self._prev_measure = out, measure
        if out is pixels:
            return frame
        return Frame(index=frame.index, t=frame.t, pixels=out)

    def _violates(self, m: CellMeasure, spent_lum: np.ndarray, spent_red: np.ndarray
                  ) -> np.ndarray:
        lum = np.logical_or(*self._lum.peek(m.luminance)) & spent_lum
        red = np.logical_or(*self._red.peek(m.red)) & spent_red
        return lum | red

    def _limit(self, pixels: np.ndarray, m: CellMeasure, spent_lum: np.ndarray,
               spent_red: np.ndarray) -> tuple[np.ndarray, CellMeasure]:
        assert self._prev is not None and self._prev_measure is not None
        prev = self._prev
        alpha = np.minimum(
            _allowed_mix(self._lum, self._prev_measure.luminance, m.luminance, spent_lum),
            _allowed_mix(self._red, self._prev_measure.red, m.red, spent_red),
        )
        for _ in range(3):
            out = _blend(prev, pixels, self._interp, alpha)
            measured = self._cells.measure(out)
            bad = self._violates(measured, spent_lum, spent_red)
            if not bad.any():
                return out, measured
            alpha = np.where(bad, alpha * 0.5, alpha)
        return prev, self._prev_measure


def _allowed_mix(tracker: TransitionTracker, before: np.ndarray, after: np.ndarray,
                 spent: np.ndarray) -> np.ndarray:
    """Per cell, how far (0..1) to move from ``before`` to ``after`` staying inside the band."""
    lo, hi = tracker.band()
    margin = 0.25 * tracker.step
    target = np.clip(after, lo + margin, hi - margin)
    delta = after - before
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(np.abs(delta) > 1e-6, (target - before) / delta, 1.0)
    alpha = np.clip(np.nan_to_num(alpha, nan=0.0), 0.0, 1.0)
    return np.where(spent, alpha, 1.0).astype(np.float32)


def _bilinear_weights(size: tuple[int, int], cells: CellGrid) -> tuple[np.ndarray, np.ndarray]:
    """Matrices that spread a cell map over the frame: ``wy @ map @ wx.T``."""
    def axis(n_px: int, edges: np.ndarray) -> np.ndarray:
        centres = (edges[:-1] + edges[1:]) / 2.0
        px = np.arange(n_px) + 0.5
        eye = np.eye(len(centres), dtype=np.float32)
        return np.stack([np.interp(px, centres, eye[i]) for i in range(len(centres))], axis=1)

    return (axis(size[1], cells.row_px).astype(np.float32),
            axis(size[0], cells.col_px).astype(np.float32))


def _blend(prev: np.ndarray, current: np.ndarray, interp: tuple[np.ndarray, np.ndarray],
           alpha: np.ndarray) -> np.ndarray:
    # A 3x3 minimum first: bilinear spreading then never gives a spent cell more change than
    # its own alpha, because its neighbours' values are no larger than its own.
    padded = np.pad(alpha, 1, mode="edge")
    rows, cols = alpha.shape
    eroded = np.min([padded[i:i + rows, j:j + cols] for i in range(3) for j in range(3)], axis=0)
    wy, wx = interp
    # Fixed point in int16, 7 bits of alpha: a quarter of the float32 version's time on a
    # 960x540 frame (21 vs 82 ms on the shared 2-core machine; the piece's beats make the
    # limiter act on ~1 frame in 5). Alpha is floored to 1/128, so a pixel never moves
    # further towards the new frame than the float blend allowed; |d| * 128 <= 32640 fits.
    a = (wy @ eroded.astype(np.float32) @ wx.T) * 128.0
    a7 = a.astype(np.int16)[..., None]
    base = prev.astype(np.int16)
    d = current.astype(np.int16)
    d -= base
    d *= a7
    d += 64  # rounds the step to the nearest level
    d >>= 7
    d += base
    return d.astype(np.uint8)
