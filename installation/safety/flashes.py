"""Flash measurement after WCAG 2.3.1 (three flashes or below threshold).

Definitions (W3C, "general flash and red flash thresholds"):

- A *general flash* is a pair of opposing changes in relative luminance of 10% or more of
  the maximum relative luminance (1.0), where the darker state is below 0.80.
- A *red flash* is a pair of opposing transitions involving a saturated red: a pixel is
  saturated red when ``R / (R + G + B) >= 0.8``; its red value is ``(R - G - B) * 320``
  (clamped at 0) and a transition is a change of more than 20 in it. R, G, B are the
  linearised sRGB channels, as in the relative-luminance formula.
- Content fails when more than three flashes of either kind happen in any one-second period
  over a "large area": more than 25% of any 10 degree visual field, which W3C sizes as
  341 x 256 px on a 1024 x 768 screen, i.e. one third of the frame's width and height.

No maintained Python library implements this (PEAT and EA's IRIS are a Windows tool and a
C++ library), so it is hand-written here, shared by the analyser (``check-flashes``) and the
limiter, which must agree on what a flash is.

How it is measured: the frame is divided into a grid of cells; each cell's mean relative
luminance and mean red value go through a transition tracker (extremum to opposing
extremum), and transitions are counted over a sliding one-second window. A 10 degree field
is a block of one third of the cells in each direction; it fails when more than 25% of its
cells have had more than 6 transitions (3 flashes) in the last second. Cell means make this
blind to flicker finer than a cell (a fine checkerboard inverting), which is a known,
documented limit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

# W3C thresholds.
LUMINANCE_STEP = 0.10
DARKER_BELOW = 0.80
RED_STEP = 20.0
RED_SATURATION = 0.8
MAX_TRANSITIONS_PER_S = 6  # three flashes = six opposing transitions
AREA_FRACTION = 0.25
FIELD_FRACTION = 1.0 / 3.0  # 341/1024 x 256/768 of the frame

DEFAULT_GRID = (24, 24)  # (columns, rows): a 10 degree field is 8 x 8 cells
MEASURE_WIDTH = 480  # frames wider than this are measured on a strided subsample

_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def _srgb_to_linear_lut() -> np.ndarray:
    c = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


SRGB_TO_LINEAR = _srgb_to_linear_lut()


@dataclass(frozen=True)
class CellMeasure:
    """Per-cell means of one frame: relative luminance (0..1) and red value (0..320)."""

    luminance: np.ndarray  # (rows, cols) float32
    red: np.ndarray  # (rows, cols) float32


class CellGrid:
    """Splits frames of one size into cells and measures them.

    Parameters
    ----------
    size
        Frame ``(width, height)``.
    grid
        ``(columns, rows)``; clipped so that every cell holds at least one measured pixel.
    """

    def __init__(self, size: tuple[int, int], grid: tuple[int, int] = DEFAULT_GRID) -> None:
        width, height = int(size[0]), int(size[1])
        self.size = (width, height)
        self.stride = max(1, -(-width // MEASURE_WIDTH))
        w = -(-width // self.stride)
        h = -(-height // self.stride)
        cols, rows = min(grid[0], w), min(grid[1], h)
        self.shape = (rows, cols)
        self._row_edges = (np.arange(rows) * h) // rows
        self._col_edges = (np.arange(cols) * w) // cols
        row_n = np.diff(np.append(self._row_edges, h))
        col_n = np.diff(np.append(self._col_edges, w))
        self._counts = np.outer(row_n, col_n).astype(np.float32)
        # Cell boundaries in full-resolution pixels, for reporting where a flash is.
        self.row_px = np.append(self._row_edges * self.stride, height).clip(max=height)
        self.col_px = np.append(self._col_edges * self.stride, width).clip(max=width)

    def _cell_mean(self, values: np.ndarray) -> np.ndarray:
        summed = np.add.reduceat(np.add.reduceat(values, self._row_edges, axis=0),
                                 self._col_edges, axis=1)
        return summed / self._counts

    def measure(self, pixels: np.ndarray) -> CellMeasure:
        """Measure an sRGB ``(h, w, 3)`` uint8 frame."""
        if pixels.shape[:2] != (self.size[1], self.size[0]):
            raise ValueError(f"frame is {pixels.shape[1]}x{pixels.shape[0]}, grid is for"
                             f" {self.size[0]}x{self.size[1]}")
        sub = pixels[:: self.stride, :: self.stride]
        lin = SRGB_TO_LINEAR[sub]
        lum = lin @ _WEIGHTS
        r, g, b = lin[..., 0], lin[..., 1], lin[..., 2]
        total = r + g + b
        saturated = r >= RED_SATURATION * total
        red = np.where(saturated & (total > 0), np.maximum(r - g - b, 0.0) * 320.0, 0.0)
        return CellMeasure(self._cell_mean(lum), self._cell_mean(red.astype(np.float32)))


class TransitionTracker:
    """Counts opposing transitions of one quantity per cell.

    A transition is a move of at least ``step`` from the last extremum, opposite to the
    previous transition; for luminance the darker end must be below ``darker_below``.

    Parameters
    ----------
    shape
        Cell grid shape.
    step
        Smallest change that counts as a transition.
    darker_below
        The darker state of a transition must be below this (``inf``: no condition).
    """

    def __init__(self, shape: tuple[int, int], step: float, darker_below: float) -> None:
        self.step = float(step)
        self.darker_below = float(darker_below)
        self.peak: np.ndarray | None = None
        self.trough: np.ndarray | None = None
        self.direction = np.zeros(shape, dtype=np.int8)

    def peek(self, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rise, fall)`` masks of transitions ``value`` would make; state unchanged."""
        if self.peak is None or self.trough is None:
            none = np.zeros(value.shape, dtype=bool)
            return none, none
        peak = np.maximum(self.peak, value)
        trough = np.minimum(self.trough, value)
        rise = (self.direction != 1) & (value - trough >= self.step)
        rise &= trough < self.darker_below
        fall = (self.direction != -1) & (peak - value >= self.step) & (value < self.darker_below)
        fall &= ~rise
        return rise, fall

    def update(self, value: np.ndarray) -> np.ndarray:
        """Take the next frame's values; returns the mask of cells that made a transition."""
        rise, fall = self.peek(value)
        if self.peak is None or self.trough is None:
            self.peak = value.copy()
            self.trough = value.copy()
            return rise
        np.maximum(self.peak, value, out=self.peak)
        np.minimum(self.trough, value, out=self.trough)
        moved = rise | fall
        self.direction[rise] = 1
        self.direction[fall] = -1
        self.peak[moved] = value[moved]
        self.trough[moved] = value[moved]
        return moved

    def band(self) -> tuple[np.ndarray, np.ndarray]:
        """Per cell, the open interval of values that would make no transition now."""
        assert self.peak is not None and self.trough is not None
        # A fall needs value <= peak - step and value < darker_below: either keeps it away.
        lo = np.where(self.direction == -1, -np.inf,
                      np.minimum(self.peak - self.step, self.darker_below))
        # A rise needs value >= trough + step from a trough below darker_below.
        hi = np.where((self.direction == 1) | (self.trough >= self.darker_below),
                      np.inf, self.trough + self.step)
        return lo, hi


