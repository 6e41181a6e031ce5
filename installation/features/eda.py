"""Electrodermal activity (skin conductance): tonic level, phasic part and SCR events, causally.

* *Smoothed* EDA: causal low-pass at ``smooth_hz`` (electrode and quantisation noise out).
* *Tonic* level (the skin conductance level): a causal *lower envelope*, the minimum of the
  smoothed signal over the last ``tonic_window_s``, eased with a time constant of
  ``tonic_tau_s``, and never above the signal. A low-pass (the method before issue 15) lags
  above a falling signal: on a real resting recording (12.4 -> 4.8 µS) it made the phasic
  part negative in every frame. An SCR rises above the envelope and decays back to it.
* *Phasic*: smoothed minus tonic, so ``>= 0`` by construction.
* An *SCR* (skin conductance response) is found on the smoothed signal less its slow trend
  (a ``tonic_hz`` low-pass): that removes the slope of a falling or rising level, so an SCR
  on a falling baseline still turns the slope positive (on the raw signal it may not, and
  was missed). It starts where that slope turns positive and peaks where it turns negative
  again; it counts when the slope reached ``onset_slope`` on the way and the rise is at
  least ``min_amplitude``. It is reported at its peak (that is when a causal detector can
  know it), stamped with its onset.

Values: ``eda_tonic``, ``eda_phasic`` (signal units, µS for µS input), ``scr_amplitude`` (the
last SCR's rise), ``scr_rate`` (SCRs per minute over ``rate_window_s``), ``scr_pulse`` (1 at an
SCR's peak, decaying with ``pulse_tau_s``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from installation.features.base import Extractor, SignalGates
from installation.features.filtering import sosfilt_1d
from installation.features.sampling import ClockSettings, Restart
from installation.messages import Event, Status

__all__ = ["EdaExtractor", "EdaSettings"]


@dataclass(frozen=True, slots=True)
class EdaSettings:
    """Settings of :class:`EdaExtractor` (seconds, Hz, signal units)."""

    channel: int = 0
    smooth_hz: float = 1.0
    tonic_hz: float = 0.05  # the slow trend removed before looking for SCRs
    tonic_window_s: float = 8.0  # lower envelope: minimum over this long
    tonic_tau_s: float = 3.0  # and eased with this time constant
    episode_max_s: float = 30.0  # a rise kept for the onset search at most this long
    onset_slope: float = 0.05  # units per second
    min_amplitude: float = 0.05  # a common SCR criterion in µS
    rate_window_s: float = 60.0
    pulse_tau_s: float = 2.0
    warmup_s: float = 2.0
    clock: ClockSettings = field(default_factory=ClockSettings)
    gates: SignalGates = field(default_factory=lambda: SignalGates(
        flat_window_s=2.0, flat_tolerance=1e-9, flat_reason="flat signal (no skin contact?)",
        saturation_window_s=2.0, saturation_fraction=0.5))


class EdaExtractor(Extractor):
    """Tonic and phasic skin conductance and SCR events for one EDA stream."""

    kind = "EDA"

    def __init__(self, settings: EdaSettings | None = None, stream: str = "eda") -> None:
        super().__init__(settings or EdaSettings(), stream)

    def _reset(self) -> None:
        self._sos: tuple[np.ndarray, np.ndarray] | None = None
        self._scr_times: deque[float] = deque()
        self._last_amp = 0.0
        self._last_peak = -math.inf
        self._tonic = 0.0
        self._phasic = 0.0
        self._restart_state()

    def _restart_state(self) -> None:
        self._zi_s: np.ndarray | None = None
        self._zi_t: np.ndarray | None = None
        self._prev_y = math.nan
        self._prev_t = math.nan
        self._rising = False
        self._onset_t = math.nan
        self._onset_y = math.nan
        self._steep = False
        self._skip = 0
        self._ybuf = np.empty(0)  # the last tonic_window_s of the smoothed signal
        self._envelope = math.nan
        self._prev_raw = math.nan
        self._ep_t = np.empty(0)  # the smoothed signal since the open episode's onset
        self._ep_y = np.empty(0)

    def _restart(self, why: Restart) -> None:
        if why == "rate":
            self._sos = None
        self._restart_state()

    def _values(self, t: float) -> dict[str, float]:
        cfg = self.settings
        while self._scr_times and self._scr_times[0] < t - cfg.rate_window_s:
            self._scr_times.popleft()
        since = t - self._last_peak
        values = {
            "eda_tonic": self._tonic,
            "eda_phasic": self._phasic,
            "scr_amplitude": self._last_amp,
            "scr_rate": len(self._scr_times) * 60.0 / cfg.rate_window_s,
            "scr_pulse": math.exp(-max(since, 0.0) / cfg.pulse_tau_s) if math.isfinite(since)
            else 0.0,
        }
        return values

    def _process(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        cfg = self.settings
        fs = self._clock.fs
        if self._sos is None:
            smooth = min(cfg.smooth_hz, 0.4 * fs)
            self._sos = (
                signal.butter(2, smooth, fs=fs, output="sos"),
                signal.butter(1, min(cfg.tonic_hz, 0.4 * fs), fs=fs, output="sos"),
            )
        sos_s, sos_t = self._sos
        if self._zi_s is None or self._zi_t is None:
            self._zi_s = signal.sosfilt_zi(sos_s) * x[0]
            self._zi_t = signal.sosfilt_zi(sos_t) * x[0]
            self._skip = max(1, round(cfg.warmup_s * fs))
        y, self._zi_s = sosfilt_1d(sos_s, x, self._zi_s)
        trend, self._zi_t = sosfilt_1d(sos_t, x, self._zi_t)
        self._ybuf = np.concatenate([self._ybuf, y])[-max(1, round(cfg.tonic_window_s * fs)):]
        low = float(self._ybuf.min())
        if not math.isfinite(self._envelope):
            self._envelope = low
        else:
            a = 1.0 - math.exp(-y.size / (cfg.tonic_tau_s * fs))
            self._envelope += a * (low - self._envelope)
        self._tonic = min(self._envelope, float(y[-1]))
        self._phasic = float(y[-1]) - self._tonic
        raw = np.concatenate([[y[0] if math.isnan(self._prev_raw) else self._prev_raw], y])
        self._prev_raw = float(y[-1])
        y = y - trend  # SCRs are judged with the level's own slope removed
        yy = np.concatenate([[y[0] if math.isnan(self._prev_y) else self._prev_y], y])
        tt = np.concatenate([[ts[0] if math.isnan(self._prev_t) else self._prev_t], ts])
        slope = np.diff(yy) * fs  # slope[i] leads into sample i; yy[i], tt[i] precede it
        self._prev_y, self._prev_t = float(y[-1]), float(ts[-1])
        if self._skip:
            k = min(self._skip, y.size)
            slope[:k] = 0.0
            self._skip -= k
        events: list[Event] = []
        # Only sign changes and threshold crossings matter: visit those samples only.
        up = slope > 0
        interesting = np.flatnonzero(
            np.diff(np.concatenate([[self._rising], up]).astype(int)) | (slope >= cfg.onset_slope)
        )
        start = 0  # where this chunk's part of a rising episode begins
        for i in interesting:
            if up[i] and not self._rising:  # slope turned positive: a candidate onset
                self._rising, self._steep = True, False
                self._onset_t, self._onset_y = float(tt[i]), float(yy[i])
                self._ep_t, self._ep_y, start = tt[i:i], raw[i:i], i
            if up[i] and slope[i] >= cfg.onset_slope:
                self._steep = True
            if not up[i] and self._rising:  # slope turned: the peak is the previous sample
                self._rising = False
                ep_t = np.concatenate([self._ep_t, tt[start:i + 1]])
                ep_y = np.concatenate([self._ep_y, raw[start:i + 1]])
                amp = float(yy[i]) - self._onset_y
                onset = self._onset_t
                k = int(np.argmin(ep_y))
                if 0 < k < ep_y.size - 1:
                    # The level itself turned up during the episode: the response began at
                    # that minimum, not where the trend-free slope first turned (which a
                    # causal trend can put before the stimulus).
                    onset, amp = float(ep_t[k]), float(ep_y[-1] - ep_y[k])
                if self._steep and amp >= cfg.min_amplitude and math.isfinite(amp):
                    peak_t = float(tt[i])
                    self._last_amp, self._last_peak = amp, peak_t
                    self._scr_times.append(peak_t)
                    events.append(Event("scr", t=onset, reported=float(ts[i]), value=amp))
        if self._rising:  # the episode goes on into the next chunk
            keep = max(1, round(cfg.episode_max_s * fs))
            self._ep_t = np.concatenate([self._ep_t, tt[start:-1]])[-keep:]
            self._ep_y = np.concatenate([self._ep_y, raw[start:-1]])[-keep:]
        return events

    def _status(self, t: float) -> tuple[Status, str]:
        if self._clock.dt <= 0 or self._skip:
            return Status.STALE, "warming up"
        return Status.OK, ""
