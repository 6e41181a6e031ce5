"""Heart features from a stream of RR intervals (chest straps such as the Polar H10).

Such a stream is irregular: one sample per beat, the value being the interval to the previous
beat (milliseconds for most straps, seconds for some apps), stamped when it arrived. Each
sample is a beat at its own timestamp; the interval goes to the shared
:class:`~installation.features.beats.BeatTracker`, so artefact rules and HRV match the ECG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from installation.features.base import Extractor
from installation.features.beats import BeatSettings, BeatTracker
from installation.features.sampling import ClockSettings
from installation.messages import Event, Status

__all__ = ["RrExtractor", "RrSettings"]


@dataclass(frozen=True, slots=True)
class RrSettings:
    """Settings of :class:`RrExtractor`."""

    channel: int = 0
    unit: Literal["auto", "ms", "s"] = "auto"  # auto: values above 10 are milliseconds
    invalid_hold_s: float = 2.0
    gap_s: float = 5.0  # a pause this long breaks the interval chain
    # Straps send in bursts about once a second: "no beat" only after 5 s.
    beats: BeatSettings = field(default_factory=lambda: BeatSettings(no_beat_s=5.0))
    clock: ClockSettings = field(default_factory=ClockSettings)  # irregular: holds only


class RrExtractor(Extractor):
    """Heart rate, HRV, pulse and phase from an RR-interval stream.

    Values are those of :meth:`BeatTracker.values`; ``events`` holds one ``"beat"`` per RR
    sample (``t`` and ``reported`` both its arrival time: the strap already waited for it).
    """

    kind = "RR"
    regular = False  # one sample per beat: no sample clock

    def __init__(self, settings: RrSettings | None = None, stream: str = "rr") -> None:
        super().__init__(settings or RrSettings(), stream)

    def _reset(self) -> None:
        self._tracker = BeatTracker(self.settings.beats)
        self._last_ts = -math.inf
        self._bad_t = -math.inf
        self._bad_reason = ""

    def _process(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        events: list[Event] = []
        for tb, v in zip(ts.tolist(), x.tolist(), strict=True):
            events.extend(self._one(tb, v))
        return events

    def _values(self, t: float) -> dict[str, float]:
        return self._tracker.values(t)

    def _one(self, tb: float, v: float) -> list[Event]:
        cfg = self.settings
        if not (math.isfinite(tb) and math.isfinite(v)):
            self._bad(tb, "non-finite RR")
            return []
        seconds = v / 1000.0 if cfg.unit == "ms" or (cfg.unit == "auto" and v > 10.0) else v
        if not (0.0 < seconds <= 10.0):
            self._bad(tb, "RR out of range")
            return []
        if tb < self._last_ts or tb - self._last_ts > cfg.gap_s:
            self._tracker.break_chain()  # clock jump back, or a pause: no interval spans it
        self._last_ts = tb
        self._tracker.add_interval(seconds, tb)
        return [Event("beat", t=tb, reported=tb)]

    def _bad(self, tb: float, reason: str) -> None:
        self._bad_t = tb if math.isfinite(tb) else self._last_ts
        self._bad_reason = reason
        self._tracker.break_chain()

    def _ok_since(self) -> float:
        return self._tracker.quality.trusted_since  # the first beat of the trusted run

    def _status(self, t: float) -> tuple[Status, str]:
        cfg = self.settings
        if t - self._bad_t <= cfg.invalid_hold_s:
            return Status.INVALID, self._bad_reason
        return self._tracker.rhythm_status(t)
