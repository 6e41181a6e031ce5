"""Signal quality of a heart source: how far to trust its beats. Shared by ECG, PPG and RR.

The engine must know when it does not know (issue 15): noise, a strap on a chair, flutter
waves and motion artefacts all produce "beats" at plausible rates. Every heart source scores
each beat, and :class:`BeatQuality` (owned by :class:`~installation.features.beats.BeatTracker`)
turns the scores into a quality index and a verdict. The methods, with their sources (details
and measurements in ``docs/signal-quality.md``):

* **Template correlation** (tSQI): each beat's shape (the ECG around its R-peak, the pulse wave
  around its PPG peak; low-passed so mains hum cannot make shapes alike, and detrended) is
  correlated with the previous beats' shapes. Real beats of one heart look alike (r ~ 0.95),
  noise detections do not (r ~ 0). After Orphanidou et al. (2015), "Signal-quality indices for
  the electrocardiogram and photoplethysmogram: derivation and applications to wireless
  monitoring", IEEE JBHI 19(3), which matches beats to a template.
* **RR plausibility and rhythm** (that paper's physiological-feasibility rules): a rate within
  ``hr_range``, and intervals and amplitudes that agree with the recent ones. Noise "beats"
  come at random, real ones in a rhythm. This is also how an ECG whose QRS shapes vary (an
  ICU lead that clips, respiration swinging the axis) keeps its trust.
* **Rhythm organisation**, for the ECG (:func:`vf_leakage`): flutter and fibrillation are
  quasi-sinusoidal without an isoelectric line. The VF-filter leakage of Kuo & Dillman (1978),
  as compared by Amann, Tratnig & Unterkofler (2005), is low for such a signal and high for
  QRS complexes separated by a baseline. Flutter waves are regular and alike, so the two
  checks above alone would trust them.

Trust is gained only after ``entry_beats`` beats in a row that are each strongly alike
(``entry_corr``), of consistent amplitude and at regular intervals, and it is lost when fewer
than ``leave_fraction`` of the last ``window_beats`` beats are good. Measured on 30 minutes of
each of six synthetic noises (``docs/signal-quality.md``): with 2 beats, electrode-motion-like
noise earned trust 35 times; with 3, never. The hysteresis also keeps a real visitor's first
seconds from flapping (the stop-9 note's trap).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["BeatQuality", "BeatShapes", "QualitySettings", "detrend_linear", "vf_leakage"]


def detrend_linear(x: np.ndarray) -> np.ndarray:
    """``x`` less its least-squares line, in closed form (scipy's detrend solves a
    least-squares problem per call)."""
    tc = np.arange(x.size) - 0.5 * (x.size - 1)
    return x - x.mean() - tc * (float(tc @ x) / float(tc @ tc))


def correlation(a: np.ndarray, b: np.ndarray, lag: int = 0) -> float:
    """The best Pearson correlation of ``a`` and ``b`` (aligned at their starts, over their
    common length) over shifts of up to ``lag`` samples (the beats' fiducial points are only
    known to a sample). Shapes come linearly detrended (:meth:`BeatShapes.prepare`): a
    drifting baseline is no likeness."""
    n = min(a.size, b.size)
    best = -1.0
    for k in range(-lag, lag + 1):
        x, y = (a[k:n], b[: n - k]) if k >= 0 else (a[: n + k], b[-k:n])
        if x.size < 4:
            continue
        x = x - x.mean()
        y = y - y.mean()
        den = math.sqrt(float(x @ x) * float(y @ y))
        if den > 0:
            best = max(best, float(x @ y) / den)
    return best


class BeatShapes:
    """The shapes of the last beats: a new beat's match to its neighbours and to the template.

    A shape starts a fixed time before the beat's fiducial point (R-peak, pulse peak) and runs
    as far after it as the detector had seen when it confirmed the beat, so shapes may differ
    in length; they are compared over their common part.

    Parameters
    ----------
    size
        Shapes kept; the template is their median.
    lag
        Shift tolerance (samples) of the correlation.
    """

    def __init__(self, size: int = 8, lag: int = 1) -> None:
        self._shapes: deque[np.ndarray] = deque(maxlen=size)
        self._accepted: deque[np.ndarray] = deque(maxlen=size)
        self._median: np.ndarray | None = None
        self.lag = lag

    def clear(self) -> None:
        self._shapes.clear()
        self._accepted.clear()
        self._median = None

    @staticmethod
    def prepare(segment: np.ndarray) -> np.ndarray:
        """A beat's segment as a shape: linearly detrended."""
        return detrend_linear(np.asarray(segment, dtype=np.float64))

    def neighbours(self, shape: np.ndarray) -> tuple[float, float]:
        """``(best correlation with the previous one or two beats, correlation with the
        previous one)``; NaN before any."""
        if not self._shapes:
            return math.nan, math.nan
        previous = correlation(shape, self._shapes[-1], self.lag)
        if len(self._shapes) < 2:
            return previous, previous
        return max(previous, correlation(shape, self._shapes[-2], self.lag)), previous

    def template(self, shape: np.ndarray) -> float:
        """Correlation with the median of the last accepted beats (NaN with fewer than 3)."""
        if len(self._accepted) < 3:
            return math.nan
        if self._median is None:
            n = min(x.size for x in self._accepted)
            self._median = np.median(np.array([x[:n] for x in self._accepted]), axis=0)
        return correlation(shape, self._median, self.lag)

    def add(self, shape: np.ndarray, accepted: bool = True) -> None:
        """Keep a beat's shape; ``accepted`` shapes (good beats) make the template."""
        self._shapes.append(shape)
        if accepted:
            self._accepted.append(shape)
            self._median = None

    def restart_template(self, beats: int) -> None:
        """Trust was just earned: the template is the run's shapes, not an older heart's."""
        self._accepted.clear()
        self._accepted.extend(list(self._shapes)[-beats:])
        self._median = None


