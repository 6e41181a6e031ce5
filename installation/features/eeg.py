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

import functools
import math
import statistics
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import signal

from installation.features.base import Extractor
from installation.features.sampling import ClockSettings, Restart
from installation.messages import Chunk, Event, Status

__all__ = ["EegExtractor", "EegSettings"]

_TINY = 1e-12  # keeps log10 finite on a channel with (numerically) no power in a band


@dataclass(frozen=True, slots=True)
class EegSettings:
    """Settings of :class:`EegExtractor` (times in seconds, frequencies in Hz)."""

    window_s: float = 2.0
    update_s: float = 0.1
    segment_s: float = 1.0  # Welch segment length
    overlap_75: bool = True  # 75 % segment overlap: more segments, lower variance than 50 %
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
    # A channel is saturated when this fraction of its window sits in runs of >= 3 equal
    # samples at the window's max or min (integer ADC data touches its max often, but does
    # not stay there).
    saturation_fraction: float = 0.05
    # Amplitude artefacts, relative to each channel's own usual level (unit-free: raw ADC
    # counts, µV and V all work): the detrended window's standard deviation against a slow
    # running baseline of it.
    motion_factor: float = 8.0  # std above this many times the baseline: motion, excluded
    blink_factor: float = 2.5  # above this: blink or eye movement (flagged, kept)
    baseline_tau_s: float = 30.0
    baseline_warmup_s: float = 5.0
    line_hz: tuple[float, ...] = (50.0, 60.0)
    line_ratio_max: float = 10.0  # mains power / 1-30 Hz power above which: excluded
    # Channels that are not EEG. A packet counter (OpenBCI's channel 0: 0, 2, ..., 254, 0...)
    # or a time channel steps by the same amount almost every sample; real EEG, float or
    # integer, does not. A channel this many orders of magnitude off the others' median
    # spread, or outside the plausible EEG spread in its declared unit, has the wrong scale.
    counter_fraction: float = 0.8  # of the window's steps equal to their median, non-zero
    monotonic_fraction: float = 0.98  # of the steps with one sign
    scale_orders: float = 3.0
    scale_uv: tuple[float, float] = (0.01, 1e5)  # detrended std in µV, if the unit is declared
    nature_every_s: float = 1.0  # how often the counter / monotonic checks run
    asymmetry_pairs: tuple[tuple[str, str], ...] = (
        ("F3", "F4"), ("AF7", "AF8"), ("Fp1", "Fp2"), ("F7", "F8"), ("AF3", "AF4"),
    )
    clock: ClockSettings = field(default_factory=ClockSettings)  # rate, gaps, clock jumps


def _neutral(settings: EegSettings) -> dict[str, float]:
    values = {f"{name}_rel": 1.0 / 4.0 for name, _, _ in settings.bands}
    values.update({name: 0.0 for name in settings.absolute})
    values.update(
        engagement=1.0, alpha_asymmetry=0.0, good_channels=0.0, line_noise=0.0, artefact=0.0
    )
    return values


_SOFT = ("saturated", "motion", "line noise")
# Declared unit -> µV per unit, for the EEG scale check.
_MICROVOLTS = {"v": 1e6, "volt": 1e6, "volts": 1e6, "mv": 1e3, "millivolt": 1e3,
               "millivolts": 1e3, "uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0,
               "microvolts": 1.0, "nv": 1e-3}  # faults that leave a usable, if worse, signal


@functools.lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    w = signal.get_window("hann", n)
    w.flags.writeable = False  # shared between calls: nobody may change it
    return w


@functools.lru_cache(maxsize=8)
def _centred(n: int) -> np.ndarray:
    """``0..n-1`` minus its mean: the regressor of a linear detrend."""
    tc = np.arange(n) - 0.5 * (n - 1)
    tc.flags.writeable = False
    return tc


