"""Causal EEG band powers over a sliding window.

Each channel keeps a ring buffer of its last ``window_s`` seconds. At most every
``update_s`` (on the stream's own sample times) the window is re-analysed with
:func:`scipy.signal.welch` (Hann segments, 50 % overlap, linear detrend per segment: the
OpenBCI boards deliver raw µV with large, drifting DC offsets, and a per-segment linear fit
removes both without a filter that would need settling time).

Values
------
``delta_rel`` ... ``gamma_rel``
    Band power divided by the total power in ``total_band`` (1-30 Hz by default), computed
    per channel and then averaged over the good channels. The 1-30 Hz total keeps mains hum
    and muscle noise (mostly above 30 Hz) out of the denominator, so ``delta..beta`` sum to
    about 1 while ``gamma_rel`` is "gamma relative to the same total" (it can exceed 1 for
    very noisy recordings; it is capped below Nyquist).
``alpha``, ``theta``, ``beta``
    ``log10`` of the absolute band power (signal units² — µV² for µV input), averaged over
    good channels before the logarithm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from installation.messages import Chunk, Features, Status

__all__ = ["EegExtractor", "EegSettings"]

_TINY = 1e-12  # keeps log10 finite on a channel with (numerically) no power in a band


@dataclass(frozen=True, slots=True)
class EegSettings:
    """Settings of :class:`EegExtractor` (times in seconds, frequencies in Hz)."""

    window_s: float = 2.0
    update_s: float = 0.1
    segment_s: float = 1.0  # Welch segment length; 50 % overlap
    bands: tuple[tuple[str, float, float], ...] = (
        ("delta", 1.0, 4.0),
        ("theta", 4.0, 8.0),
        ("alpha", 8.0, 13.0),
        ("beta", 13.0, 30.0),
        ("gamma", 30.0, 45.0),
    )
    total_band: tuple[float, float] = (1.0, 30.0)
    absolute: tuple[str, ...] = ("alpha", "theta", "beta")
    channels: tuple[int, ...] = ()  # empty: every channel
    flat_tolerance: float = 1e-6  # peak-to-peak in a window below which a channel is off
    gap_factor: float = 2.5  # a sample interval this many times the nominal one is a gap
    rate_tolerance: float = 0.2  # relative change of the measured rate that resets state
    rate_samples: int = 16


def _neutral(settings: EegSettings) -> dict[str, float]:
    values = {f"{name}_rel": 1.0 / 4.0 for name, _, _ in settings.bands}
    values.update({name: 0.0 for name in settings.absolute})
    return values


@dataclass(slots=True)
class _State:
    dt: float = 0.0
    n_channels: int = -1
    pending_ts: list[np.ndarray] = field(default_factory=list)
    pending_x: list[np.ndarray] = field(default_factory=list)
    recent_dt: np.ndarray = field(default_factory=lambda: np.empty(0))
    buf: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # (n_window, ch) ring
    filled: int = 0  # samples in buf since the last reset (capped at n_window)
    write: int = 0  # ring write position
    last_ts: float = math.nan
    next_update: float = -math.inf


class EegExtractor:
    """Sliding-window relative and absolute EEG band powers for one stream.

    Parameters
    ----------
    settings
        Frozen settings.
    stream
        Name written into every :class:`Features` produced.
    """

    def __init__(self, settings: EegSettings | None = None, stream: str = "eeg") -> None:
        self.settings = settings or EegSettings()
        self.stream = stream
        self._s = _State()
        self._values = _neutral(self.settings)
        self._status = Status.STALE
        self._reason = "warming up"

    def __call__(self, chunk: Chunk) -> Features:
        """Add one chunk and return the band powers at ``chunk.t_end``.

        Parameters
        ----------
        chunk
            Next EEG chunk, any length (zero included) and channel count; may hold NaN/inf.

        Returns
        -------
        Features
            Band-power values; status ``stale`` ("warming up") until a full window exists,
            ``invalid`` when no channel is usable.
        """
        if chunk.n and chunk.info.is_numeric:
            self._ingest(np.asarray(chunk.timestamps, float), self._select(chunk.data))
        t = float(chunk.t_end) if math.isfinite(chunk.t_end) else 0.0
        status, reason = self._status, self._reason
        if chunk.status is not Status.OK:
            status, reason = chunk.status, chunk.reason or chunk.status.value
        return Features(self.stream, t, dict(self._values), status, reason)

    # ------------------------------------------------------------------ ingestion
    def _select(self, data: np.ndarray) -> np.ndarray:
        x = np.asarray(data, dtype=np.float64)
        if self.settings.channels:
            cols = [c for c in self.settings.channels if c < x.shape[1]]
            x = x[:, cols]
        return x

    def _ingest(self, ts: np.ndarray, x: np.ndarray) -> None:
        s = self._s
        if x.shape[1] == 0:
            self._set_invalid("no channels")
            return
        if x.shape[1] != s.n_channels:
            self._reset(x.shape[1])
            s = self._s
        keep = np.isfinite(ts)
        ts, x = ts[keep], x[keep]
        if ts.size == 0:
            return
        if s.dt <= 0.0:
            s.pending_ts.append(ts)
            s.pending_x.append(x)
            all_ts = np.concatenate(s.pending_ts)
            d = np.diff(all_ts)
            d = d[d > 0]
            if d.size < self.settings.rate_samples:
                return
            s.dt = float(np.median(d))
            s.recent_dt = d[-self.settings.rate_samples :]
            n_win = max(4, round(self.settings.window_s / s.dt))
            s.buf = np.zeros((n_win, s.n_channels))
            ts, x = all_ts, np.concatenate(s.pending_x)
            s.pending_ts, s.pending_x = [], []
        elif self._rate_changed(ts):
            n_ch = s.n_channels
            self._reset(n_ch)
            self._ingest(ts, x)
            return
        self._append(ts, x)

    def _rate_changed(self, ts: np.ndarray) -> bool:
        s = self._s
        prev = np.array([s.last_ts]) if math.isfinite(s.last_ts) else np.empty(0)
        d = np.diff(np.concatenate([prev, ts]))
        d = d[d > 0]
        s.recent_dt = np.concatenate([s.recent_dt, d])[-self.settings.rate_samples :]
        if s.recent_dt.size < self.settings.rate_samples:
            return False
        return abs(float(np.median(s.recent_dt)) - s.dt) > self.settings.rate_tolerance * s.dt

    def _reset(self, n_channels: int) -> None:
        self._s = _State(n_channels=n_channels)
        self._status, self._reason = Status.STALE, "warming up"

    def _append(self, ts: np.ndarray, x: np.ndarray) -> None:
        """Write samples into the ring, analysing the window at every update time passed."""
        s, cfg = self._s, self.settings
        prev = s.last_ts if math.isfinite(s.last_ts) else -math.inf
        gaps = np.flatnonzero(np.diff(np.concatenate([[prev], ts])) > cfg.gap_factor * s.dt)
        if math.isfinite(prev) and gaps.size:
            # A window spanning a gap has no meaningful spectrum: start filling again.
            last_gap = int(gaps[-1])
            s.filled, s.write = 0, 0
            self._status, self._reason = Status.STALE, "gap in samples, warming up"
            ts, x = ts[last_gap:], x[last_gap:]
        # Split the chunk at update times so each analysis sees the window ending there.
        n_win = s.buf.shape[0]
        i = 0
        while i < ts.size:
            if s.filled < n_win:
                j = min(ts.size, i + n_win - s.filled)
            else:
                j = int(np.searchsorted(ts, s.next_update, side="right"))
                j = max(j, i + 1)  # always progress, even across a long sample interval
            self._write(x[i:j])
            s.last_ts = float(ts[j - 1])
            i = j
            if s.filled >= n_win and s.last_ts >= s.next_update:
                self._analyse()
                s.next_update = s.last_ts + cfg.update_s

    def _write(self, x: np.ndarray) -> None:
        s = self._s
        n_win = s.buf.shape[0]
        if x.shape[0] >= n_win:
            s.buf[:] = x[-n_win:]
            s.write = 0
        else:
            k = min(x.shape[0], n_win - s.write)
            s.buf[s.write : s.write + k] = x[:k]
            s.buf[: x.shape[0] - k] = x[k:]
            s.write = (s.write + x.shape[0]) % n_win
        s.filled = min(n_win, s.filled + x.shape[0])

    # ------------------------------------------------------------------ analysis
    def _set_invalid(self, reason: str) -> None:
        self._status, self._reason = Status.INVALID, reason

    def _analyse(self) -> None:
        s, cfg = self._s, self.settings
        win = np.roll(s.buf, -s.write, axis=0)  # oldest sample first
        finite = np.isfinite(win).all(axis=0)
        ptp = np.ptp(np.where(np.isfinite(win), win, 0.0), axis=0)
        good = finite & (ptp > cfg.flat_tolerance)
        if not good.any():
            self._set_invalid("no finite channel" if not finite.any() else "flat signal")
            return
        fs = 1.0 / s.dt
        nper = min(win.shape[0], max(4, round(cfg.segment_s * fs)))
        freqs, psd = signal.welch(
            win[:, good],
            fs=fs,
            window="hann",
            nperseg=nper,
            noverlap=nper // 2,
            detrend="linear",
            axis=0,
        )
        df = float(freqs[1] - freqs[0])
        top = 0.5 * fs - df

        def band_power(lo: float, hi: float) -> np.ndarray:
            sel = (freqs >= lo) & (freqs < min(hi, top))
            return psd[sel].sum(axis=0) * df

        total = band_power(*cfg.total_band)
        values: dict[str, float] = {}
        usable = total > 0.0
        if not usable.any():
            self._set_invalid("no power in total band")
            return
        for name, lo, hi in cfg.bands:
            p = band_power(lo, hi)
            values[f"{name}_rel"] = float(np.mean(p[usable] / total[usable]))
            if name in cfg.absolute:
                values[name] = float(np.log10(np.mean(p[usable]) + _TINY))
        if all(math.isfinite(v) for v in values.values()):
            self._values.update(values)
            n_bad = int((~good).sum())
            self._status = Status.OK
            self._reason = f"{n_bad} channel(s) excluded" if n_bad else ""
        else:
            self._set_invalid("non-finite band power")
