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
   inverted lead works, and stamped with the R-peak's own sample time.

Everything is defined on absolute sample indices, so the result does not depend on how the
stream is cut into chunks. Filters run vectorised over each chunk with ``sosfilt`` state
carried in ``zi``; only the (few) candidate beats are visited in a Python loop.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import signal

from installation.features.beats import BeatSettings, BeatTracker
from installation.features.respiration import SeriesRate, SeriesRateSettings
from installation.messages import Chunk, Event, Features, Status

__all__ = ["CardiacExtractor", "CardiacSettings"]


@dataclass(frozen=True, slots=True)
class CardiacSettings:
    """Settings of :class:`CardiacExtractor` (times in seconds, frequencies in Hz)."""

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
    decay_after_rr: float = 1.5  # threshold starts decaying after this many mean RRs
    decay_tau_s: float = 0.8
    relearn_s: float = 4.0  # no beat for this long: re-learn levels from the last learn_s
    level_alpha: float = 0.125  # Pan-Tompkins running-estimate weight
    rr_min_s: float = 0.25
    rr_max_s: float = 3.0
    hr_beats: int = 5  # heart rate = 60 / mean of the last hr_beats accepted RR intervals
    pulse_tau_s: float = 0.25
    no_beat_s: float = 3.0
    flat_window_s: float = 0.5
    flat_tolerance: float = 1e-6  # peak-to-peak (signal units) below which the lead is off
    invalid_hold_s: float = 0.5  # non-finite samples keep status INVALID this long
    gap_factor: float = 2.5  # a sample interval this many times the nominal one is a gap
    rate_tolerance: float = 0.2  # relative change of the measured rate that resets state
    rate_samples: int = 16  # sample intervals used to measure (and watch) the rate
    neutral_heart_rate: float = 70.0
    beats: BeatSettings = field(default_factory=BeatSettings)  # artefact rules, HRV (the
    # rr_min_s, rr_max_s, hr_beats, pulse_tau_s, neutral_heart_rate above override its own)
    edr: SeriesRateSettings = field(default_factory=SeriesRateSettings)  # breathing from ECG


@dataclass(slots=True)
class _Levels:
    spk: float = 0.0
    npk: float = 0.0
    ready: bool = False


@dataclass(slots=True)
class _State:
    """Everything the detector remembers between chunks (reset on a rate change)."""

    dt: float = 0.0  # measured sample interval; 0 until known
    pending_ts: list[np.ndarray] = field(default_factory=list)  # samples before dt is known
    pending_x: list[np.ndarray] = field(default_factory=list)
    recent_dt: np.ndarray = field(default_factory=lambda: np.empty(0))
    last_ts: float = math.nan
    sos_band: np.ndarray | None = None
    sos_hp: np.ndarray | None = None
    zi_band: np.ndarray | None = None
    zi_hp: np.ndarray | None = None
    need_restart: bool = True  # next finite sample starts a fresh filter segment
    # History on absolute sample indices: index of hist[0] is n0.
    n0: int = 0
    hist_ts: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_hp: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_f: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_raw: np.ndarray = field(default_factory=lambda: np.empty(0))
    ma_tail: np.ndarray = field(default_factory=lambda: np.empty(0))  # for the moving average
    levels: _Levels = field(default_factory=_Levels)
    learn_at: int = -1  # absolute index at which levels are (re)learnt
    search_from: int = 0  # no crossing may start before this index
    crossing: int = -1  # pending crossing waiting for locate_after samples
    last_r: int = -1  # absolute index of the last R-peak (-1: none in this segment)
    anchor: int = 0  # last beat or (re)learning point: relearn_s after it, levels are re-learnt


