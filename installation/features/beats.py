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

Signal quality (``quality.py``) is judged here too, for every source alike: a beat reaches the
rate and HRV only while the source is trusted. Otherwise the values hold the last trustworthy
ones, and the status says why (``warming up``, ``noisy``, ``irregular``). When trust is
(re)gained, the rate restarts from the intervals of the run of beats that earned it, so no
noise interval survives into it: the rate is right from the first trusted beat.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from installation.features.beat_timing import BeatPredictor, PredictorSettings
from installation.features.quality import BeatQuality, QualitySettings
from installation.messages import Status

__all__ = ["BeatSettings", "BeatTracker"]

_HELD = ("heart_rate", "rr", "hrv_rmssd", "hrv_sdnn")  # frozen while the source is not trusted


@dataclass(frozen=True, slots=True)
class BeatSettings:
    """Settings of :class:`BeatTracker` (times in seconds)."""

    rr_min_s: float = 0.25
    rr_max_s: float = 3.0
    hr_beats: int = 5  # heart rate = 60 / mean of the last hr_beats accepted RR
    median_beats: int = 9  # reference for the artefact rules
    outlier_fraction: float = 0.25
    accept_run: int = 3
    rhythm_change: tuple[float, float] = (0.6, 1.67)  # a new rhythm's RR vs the old one's
    hrv_window_s: float = 60.0
    hrv_min_intervals: int = 10
    pulse_tau_s: float = 0.25
    neutral_heart_rate: float = 70.0
    no_beat_s: float = 3.0  # no beat for this long: stale ("no beat for N s")
    quality: QualitySettings = field(default_factory=QualitySettings)


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
        self._held_rr = math.nan  # an outlier waiting for the next interval (ectopic pairs)
        self._hrv_cache: tuple[int, tuple[float, float]] = (-1, (0.0, 0.0))
        self._nn_version = 0
        self._last_nn_t = math.nan  # time of the NN interval accepted just before, if any
        self._last_beat = math.nan
        self._last_rr = math.nan
        self._chain = False  # the previous interval was accepted as NN
        self._broken = False  # the next beat starts no interval (after a gap or reset)
        self.beat_count = 0
        self.artefacts = 0
        self.quality = BeatQuality(cfg.quality)
        self._detected = math.nan  # the latest beat of any kind (for "no beat for N s")
        self._judge_broken = True  # the next beat has no interval for the quality judge
        self._held: dict[str, float] = {}  # the values at the last trusted beat
        self.predictor = BeatPredictor(PredictorSettings(rr_min_s=cfg.rr_min_s,
                                                         rr_max_s=cfg.rr_max_s))

    # ------------------------------------------------------------------ input
    @property
    def last_beat(self) -> float:
        """Time of the latest detected beat, trusted or not (NaN before the first)."""
        return self._detected

    @property
    def median_rr(self) -> float:
        """Median of recent accepted RR intervals (s), NaN before the first."""
        return statistics.median(self._hr_rr) if self._hr_rr else math.nan

    @property
    def has_rate(self) -> bool:
        return bool(self._hr_rr)

    def rhythm_status(self, t: float) -> tuple[Status, str]:
        """The health every heart source reports at ``t``: ``invalid`` "noisy" while the
        beats are not a heart's, ``stale`` while no beat came for ``no_beat_s`` ("no beat for
        N s"), "irregular" for flutter-like activity, "warming up" until trust is first
        earned; else ``ok``."""
        no_beat_s = self.settings.no_beat_s
        q = self.quality
        since = t - self._detected if math.isfinite(self._detected) else math.inf
        if math.isfinite(since) and since > no_beat_s:
            if not q.trusted and q.hold_reason == "noisy" and t - q.last_bad_t <= no_beat_s:
                return Status.INVALID, "noisy"  # an artefact burst, not a heart that stopped
            return Status.STALE, f"no beat for {since:.0f} s"
        if q.trusted and self.has_rate and since <= no_beat_s:
            return Status.OK, ""
        if q.hold_reason == "noisy":
            return Status.INVALID, "noisy"
        return Status.STALE, q.hold_reason or "warming up"

    def break_chain(self) -> None:
        """The next beat must not form an interval with the previous one (a gap, a reset),
        and the source must earn its trust again."""
        self._broken = True
        self._chain = False
        self._judge_broken = True
        self.quality.restart()
        self.predictor.break_chain()

    def add_beat(self, t: float, neighbours: float = math.nan, previous: float = math.nan,
                 amplitude: float = math.nan, template: float = math.nan) -> bool:
        """Record a beat detected at ``t`` with its quality scores (see
        :meth:`BeatQuality.add`); returns whether it counts as good."""
        prev = self._detected
        rr = t - prev if math.isfinite(prev) and t > prev and not self._judge_broken \
            else math.nan
        return self._beat(t, rr, neighbours, previous, amplitude, template,
                          self.add_beat_unjudged)

    def add_interval(self, rr: float, t: float) -> bool:
        """Record a beat at ``t`` known only by its interval ``rr`` (s) to the previous one."""
        judged = math.nan if self._judge_broken else rr
        return self._beat(t, judged, math.nan, math.nan, math.nan, math.nan,
                          lambda tb: self._interval_unjudged(rr, tb))

    def _beat(self, t: float, rr: float, neighbours: float, previous: float,
              amplitude: float, template: float, feed) -> bool:
        self._detected = t
        self._judge_broken = False
        self.beat_count += 1
        q = self.quality
        good = q.add(t, rr, neighbours, previous, amplitude, template)
        if q.entered:
            self._reseed(q.entry_rr, t)
        elif q.trusted and good:
            feed(t)
            self._held = {k: v for k, v in self.values(t).items() if k in _HELD}
        else:
            # An untrusted or bad beat (noise, a PVC unlike the heart's beats) reaches neither
            # the rate nor the HRV nor the forecast, and no interval may span it.
            self._broken = True
            self._chain = False
            self._last_beat = t
            self.predictor.break_chain()
        return good

    def add_beat_unjudged(self, t: float) -> None:
        """Feed a trusted beat to the rate and HRV (interval to the previous fed beat)."""
        prev = self._last_beat
        self._last_beat = t
        self.predictor.add_beat(t)
        broken, self._broken = self._broken, False
        if not broken and math.isfinite(prev) and t > prev:
            self.add_rr(t - prev, t)

    def _interval_unjudged(self, rr: float, t: float) -> None:
        self._last_beat = t
        self.predictor.add_beat(t)
        broken, self._broken = self._broken, False
        if not broken:
            self.add_rr(rr, t)

    def _reseed(self, intervals: tuple[float, ...], t: float) -> None:
        """Trust was just earned: the rate starts from the run that earned it."""
        self._hr_rr.clear()
        self._hr_rr.extend(intervals)
        if intervals:  # enough of a reference that the artefact rules judge the next ones
            while len(self._hr_rr) < 3:
                self._hr_rr.appendleft(statistics.median(intervals))
        self._rejected.clear()
        self._held_rr = math.nan
        if intervals:
            self._last_rr = intervals[-1]
        self._last_beat = t
        self._broken = False
        self._chain = False
        self.predictor.break_chain()  # the forecast starts from the run that earned trust
        self.predictor.add_beat(t)
        self._held = {k: v for k, v in self.values(t).items() if k in _HELD}

    def add_rr(self, rr: float, t: float) -> None:
        """Judge one RR interval (s) ending at time ``t``; see the module notes for the rules."""
        cfg = self.settings
        held, self._held_rr = self._held_rr, math.nan
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
        self._held_rr = rr

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
        ref = self.median_rr
        if math.isfinite(ref) and not cfg.rhythm_change[0] <= m / ref <= cfg.rhythm_change[1]:
            return False  # no heart doubles (or halves) its rate within a few beats
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
        rmssd, sdnn = self.hrv(t)
        values = self.predictor.values(t, rr) | {
            "since_beat_s": max(since, 0.0) if math.isfinite(since) else 0.0,
            "heart_rate": 60.0 / rr,
            "rr": self._last_rr if math.isfinite(self._last_rr) else rr,
            "hrv_rmssd": rmssd,
            "hrv_sdnn": sdnn,
        }
        if not self.quality.trusted:
            values.update(self._held)  # the last trustworthy values, not the noise's
            pulse = 0.0  # an untrusted "beat" must not pulse the picture
            values["beat_confidence"] = 0.0  # nor be forecast with any confidence
        held_rr = 60.0 / values["heart_rate"]
        values["beat_pulse"] = pulse
        values["beat_phase"] = min(max(since / held_rr, 0.0), 1.0 - 1e-9) if math.isfinite(
            since) else 0.0
        values["beat_count"] = float(self.beat_count)
        values["signal_quality"] = self.quality.index
        return values

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
