"""Causal R-peak detection and heart-rate features from an ECG stream.

The detector is a hand-written, causal variant of Pan & Tompkins (1985), because neither scipy
nor neurokit2 offers an incremental detector that keeps its state between chunks:

1. A band-pass (QRS energy band) feeds a short moving average of its magnitude: the
   *detection signal*. A causal high-pass of the raw ECG (baseline wander removed) is kept
   to *locate* the R-peak.
2. A beat is a rising crossing of an adaptive threshold ``NPK + k * (SPK - NPK)``, where the
   signal and noise peak levels are updated at every beat, and the threshold decays while no
   beat arrives (amplitude drops, electrode gain changes).
3. After a crossing the detector waits a fixed ``locate_after_s`` and picks the largest
   deviation of the high-passed ECG in a window around the crossing: polarity-free, so an
   inverted lead works, until the recent beats show the lead's sign, which is then kept
   (an S wave about as deep as the R wave is tall no longer wins every other beat), and
   stamped with the R-peak's own sample time less the conditioning filter's group delay.

Everything is defined on absolute sample indices, so the result does not depend on how the
stream is cut into chunks. Filters run vectorised over each chunk with ``sosfilt`` state
carried in ``zi``; only the (few) candidate beats are visited in a Python loop.

Signal quality (``quality.py``, ``docs/signal-quality.md``): each beat's shape (the ECG from
100 ms before to 50 ms after the R-peak, low-passed at 40 Hz) is matched with its neighbours'
and with the median of the last accepted beats, and every second the VF-filter leakage of the
last 4 s says whether the rhythm is organised at all. A candidate that is early, unlike the
template and not larger than a QRS is electrode motion or muscle noise, not an ectopic beat
(those are large): it is dropped, and it teaches the levels nothing; so is an early one
under half the size of the good beats (a T wave, a noise spike). The levels themselves
are robust to artefacts: measured against the median peak of the last good beats, a burst
can neither raise the signal level beyond ``level_clip`` times it nor lift the noise level
above ``noise_ceiling`` times it, so the detector is not blind to the clean beats after it.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from installation.features.base import Extractor, SignalGates
from installation.features.beats import BeatSettings, BeatTracker
from installation.features.filtering import sosfilt_1d
from installation.features.quality import BeatShapes, vf_leakage
from installation.features.respiration import SeriesRate, SeriesRateSettings
from installation.features.sampling import ClockSettings, Restart
from installation.messages import Event, Status

__all__ = ["CardiacExtractor", "CardiacSettings"]


@dataclass(frozen=True, slots=True)
class CardiacSettings:
    """Settings of :class:`CardiacExtractor` (times in seconds, frequencies in Hz).

    Heart-rate, HRV, pulse and "no beat" settings are in ``beats`` (shared with PPG and RR);
    the sample clock and the raw-signal gates in ``clock`` and ``gates``.
    """

    channel: int = 0
    band: tuple[float, float] = (5.0, 18.0)  # QRS energy; rejects P/T waves and wander
    band_order: int = 2
    highpass: float = 0.5  # baseline-wander removal for locating the R-peak
    energy_window_s: float = 0.05  # moving average of |band-passed ECG|
    learn_s: float = 1.5  # initial learning of signal/noise levels; no beats reported
    threshold_fraction: float = 0.3  # of the way from noise to signal level
    refractory_s: float = 0.25
    locate_before_s: float = 0.12  # R-peak search window around the threshold crossing
    locate_after_s: float = 0.08  # also the wait before reporting: sets the latency
    polarity_switch: float = 1.3  # the R-peak's sign flips when the other side is this much larger
    decay_after_rr: float = 1.5  # threshold starts decaying after this many mean RRs
    decay_tau_s: float = 0.8
    relearn_s: float = 4.0  # no beat for this long: re-learn levels from the last learn_s
    level_alpha: float = 0.125  # Pan-Tompkins running-estimate weight
    level_clip: float = 2.0  # no beat counts as more than this times the good beats' peaks
    noise_ceiling: float = 0.4  # the noise level stays below this fraction of them
    shape_before_s: float = 0.1  # beat shape for the quality index: around the R-peak
    shape_after_s: float = 0.05
    shape_lowpass: float = 40.0  # Hz: muscle noise and hum must not make shapes alike
    qrs_hz: float = 12.0  # where the located R-peak's filter delay is taken (see _design)
    mains_hz: tuple[float, ...] = (50.0, 60.0)  # notched out of the shapes
    reject_corr: float = 0.6  # an early candidate less like the template than this...
    reject_early: float = 0.85  # ...arriving before this fraction of the median RR...
    reject_size: float = 1.3  # ...and no larger than this times the signal level: noise
    reject_small: float = 0.5  # an early candidate under this fraction of good beats: noise
    organisation_window_s: float = 4.0  # VF-filter leakage over this much ECG
    organisation_every_s: float = 1.0
    artefact_factor: float = 4.0  # detection signal this many times the good beats': artefact
    artefact_every_s: float = 0.25  # how often that is looked for
    untrusted_relearn_s: float = 1.0  # while the beats are judged noise: re-learn levels
    fresh_factor: float = 5.0  # while noise: activity this many times the levels: learn afresh
    wait_rising_s: float = 0.15  # while noise: wait up to this much longer for a QRS's peak
    beats: BeatSettings = field(default_factory=BeatSettings)  # artefact rules, rate, HRV
    edr: SeriesRateSettings = field(default_factory=SeriesRateSettings)  # breathing from ECG
    clock: ClockSettings = field(default_factory=ClockSettings)
    gates: SignalGates = field(default_factory=SignalGates)  # flat line: electrode off


@dataclass(slots=True)
class _Levels:
    spk: float = 0.0
    npk: float = 0.0
    ready: bool = False
    # Peaks of the last good beats: a robust reference no artefact can inflate.
    good_peaks: deque = field(default_factory=lambda: deque(maxlen=8))

    @property
    def reference(self) -> float:
        """Median peak of the recent good beats (NaN with fewer than 3)."""
        # statistics.median: the same value as np.median, without its per-call overhead on
        # eight numbers (this is read several times a chunk).
        return float(statistics.median(self.good_peaks)) if len(self.good_peaks) >= 3 else (
            math.nan)


@dataclass(slots=True)
class _State:
    """Everything the detector remembers between chunks (reset on a rate change)."""

    sos_band: np.ndarray | None = None
    sos_hp: np.ndarray | None = None
    zi_band: np.ndarray | None = None
    zi_hp: np.ndarray | None = None
    sos_edr: np.ndarray | None = None  # high-pass only: the R-wave size for breathing
    zi_edr: np.ndarray | None = None
    fresh: bool = True  # the next run starts fresh filters
    locate_delay: float = 0.0  # s: the conditioning cascade's group delay at the QRS (_design)
    # History on absolute sample indices: index of hist[0] is n0.
    n0: int = 0
    hist_ts: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_hp: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_f: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_raw: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_edr: np.ndarray = field(default_factory=lambda: np.empty(0))
    next_organisation: int = 0  # absolute index of the next rhythm-organisation check
    next_artefact: int = 0  # absolute index of the next artefact check
    relearned: int = 0  # absolute index of the last re-learning while untrusted
    ma_tail: np.ndarray = field(default_factory=lambda: np.empty(0))  # for the moving average
    levels: _Levels = field(default_factory=_Levels)
    learn_at: int = -1  # absolute index at which levels are (re)learnt
    search_from: int = 0  # no crossing may start before this index
    report_from: int = 0  # no beat is reported before this index (the end of learning)
    crossing: int = -1  # pending crossing waiting for locate_after samples
    confirm_at: int = -1  # absolute index at which the pending crossing is judged
    rejudge_before: int = -1  # a beat before this index was reported already (fresh levels)
    last_r: int = -1  # absolute index of the last R-peak (-1: none in this segment)
    anchor: int = 0  # last beat or (re)learning point: relearn_s after it, levels are re-learnt


class CardiacExtractor(Extractor):
    """Causal heart-beat detector and heart-rate features for one ECG stream.

    Parameters
    ----------
    settings
        Frozen detector settings.
    stream
        Name written into every :class:`Features` produced.

    Notes
    -----
    Call with every :class:`Chunk` of the stream in order; each call returns the features at
    ``chunk.t_end`` and the beats newly reported in that call: ``heart_rate`` (bpm,
    artefact-corrected), ``rr`` (s), ``hrv_rmssd``, ``hrv_sdnn`` (ms, rolling), ``beat_pulse``,
    ``beat_phase``, ``beat_count``, ``resp_rate`` (breaths/min from the R-amplitude EDR; 0
    until known), ``since_beat_s`` (s since the latest beat: counted from the estimated R-peak
    as soon as the QRS crosses the threshold, ``locate_after_s`` before the beat is reported,
    while the source is trusted), the forecast ``next_beat_in_s``, ``beat_phase_pred``,
    ``beat_confidence`` (:mod:`installation.features.beat_timing`; 0 while untrusted),
    ``signal_quality``; ``events`` holds a ``"beat"`` event per newly reported beat.
    """

    kind = "ECG"

    def __init__(self, settings: CardiacSettings | None = None, stream: str = "ecg") -> None:
        super().__init__(settings or CardiacSettings(), stream)

    def _reset(self) -> None:
        cfg: CardiacSettings = self.settings
        self._s = _State()
        # Beat history survives rate changes and gaps: the picture keeps its last heart rate.
        self._tracker = BeatTracker(cfg.beats)
        # ECG-derived respiration: the R amplitude swings with breathing (chest impedance,
        # heart axis), sampled once per beat.
        self._edr = SeriesRate(cfg.edr)
        self._shapes = BeatShapes()
        # Threshold crossing -> R-peak offsets of recent good beats: a crossing tells of a beat
        # locate_after_s before the R-peak is located, at about crossing - this offset.
        self._onset_offsets: deque[float] = deque(maxlen=9)
        # Each recent beat's largest positive and largest negative deviation, and the sign
        # the R-peak is looked for with (0: not known yet): see _locate.
        self._extremes: deque[tuple[float, float]] = deque(maxlen=9)
        self._sign = 0

    def _restart(self, why: Restart) -> None:
        if why == "rate":
            self._s = _State()  # every index and filter depends on the rate
            self._shapes.clear()
            self._extremes.clear()
            self._sign = 0
            self._design()
        self._s.fresh = True

    def _design(self) -> None:
        s, cfg = self._s, self.settings
        fs = self._clock.fs
        nyq = 0.5 * fs
        lo, hi = cfg.band[0], min(cfg.band[1], 0.45 * fs)
        lo = min(lo, 0.5 * hi)
        s.sos_band = signal.butter(cfg.band_order, [lo / nyq, hi / nyq], "bandpass", output="sos")
        hp = signal.butter(1, min(cfg.highpass, 0.4 * nyq) / nyq, "highpass", output="sos")
        lp = signal.butter(2, min(cfg.shape_lowpass, 0.4 * fs) / nyq, output="sos")
        # Mains hum makes any two windows alike: notch it out of the shapes too (a strap on a
        # chair picks up little else). One cascade (a single sosfilt call per chunk): the
        # R-peak is located on the same conditioned ECG that gives the beat shapes.
        notches = [signal.tf2sos(*signal.iirnotch(hz, 10.0, fs)) for hz in cfg.mains_hz
                   if hz < 0.45 * fs]
        s.sos_hp = np.concatenate([hp, lp, *notches])
        # The R-peak is located on that causally filtered ECG, so it comes late by the
        # cascade's group delay (mostly the low-pass's): 7.2 ms at 360 Hz, where the located
        # beats were a median 8.3 ms after MIT-BIH 100's annotations. Beats are stamped that
        # much earlier; at the QRS's frequencies the delay is nearly flat (7.2-7.7 ms at
        # 10-20 Hz), so one figure serves.
        _, gd = signal.group_delay(signal.zpk2tf(*signal.sos2zpk(s.sos_hp)),
                                   w=[cfg.qrs_hz], fs=fs)
        # To the microsecond: the measured rate's last bits depend on how the stream was cut
        # into chunks, and the beats' times must not.
        s.locate_delay = round(float(gd[0]) / fs, 6) if np.isfinite(gd[0]) and gd[0] > 0 else 0.0
        # The R-wave size for breathing is measured on the high-passed ECG alone: the
        # low-pass and notches change the sampled peak beat to beat, which made the first
        # breathing estimates erratic (demo session: 13.4, 6.0, 12.7 vs a steady 20.25
        # breaths/min high-passed only; issue 15).
        s.sos_edr = hp

    def _n(self, seconds: float) -> int:
        return max(1, round(seconds / self._clock.dt))

    def _process(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        """Filter one continuous run of finite samples and run the detector on it."""
        s, cfg = self._s, self.settings
        assert s.sos_band is not None and s.sos_hp is not None and s.sos_edr is not None
        if s.fresh or s.zi_band is None:
            # Start filters as if the signal had sat at its first value: no step transient.
            s.fresh = False
            s.zi_band = signal.sosfilt_zi(s.sos_band) * x[0]
            s.zi_hp = signal.sosfilt_zi(s.sos_hp) * x[0]
            s.zi_edr = signal.sosfilt_zi(s.sos_edr) * x[0]
            s.ma_tail = np.empty(0)
            s.crossing = -1
            start_abs = s.n0 + s.hist_ts.size
            s.search_from = start_abs + self._n(cfg.locate_before_s + cfg.energy_window_s)
            if s.last_r >= 0:
                self._tracker.break_chain()  # an RR must not span the break
            s.last_r = -1
            s.anchor = s.search_from
            if not s.levels.ready:
                s.learn_at = start_abs + self._n(cfg.learn_s)
        band, s.zi_band = sosfilt_1d(s.sos_band, x, s.zi_band)
        hp, s.zi_hp = sosfilt_1d(s.sos_hp, x, s.zi_hp)
        edr, s.zi_edr = sosfilt_1d(s.sos_edr, x, s.zi_edr)
        # Causal moving average of |band| over energy_window_s, carried across chunks.
        w = self._n(cfg.energy_window_s)
        mag = np.concatenate([s.ma_tail, np.abs(band)])
        csum = np.concatenate([[0.0], np.cumsum(mag)])
        lo = np.maximum(np.arange(s.ma_tail.size, mag.size) + 1 - w, 0)
        hi = np.arange(s.ma_tail.size, mag.size) + 1
        f = (csum[hi] - csum[lo]) / w
        s.ma_tail = mag[-(w - 1) :] if w > 1 else np.empty(0)

        s.hist_ts = np.concatenate([s.hist_ts, ts])
        s.hist_hp = np.concatenate([s.hist_hp, hp])
        s.hist_f = np.concatenate([s.hist_f, f])
        s.hist_raw = np.concatenate([s.hist_raw, x])
        s.hist_edr = np.concatenate([s.hist_edr, edr])
        events = self._detect()
        if self._organisation():
            events += self._detect()
        keep = self._n(max(cfg.learn_s, cfg.relearn_s, cfg.organisation_window_s) + 1.0)
        if s.hist_ts.size > keep:
            drop = s.hist_ts.size - keep
            s.n0 += drop
            s.hist_ts = s.hist_ts[drop:]
            s.hist_hp = s.hist_hp[drop:]
            s.hist_f = s.hist_f[drop:]
            s.hist_raw = s.hist_raw[drop:]
            s.hist_edr = s.hist_edr[drop:]
        return events

    def _organisation(self) -> bool:
        """Every ``organisation_every_s``: is the rhythm made of beats at all (flutter)? And
        every ``artefact_every_s``: is there activity far larger than any QRS (a burst), or,
        while the beats are judged noise, far above the noise (a heart)? Returns whether the
        levels were learnt afresh (the detector must search again)."""
        s, cfg = self._s, self.settings
        end = s.n0 + s.hist_ts.size
        ref = s.levels.reference
        if end >= s.next_artefact and s.levels.ready:
            k = self._n(cfg.artefact_every_s)
            s.next_artefact = end + k
            peak = float(s.hist_f[-k:].max())
            if self._sharp_change(peak) and s.hist_ts.size >= self._n(cfg.learn_s):
                self._learn_afresh(end)  # a heart where noise was, not a burst in a heart
                return True
            if math.isfinite(ref) and peak > cfg.artefact_factor * ref:
                self._tracker.quality.reject(float(s.hist_ts[-1]))
        n = self._n(cfg.organisation_window_s)
        if end < s.next_organisation or s.hist_hp.size < n:
            return False
        s.next_organisation = end + self._n(cfg.organisation_every_s)
        whole, recent = vf_leakage(s.hist_hp[-n:]), vf_leakage(s.hist_hp[-(n // 2):])
        q = self._tracker.quality
        # Flutter-like only when the whole window and its last half are; over once the last
        # half is not (recovering as soon as beats return, without flickering back in while
        # the window still holds the flutter).
        q.set_organisation(recent if q.irregular else max(whole, recent))
        return False

    # ------------------------------------------------------------------ detection
    def _learn(self, end: int) -> None:
        s, cfg = self._s, self.settings
        a = max(end - self._n(cfg.learn_s), s.n0)
        seg = s.hist_f[a - s.n0 : end - s.n0]
        raw = s.hist_raw[a - s.n0 : end - s.n0]
        # A flat lead only holds filter ringing: levels learnt from it would turn numerical
        # noise into beats, so stay unready until the signal returns.
        s.levels.ready = bool(seg.size) and float(np.ptp(raw)) > cfg.gates.flat_tolerance
        if s.levels.ready:
            ref = s.levels.reference
            peak = float(seg.max())
            # Re-learning after an artefact burst must not learn the burst as the QRS size.
            s.levels.spk = min(peak, cfg.level_clip * ref) if math.isfinite(ref) else peak
            s.levels.npk = float(np.median(seg))
            if math.isfinite(ref):
                s.levels.npk = min(s.levels.npk, cfg.noise_ceiling * ref)
            s.levels.ready = s.levels.spk > s.levels.npk

    def _threshold(self, i0: int, i1: int) -> np.ndarray:
        """Threshold for absolute samples ``i0 .. i1-1`` (decays while no beat arrives)."""
        s, cfg = self._s, self.settings
        lv = s.levels
        base = lv.npk + cfg.threshold_fraction * (lv.spk - lv.npk)
        thr = np.full(i1 - i0, base)
        if s.last_r >= 0:
            rr = self._tracker.median_rr if self._tracker.has_rate else 1.0
            start = s.last_r + self._n(cfg.decay_after_rr * rr)
            k = np.arange(i0, i1) - start
            decay = np.exp(-np.clip(k, 0, None) * self._clock.dt / cfg.decay_tau_s)
            floor = min(2.0 * lv.npk, base)
            thr = np.maximum(base * decay, floor)
        return thr

    def _detect(self) -> list[Event]:
        s, cfg = self._s, self.settings
        end = s.n0 + s.hist_ts.size  # one past the last absolute index
        events: list[Event] = []
        before, after = self._n(cfg.locate_before_s), self._n(cfg.locate_after_s)
        while True:
            if not s.levels.ready:
                if s.learn_at < 0 or end < s.learn_at:
                    return events
                self._learn(s.learn_at)
                if not s.levels.ready:
                    s.learn_at += self._n(cfg.learn_s)  # nothing to learn from (flat): later
                    continue
                # The learning window holds beats too: search it now the levels are known.
                # Its beats are reported once, late (up to learn_s), so a pulse must only
                # follow beats reported in time (BeatTracker); trust comes a beat or two
                # sooner than if they were thrown away.
                s.search_from = max(s.search_from, s.learn_at - self._n(cfg.learn_s))
                s.report_from = s.learn_at
                s.anchor = s.learn_at
                s.learn_at = -1
            if s.crossing >= 0:
                c = s.crossing
                if end <= s.confirm_at:
                    return events
                if self._still_rising(c, s.confirm_at + 1):
                    s.confirm_at += self._n(cfg.energy_window_s / 2)
                    continue
                beat = self._confirm(c, before, s.confirm_at - c)
                if beat is not None:
                    events.append(beat)
                continue
            # Levels go stale when nothing is detected for a long time: re-learn them.
            relearn = s.anchor + self._n(cfg.relearn_s)
            i0 = max(s.search_from, s.n0 + 1)
            i1 = min(end, relearn)
            if i1 > i0:
                f = s.hist_f[i0 - 1 - s.n0 : i1 - s.n0]
                thr = self._threshold(i0 - 1, i1)
                above = f > thr
                rising = np.flatnonzero(above[1:] & ~above[:-1])
                if rising.size:
                    s.crossing = i0 + int(rising[0])
                    s.confirm_at = s.crossing + after
                    continue
            if end >= relearn:
                self._learn(relearn)
                s.search_from = relearn
                s.anchor = relearn
                s.last_r = -1
                self._tracker.break_chain()
                if not s.levels.ready:
                    s.learn_at = relearn + self._n(cfg.learn_s)
                continue
            s.search_from = max(s.search_from, end)
            if self._relearn_if_untrusted(end):
                continue
            return events

    def _noise_judged(self) -> bool:
        """The quality judge calls the beats noise: the levels are the noise's, not a heart's."""
        q = self._tracker.quality
        return not q.trusted and q.hold_reason == "noisy"

    def _still_rising(self, c: int, b: int) -> bool:
        """While the beats are judged noise, is the detection signal after crossing ``c``
        still rising at ``b - 1`` (one past the samples seen), so the QRS's peak is yet to
        come? Levels learnt on noise are crossed by a real ECG's P wave or the QRS's first
        millisecond: judged at once, the beat was stamped at its start with a tenth of its size
        (issue 15, after noise: ``benchmarks/bench_after_noise.py --log``), which broke the
        entry run. A trusted heart's beats are judged as before (their latency is the
        figure)."""
        s, cfg = self._s, self.settings
        if b - c > self._n(cfg.locate_after_s + cfg.wait_rising_s) or not self._noise_judged():
            return False
        f = s.hist_f[c - s.n0 : b - s.n0]
        return f.size >= 2 and int(np.argmax(f)) == f.size - 1

    def _sharp_change(self, peak: float) -> bool:
        """While the beats are judged noise: is ``peak`` (detection signal) ``fresh_factor``
        times the levels and the noise's "good beats", so a new, stronger signal (a heart put
        on a strap that lay on a chair) rather than more of the same noise?"""
        if not self._noise_judged():
            return False
        lv = self._s.levels
        ref = lv.reference
        level = max(lv.spk, ref) if math.isfinite(ref) else lv.spk
        return peak > self.settings.fresh_factor * level

    def _learn_afresh(self, at: int) -> None:
        """Forget the noise's levels and reference and learn them from the ``learn_s`` before
        ``at``, then search that window again, as at a stream's start (see :meth:`_detect`).

        Learnt on noise, the levels let a real ECG's T and P waves cross the threshold, whose
        refractory periods then hid the next R-peaks; and the noise's "good beats" made a level
        reference a real QRS was 20 times above, so every QRS counted as an artefact: no trust
        within 30 s (issue 15, noise seed 21). The quality judge's own entry rules do not
        change: the beats found must still earn trust by themselves.
        """
        s, cfg = self._s, self.settings
        # The refractory period of the noise's last "beat" must not hide the heart's first:
        # the search starts right after it. A beat found within that period is the same
        # heartbeat measured again (a noise crossing just before a QRS takes its onset, with
        # a tenth of its size): it is judged afresh, but not reported twice.
        s.search_from = s.last_r + 1 if s.last_r >= 0 else s.n0
        s.rejudge_before = s.last_r + self._n(cfg.refractory_s) if s.last_r >= 0 else -1
        s.levels = _Levels()
        s.learn_at = at
        s.crossing = -1
        s.last_r = -1
        self._tracker.break_chain()

    def _relearn_if_untrusted(self, end: int) -> bool:
        """While the beats are judged noise, re-learn the levels every ``untrusted_relearn_s``;
        afresh (:meth:`_learn_afresh`, returning True) when a heart has appeared.

        Levels learnt on noise sit below the floor of a real ECG that follows it (a strap put
        on after lying on a chair): its detection signal never falls below the threshold, so
        no rising crossing, and no QRS, is ever seen. Learning afresh from the last
        ``learn_s`` finds the QRS as the peak, and the detector locks on within a beat.
        """
        s, cfg = self._s, self.settings
        q = self._tracker.quality
        if q.trusted or q.hold_reason != "noisy" or s.crossing >= 0:
            return False
        if end - s.relearned < self._n(cfg.untrusted_relearn_s) or end - s.n0 < self._n(
                cfg.learn_s):
            return False
        s.relearned = end
        # (Learning afresh here too, on a sharp change in the window, trusted the heart at
        # its third beat on two more noise seeds, but electrode motion alone earned trust.)
        self._learn(end)
        if not s.levels.ready:
            s.learn_at = end + self._n(cfg.learn_s)
        return False

    def _confirm(self, c: int, before: int, after: int) -> Event | None:
        """Locate the R-peak around crossing ``c``, judge it, update the adaptive levels.

        Returns the beat, or ``None`` for a candidate judged to be noise (see the module
        notes); the search then goes on right after it.
        """
        s, cfg = self._s, self.settings
        a = max(c - before, s.n0, s.search_from - before)
        b = c + after + 1
        hp = s.hist_hp[a - s.n0 : b - s.n0]
        dev = hp - np.median(hp)
        r = a + self._locate(dev)
        peak_f = float(s.hist_f[c - s.n0 : b - s.n0].max())
        t_r = float(s.hist_ts[r - s.n0]) - s.locate_delay
        lv = s.levels
        if self._sharp_change(peak_f) and b - s.n0 >= self._n(cfg.learn_s):
            self._learn_afresh(b)  # this beat is searched again with the fresh levels
            return None
        shape = self._beat_shape(r, b)
        tracker = self._tracker
        early = (math.isfinite(tracker.last_beat) and tracker.has_rate
                 and t_r - tracker.last_beat < cfg.reject_early * tracker.median_rr)
        ref = lv.reference
        small = math.isfinite(ref) and peak_f < cfg.reject_small * ref
        if (shape is not None and early and peak_f < cfg.reject_size * lv.spk
                and (small or self._shapes.template(shape) < cfg.reject_corr)):
            s.crossing = -1
            s.search_from = b
            tracker.quality.reject(t_r)
            return None
        if s.last_r >= 0:
            # Noise level: the largest detection-signal excursion between the two beats,
            # never above a fraction of the signal level (an artefact is no noise floor).
            na = s.last_r + self._n(cfg.refractory_s)
            nb = c - before
            if nb > na:
                noise = float(s.hist_f[max(na, s.n0) - s.n0 : nb - s.n0].max(initial=0.0))
                ref = lv.reference if math.isfinite(lv.reference) else lv.spk
                noise = min(noise, cfg.noise_ceiling * ref)
                lv.npk += cfg.level_alpha * (noise - lv.npk)
        base = lv.npk + cfg.threshold_fraction * (lv.spk - lv.npk)
        if peak_f < base:
            # Found only thanks to the decayed threshold: the QRS amplitude dropped (strap
            # slipped, gain changed). A slow running average would miss the next beats too.
            lv.spk = peak_f
        else:
            # Clipped against the good beats' peaks once there are some; before (a first
            # heart after noise), the level must be free to climb to it at once.
            ref = lv.reference
            used = min(peak_f, cfg.level_clip * ref) if math.isfinite(ref) else peak_f
            lv.spk += cfg.level_alpha * (used - lv.spk)
        # A beat of the learning window is stamped as reported when learning ends: its
        # latency is what it is, not the window's (chunk-independent, on sample indices).
        reported = float(s.hist_ts[max(b, s.report_from) - 1 - s.n0])
        if shape is not None:
            neighbours, previous = self._shapes.neighbours(shape)
            good = tracker.add_beat(t_r, neighbours, previous, peak_f,
                                    self._shapes.template(shape))
            self._shapes.add(shape, accepted=good)
            if tracker.quality.entered:
                self._shapes.restart_template(tracker.quality.settings.entry_beats)
        else:
            good = tracker.add_beat(t_r, amplitude=peak_f)
        self._learn_polarity(dev)
        if good:
            lv.good_peaks.append(peak_f)
            self._onset_offsets.append(float(s.hist_ts[c - s.n0]) - t_r)
        # Its own largest deviation in the window: the filtered R-peak lags the raw one.
        edr = s.hist_edr[a - s.n0 : b - s.n0]
        edr = edr - np.median(edr)
        self._edr.add(t_r, float(edr[int(np.argmax(np.abs(edr)))]))
        s.last_r = r
        s.anchor = r
        s.crossing = -1
        s.search_from = max(r + self._n(cfg.refractory_s), b)
        if r < s.rejudge_before:
            return None  # reported before the levels were learnt afresh (_learn_afresh)
        return Event("beat", t=t_r, reported=reported)

    def _locate(self, dev: np.ndarray) -> int:
        """Index of the R-peak in ``dev`` (the conditioned ECG around a crossing, minus its
        median).

        The largest deviation of the lead's sign (``_learn_polarity``), unless the window
        holds none at least half the size of the largest of either sign (the lead was just
        turned over); polarity-free, the largest deviation, until the sign is known. Where
        the S wave is about as deep as the R wave is tall, the polarity-free pick alternates
        between them, 20-30 ms apart: on the NeuroKit resting ECG (100 Hz) that put the
        beats' shapes out of step, so clean beats matched their neighbours at 0.1-0.3 and
        trust took 14 s to come back after one artefact (issue 15).
        """
        k = int(np.argmax(np.abs(dev)))
        if self._sign == 0:
            return k
        signed = dev * self._sign
        j = int(np.argmax(signed))
        return j if signed[j] >= 0.5 * abs(float(dev[k])) else k

    def _learn_polarity(self, dev: np.ndarray) -> None:
        """Keep the sign of the R-peak: the side whose per-beat extreme has the larger
        median over the recent beats, every beat counted (counting only trusted beats never
        began where the picks alternate, as those beats are not trusted). A known sign is
        changed only when the other side is clearly larger, so a lead whose R and S are
        about equal keeps one choice and its beats stay in step.
        """
        self._extremes.append((float(dev.max()), float(-dev.min())))
        if len(self._extremes) < 5:
            return
        pos = float(np.median([e[0] for e in self._extremes]))
        neg = float(np.median([e[1] for e in self._extremes]))
        if self._sign == 0:
            self._sign = 1 if pos >= neg else -1
        elif self._sign > 0 and neg > self.settings.polarity_switch * pos:
            self._sign = -1
        elif self._sign < 0 and pos > self.settings.polarity_switch * neg:
            self._sign = 1

    def _beat_shape(self, r: int, b: int) -> np.ndarray | None:
        """The beat's shape: the low-passed ECG from ``shape_before_s`` before the R-peak at
        ``r`` up to ``shape_after_s`` after it, or to ``b`` (one past the samples seen at
        confirmation, which does not depend on how the stream is chunked). None at a start."""
        s, cfg = self._s, self.settings
        a = r - self._n(cfg.shape_before_s)
        end = min(r + self._n(cfg.shape_after_s), b)
        if a < s.n0:
            return None
        return BeatShapes.prepare(s.hist_hp[a - s.n0 : end - s.n0])

    # ------------------------------------------------------------------ features
    def _values(self, t: float) -> dict[str, float]:
        values = self._tracker.values(t)
        values["resp_rate"] = self._edr.rate(t)
        if self._tracker.quality.trusted:  # a noise crossing must not restart the count
            onset = self._pending_onset()
            if onset is not None and t >= onset:
                values["since_beat_s"] = t - onset  # a beat is on its way: known before located
        return values

    def _pending_onset(self) -> float | None:
        """Estimated R-peak time of a beat whose threshold crossing has been seen but whose
        R-peak is not located yet (``None``: no such beat)."""
        s = self._s
        if s.crossing < 0 or not s.n0 <= s.crossing < s.n0 + s.hist_ts.size:
            return None
        offset = statistics.median(self._onset_offsets) if self._onset_offsets else 0.0
        return float(s.hist_ts[s.crossing - s.n0]) - offset

    def _ok_since(self) -> float:
        return self._tracker.quality.trusted_since  # the first beat of the trusted run

    def _status(self, t: float) -> tuple[Status, str]:
        return self._tracker.rhythm_status(t)