def vf_leakage(x: np.ndarray) -> float:
    """VF-filter leakage of ``x`` (Kuo & Dillman 1978): low for a quasi-sinusoid.

    The mean half-period ``N`` is estimated from the ratio of the signal's absolute sum to
    its absolute first-difference sum; the signal is then added to itself shifted by ``N``:
    a sinusoid cancels (leakage near 0), QRS complexes separated by a baseline do not (0.6 to
    0.9 on the shared recordings). Returns NaN for a window too short or flat to judge.
    """
    x = np.asarray(x, float)
    x = x - x.mean()
    dx = float(np.abs(np.diff(x)).sum())
    if x.size < 8 or dx <= 0:
        return math.nan
    n = int(math.pi * float(np.abs(x).sum()) / dx + 0.5)
    if n < 1 or n >= x.size // 2:
        return math.nan
    num = float(np.abs(x[n:] + x[:-n]).sum())
    den = float((np.abs(x[n:]) + np.abs(x[:-n])).sum())
    return num / den if den > 0 else math.nan


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """Settings of :class:`BeatQuality` (seconds, bpm, correlations)."""

    match_corr: float = 0.8  # a beat at least this like a neighbour is good
    entry_corr: float = 0.93  # each beat of an entry run at least this like the previous one
    entry_beats: int = 3  # beats in a row to gain trust
    entry_regular: float = 0.2  # the entry run's intervals within this of their median
    entry_amplitude: tuple[float, float] = (0.8, 1.25)  # amplitude vs the run's median
    window_beats: int = 8  # the quality index: fraction of good beats among these
    leave_fraction: float = 0.6  # trust is lost when fewer of the window's beats are good
    rhythm_tolerance: float = 0.15  # an interval this close to the recent median: in rhythm
    rhythm_amplitude: tuple[float, float] = (0.6, 1.67)  # amplitude vs the recent median
    hr_range: tuple[float, float] = (30.0, 220.0)  # plausible heart rates
    irregular_leakage: float = 0.3  # VF-filter leakage below this: flutter-like (ECG only)