class CardiacExtractor:
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
    ``chunk.t_end`` and the beats newly reported in that call.
    """

    def __init__(self, settings: CardiacSettings | None = None, stream: str = "ecg") -> None:
        self.settings = settings or CardiacSettings()
        self.stream = stream
        self._s = _State()
        # Beat history survives resets: the picture keeps its last heart rate through a gap.
        cfg = self.settings
        # The flat rr/hr/pulse settings predate BeatSettings and keep their meaning.
        beat_cfg = replace(
            cfg.beats, rr_min_s=cfg.rr_min_s, rr_max_s=cfg.rr_max_s, hr_beats=cfg.hr_beats,
            pulse_tau_s=cfg.pulse_tau_s, neutral_heart_rate=cfg.neutral_heart_rate,
        )
        self._tracker = BeatTracker(beat_cfg)
        # ECG-derived respiration: the R amplitude swings with breathing (chest impedance,
        # heart axis), sampled once per beat.
        self._edr = SeriesRate(cfg.edr)
        self._last_reported_r = math.nan
        self._last_bad_t = -math.inf
        # Threshold crossing -> R-peak offsets of recent beats: a crossing tells of a beat
        # locate_after_s before the R-peak is located, at about crossing - this offset.
        self._onset_offsets: deque[float] = deque(maxlen=9)

    # ------------------------------------------------------------------ public
    def __call__(self, chunk: Chunk) -> Features:
        """Process one chunk and return the features at ``chunk.t_end``.

        Parameters
        ----------
        chunk
            Next ECG chunk (any length, including zero). Non-finite samples, flat segments
            and gaps are tolerated.

        Returns
        -------
        Features
            ``heart_rate`` (bpm, artefact-corrected), ``rr`` (s), ``hrv_rmssd``, ``hrv_sdnn``
            (ms, rolling), ``beat_pulse``, ``beat_phase``, ``beat_count``, ``resp_rate``
            (breaths/min from the R-amplitude EDR; 0 until known), ``since_beat_s`` (s since
            the latest beat: counted from the estimated R-peak as soon as the QRS crosses the
            threshold, ``locate_after_s`` before the beat is reported), the forecast
            ``next_beat_in_s``, ``beat_phase_pred``, ``beat_confidence``
            (:mod:`installation.features.beat_timing`); ``events`` holds a
            ``"beat"`` event per newly reported beat.
        """
        events: list[Event] = []
        if chunk.n and not (chunk.info.is_numeric and chunk.data.shape[1] > self.settings.channel):
            feats = self._features(chunk, events)
            reason = f"no numeric channel {self.settings.channel}"
            return Features(self.stream, feats.t, feats.values, Status.INVALID, reason)
        if chunk.n:
            ts = np.asarray(chunk.timestamps, dtype=np.float64)
            x = np.asarray(chunk.data[:, self.settings.channel], dtype=np.float64)
            events = self._ingest(ts, x)
        return self._features(chunk, events)

    # ------------------------------------------------------------------ ingestion
    def _ingest(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        s = self._s
        good = np.isfinite(x) & np.isfinite(ts)
        if not good.all():
            bad_ts = ts[~good & np.isfinite(ts)]
            if bad_ts.size:
                self._last_bad_t = max(self._last_bad_t, float(bad_ts.max()))
        if s.dt <= 0.0:
            return self._collect_for_rate(ts, x)
        if self._rate_changed(ts[good]):
            self._reset()
            return self._collect_for_rate(ts, x)
        return self._process(ts, x, good)

    def _collect_for_rate(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        """Hold samples until enough intervals are seen to measure the sample rate."""
        s = self._s
        s.pending_ts.append(ts)
        s.pending_x.append(x)
        all_ts = np.concatenate(s.pending_ts)
        all_x = np.concatenate(s.pending_x)
        fin = np.isfinite(all_ts)
        d = np.diff(all_ts[fin])
        d = d[d > 0]
        if d.size < self.settings.rate_samples:
            return []
        s.dt = float(np.median(d))
        s.recent_dt = d[-self.settings.rate_samples :]
        self._design()
        s.pending_ts, s.pending_x = [], []
        s.last_ts = math.nan
        s.need_restart = True
        ok = np.isfinite(all_x) & fin
        return self._process(all_ts, all_x, ok)

    def _rate_changed(self, ts_good: np.ndarray) -> bool:
        s = self._s
        if ts_good.size == 0:
            return False
        prev = np.array([s.last_ts]) if np.isfinite(s.last_ts) else np.empty(0)
        d = np.diff(np.concatenate([prev, ts_good]))
        d = d[d > 0]
        if d.size == 0:
            return False
        s.recent_dt = np.concatenate([s.recent_dt, d])[-self.settings.rate_samples :]
        if s.recent_dt.size < self.settings.rate_samples:
            return False
        med = float(np.median(s.recent_dt))
        return abs(med - s.dt) > self.settings.rate_tolerance * s.dt

    def _design(self) -> None:
        s, cfg = self._s, self.settings
        fs = 1.0 / s.dt
        nyq = 0.5 * fs
        lo, hi = cfg.band[0], min(cfg.band[1], 0.45 * fs)
        lo = min(lo, 0.5 * hi)
        s.sos_band = signal.butter(cfg.band_order, [lo / nyq, hi / nyq], "bandpass", output="sos")
        s.sos_hp = signal.butter(1, min(cfg.highpass, 0.4 * nyq) / nyq, "highpass", output="sos")

    def _reset(self) -> None:
        """Forget the rate and all filter/detector state (the beat history is kept)."""
        self._s = _State()
        self._tracker.break_chain()

    def _n(self, seconds: float) -> int:
        return max(1, round(seconds / self._s.dt))

    def _process(self, ts: np.ndarray, x: np.ndarray, good: np.ndarray) -> list[Event]:
        s, cfg = self._s, self.settings
        # A new filter segment starts after non-finite samples and at time gaps.
        prev = s.last_ts if np.isfinite(s.last_ts) else -math.inf
        starts = np.zeros(ts.size, dtype=bool)
        idx = np.flatnonzero(good)
        if idx.size == 0:
            s.need_restart = True
            return []
        gts = ts[idx]
        gaps = np.diff(np.concatenate([[prev], gts])) > cfg.gap_factor * s.dt
        starts[idx[gaps]] = True
        # A sample right after a non-finite one also restarts.
        after_bad = np.zeros(ts.size, dtype=bool)
        after_bad[1:] = ~good[:-1]
        starts |= after_bad & good
        if s.need_restart:
            starts[idx[0]] = True
        s.need_restart = not good[-1]
        s.last_ts = float(gts[-1])

        events: list[Event] = []
        seg_bounds = np.flatnonzero(starts[idx])
        cuts = np.concatenate([[0], seg_bounds, [idx.size]])
        for a, b in itertools.pairwise(cuts):
            if b <= a:
                continue
            restart = bool(starts[idx[a]])
            events.extend(self._segment(gts[a:b], x[idx[a:b]], restart))
        return events

    def _segment(self, ts: np.ndarray, x: np.ndarray, restart: bool) -> list[Event]:
        """Filter one continuous run of finite samples and run the detector on it."""
        s, cfg = self._s, self.settings
        assert s.sos_band is not None and s.sos_hp is not None
        if restart or s.zi_band is None:
            # Start filters as if the signal had sat at its first value: no step transient.
            s.zi_band = signal.sosfilt_zi(s.sos_band) * x[0]
            s.zi_hp = signal.sosfilt_zi(s.sos_hp) * x[0]
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
        band, s.zi_band = signal.sosfilt(s.sos_band, x, zi=s.zi_band)
        hp, s.zi_hp = signal.sosfilt(s.sos_hp, x, zi=s.zi_hp)
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
        events = self._detect()
        keep = self._n(max(cfg.learn_s, cfg.relearn_s) + 1.0)
        if s.hist_ts.size > keep:
            drop = s.hist_ts.size - keep
            s.n0 += drop
            s.hist_ts = s.hist_ts[drop:]
            s.hist_hp = s.hist_hp[drop:]
            s.hist_f = s.hist_f[drop:]
            s.hist_raw = s.hist_raw[drop:]
        return events

    # ------------------------------------------------------------------ detection
    def _learn(self, end: int) -> None:
        s, cfg = self._s, self.settings
        a = max(end - self._n(cfg.learn_s), s.n0)
        seg = s.hist_f[a - s.n0 : end - s.n0]
        raw = s.hist_raw[a - s.n0 : end - s.n0]
        # A flat lead only holds filter ringing: levels learnt from it would turn numerical
        # noise into beats, so stay unready until the signal returns.
        s.levels.ready = bool(seg.size) and float(np.ptp(raw)) > cfg.flat_tolerance
        if s.levels.ready:
            s.levels.spk = float(seg.max())
            s.levels.npk = float(np.median(seg))
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
            decay = np.exp(-np.clip(k, 0, None) * s.dt / cfg.decay_tau_s)
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
                s.search_from = max(s.search_from, s.learn_at)
                s.anchor = s.learn_at
                s.learn_at = -1
            if s.crossing >= 0:
                c = s.crossing
                if end <= c + after:
                    return events
                events.append(self._confirm(c, before, after))
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
            return events

    def _confirm(self, c: int, before: int, after: int) -> Event:
        """Locate the R-peak around crossing ``c`` and update the adaptive levels."""
        s, cfg = self._s, self.settings
        a = max(c - before, s.n0, s.search_from - before)
        b = c + after + 1
        hp = s.hist_hp[a - s.n0 : b - s.n0]
        dev = np.abs(hp - np.median(hp))
        r = a + int(np.argmax(dev))
        peak_f = float(s.hist_f[c - s.n0 : b - s.n0].max())
        lv = s.levels
        if s.last_r >= 0:
            # Noise level: the largest detection-signal excursion between the two beats.
            na = s.last_r + self._n(cfg.refractory_s)
            nb = c - before
            if nb > na:
                noise = float(s.hist_f[max(na, s.n0) - s.n0 : nb - s.n0].max(initial=0.0))
                lv.npk += cfg.level_alpha * (noise - lv.npk)
        base = lv.npk + cfg.threshold_fraction * (lv.spk - lv.npk)
        if peak_f < base:
            # Found only thanks to the decayed threshold: the QRS amplitude dropped (strap
            # slipped, gain changed). A slow running average would miss the next beats too.
            lv.spk = peak_f
        else:
            lv.spk += cfg.level_alpha * (peak_f - lv.spk)
        t_r = float(s.hist_ts[r - s.n0])
        reported = float(s.hist_ts[b - 1 - s.n0])
        self._onset_offsets.append(float(s.hist_ts[c - s.n0]) - t_r)
        self._add_beat(t_r)
        self._edr.add(t_r, float(hp[r - a] - np.median(hp)))
        s.last_r = r
        s.anchor = r
        s.crossing = -1
        s.search_from = max(r + self._n(cfg.refractory_s), b)
        return Event("beat", t=t_r, reported=reported)

    def _add_beat(self, t_r: float) -> None:
        self._tracker.add_beat(t_r)
        self._last_reported_r = t_r

    # ------------------------------------------------------------------ features
    def _features(self, chunk: Chunk, events: list[Event]) -> Features:
        s = self._s
        t = float(chunk.t_end)
        if not math.isfinite(t):
            t = s.last_ts if math.isfinite(s.last_ts) else 0.0
        last = self._last_reported_r
        since = t - last if math.isfinite(last) else math.inf
        values = self._tracker.values(t)
        values["resp_rate"] = self._edr.rate(t)
        onset = self._pending_onset()
        if onset is not None and t >= onset:
            values["since_beat_s"] = t - onset  # a beat is on its way: known before located
        status, reason = self._status(chunk, t, since)
        return Features(self.stream, t, values, status, reason, tuple(events))

    def _pending_onset(self) -> float | None:
        """Estimated R-peak time of a beat whose threshold crossing has been seen but whose
        R-peak is not located yet (``None``: no such beat)."""
        s = self._s
        if s.crossing < 0 or not s.n0 <= s.crossing < s.n0 + s.hist_ts.size:
            return None
        offset = statistics.median(self._onset_offsets) if self._onset_offsets else 0.0
        return float(s.hist_ts[s.crossing - s.n0]) - offset

    def _status(self, chunk: Chunk, t: float, since: float) -> tuple[Status, str]:
        cfg, s = self.settings, self._s
        if chunk.status is not Status.OK:
            return chunk.status, chunk.reason or chunk.status.value
        if t - self._last_bad_t <= cfg.invalid_hold_s:
            return Status.INVALID, "non-finite samples"
        if s.dt > 0 and s.hist_raw.size:
            n = self._n(cfg.flat_window_s)
            tail = s.hist_raw[-n:]
            if tail.size >= n and np.ptp(tail) <= cfg.flat_tolerance:
                return Status.INVALID, "flat signal"
        return self._tracker.rhythm_status(since, cfg.no_beat_s)
