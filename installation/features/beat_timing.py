"""The next heartbeat, forecast from the recent beats, with a confidence that knows its limits.

Every heart source (ECG R-peaks, PPG pulse peaks, RR streams) feeds its beat times to a
:class:`BeatPredictor` through :class:`~installation.features.beats.BeatTracker`. The forecast
is the simplest one that holds up on real data: the next beat comes one *latest* RR interval
after the last beat. On MIT-BIH record 100 (sinus rhythm, 30 min) that forecast misses the next
R-peak by 19 ms at the median and 53 ms at the 95th percentile; least-squares AR(1..6) models
over the last 20 or 40 intervals do no better (17-18 ms / 53-54 ms, measured with the
annotations), because what is left is the beat-to-beat variability itself.

The confidence is the predictor's own record: the RMS of its last ``error_beats`` forecast
errors, turned into 0..1 by ``exp(-(rms / tolerance)^2 / 2)``. An ectopic beat (premature,
then a compensatory pause), an irregular rhythm or a noisy lead that makes extra or missed
detections all produce large errors, so the confidence collapses for the next beats and a
piece falls back to the detected beat; it recovers as soon as the rhythm is regular again.
A beat overdue by more than half an interval (missed, or the rhythm stopped) also sets it to 0.

Beat timing, predicted and detected, reaches the screen through a mapping with ``at_s``
(:mod:`installation.mapping`, feature ``pulse_at``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["BeatPredictor", "PredictorSettings"]


@dataclass(frozen=True, slots=True)
class PredictorSettings:
    """Settings of :class:`BeatPredictor` (times in seconds)."""

    error_beats: int = 6  # forecast errors behind the confidence
    min_errors: int = 3  # no confidence before this many forecasts were checked
    tolerance_s: float = 0.04  # RMS error at which the confidence is exp(-1/2) = 0.61
    rr_min_s: float = 0.25
    rr_max_s: float = 3.0


class BeatPredictor:
    """Forecasts the next beat from the beat times seen so far (causal).

    Parameters
    ----------
    settings
        Frozen settings.
    """

    def __init__(self, settings: PredictorSettings | None = None) -> None:
        self.settings = settings or PredictorSettings()
        self._errors: deque[float] = deque(maxlen=self.settings.error_beats)
        self._last = math.nan  # time of the last beat
        self._rr = math.nan  # latest plausible interval: the forecast RR
        self._due = math.nan  # forecast of the beat after _last

    def break_chain(self) -> None:
        """A gap or reset: the next beat starts a new series (no interval, no error)."""
        self._last = math.nan
        self._due = math.nan
        self._errors.clear()

    def add_beat(self, t: float) -> None:
        """Record a beat at time ``t``: check the last forecast against it, forecast the next."""
        cfg = self.settings
        if math.isfinite(self._due):
            self._errors.append(t - self._due)
        if math.isfinite(self._last) and t > self._last:
            rr = t - self._last
            if cfg.rr_min_s <= rr <= cfg.rr_max_s:
                self._rr = rr
            else:  # an impossible interval: the series is broken, trust nothing yet
                self._errors.clear()
        self._last = t
        self._due = t + self._rr if math.isfinite(self._rr) else math.nan

    @property
    def rms_error(self) -> float:
        """RMS of the recent forecast errors (s); NaN before any."""
        if not self._errors:
            return math.nan
        return math.sqrt(sum(e * e for e in self._errors) / len(self._errors))

    def confidence(self, t: float) -> float:
        """How far the forecast can be trusted at time ``t`` (0..1)."""
        cfg = self.settings
        if len(self._errors) < cfg.min_errors or not math.isfinite(self._due):
            return 0.0
        if t > self._due + 0.5 * self._rr:
            return 0.0  # overdue: a missed beat or no rhythm
        return math.exp(-0.5 * (self.rms_error / cfg.tolerance_s) ** 2)

    def values(self, t: float, neutral_rr: float) -> dict[str, float]:
        """Prediction features at time ``t`` (all finite).

        Returns
        -------
        dict
            ``next_beat_in_s``: seconds until the forecast next beat (negative while it is due
            but not yet detected; ``neutral_rr`` before any forecast), ``beat_phase_pred``:
            0..1 through the forecast interval (0 at the last beat, 1 at the forecast one),
            ``beat_confidence``: 0..1.
        """
        if not math.isfinite(self._due):
            return {"next_beat_in_s": neutral_rr, "beat_phase_pred": 0.0, "beat_confidence": 0.0}
        phase = min(max((t - self._last) / self._rr, 0.0), 1.0 - 1e-9)
        return {
            "next_beat_in_s": self._due - t,
            "beat_phase_pred": phase,
            "beat_confidence": self.confidence(t),
        }
