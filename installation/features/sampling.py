"""Sample-clock bookkeeping shared by every regularly sampled extractor (see ``base.py``).

The rate is *measured* from the samples' own timestamps (headers lie: a "125 Hz" board may
deliver 51 Hz), watched for changes, and the stream is cut into runs of finite, evenly spaced
samples so filters restart at gaps, non-finite samples, clock jumps and rate changes instead
of ringing through them. The same counts feed the replay summary (measured rate, gaps).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["ClockSettings", "Restart", "SampleClock"]

Restart = Literal["start", "rate"] | None


@dataclass(frozen=True, slots=True)
class ClockSettings:
    """Settings of :class:`SampleClock`."""

    rate_samples: int = 16  # intervals used to measure (and watch) the rate
    rate_tolerance: float = 0.2  # relative change of the measured rate that resets state
    gap_factor: float = 2.5  # an interval this many times the measured one is a gap
    invalid_hold_s: float = 0.5  # non-finite samples keep the stream invalid this long
    tail_s: float = 4.0  # raw samples kept for flat / saturation checks (0: none kept)
    # False for multichannel streams: a sample is dropped only for a non-finite time stamp,
    # and a non-finite value in one channel is left to the extractor's per-channel checks.
    finite_values: bool = True


class SampleClock:
    """Measures a stream's real sample rate and splits chunks into continuous runs.

    ``x`` is ``(n,)`` or ``(n, channels)``; runs keep that shape.
    """

    def __init__(self, settings: ClockSettings | None = None) -> None:
        self.settings = settings or ClockSettings()
        self.dt = 0.0
        self._pending_ts = np.empty(0)
        self._pending_x: np.ndarray | None = None
        self._recent = np.empty(0)
        self._last_ts = math.nan
        self._restart: Restart = "rate"
        self.last_bad_t = -math.inf
        self._tail = np.empty(0)
        self.samples = 0  # finite samples accepted so far
        self.gaps = 0  # cuts after the first run: gaps, dropped runs, clock jumps

    @property
    def fs(self) -> float:
        """Measured sample rate (0 until known)."""
        return 1.0 / self.dt if self.dt > 0 else 0.0

    def segments(
        self, ts: np.ndarray, x: np.ndarray, _again: bool = False
    ) -> Iterator[tuple[np.ndarray, np.ndarray, Restart]]:
        """Yield ``(ts, x, restart)`` runs of finite samples ready for filtering.

        ``restart`` is ``"rate"`` when the rate was (re)measured (the caller redesigns
        filters and forgets state), ``"start"`` after a gap, a non-finite sample or a clock
        jump (the caller restarts its filters), ``None`` for a continuation.
        """
        cfg = self.settings
        finite_t = np.isfinite(ts)
        good = finite_t
        if cfg.finite_values:
            fin = np.isfinite(x) if x.ndim == 1 else np.isfinite(x).all(axis=1)
            good = finite_t & fin
        # Nearly every chunk is all good: its checks are then skipped (cost, issue 15).
        all_good = bool(good.all())
        if not all_good:
            bad_t = ts[finite_t & ~good]
            if bad_t.size:
                self.last_bad_t = max(self.last_bad_t, float(bad_t.max()))
            elif (~finite_t).any() and math.isfinite(self._last_ts):
                self.last_bad_t = max(self.last_bad_t, self._last_ts)
        if self.dt <= 0.0:
            self._pending_ts = np.concatenate([self._pending_ts, ts[good]])
            self._pending_x = (x[good] if self._pending_x is None
                               else np.concatenate([self._pending_x, x[good]]))
            d = np.diff(self._pending_ts)
            d = d[d > 0]
            if d.size < cfg.rate_samples:
                return
            self.dt = float(np.median(d[-cfg.rate_samples :]))  # as the watch measures it
            self._recent = d[-cfg.rate_samples :]
            ts, x = self._pending_ts, self._pending_x
            good, all_good = np.ones(ts.size, dtype=bool), True
            self._pending_ts, self._pending_x = np.empty(0), None
            self._restart, self._last_ts = "rate", math.nan
        if all_good:
            if ts.size == 0:
                return
            gts, gx = ts, x
        else:
            idx = np.flatnonzero(good)
            if idx.size == 0:
                return
            gts, gx = ts[idx], x[idx]
        prev = self._last_ts if math.isfinite(self._last_ts) else gts[0]
        d = np.empty(gts.size)
        d[0] = gts[0] - prev
        np.subtract(gts[1:], gts[:-1], out=d[1:])
        pos = d[d > 0]
        self._recent = np.concatenate([self._recent, pos])[-cfg.rate_samples :]
        # The median can only leave the tolerance band if some recent interval lies outside
        # it: a cheap test first, the (per-chunk, costly) median only then.
        tol = cfg.rate_tolerance * self.dt
        if (
            not _again
            and self._recent.size >= cfg.rate_samples
            and bool((np.abs(self._recent - self.dt) > tol).any())
            and abs(float(np.median(self._recent)) - self.dt) > tol
        ):
            # The device changed (or never had) its rate: measure it again from here.
            self.dt, self._recent, self._last_ts = 0.0, np.empty(0), math.nan
            yield from self.segments(gts, gx, _again=True)
            return
        # Cuts: gaps (a run of dropped non-finite samples longer than the gap threshold is
        # one) and backwards clock jumps. An isolated bad sample is skipped without a cut:
        # restarting the filters for it would blind the detector for their settling time.
        cut = (d > cfg.gap_factor * self.dt) | (d < 0)
        self.gaps += int(np.count_nonzero(cut[1:])) + int(
            bool(cut[0]) and math.isfinite(self._last_ts))
        cut[0] = cut[0] or self._restart == "rate" or not math.isfinite(self._last_ts)
        if cfg.tail_s > 0:
            keep = max(4, round(cfg.tail_s / self.dt))
            self._tail = np.concatenate([self._tail, gx])[-keep:]
        self._last_ts = float(gts[-1])
        self.samples += int(gts.size)
        if not cut.any():  # the usual chunk: one run, continuing the last
            yield gts, gx, None
            return
        bounds = np.concatenate([np.flatnonzero(cut), [gts.size]])
        if bounds[0] != 0:
            bounds = np.concatenate([[0], bounds])
        first_reason, self._restart = self._restart or "start", None
        for k in range(bounds.size - 1):
            a, b = int(bounds[k]), int(bounds[k + 1])
            if b <= a:
                continue
            reason: Restart = None
            if cut[a]:
                reason = first_reason if a == 0 else "start"
            yield gts[a:b], gx[a:b], reason

    def invalid_reason(self, t: float) -> str:
        """A reason string while recent samples were non-finite, else ``""``."""
        if t - self.last_bad_t <= self.settings.invalid_hold_s:
            return "non-finite samples"
        return ""

    def flat(self, window_s: float, tolerance: float) -> bool:
        """Whether the last ``window_s`` of raw samples is flat (electrode off, clipped)."""
        if self.dt <= 0:
            return False
        n = max(2, round(window_s / self.dt))
        tail = self._tail[-n:]
        return tail.size >= n and float(tail.max() - tail.min()) <= tolerance

    def saturated(self, window_s: float, fraction: float = 0.2) -> bool:
        """Whether ``fraction`` of recent samples sit exactly at the window's max or min."""
        if self.dt <= 0:
            return False
        n = max(4, round(window_s / self.dt))
        tail = self._tail[-n:]
        if tail.size < n:
            return False
        hi, lo = tail.max(), tail.min()
        if hi <= lo:
            return False
        # Counts rather than np.mean of a boolean array: the same fraction, a third of the
        # cost (this runs on every chunk of every heart stream).
        at_rail = max(np.count_nonzero(tail == hi), np.count_nonzero(tail == lo)) / n
        return at_rail >= fraction
