"""Breathing: rate from any slowly sampled series (ECG-derived or belt), and a belt extractor.

:class:`SeriesRate` estimates the dominant breathing frequency of an irregularly sampled
series (R-peak amplitudes once per beat, or a belt signal) over a trailing window: linear
interpolation onto a 4 Hz grid, linear detrend, Hann taper, zero-padded FFT, spectral peak in
the breathing band with parabolic refinement. :class:`RespirationExtractor` adds, for a belt,
a causal band-pass and trough detection with hysteresis for the breath phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from installation.features.base import Extractor, SignalGates
from installation.features.filtering import sosfilt_1d
from installation.features.quality import detrend_linear
from installation.features.sampling import ClockSettings, Restart
from installation.messages import Event, Status

__all__ = ["RespirationExtractor", "RespirationSettings", "SeriesRate", "SeriesRateSettings"]


@dataclass(frozen=True, slots=True)
class SeriesRateSettings:
    """Settings of :class:`SeriesRate` (seconds; band in Hz)."""

    window_s: float = 32.0
    min_span_s: float = 15.0
    update_s: float = 1.0
    grid_hz: float = 4.0
    band: tuple[float, float] = (0.1, 0.6)  # 6-36 breaths per minute
    fft_size: int = 1024


class SeriesRate:
    """Dominant breathing rate (breaths/min) of an irregular series, causally."""

    def __init__(self, settings: SeriesRateSettings | None = None) -> None:
        self.settings = settings or SeriesRateSettings()
        self._t = np.empty(0)
        self._v = np.empty(0)
        self._rate = 0.0
        self._next = -math.inf

    def add(self, t: float, v: float) -> None:
        """Add one point (e.g. an R amplitude at its beat time)."""
        self.add_many(np.array([t]), np.array([v]))

    def add_many(self, t: np.ndarray, v: np.ndarray) -> None:
        """Add points in time order; non-finite ones are ignored."""
        ok = np.isfinite(t) & np.isfinite(v)
        if not ok.any():
            return
        t, v = t[ok], v[ok]
        if self._t.size and t[0] < self._t[-1]:  # a clock jump backwards: start again
            self._t, self._v = np.empty(0), np.empty(0)
            self._next = -math.inf
        self._t = np.concatenate([self._t, t])
        self._v = np.concatenate([self._v, v])
        keep = self._t >= self._t[-1] - self.settings.window_s
        self._t, self._v = self._t[keep], self._v[keep]
        if self._t[-1] >= self._next:
            self._next = self._t[-1] + self.settings.update_s
            self._estimate()

    def rate(self, t: float) -> float:
        """The latest estimate (0 until ``min_span_s`` of points exist; held through gaps)."""
        return self._rate

    @property
    def known(self) -> bool:
        return self._rate > 0.0

    def _estimate(self) -> None:
        cfg = self.settings
        if self._t.size < 8 or self._t[-1] - self._t[0] < cfg.min_span_s:
            return
        grid = np.arange(self._t[0], self._t[-1], 1.0 / cfg.grid_hz)
        v = self._v
        med = float(np.median(v))
        mad = float(np.median(np.abs(v - med))) or float(np.std(v)) or 1.0
        y = np.interp(grid, self._t, np.clip(v, med - 5 * mad, med + 5 * mad))
        y = detrend_linear(y) * np.hanning(y.size)  # = scipy's detrend, to rounding; cheaper
        n = max(cfg.fft_size, y.size)
        spec = np.abs(np.fft.rfft(y, n)) ** 2
        f = np.fft.rfftfreq(n, 1.0 / cfg.grid_hz)
        sel = np.flatnonzero((f >= cfg.band[0]) & (f <= cfg.band[1]))
        if sel.size < 3 or not np.isfinite(spec[sel]).all() or spec[sel].max() <= 0:
            return
        k = int(sel[np.argmax(spec[sel])])
        a, b, c = spec[k - 1], spec[k], spec[k + 1]
        den = a - 2 * b + c
        shift = 0.5 * (a - c) / den if den != 0 else 0.0
        peak = (k + float(np.clip(shift, -0.5, 0.5))) * (f[1] - f[0])
        if math.isfinite(peak) and peak > 0:
            self._rate = 60.0 * peak


@dataclass(frozen=True, slots=True)
class RespirationSettings:
    """Settings of :class:`RespirationExtractor` (seconds, Hz)."""

    channel: int = 0
    band: tuple[float, float] = (0.05, 1.0)
    rate: SeriesRateSettings = field(default_factory=SeriesRateSettings)
    hysteresis: float = 0.3  # of the recent breath depth, to confirm a trough or a peak
    depth_window_s: float = 20.0
    no_breath_s: float = 15.0
    clock: ClockSettings = field(default_factory=ClockSettings)
    gates: SignalGates = field(default_factory=lambda: SignalGates(
        flat_window_s=2.0, flat_tolerance=1e-9))


class RespirationExtractor(Extractor):
    """Breathing rate, phase and depth from a respiration belt (or any breathing signal).

    Values: ``resp_rate`` (breaths/min, 0 until known), ``breath_phase`` (0 at the start of
    an inhalation, rising to 1 at the next one), ``inhaling`` (1 while the belt expands),
    ``breath_depth`` (standard deviation of the band-passed signal, signal units).
    """

    kind = "RSP"

    def __init__(self, settings: RespirationSettings | None = None, stream: str = "rsp") -> None:
        super().__init__(settings or RespirationSettings(), stream)

    def _reset(self) -> None:
        self._rate = SeriesRate(self.settings.rate)
        self._sos: np.ndarray | None = None
        self._zi: np.ndarray | None = None
        self._trough_t = math.nan
        self._hist = np.empty(0)
        self._ext = 0.0  # running extreme since the last turn
        self._rising = True
        self._last_trough = math.nan
        self._last_ts = math.nan
        self._phase = 0  # samples since the last one fed to the rate estimator, mod step

    def _restart(self, why: Restart) -> None:
        if why == "rate":
            self._reset()  # the rate estimator's history is on the old grid too
        self._zi = None

    def _process(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        cfg = self.settings
        fs = 1.0 / self._clock.dt
        if self._sos is None:
            hi = min(cfg.band[1], 0.4 * fs)
            self._sos = signal.butter(2, [cfg.band[0], hi], "bandpass", fs=fs, output="sos")
        if self._zi is None:
            self._zi = signal.sosfilt_zi(self._sos) * x[0]
        y, self._zi = sosfilt_1d(self._sos, x, self._zi)
        n_depth = max(4, round(cfg.depth_window_s * fs))
        self._hist = np.concatenate([self._hist, y])[-n_depth:]
        self._last_ts = float(ts[-1])
        # Feed the rate estimator at about its grid rate: the band-pass already removed
        # everything above 1 Hz, so plain subsampling does not alias.
        step = max(1, round(fs / cfg.rate.grid_hz))
        pick = np.arange((-self._phase) % step, y.size, step)
        self._phase = (self._phase + y.size) % step
        self._rate.add_many(ts[pick], y[pick])
        h = cfg.hysteresis * max(float(np.std(self._hist)), 1e-12) * 2.0
        # A per-sample loop is cheap at belt rates (10-100 samples per chunk); hysteresis
        # keeps noise on a slow breath from counting as turns.
        for i in range(y.size):
            v = y[i]
            if self._rising:
                if v > self._ext:
                    self._ext = v
                elif v < self._ext - h:
                    self._rising, self._ext = False, v
            else:
                if v < self._ext:
                    self._ext = v
                    self._trough_t = float(ts[i])
                elif v > self._ext + h:
                    self._rising, self._ext = True, v
                    self._last_trough = (self._trough_t if math.isfinite(self._trough_t)
                                         else float(ts[i]))
        return []

    def _values(self, t: float) -> dict[str, float]:
        rate = self._rate.rate(t)
        period = 60.0 / rate if rate > 0 else 4.0
        since = t - self._last_trough if math.isfinite(self._last_trough) else math.nan
        phase = min(max(since / period, 0.0), 1.0 - 1e-9) if math.isfinite(since) else 0.0
        depth = float(np.std(self._hist)) if self._hist.size else 0.0
        return {
            "resp_rate": rate,
            "breath_phase": phase,
            "inhaling": 1.0 if self._rising else 0.0,
            "breath_depth": depth if math.isfinite(depth) else 0.0,
        }

    def _status(self, t: float) -> tuple[Status, str]:
        cfg = self.settings
        if not self._rate.known:
            return Status.STALE, "warming up"
        if math.isfinite(self._last_ts) and t - self._last_ts > cfg.no_breath_s:
            return Status.STALE, f"no samples for {t - self._last_ts:.0f} s"
        return Status.OK, ""