class WindowCounter:
    """Transitions per cell over the last ``window_s`` seconds (sliding, by frame time)."""

    def __init__(self, shape: tuple[int, int], window_s: float = 1.0) -> None:
        self.window_s = window_s
        self.counts = np.zeros(shape, dtype=np.int32)
        self._events: deque[tuple[float, np.ndarray]] = deque()

    def advance(self, t: float) -> np.ndarray:
        """Drop transitions that left the window ending at ``t``; returns the counts."""
        while self._events and self._events[0][0] <= t - self.window_s + 1e-9:
            self.counts -= self._events.popleft()[1]
        return self.counts

    def add(self, t: float, mask: np.ndarray) -> np.ndarray:
        """Count the transitions in ``mask`` at time ``t``; returns the counts."""
        self.advance(t)
        if mask.any():
            event = mask.astype(np.int32)
            self._events.append((t, event))
            self.counts += event
        return self.counts


def field_blocks(shape: tuple[int, int]) -> tuple[int, int]:
    """Cells ``(rows, cols)`` of one 10 degree visual field on a grid of ``shape``."""
    return max(1, round(shape[0] * FIELD_FRACTION)), max(1, round(shape[1] * FIELD_FRACTION))


def worst_field(flashing: np.ndarray) -> tuple[float, int, int]:
    """Largest fraction of any 10 degree field covered by ``flashing`` cells.

    Returns
    -------
    tuple
        ``(fraction, row, col)``: the fraction and the field's top-left cell.
    """
    kr, kc = field_blocks(flashing.shape)
    c = np.pad(flashing.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    box = c[kr:, kc:] - c[:-kr, kc:] - c[kr:, :-kc] + c[:-kr, :-kc]
    row, col = np.unravel_index(int(np.argmax(box)), box.shape)
    return float(box[row, col]) / (kr * kc), int(row), int(col)
