"""The rehearsal's HUD: drawn onto the frame, so what the artist sees is what was rendered.

Lines: where playback is (or LIVE), the visitor's presence and calibration, each stream's
status, the last notice; then, for each control and each feature the mappings read (e.g.
``ecg.heart_rate``), its value and a sparkline of its recent history. The text is scaled to
the frame (Pillow's scalable default font, Pillow >= 10.1; its 8 px bitmap font was too small
to read on a projector-sized window).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from installation.messages import Features, Frame, Status
from installation.show import STATE_STREAM, MappingSpec

HISTORY = 600  # frames of sparkline history kept (the last 200 are drawn)


@lru_cache(maxsize=8)
def hud_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` px (its bitmap font where FreeType is missing)."""
    return ImageFont.load_default(size=size)


def font_size(frame_height: int) -> int:
    """Text height for a frame: about 1/24 of it, never under 11 px."""
    return max(11, frame_height // 24)


def visitor_line(mode: str, state: Features | None) -> str:
    """Presence and calibration, e.g. ``visitor  calibrating 40%`` or ``idle  nobody here``."""
    if state is None:
        return mode
    if state.status is not Status.OK:
        return f"{mode}  {state.reason or state.status.value}"
    if state.reason == "calibrating":
        return f"{mode}  calibrating {100 * state.values.get('calibrated', 0.0):.0f}%"
    return f"{mode}  calibrated"


class Hud:
    """Keeps the plotted history and draws the overlay."""

    def __init__(self) -> None:
        self.visible = True
        self.history: deque[tuple[float, Mapping[str, float]]] = deque(maxlen=HISTORY)

    def record(self, t: float, controls: Mapping[str, float],
               features: Mapping[str, Features], mappings: Iterable[MappingSpec]) -> None:
        """Remember the controls and the features the mappings read, as received."""
        plotted = dict(controls)
        for mapping in mappings:
            source = features.get(mapping.stream)
            value = None if source is None else source.values.get(mapping.feature_name)
            if value is not None and np.isfinite(value):
                plotted[mapping.feature] = float(value)
        self.history.append((t, plotted))

    def draw(self, frame: Frame, lines: Sequence[str], names: Sequence[str],
             top: int = 0) -> Frame:
        """``frame`` with ``lines`` of text and a value and sparkline for each of ``names``,
        from ``top`` px down (below an error bar)."""
        image = Image.fromarray(frame.pixels)
        draw = ImageDraw.Draw(image, "RGBA")
        size = font_size(image.height)
        font = hud_font(size)
        step = size + 4
        labels = [name[-16:] for name in names]
        value_x = 8 + max([draw.textlength(label, font=font) for label in labels] or [0.0])
        value_w = draw.textlength("-0000.00", font=font)
        spark_x, spark_w = value_x + value_w + size // 2, 8 * size
        width = max([draw.textlength(line, font=font) for line in lines] or [0.0])
        width = min(image.width, int(max(width, spark_x + spark_w if names else 0) + 8))
        height = min(image.height, top + step * (len(lines) + len(names)) + 8)
        draw.rectangle((0, top, width, height), fill=(0, 0, 0, 160))
        for i, line in enumerate(lines):
            draw.text((4, top + 3 + step * i), line, fill=(255, 255, 255), font=font)
        y = top + step * len(lines) + 4
        history = list(self.history)[-200:]
        for j, (name, label) in enumerate(zip(names, labels, strict=True)):
            y0 = y + step * j
            now = history[-1][1].get(name) if history else None
            value = f"{now:.2f}" if now is not None else "--"
            draw.text((4, y0), label, fill=(220, 220, 220), font=font)
            right = value_x + value_w - draw.textlength(value, font=font)  # right-aligned
            draw.text((right, y0), value, fill=(220, 220, 220), font=font)
            values = [h[name] for _, h in history if name in h]
            if len(values) > 1:
                lo, hi = min(values), max(values)
                span = hi - lo if hi > lo else 1.0
                points = [(spark_x + spark_w * k / (len(values) - 1),
                           y0 + size - (size - 2) * (v - lo) / span)
                          for k, v in enumerate(values)]
                draw.line(points, fill=(120, 220, 255), width=max(1, size // 12))
        return Frame(index=frame.index, t=frame.t, pixels=np.asarray(image))


def status_line(features: Mapping[str, Features]) -> str:
    """Each stream's status, e.g. ``ecg:ok  eeg:stale``."""
    return "  ".join(f"{k}:{f.status.value}" for k, f in features.items() if k != STATE_STREAM)