@functools.lru_cache(maxsize=8)
def _line_fit(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``fit`` (n, 2): a row's mean and slope by least squares (``row @ fit``); ``line``
    (2, n): the line they make (``(row @ fit) @ line``)."""
    tc = _centred(n)
    fit = np.stack([np.full(n, 1.0 / n), tc / float(tc @ tc)], axis=1)
    line = np.stack([np.ones(n), tc])
    fit.flags.writeable = line.flags.writeable = False
    return fit, line


@functools.lru_cache(maxsize=8)
def _welch_plan(n: int, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`_welch_rows` needs for ``n``-sample segments at ``fs``: ``fit`` (n, 2),
    a segment's mean and slope (``segment @ fit``); ``trend`` (2, n), the windowed line they
    make; ``scale``, the density scaling, doubled for all but DC (and Nyquist if even)."""
    tc = _centred(n)
    w = _hann(n)
    fit = _line_fit(n)[0]
    trend = np.stack([w, tc * w])
    scale = np.full(n // 2 + 1, 1.0 / (fs * float(w @ w)))
    scale[1 : (n + 1) // 2] *= 2.0
    trend.flags.writeable = scale.flags.writeable = False
    return fit, trend, scale


@functools.lru_cache(maxsize=8)
def _rfftfreq(n: int, fs: float) -> np.ndarray:
    f = np.fft.rfftfreq(n, 1.0 / fs)
    f.flags.writeable = False
    return f


def welch_linear(
    x: np.ndarray, fs: float, nperseg: int, noverlap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of each column of ``x``: Hann segments, linear detrend, mean, one-sided.

    Equal to ``scipy.signal.welch(x, fs, "hann", nperseg, noverlap, detrend="linear",
    axis=0)`` (a unit test holds it to that), hand-written because scipy detrends every
    segment with a least-squares solve, which made this the costliest step of a 100 ms update;
    here the detrend is one closed-form projection for all segments and channels at once.

    Returns
    -------
    freqs, psd
        ``(nperseg // 2 + 1,)`` and ``(nperseg // 2 + 1, channels)``.
    """
    f, psd = _welch_rows(np.ascontiguousarray(x.T, dtype=np.float64), fs, nperseg, noverlap)
    return f, psd.T


def _welch_rows(
    x: np.ndarray, fs: float, nperseg: int, noverlap: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`welch_linear` of each row of the C-contiguous ``(channels, n)`` array ``x``:
    ``(nperseg // 2 + 1,)`` frequencies and ``(channels, nperseg // 2 + 1)`` powers."""
    step = nperseg - noverlap
    k = (x.shape[1] - nperseg) // step + 1
    # The segments as a view (as sliding_window_view(...)[..., ::step, :] gives, without
    # its per-call overhead, a tenth of this function's cost on a 100 ms update).
    segs = np.lib.stride_tricks.as_strided(
        x, (x.shape[0], k, nperseg), (x.strides[0], step * x.strides[1], x.strides[1]),
        writeable=False)
    fit, trend, scale = _welch_plan(nperseg, fs)
    y = segs * _hann(nperseg)
    y -= (segs @ fit) @ trend  # the segments' least-squares lines, windowed: the detrend
    c = np.fft.rfft(y, axis=-1)
    return _rfftfreq(nperseg, fs), (c.real**2 + c.imag**2).mean(axis=1) * scale


def _railed(x: np.ndarray, rail: np.ndarray) -> np.ndarray:
    """Per row of ``x`` (channels, n), the fraction of samples at that row's ``rail`` with
    both neighbours also there."""
    at = x == rail[:, None]
    if at.shape[1] < 3 or np.count_nonzero(at) <= at.shape[0]:
        # Each row touches its own max (min) once, and float EEG seldom more: no runs.
        return np.zeros(x.shape[0])
    run = at[:, 1:-1] & at[:, :-2] & at[:, 2:]
    return np.count_nonzero(run, axis=1) / run.shape[1]


def _label(text: str) -> str:
    """A channel label usable in a feature name (``alpha_rel_Fp1``)."""
    clean = "".join(c if c.isalnum() else "_" for c in text.strip())
    return clean or "ch"


@dataclass(slots=True)
class _State:
    # (ch, n_window) ring: per-channel reductions over a contiguous row are several times
    # faster than down a column of a (n_window, ch) array (issue 15's cost budget).
    buf: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    filled: int = 0  # samples in buf since the last reset (capped at n_window)
    write: int = 0  # ring write position
    last_ts: float = math.nan
    next_update: float = -math.inf
    baseline: np.ndarray = field(default_factory=lambda: np.empty(0))  # per-channel usual std
    baseline_time: float = 0.0  # seconds of windows behind the baseline
    nature: tuple[np.ndarray, np.ndarray] | None = None  # counter, monotonic per channel
    nature_at: float = -math.inf  # baseline_time when it was judged


class EegExtractor(Extractor):
    """Sliding-window relative and absolute EEG band powers for one stream.

    Parameters
    ----------
    settings
        Frozen settings.
    stream
        Name written into every :class:`Features` produced.

    Notes
    -----
    Each call returns the band-power values at ``chunk.t_end``: status ``stale`` ("warming
    up") until a full window exists, ``invalid`` when no channel is usable, ``ok`` otherwise
    with the excluded channels named in the reason.
    """

    kind = "EEG"

    def __init__(self, settings: EegSettings | None = None, stream: str = "eeg") -> None:
        super().__init__(settings or EegSettings(), stream)

    def _clock_settings(self) -> ClockSettings:
        cfg: EegSettings = self.settings
        # One bad channel must not drop the sample for the others: values are judged per
        # channel in the window (non-finite, flat, saturated...), time stamps by the clock.
        return replace(cfg.clock, finite_values=False, tail_s=0.0)

    def _reset(self) -> None:
        self._s = _State()
        self._feature_values = _neutral(self.settings)
        self._verdict = (Status.STALE, "warming up")
        self._labels: tuple[str, ...] = ()
        self._labels_for: tuple[tuple[str, ...], int] | None = None
        self._units: tuple[str, ...] = ()
        self._hum_skipped = ""
        self._band_key: tuple[int, float] = (0, 0.0)
        self._band_w = np.empty((0, 0))
        self._names_for: list[str] | None = None
        self._names: list[list[str]] = []
        self._per_uv: tuple[tuple[str, ...], list[float | None]] = ((), [])

    def _columns(self, chunk: Chunk) -> np.ndarray | None:
        x = np.asarray(chunk.data, dtype=np.float64)
        if self.settings.channels:
            x = x[:, [c for c in self.settings.channels if c < x.shape[1]]]
        if x.shape[1] == 0:
            return None
        self._labels = self._channel_labels(chunk)
        units = chunk.info.channel_units
        if self.settings.channels:
            units = tuple(units[c] if c < len(units) else "" for c in self.settings.channels)
        self._units = units
        return x

    def _missing_reason(self, chunk: Chunk) -> str:
        return "no channels" if chunk.info.is_numeric else "not a numeric stream"

    def _channel_labels(self, chunk: Chunk) -> tuple[str, ...]:
        n = chunk.data.shape[1]
        given = chunk.info.channel_labels
        if self._labels_for == (given, n):
            return self._labels
        self._labels_for = (given, n)
        labels = [_label(given[i]) if i < len(given) and given[i] else f"ch{i + 1}"
                  for i in range(n)]
        if self.settings.channels:
            labels = [labels[c] for c in self.settings.channels if c < n]
        seen: dict[str, int] = {}
        out = []
        for lab in labels:  # duplicates get a suffix so no value hides another
            seen[lab] = seen.get(lab, 0) + 1
            out.append(lab if seen[lab] == 1 else f"{lab}_{seen[lab]}")
        return tuple(out)

    # ------------------------------------------------------------------ ingestion
    def _restart(self, why: Restart) -> None:
        s = self._s
        if why == "rate":
            # The window length in samples depends on the rate: everything starts again.
            n_win = max(4, round(self.settings.window_s / self._clock.dt))
            self._s = _State()
            self._verdict = (Status.STALE, "warming up")
            self._s.buf = np.zeros((self._shape[0] if self._shape else 1, n_win))
            return
        # A window spanning a gap has no meaningful spectrum: start filling again.
        s.filled, s.write = 0, 0
        self._verdict = (Status.STALE, "gap in samples, warming up")

    def _process(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        """Write samples into the ring, analysing the window at every update time passed."""
        s, cfg = self._s, self.settings
        if s.buf.shape[0] != x.shape[1]:
            s.buf = np.zeros((x.shape[1], s.buf.shape[1]))
        # Split the chunk at update times so each analysis sees the window ending there.
        n_win = s.buf.shape[1]
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
        return []

    def _write(self, x: np.ndarray) -> None:
        s = self._s
        n_win = s.buf.shape[1]
        if x.shape[0] >= n_win:
            s.buf[:] = x[-n_win:].T
            s.write = 0
        else:
            k = min(x.shape[0], n_win - s.write)
            s.buf[:, s.write : s.write + k] = x[:k].T
            s.buf[:, : x.shape[0] - k] = x[k:].T
            s.write = (s.write + x.shape[0]) % n_win
        s.filled = min(n_win, s.filled + x.shape[0])

    def _values(self, t: float) -> dict[str, float]:
        return dict(self._feature_values)

    def _status(self, t: float) -> tuple[Status, str]:
        return self._verdict

    # ------------------------------------------------------------------ analysis
    def _set_invalid(self, reason: str) -> None:
        self._verdict = (Status.INVALID, reason)

    def _quality(self, win: np.ndarray) -> tuple[dict[int, str], bool]:
        """Why each bad channel of the window is bad, and whether a blink-sized swing occurred.

        Flat, non-finite and saturated are judged on the raw window; motion and blinks on the
        linearly detrended window's standard deviation against the channel's running
        baseline of it (updated only by windows judged clean, in the log domain).
        """
        cfg, s = self.settings, self._s
        ok = np.isfinite(win)
        finite = ok.all(axis=1)
        clean = win if finite.all() else np.where(ok, win, 0.0)
        hi, lo = clean.max(axis=1), clean.min(axis=1)
        ptp = hi - lo
        pinned = np.maximum(_railed(clean, hi), _railed(clean, lo))
        # The detrended window's spread. Its residual has zero mean by construction, so the
        # standard deviation is the root mean square (np.std's extra passes cost more than
        # the rest of the quality checks; the two agree to about 1e-15).
        fit, line = _line_fit(win.shape[1])
        r = (clean @ fit) @ line  # each channel's least-squares line
        np.subtract(clean, r, out=r)
        amp = np.sqrt(np.einsum("ij,ij->i", r, r) / r.shape[1])
        if s.baseline.shape != amp.shape:
            s.baseline = np.full(amp.shape, np.nan)
        warm = s.baseline_time >= cfg.baseline_warmup_s
        base = np.where(np.isfinite(s.baseline), s.baseline, amp)
        rel = np.divide(amp, base, out=np.ones_like(amp), where=base > 0)
        counter, monotonic = self._not_eeg(clean)
        scale = self._wrong_scale(amp, finite & (ptp > cfg.flat_tolerance) & ~counter)
        # Python lists from here: indexing numpy arrays one element at a time costs more.
        finite_l, ptp_l, counter_l, mono_l = (finite.tolist(), ptp.tolist(), counter.tolist(),
                                              monotonic.tolist())
        pinned_l, rel_l, amp_l = pinned.tolist(), rel.tolist(), amp.tolist()
        bad: dict[int, str] = {}
        for c in range(win.shape[0]):
            if not finite_l[c]:
                bad[c] = "non-finite"
            elif ptp_l[c] <= cfg.flat_tolerance:
                bad[c] = "flat"
            elif counter_l[c]:
                bad[c] = "counter (not EEG)"
            elif mono_l[c]:
                bad[c] = "monotonic (not EEG)"
            elif scale[c]:
                bad[c] = scale[c]
            elif pinned_l[c] >= cfg.saturation_fraction:
                bad[c] = "saturated"
            elif warm and rel_l[c] > cfg.motion_factor:
                bad[c] = "motion"
        blink = bool(warm and any(r > cfg.blink_factor for r in rel_l))
        # Baseline update: clean channels only, so a long artefact cannot become "usual".
        a = min(1.0, cfg.update_s / cfg.baseline_tau_s)
        baseline = s.baseline.tolist()
        for c in range(len(amp_l)):
            if c in bad or amp_l[c] <= 0:
                continue
            if not math.isfinite(baseline[c]):
                baseline[c] = amp_l[c]
            elif rel_l[c] <= cfg.blink_factor:
                baseline[c] = math.exp(math.log(baseline[c]) + a * math.log(rel_l[c]))
        s.baseline = np.array(baseline)
        s.baseline_time += cfg.update_s
        return bad, blink

    def _not_eeg(self, win: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per channel: a counter? monotonic? Judged once per ``nature_every_s`` (what a
        channel carries does not change between updates) on the whole window."""
        cfg, s = self.settings, self._s
        if s.nature is not None and s.nature[0].size == win.shape[0] and (
                s.baseline_time - s.nature_at < cfg.nature_every_s):
            return s.nature
        steps = np.diff(win, axis=1)
        # A counter's steps are one value but for its wraps: the first or the second step of
        # the window is that value (both cannot be wraps).
        same = np.maximum(np.mean(steps == steps[:, :1], axis=1),
                          np.mean(steps == steps[:, 1:2], axis=1))
        counter = (same >= cfg.counter_fraction) & (np.abs(steps[:, :2]).max(axis=1) > 0)
        up = np.count_nonzero(steps > 0, axis=1)
        down = np.count_nonzero(steps < 0, axis=1)
        monotonic = np.maximum(up, down) >= cfg.monotonic_fraction * steps.shape[1]
        s.nature, s.nature_at = (counter, monotonic), s.baseline_time
        return s.nature

    def _wrong_scale(self, amp: np.ndarray, live: np.ndarray) -> list[str]:
        """Per channel, why its amplitude cannot be EEG's ("" when it can)."""
        cfg = self.settings
        out = [""] * amp.size
        units = self._units
        if self._per_uv[0] != units:  # parsed once per unit set, not at every update
            self._per_uv = (units, [_MICROVOLTS.get(u.strip().lower().replace(" ", ""))
                                    if u else None for u in units])
        per_uvs = self._per_uv[1]
        live_l = live.tolist()
        for c in range(min(amp.size, len(per_uvs))):
            per_uv = per_uvs[c]
            if live_l[c] and per_uv is not None:
                uv = amp[c] * per_uv
                if not cfg.scale_uv[0] <= uv <= cfg.scale_uv[1]:
                    out[c] = f"wrong scale ({uv:.2g} µV spread)"
        spread = [a for a, ok in zip(amp.tolist(), live_l, strict=True) if ok]
        if len(spread) >= 3 and min(spread) > 0 and (
                max(spread) / min(spread) > 10.0 ** cfg.scale_orders):
            ref = float(np.median(spread))
            if ref > 0:
                with np.errstate(divide="ignore"):
                    off = np.abs(np.log10(np.maximum(amp, 1e-300) / ref)) > cfg.scale_orders
                for c in np.flatnonzero(off & live):
                    if not out[c]:
                        out[c] = f"wrong scale ({amp[c] / ref:.0e} x the others)"
        return out

    def _analyse(self) -> None:
        s, cfg = self._s, self.settings
        win = np.concatenate((s.buf[:, s.write :], s.buf[:, : s.write]), axis=1)  # oldest first
        bad, blink = self._quality(win)
        n_ch = win.shape[0]
        finite = np.array([bad.get(c) != "non-finite" for c in range(n_ch)])
        if len(bad) == n_ch and not any(r in ("saturated", "motion") for r in bad.values()):
            why = set(bad.values())
            if not finite.any():
                self._set_invalid("no finite channel")
            elif why == {"flat"}:
                self._set_invalid("flat signal")
            else:
                self._set_invalid(f"no usable channel ({', '.join(sorted(why))})")
            return
        fs = self._clock.fs
        nper = min(win.shape[1], max(4, round(cfg.segment_s * fs)))
        cols = np.flatnonzero(finite)
        noverlap = (nper * 3) // 4 if cfg.overlap_75 else nper // 2
        freqs, psd = _welch_rows(win[cols], fs, nper, noverlap)
        # Every band at once: one (bands x freqs) weight matrix, rebuilt only when the
        # sample rate changes (it is the same for every update otherwise).
        if self._band_key != (nper, fs):
            self._band_key, self._band_w = (nper, fs), self._band_weights(freqs, fs)
        powers_all = self._band_w @ psd.T  # rows: bands..., total, line bands...
        n_b = len(cfg.bands)
        total = powers_all[n_b]
        line = powers_all[n_b + 1 :].max(axis=0) if powers_all.shape[0] > n_b + 1 else (
            np.zeros(cols.size))
        ratio = line / np.maximum(total, _TINY)
        for k, c in enumerate(cols):
            if c not in bad and ratio[k] > cfg.line_ratio_max:
                bad[int(c)] = "line noise"
            if c not in bad and total[k] <= 0.0:
                bad[int(c)] = "no power"
        use = np.array([c not in bad for c in cols], dtype=bool)
        degraded = ""
        soft = [c for c in cols if bad.get(int(c)) in _SOFT]
        if not use.any() and soft:
            # Every live channel is clipped, moving or humming: a degraded estimate beats a
            # blank piece, so keep them and say so (status stays ok, the reason tells).
            degraded = ", ".join(f"{c_lab} {bad[int(c)]}" for c, c_lab in
                                 ((c, self._label_of(int(c), n_ch)) for c in soft))
            for c in soft:
                del bad[int(c)]
            use = np.array([c not in bad for c in cols], dtype=bool)
        if not use.any():
            worst = ", ".join(sorted(set(bad.values())))
            self._set_invalid(f"no usable channel ({worst})")
            return
        labels = self._labels if len(self._labels) == n_ch else tuple(
            f"ch{i + 1}" for i in range(n_ch)
        )
        values: dict[str, float] = {}
        powers = {name: powers_all[i] for i, (name, _, _) in enumerate(cfg.bands)}
        rel_all = powers_all[:n_b] / np.maximum(total, _TINY)
        rel_mean = rel_all[:, use].mean(axis=1).tolist()
        abs_mean = powers_all[:n_b, use].mean(axis=1).tolist()
        used_labels = [labels[c] for k, c in enumerate(cols) if use[k]]
        if self._names_for != used_labels:  # the per-channel names, made once per channel set
            self._names_for = used_labels
            self._names = [[f"{name}_rel_{lab}" for lab in used_labels]
                           for name, _, _ in cfg.bands]
        rel_used = rel_all[:, use].tolist()
        for i, (name, _, _) in enumerate(cfg.bands):
            values[f"{name}_rel"] = rel_mean[i]
            values.update(zip(self._names[i], rel_used[i], strict=True))
            if name in cfg.absolute:
                values[name] = math.log10(abs_mean[i] + _TINY)
        if {"alpha", "theta", "beta"} <= powers.keys():
            a, th, b = (abs_mean[[n for n, _, _ in cfg.bands].index(k)]
                        for k in ("alpha", "theta", "beta"))
            values["engagement"] = b / max(a + th, _TINY)  # Pope et al. (1995)
        values["alpha_asymmetry"] = self._asymmetry(labels, cols, use, powers.get("alpha"))
        values["good_channels"] = float(use.sum())
        values["line_noise"] = float(statistics.median(ratio.tolist()))  # = np.median, cheaper
        values["artefact"] = 1.0 if blink else 0.0
        # The sum is finite when every value is (the sum of these never overflows); the
        # exact check only when it is not.
        if math.isfinite(sum(values.values())) or all(math.isfinite(v) for v in values.values()):
            self._feature_values.update(values)
            parts = []
            if bad:
                named = ", ".join(f"{labels[c]} {why}" for c, why in sorted(bad.items()))
                parts.append(f"{len(bad)} channel(s) excluded: {named}")
            if degraded:
                parts.append(f"degraded: {degraded}")
            if self._hum_skipped:
                parts.append(self._hum_skipped)
            self._verdict = (Status.OK, "; ".join(parts))
        else:
            self._set_invalid("non-finite band power")

    def _band_weights(self, freqs: np.ndarray, fs: float) -> np.ndarray:
        """Rows: each band, the total band, then each line-noise band below Nyquist."""
        cfg = self.settings
        df = float(freqs[1] - freqs[0])
        top = 0.5 * fs - df
        # A measured rate is a hair off its nominal value (124.99999999999989 Hz): bins that
        # sit on a band edge must not change bands with the last bit of the rate.
        f = np.round(freqs, 6)
        ranges = [(lo, hi) for _, lo, hi in cfg.bands] + [cfg.total_band]
        ranges += [(hz - 2.0, hz + 2.0) for hz in cfg.line_hz if hz + 2.0 < top]
        # A 51-Hz device (against a nominal 125) has its Nyquist at 25.5 Hz: mains hum cannot
        # be measured, and an unmeasured check must not read as a clean one.
        self._hum_skipped = "" if any(hz + 2.0 < top for hz in cfg.line_hz) else (
            f"hum check skipped (mains above Nyquist, {0.5 * fs:.1f} Hz)")
        return np.array([((f >= lo) & (f < min(hi, top))) * df for lo, hi in ranges])

    def _label_of(self, c: int, n: int) -> str:
        return self._labels[c] if len(self._labels) == n else f"ch{c + 1}"

    def _asymmetry(
        self, labels: tuple[str, ...], cols: np.ndarray, use: np.ndarray, alpha: np.ndarray | None
    ) -> float:
        """Frontal alpha asymmetry ``ln(right) - ln(left)`` averaged over the usable pairs.

        Positive means more alpha (less activity) on the right: relatively greater left
        frontal activity, associated with approach motivation (Davidson; Coan & Allen 2004).
        """
        if alpha is None:
            return 0.0
        where = {labels[c].lower(): k for k, c in enumerate(cols.tolist()) if use[k]}
        power = alpha.tolist()
        diffs = []
        for left, right in self.settings.asymmetry_pairs:
            kl, kr = where.get(left.lower()), where.get(right.lower())
            if kl is not None and kr is not None and power[kl] > 0 and power[kr] > 0:
                diffs.append(math.log(power[kr]) - math.log(power[kl]))
        return sum(diffs) / len(diffs) if diffs else 0.0  # = np.mean for so few
