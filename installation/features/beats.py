"""From beat times to heart features: artefact-corrected heart rate, rolling HRV, pulse, phase.

Shared by every heart source (ECG R-peaks, PPG pulse peaks, RR-interval streams) so they
report the same values with the same rules.

Artefact rules (a simplified form of the Kubios / Lipponen & Tarvainen idea: compare each RR
interval with a running median of recent accepted ones):

* An RR outside ``rr_min_s .. rr_max_s`` is rejected.
* An RR within ``outlier_fraction`` of the running median is accepted.
* An RR close to ``k`` times the median (``k`` = 2, 3) is a *missed* beat: it is replaced by
  ``k`` intervals of ``RR / k`` for the heart rate (not for HRV, which must not see invented
  intervals).
* An ectopic beat's short-long pair whose sum is about two median intervals becomes two
  intervals of half the sum, and an extra detection's two short intervals whose sum is about one
  median interval become that one interval (Kubios-like interpolation: the mean rate is kept,
  the HRV sees neither).
* Anything else is rejected.
* ``accept_run`` rejected intervals in a row that agree with each other are a real change of
  rhythm (exercise, a startle): they are accepted and become the new reference.

Heart rate is ``60 / mean`` of the last ``hr_beats`` accepted (corrected) intervals: outliers
never reach it, so one bad beat cannot make it jump, and the mean (unlike a median) follows the
annotation convention ``60 / mean(RR)`` without a step lag.

HRV uses only *normal-to-normal* intervals: SDNN over the last ``hrv_window_s``,
RMSSD over successive differences of adjacent accepted intervals in the same window.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

import numpy as np

from installation.features.beat_timing import BeatPredictor, PredictorSettings
from installation.messages import Status

__all__ = ["BeatSettings", "BeatTracker"]


@dataclass(frozen=True, slots=True)
class BeatSettings:
    """Settings of :class:`BeatTracker` (times in seconds)."""

    rr_min_s: float = 0.25
    rr_max_s: float = 3.0
    hr_beats: int = 5  # heart rate = 60 / mean of the last hr_beats accepted RR
    median_beats: int = 9  # reference for the artefact rules
    outlier_fraction: float = 0.25
    accept_run: int = 3
    hrv_window_s: float = 60.0
    hrv_min_intervals: int = 10
    pulse_tau_s: float = 0.25
    neutral_heart_rate: float = 70.0


class BeatTracker:
    """Accumulates beat times and turns them into heart features.

    Parameters
    ----------
    settings
        Frozen settings.
    """

    def __init__(self, settings: BeatSettings | None = None) -> None:
        self.settings = settings or BeatSettings()
        cfg = self.settings
        self._hr_rr: deque[float] = deque(maxlen=max(cfg.hr_beats, cfg.median_beats))
        # Normal-to-normal intervals: (time of the later beat, rr, adjacent to the previous NN).
        self._nn: deque[tuple[float, float, bool]] = deque()
        self._rejected: list[float] = []
        self._held = math.nan  # an outlier waiting for the next interval (ectopic pairs)
        self._hrv_cache: tuple[int, tuple[float, float]] = (-1, (0.0, 0.0))
        self._nn_version = 0
        self._last_nn_t = math.nan  # time of the NN interval accepted just before, if any
        self._last_beat = math.nan
        self._last_rr = math.nan
        self._chain = False  # the previous interval was accepted as NN
        self._broken = False  # the next beat starts no interval (after a gap or reset)
        self.beat_count = 0
        self.artefacts = 0
        self.predictor = BeatPredictor(PredictorSettings(rr_min_s=cfg.rr_min_s,
                                                         rr_max_s=cfg.rr_max_s))

    # ------------------------------------------------------------------ input
    @property
    def last_beat(self) -> float:
        """Time of the latest beat (NaN before the first)."""
        return self._last_beat

    @property
    def median_rr(self) -> float:
        """Median of recent accepted RR intervals (s), NaN before the first."""
        return statistics.median(self._hr_rr) if self._hr_rr else math.nan

    @property
    def has_rate(self) -> bool:
        return bool(self._hr_rr)

    def rhythm_status(self, since: float, no_beat_s: float) -> tuple[Status, str]:
        """The health every heart source reports: ``stale`` while no rate is known yet or no
        beat came for ``no_beat_s`` (``since``: seconds since the last beat, inf if none)."""
        if math.isfinite(since) and since > no_beat_s:
            return Status.STALE, f"no beat for {since:.0f} s"
        if not self.has_rate or since > no_beat_s:
            return Status.STALE, "warming up"
        return Status.OK, ""

    def break_chain(self) -> None:
        """The next beat must not form an interval with the previous one (a gap, a reset)."""
        self._broken = True
        self._chain = False
        self.predictor.break_chain()

    def add_beat(self, t: float) -> None:
        """Record a beat at time ``t`` (the interval to the previous beat, if any, is judged)."""
        prev = self._last_beat
        self._last_beat = t
        self.beat_count += 1
        self.predictor.add_beat(t)
        broken, self._broken = self._broken, False
        if not broken and math.isfinite(prev) and t > prev:
            self.add_rr(t - prev, t)

    def add_interval(self, rr: float, t: float) -> None:
        """Record a beat at ``t`` known only by its interval ``rr`` (s) to the previous one."""
        self._last_beat = t
        self.beat_count += 1
        self.predictor.add_beat(t)
        broken, self._broken = self._broken, False
        if not broken:
            self.add_rr(rr, t)

    def add_rr(self, rr: float, t: float) -> None:
        """Judge one RR interval (s) ending at time ``t``; see the module notes for the rules."""
        cfg = self.settings
        held, self._held = self._held, math.nan
        if not (cfg.rr_min_s <= rr <= cfg.rr_max_s):
            self._outlier(rr)
            return
        ref = self.median_rr
        tol = cfg.outlier_fraction * ref
        if len(self._hr_rr) < 3 or abs(rr - ref) <= tol:
            self._accept(rr, t)
            return
        after_nn = self._nn and self._nn[-1][0] == self._last_nn_t
        self._outlier(rr)
        if self._new_rhythm():
            return
        self._chain = False
        if math.isfinite(held):
            pair = held + rr
            for parts in (2, 1):  # ectopic short-long pair; extra beat splitting one interval
                if abs(pair / parts - ref) <= tol:
                    self._hr_rr.extend([pair / parts] * parts)
                    return
        elif after_nn and abs(self._nn[-1][1] + rr - 2 * ref) <= 0.5 * tol:
            # A mildly premature beat passed as normal; its compensatory pause did not. Both
            # intervals become their mean, and leave the HRV.
            half = 0.5 * (self._nn.pop()[1] + rr)
            self._hr_rr[-1] = half
            self._hr_rr.append(half)
            self._nn_version += 1
            return
        k = round(rr / ref)
        if k in (2, 3) and abs(rr / k - ref) <= tol:
            self._hr_rr.extend([rr / k] * k)  # a missed beat: rate only, never HRV
            return
        self._held = rr

    def _accept(self, rr: float, t: float) -> None:
        self._hr_rr.append(rr)
        self._nn.append((t, rr, self._chain))
        self._last_nn_t = t
        self._chain = True
        self._last_rr = rr
        self._rejected.clear()
        self._nn_version += 1
        horizon = t - self.settings.hrv_window_s
        while self._nn and self._nn[0][0] < horizon:
            self._nn.popleft()

    def _outlier(self, rr: float) -> None:
        self.artefacts += 1
        self._chain = False
        self._last_nn_t = math.nan
        self._rejected.append(rr)

    def _new_rhythm(self) -> bool:
        """Outliers in a row that agree with each other are a real change, not artefacts."""
        cfg = self.settings
        run = self._rejected[-cfg.accept_run :]
        if len(run) < cfg.accept_run or not (cfg.rr_min_s <= min(run) <= max(run) <= cfg.rr_max_s):
            return False
        m = statistics.median(run)
        if any(abs(r - m) > cfg.outlier_fraction * m for r in run):
            return False
        self._hr_rr.clear()
        self._hr_rr.extend(run)
        self._last_rr = run[-1]
        self._rejected.clear()
        self.artefacts -= len(run)
        return True

    # ------------------------------------------------------------------ output
    def values(self, t: float) -> dict[str, float]:
        """Heart features at time ``t`` (all finite; neutral defaults before enough beats).

        Returns
        -------
        dict
            ``heart_rate`` (bpm), ``rr`` (s, latest accepted), ``hrv_rmssd`` and ``hrv_sdnn``
            (ms, 0 until ``hrv_min_intervals`` NN intervals exist in the window),
            ``beat_pulse`` (1 at a beat, decaying), ``beat_phase`` (0..1 between beats),
            ``beat_count``, ``since_beat_s`` (s since the latest beat; 0 before the first),
            and the forecast of :meth:`BeatPredictor.values`: ``next_beat_in_s``,
            ``beat_phase_pred``, ``beat_confidence``.
        """
        cfg = self.settings
        recent = list(self._hr_rr)[-cfg.hr_beats :]
        rr = statistics.fmean(recent) if recent else 60.0 / cfg.neutral_heart_rate
        since = t - self._last_beat if math.isfinite(self._last_beat) else math.inf
        pulse = math.exp(-max(since, 0.0) / cfg.pulse_tau_s) if math.isfinite(since) else 0.0
        phase = min(max(since / rr, 0.0), 1.0 - 1e-9) if math.isfinite(since) else 0.0
        rmssd, sdnn = self.hrv(t)
        return self.predictor.values(t, rr) | {
            "since_beat_s": max(since, 0.0) if math.isfinite(since) else 0.0,
            "heart_rate": 60.0 / rr,
            "rr": self._last_rr if math.isfinite(self._last_rr) else rr,
            "hrv_rmssd": rmssd,
            "hrv_sdnn": sdnn,
            "beat_pulse": pulse,
            "beat_phase": phase,
            "beat_count": float(self.beat_count),
        }

    def hrv(self, t: float) -> tuple[float, float]:
        """``(RMSSD, SDNN)`` in ms over the NN intervals of the last ``hrv_window_s``."""
        # Recomputed only when an interval arrives: values() runs on every chunk.
        if self._hrv_cache[0] == self._nn_version:
            return self._hrv_cache[1]
        result = self._hrv(t)
        self._hrv_cache = (self._nn_version, result)
        return result

    def _hrv(self, t: float) -> tuple[float, float]:
        cfg = self.settings
        nn = [(rr, chained) for tb, rr, chained in self._nn if tb >= t - cfg.hrv_window_s]
        if len(nn) < cfg.hrv_min_intervals:
            return 0.0, 0.0
        rr = np.array([r for r, _ in nn])
        chained = np.array([c for _, c in nn[1:]], dtype=bool)
        diffs = np.diff(rr)[chained]
        rmssd = float(np.sqrt(np.mean(diffs**2))) * 1e3 if diffs.size else 0.0
        return rmssd, float(np.std(rr, ddof=1)) * 1e3
