"""Causal pulse-peak detection from a PPG (finger / ear / wrist photoplethysmogram).

A causal form of Elgendi et al. (2013), "Systolic peak detection in acceleration
photoplethysmograms" (the two-moving-average method), hand-written because no library offers
an incremental version:

1. Band-pass 0.5-8 Hz (pulse wave without baseline drift or hand tremor), then keep only the
   positive half squared: ``z = max(y, 0)²``.
2. Trailing moving averages of ``z`` over a systolic-peak width (``peak_window_s``) and over
   a beat (``beat_window_s``). A *block of interest* is where the short average exceeds the
   long one plus ``offset`` times the running mean of ``z``.
3. When a block ends (and is wide enough), the pulse peak is the maximum of the band-passed
   signal in it; it is reported at the block's end, stamped with the peak's own time.

Beats go to :class:`~installation.features.beats.BeatTracker`, so PPG reports the same
heart-rate and HRV values, with the same artefact rules and quality judge, as the ECG.

Two departures from the paper, both for high heart rates (issue 15: a real ICU PPG at ~126
bpm gave 2 of every 3 pulses for minutes):

* The beat window ``W2`` is Elgendi's 667 ms (about one beat at 90 bpm) only up to there; it
  shrinks to ``beat_window_rr`` of the current interval estimate. A 667-ms window at 150 bpm
  spans 1.7 beats, so a weaker pulse next to a strong one (alternans, breathing) never rose
  above the average and was lost. The estimate is the shortest quarter of the recent
  intervals, so a halved rhythm (intervals of 1 and 2 beats) cannot hold itself in place.
* Each pulse's shape (the band-passed wave around its peak) and amplitude (peak over the
  foot before it: a relative perfusion) go to the quality judge, as the ECG's QRS do.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from installation.features.base import Extractor, SignalGates
from installation.features.beats import BeatSettings, BeatTracker
from installation.features.filtering import sosfilt_1d
from installation.features.quality import BeatShapes, QualitySettings
from installation.features.sampling import ClockSettings, Restart
from installation.messages import Event, Status

__all__ = ["PpgExtractor", "PpgSettings"]


@dataclass(frozen=True, slots=True)
class PpgSettings:
    """Settings of :class:`PpgExtractor` (times in seconds, frequencies in Hz)."""

    channel: int = 0
    band: tuple[float, float] = (0.5, 8.0)
    peak_window_s: float = 0.111
    beat_window_s: float = 0.667
    beat_window_rr: float = 0.8  # W2 at most this fraction of the interval estimate
    min_beat_window_s: float = 0.25
    shape_before_s: float = 0.25  # pulse shape for the quality judge, around the peak
    shape_after_s: float = 0.1
    offset: float = 0.02
    mean_tau_s: float = 10.0  # running mean of z for the offset
    refractory_s: float = 0.3
    warmup_s: float = 2.0  # after a (re)start: filters settle, no beats reported
    # Pulse waves are smooth, so smooth noise (drift, a probe off the finger) resembles them
    # more than it resembles a QRS: stricter likeness, as Orphanidou et al. (2015) also use
    # for PPG (0.86 against 0.66 for ECG).
    # Pulse amplitude swings more from beat to beat than a QRS (breathing, vasomotion):
    # the entry run allows the wider range the ECG had before its own was tightened.
    beats: BeatSettings = field(default_factory=lambda: BeatSettings(
        quality=QualitySettings(match_corr=0.9, entry_corr=0.95, entry_amplitude=(0.7, 1.43))))
    clock: ClockSettings = field(default_factory=ClockSettings)
    gates: SignalGates = field(default_factory=lambda: SignalGates(
        flat_tolerance=1e-9, saturation_window_s=1.0))


class PpgExtractor(Extractor):
    """Pulse peaks and heart features from one PPG stream.

    Values are those of :meth:`BeatTracker.values` (``heart_rate``, ``rr``, ``hrv_rmssd``,
    ``hrv_sdnn``, ``beat_pulse``, ``beat_phase``, ``beat_count``); ``events`` holds a
    ``"beat"`` event per pulse peak.
    """

    kind = "PPG"

    def __init__(self, settings: PpgSettings | None = None, stream: str = "ppg") -> None:
        super().__init__(settings or PpgSettings(), stream)

    def _reset(self) -> None:
        self._tracker = BeatTracker(self.settings.beats)
        self._sos: np.ndarray | None = None
        self._shapes = BeatShapes()
        self._intervals: deque[float] = deque(maxlen=8)  # recent detected intervals
        self._short_interval = math.nan
        self._restart_state()

    def _restart(self, why: Restart) -> None:
        if why == "rate":
            self._sos = None
            self._shapes.clear()
        self._restart_state()
        self._tracker.break_chain()

    def _restart_state(self) -> None:
        self._zi: np.ndarray | None = None
        self._tail_z = np.empty(0)  # last beat_window - 1 samples of z, for the averages
        self._hist_ts = np.empty(0)  # ts and y since the open block began (or a short tail)
        self._hist_y = np.empty(0)
        self._in_block = False
        self._block_start = 0  # index in the history where the open block began
        self._mean_z = math.nan
        self._skip = 0  # samples left in the warm-up
        self._last_peak = -math.inf
        self._ring_ts = np.empty(0)  # the last second of band-passed samples: pulse shapes
        self._ring_y = np.empty(0)

    def _values(self, t: float) -> dict[str, float]:
        return self._tracker.values(t)

    def _process(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        cfg = self.settings
        fs = self._clock.fs
        if self._sos is None:
            hi = min(cfg.band[1], 0.45 * fs)
            self._sos = signal.butter(2, [min(cfg.band[0], 0.5 * hi), hi], "bandpass", fs=fs,
                                      output="sos")
        if self._zi is None:
            self._zi = signal.sosfilt_zi(self._sos) * x[0]
            self._skip = max(1, round(cfg.warmup_s * fs))
        y, self._zi = sosfilt_1d(self._sos, x, self._zi)
        z = np.maximum(y, 0.0) ** 2
        w1 = max(1, round(cfg.peak_window_s * fs))
        w2_max = max(w1 + 1, round(cfg.beat_window_s * fs))
        w2 = w2_max
        if len(self._intervals) >= 4:
            short = self._short_interval
            w2 = min(w2_max, max(w1 + 1, round(max(cfg.min_beat_window_s,
                                                    cfg.beat_window_rr * short) * fs)))
        full = np.concatenate([self._tail_z, z])
        csum = np.concatenate([[0.0], np.cumsum(full)])
        pos = np.arange(self._tail_z.size, full.size) + 1
        ma_peak = (csum[pos] - csum[np.maximum(pos - w1, 0)]) / w1
        ma_beat = (csum[pos] - csum[np.maximum(pos - w2, 0)]) / w2
        self._tail_z = full[-(w2_max - 1) :]
        keep = max(4, round((cfg.shape_before_s + cfg.shape_after_s + 0.5) * fs))
        self._ring_ts = np.concatenate([self._ring_ts, ts])[-keep:]
        self._ring_y = np.concatenate([self._ring_y, y])[-keep:]
        # Running mean of z (one exponential step per chunk: cheap, and the offset is small).
        a = 1.0 - math.exp(-z.size / (cfg.mean_tau_s * fs))
        chunk_mean = float(z.mean())
        self._mean_z = chunk_mean if not math.isfinite(self._mean_z) else (
            self._mean_z + a * (chunk_mean - self._mean_z)
        )
        above = ma_peak > ma_beat + cfg.offset * self._mean_z
        if self._skip:
            k = min(self._skip, above.size)
            above[:k] = False
            self._skip -= k
        events: list[Event] = []
        self._hist_ts = np.concatenate([self._hist_ts, ts])
        self._hist_y = np.concatenate([self._hist_y, y])
        base = self._hist_ts.size - ts.size  # index of this chunk's first sample in hist
        changes = np.flatnonzero(np.diff(np.concatenate([[self._in_block], above]).astype(int)))
        for c in changes:
            if not self._in_block:  # a block opens at c
                self._in_block = True
                # Keep only the block (and the peak window before it) in the history.
                cut = max(0, base + c - w1)
                self._hist_ts, self._hist_y = self._hist_ts[cut:], self._hist_y[cut:]
                base -= cut
                self._block_start = base + c
            else:  # the block closes before c
                self._in_block = False
                end = base + c  # one past the block's last sample
                if end - self._block_start >= max(1, w1 // 2):  # narrower: a noise spike
                    k = int(np.argmax(self._hist_y[:end]))
                    t_peak = float(self._hist_ts[k])
                    if t_peak - self._last_peak >= cfg.refractory_s:
                        if math.isfinite(self._last_peak):
                            self._intervals.append(t_peak - self._last_peak)
                            # The shortest quarter, once per pulse rather than per chunk.
                            self._short_interval = float(np.percentile(self._intervals, 25))
                        self._last_peak = t_peak
                        self._judge(t_peak, float(self._hist_ts[end - 1]))
                        events.append(
                            Event("beat", t=t_peak, reported=float(self._hist_ts[end - 1]))
                        )
                self._hist_ts, self._hist_y = self._hist_ts[end:], self._hist_y[end:]
                base -= end
        if not self._in_block:
            self._hist_ts, self._hist_y = self._hist_ts[-w1:], self._hist_y[-w1:]
        return events

    def _judge(self, t_peak: float, t_end: float) -> None:
        """Hand the pulse at ``t_peak`` to the tracker with its shape and amplitude."""
        cfg = self.settings
        ts, y = self._ring_ts, self._ring_y
        a = int(np.searchsorted(ts, t_peak - cfg.shape_before_s))
        k = int(np.searchsorted(ts, t_peak))
        b = int(np.searchsorted(ts, min(t_peak + cfg.shape_after_s, t_end), side="right"))
        if a == 0 and (ts.size == 0 or ts[0] > t_peak - cfg.shape_before_s + self._clock.dt):
            self._tracker.add_beat(t_peak)  # the run just started: no full shape yet
            return
        shape = BeatShapes.prepare(y[a:b])
        amplitude = float(y[min(k, y.size - 1)] - y[a : k + 1].min())
        tracker = self._tracker
        neighbours, previous = self._shapes.neighbours(shape)
        good = tracker.add_beat(t_peak, neighbours, previous, amplitude,
                                self._shapes.template(shape))
        self._shapes.add(shape, accepted=good)
        if tracker.quality.entered:
            self._shapes.restart_template(tracker.quality.settings.entry_beats)

    def _ok_since(self) -> float:
        return self._tracker.quality.trusted_since  # the first beat of the trusted run

    def _status(self, t: float) -> tuple[Status, str]:
        return self._tracker.rhythm_status(t)
