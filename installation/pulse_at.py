"""A heartbeat pulse that reaches the screen ``at_s`` after each R-peak.

People who feel their heartbeat place it 131-363 ms after the R-wave, 228 ms on average
(Jones, Jones, Rouse, Scott & Caldwell, "The temporal locations of heartbeat sensations",
Psychophysiology 29, 1992). The detector knows a beat some tens of ms after its R-peak, and a
frame made at engine time ``t`` is presented ``latency_s`` later (render + swap; 0 in a
replay, whose frame time is its presentation time; measured live in the gallery and
rehearsal, :mod:`installation.pipeline_latency`). So a pulse meant to be seen at
``R + at_s`` must start at engine time ``R + at_s - latency_s``:

* when that is later than the beat is known (the measured detection latency), a **delay
  line** on the detected beat places it exactly (``R`` is the R-peak's own sample time);
* when it is earlier, the pulse starts at the **forecast** beat
  (:mod:`installation.features.beat_timing`) while the forecast is confident, and at the
  detected beat if that comes first; while the confidence is low (irregular rhythm, ectopic
  beats, noise) it **falls back** to the detected beat, late but never invented.

Each pulse starts on the frame nearest its target and decays with ``tau_s``, as
``beat_pulse`` does. Hand-written: no library schedules events against a forecast like this.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from installation.features.catalog import PULSE_AT  # one spelling, shared with show checks
from installation.pipeline_latency import PipelineLatency

__all__ = ["PULSE_AT", "BeatPulse", "Fire"]


@dataclass(frozen=True, slots=True)
class Fire:
    """One pulse: started at engine time ``t`` for the beat at ``beat`` (R-peak, detected or
    forecast), ``how`` = ``"delay"``, ``"predicted"``, ``"detected"`` (the detection came
    before a confident forecast) or ``"fallback"`` (no confident forecast)."""

    t: float
    beat: float
    how: str


@dataclass
class BeatPulse:
    """Stateful: ``BeatPulse(at_s, latency_s)(values, t) -> pulse`` (0..1).

    Parameters
    ----------
    at_s
        When after the R-peak the pulse should be seen (s).
    latency_s
        From engine time to presentation (s): subtracted from ``at_s``.
    latency
        The engine's pipeline latency, measured live (:mod:`installation.pipeline_latency`):
        when given, its current figure replaces ``latency_s``.
    tau_s
        Decay time constant of the pulse.
    min_confidence
        Forecast confidence below which the pulse falls back to the detected beat.
    bias_s
        How much later than the forecast beat the pulse aims: a late forecast is cut short by
        the detection (tens of ms after the R-peak), an early one is not, so aiming slightly
        late lowers the error (on MIT-BIH 100 at at_s = 0.02: p95 45 -> 26 ms for 0 -> 20 ms).
    """

    at_s: float
    latency_s: float = 0.0
    tau_s: float = 0.25
    min_confidence: float = 0.5
    bias_s: float = 0.02  # forecast aims late: detection cuts a late one short, not an early one
    latency: PipelineLatency | None = None
    fires: deque[Fire] = field(default_factory=lambda: deque(maxlen=100_000))
    _fired: deque[float] = field(default_factory=lambda: deque(maxlen=3))
    _fired_at: float = math.nan
    _last_t: float = math.nan
    _seen: deque[float] = field(default_factory=lambda: deque(maxlen=9))
    _queue: list[float] = field(default_factory=list)  # detected beats not yet shown
    _last_seen: float = math.nan

    @property
    def lead_s(self) -> float:
        """Engine time after the R-peak at which the pulse must start."""
        return self.at_s - self.presentation_latency_s

    @property
    def presentation_latency_s(self) -> float:
        """From engine time to presentation now: the live figure, or ``latency_s``."""
        return self.latency_s if self.latency is None else self.latency.value

    @property
    def detection_latency_s(self) -> float:
        """How late beats are known, measured (90th percentile of the last nine; 0 before)."""
        return float(np.percentile(self._seen, 90)) if len(self._seen) >= 3 else 0.0

    @property
    def predicting(self) -> bool:
        """True when the target comes before the beat is known: the forecast leads."""
        return self.lead_s < self.detection_latency_s

    def reset(self) -> None:
        """Forget the beats (a new visitor, a seek)."""
        self._fired.clear()
        self._seen.clear()
        self._queue.clear()
        self._fired_at = self._last_t = self._last_seen = math.nan

    def __call__(self, values: Mapping[str, float], t: float) -> float:
        """The pulse at engine time ``t`` from a heart stream's trusted feature ``values``."""
        half = 0.5 * (t - self._last_t) if math.isfinite(self._last_t) else 0.0
        self._last_t = t
        if values.get("beat_count", 0.0) > 0 and "since_beat_s" in values:
            self._consider(values, t, max(half, 0.0))
        if not math.isfinite(self._fired_at):
            return 0.0
        return math.exp(-max(t - self._fired_at, 0.0) / self.tau_s)

    def _consider(self, values: Mapping[str, float], t: float, half: float) -> None:
        r = t - values["since_beat_s"]
        rr = values.get("rr", 0.8)
        if not math.isfinite(self._last_seen) or abs(r - self._last_seen) > 0.5 * rr:
            self._seen.append(t - r)  # a new beat: how late it became known
        self._last_seen = r
        if self._queue and abs(r - self._queue[-1]) <= 0.5 * rr:
            self._queue[-1] = r  # the same beat, its R-peak now located more exactly
        elif not self._same(r, rr):
            self._queue.append(r)
        lead = self.lead_s
        confident = values.get("beat_confidence", 0.0) >= self.min_confidence
        if self.predicting and confident:
            due = t + values.get("next_beat_in_s", math.inf) + self.bias_s
            if not self._same(due, rr) and t >= due + lead - half:
                self._queue = [b for b in self._queue if abs(b - due) > 0.5 * rr]
                self._fire(t, due, "predicted")
                return
        # A delay line: each detected beat waits for its own time (at_s may exceed an RR).
        while self._queue and t >= self._queue[0] + lead - half:
            beat = self._queue.pop(0)
            if t - (beat + lead) > 0.5 * rr:
                continue  # known too late to mean this beat any more (a stream starting up)
            how = "delay" if not self.predicting else ("detected" if confident else "fallback")
            self._fire(t, beat, how)
            return

    def _same(self, beat: float, rr: float) -> bool:
        return any(abs(beat - b) < 0.5 * rr for b in self._fired)

    def _fire(self, t: float, beat: float, how: str) -> None:
        self._fired.append(beat)
        self._fired_at = t
        self.fires.append(Fire(t, beat, how))