class BeatQuality:
    """Per-beat scores in; a quality index and a trust verdict out.

    :meth:`add` takes each detected beat with its interval to the previous one (NaN across a
    break), its shape correlation with its neighbours (NaN for sources without shapes, such as
    RR straps), its correlation with the previous beat alone, and its amplitude (NaN if none).

    Attributes
    ----------
    trusted
        The beats are a heart's (status ``ok``).
    irregular
        The ECG's rhythm is flutter-like: there are no beats a rate can describe.
    hold_reason
        Why the source is not trusted: ``"warming up"``, ``"noisy"`` or ``"irregular"``.
    """

    def __init__(self, settings: QualitySettings | None = None) -> None:
        self.settings = settings or QualitySettings()
        self._window: deque[bool] = deque(maxlen=self.settings.window_beats)
        self._run: list[tuple[float, float]] = []  # (time, amplitude) of the entry run
        self._rr: deque[float] = deque(maxlen=8)  # intervals of good beats, for the rhythm
        self._amp: deque[float] = deque(maxlen=8)
        self.trusted = False
        self.irregular = False
        self.hold_reason = "warming up"
        self._untrusted_beats = 0
        self.entry_rr: tuple[float, ...] = ()  # the intervals of the run that gained trust
        self.entered = False  # trust was gained at the latest beat
        self._entry_t = math.nan  # the first beat of the run that last earned trust
        self.bad = 0  # beats judged bad so far, and noise evidence
        self.last_bad_t = -math.inf  # when the last bad beat or noise evidence came

    def restart(self) -> None:
        """The chain of beats broke (gap, re-learning): trust must be earned again."""
        self._run.clear()
        self._rr.clear()
        self._amp.clear()
        self._window.clear()
        self._untrusted_beats = 0
        if self.trusted:  # a noisy or irregular source stays what it was
            self.hold_reason = "warming up"
        self.trusted = False

    @property
    def trusted_since(self) -> float:
        """While trusted: the time of the first beat of the run that earned the trust (the
        heart has been on the sensor since then, although the status said "warming up" or
        "noisy" until the run was complete); NaN otherwise."""
        return self._entry_t if self.trusted else math.nan

    @property
    def index(self) -> float:
        """Fraction of good beats among the recent ones (0 before any beat, or irregular)."""
        if not self._window or self.irregular:
            return 0.0
        return sum(self._window) / len(self._window)

    def add(self, t: float, rr: float, neighbours: float, previous: float,
            amplitude: float, template: float = math.nan) -> bool:
        """Judge the beat at ``t``; returns whether it is good. See the class notes;
        ``template`` is the correlation with the trusted beats' median shape (NaN: none)."""
        cfg = self.settings
        lo, hi = 60.0 / cfg.hr_range[1], 60.0 / cfg.hr_range[0]
        plausible = math.isfinite(rr) and lo <= rr <= hi
        has_shape = math.isfinite(neighbours)
        med_rr = float(np.median(self._rr)) if self._rr else math.nan
        med_amp = float(np.median(self._amp)) if self._amp else math.nan
        # A beat of this heart is about as large as its recent ones: a T wave or a noise
        # spike taken for a beat is not, however alike its shape (measured at 6 dB: extra
        # detections at 0.45 of the QRS size, correlating 0.8-0.9 with the template).
        sized = not (math.isfinite(amplitude) and math.isfinite(med_amp) and med_amp > 0) or (
            cfg.rhythm_amplitude[0] <= amplitude / med_amp <= cfg.rhythm_amplitude[1])
        in_rhythm = plausible and math.isfinite(med_rr) and abs(rr - med_rr) <= (
            cfg.rhythm_tolerance * med_rr)
        if self.trusted and math.isfinite(template):
            # Trusted: like the heart's own beats. A run of noise detections may resemble
            # each other, never the template.
            alike = template >= cfg.match_corr
        else:
            alike = neighbours >= cfg.match_corr if has_shape else not self._rr
        good = plausible and sized and (alike or in_rhythm)
        self._window.append(good)
        if not good:
            self.last_bad_t = t
            self.bad += 1
        if good:
            self._rr.append(rr)
            if math.isfinite(amplitude):
                self._amp.append(amplitude)
        self._extend_run(rr, previous, amplitude, plausible)
        self.entered = False
        if self.irregular:
            self.trusted = False
            self.hold_reason = "irregular"
            return good
        if self.trusted:
            if len(self._window) >= 3 and self.index < cfg.leave_fraction:
                self.trusted, self.hold_reason = False, "noisy"
                self._untrusted_beats = 0
                self._run.clear()
        elif self._entry():
            self.trusted = self.entered = True
            self.hold_reason = ""
            self.entry_rr = tuple(np.diff([t for t, _ in self._run]))
            self._entry_t = t - float(sum(self.entry_rr))
            # The rhythm reference restarts from the run: the noise before it is no rhythm.
            self._rr.clear()
            self._rr.extend(self.entry_rr)
            # So does the size reference: noise "beats" a tenth of the QRS made every real beat
            # after them too large, and trust was lost again at once (issue 15).
            self._amp.clear()
            self._amp.extend(a for _, a in self._run if math.isfinite(a))
            self._window.clear()
            self._window.extend([True] * len(self._run))
        else:
            self._untrusted_beats += 1
            if self._untrusted_beats >= cfg.window_beats and self.hold_reason == "warming up":
                self.hold_reason = "noisy"  # long enough to know: these are no heartbeats
        return good

    def reject(self, t: float) -> None:
        """Evidence of noise at ``t`` that is no beat: a detection the source judged to be
        noise (an early, unlike candidate), or an artefact far larger than any QRS. It counts
        as a bad beat and breaks an entry run."""
        self.last_bad_t = t
        self.bad += 1
        self._window.append(False)
        self._run.clear()
        if self.trusted and len(self._window) >= 3 and self.index < self.settings.leave_fraction:
            self.trusted, self.hold_reason = False, "noisy"
            self._untrusted_beats = 0

    def _extend_run(self, rr: float, previous: float, amplitude: float, plausible: bool) -> None:
        cfg = self.settings
        t = (self._run[-1][0] + rr) if self._run and math.isfinite(rr) else 0.0
        strong = plausible and (not math.isfinite(previous) or previous >= cfg.entry_corr)
        # The sizes are judged on the whole run at entry (_entry), not beat by beat here: the
        # second beat's only reference would be the first alone, and breathing swings the R
        # wave by a quarter beat to beat (after noise: 0.400 -> 0.506, 1.265x, then 0.440,
        # which put trust off to the fourth beat on 5 of 10 seeds; issue 15).
        if self._run and strong:
            self._run.append((t, amplitude))
            self._run = self._run[-cfg.entry_beats:]
        else:
            self._run = [(0.0, amplitude)]  # this beat may start the next run

    def _entry(self) -> bool:
        cfg = self.settings
        if len(self._run) < cfg.entry_beats:
            return False
        rr = np.diff([t for t, _ in self._run])
        med = float(np.median(rr))
        if not np.all(np.abs(rr - med) <= cfg.entry_regular * med):
            return False
        # Every beat of the run within entry_amplitude of the run's median size: the median of
        # three is the one reference a single odd beat cannot move.
        sizes = np.array([a for _, a in self._run if math.isfinite(a)])
        if sizes.size < 2 or (ref := float(np.median(sizes))) <= 0:
            return True  # a source without amplitudes (an RR strap): rhythm and shape only
        ratio = sizes / ref
        return bool(np.all((ratio >= cfg.entry_amplitude[0]) & (ratio <= cfg.entry_amplitude[1])))

    def set_organisation(self, leakage: float) -> None:
        """The rhythm's VF-filter leakage now (NaN: not judged). Flutter-like activity ends
        trust at once; once it is over, trust must be earned again by an entry run."""
        if not math.isfinite(leakage):
            return
        irregular = leakage < self.settings.irregular_leakage
        if irregular and not self.irregular:
            self.trusted = False
            self._run.clear()
            self._window.clear()
            self._rr.clear()
        self.irregular = irregular
        if irregular:
            self.hold_reason = "irregular"
