"""The extractor base: one call template, the sample clock, and the reset-on-change rule.

Every feature extractor is a stateful, causal stage with frozen settings and explicit state
(DESIGN principle 1, after ezmsg-sigproc's ``BaseStatefulTransformer``): one
:class:`~installation.messages.Chunk` in, the stream's
:class:`~installation.messages.Features` at the chunk's end out. The base owns what each
extractor used to write for itself:

* **The call template.** The input's own trouble comes first (a lost or stale stream), then a
  chunk without the configured numeric channel, then the raw-signal gates below, and only then
  the extractor's own verdict (:meth:`Extractor._status`).
* **The sample clock** (:class:`~installation.features.sampling.SampleClock`). The rate is
  measured from the samples' own time stamps, never taken from the header, and the stream is
  cut into continuous runs at gaps, dropped samples and clock jumps. The extractor hears of each
  new run through :meth:`Extractor._restart` (``"start"``), and of a new rate (``"rate"``: the
  first one measured, or a device that changed it), so it redesigns its filters.
* **Reset on change.** When the stream's shape changes (another channel count or labels, i.e.
  another device on the same key), every bit of state starts afresh, clock included, as
  ezmsg-sigproc does when the incoming message's hash changes.
* **Raw-signal gates.** Non-finite samples, amplitudes no device can produce in the stream's
  declared unit (issue 17: ``±1e308`` must neither overflow a filter nor pass as signal),
  a flat line (electrode off) and a saturated one are ``invalid`` with the reason named; such
  samples never reach a filter.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from installation.features.catalog import FeatureNames, feature_names
from installation.features.sampling import ClockSettings, Restart, SampleClock
from installation.messages import Chunk, Event, Features, Status, StreamInfo

__all__ = ["Extractor", "SignalGates", "amplitude_limit"]


@dataclass(frozen=True, slots=True)
class SignalGates:
    """Raw-signal checks of a regularly sampled single-channel stream (seconds, signal units)."""

    flat_window_s: float = 0.5  # 0: no flat-line check
    flat_tolerance: float = 1e-6  # peak-to-peak below which the window is flat
    flat_reason: str = "flat signal"
    saturation_window_s: float = 0.0  # 0: no saturation check
    saturation_fraction: float = 0.2  # of the window exactly at its max or min


# Largest |value| a real device can deliver, by declared unit. Generous on purpose: a DC-coupled
# front end adds electrode offsets of a few hundred mV, and raw ADC counts of a 24-bit
# converter reach 8.4e6 (32-bit: 2.1e9). Anything beyond is a broken packet or a fuzzer.
_VOLTS = {"v": 1.0, "volt": 1.0, "volts": 1.0, "mv": 1e-3, "millivolt": 1e-3,
          "millivolts": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "microvolt": 1e-6,
          "microvolts": 1e-6, "nv": 1e-9}
_SIEMENS = {"s": 1.0, "siemens": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6,
            "microsiemens": 1e-6, "ns": 1e-9}
_MAX_VOLTS = 10.0  # no biopotential amplifier output exceeds this
_MAX_SIEMENS = 1e-2  # skin conductance is at most ~100 µS; 10 mS is a short circuit
_MAX_UNKNOWN = 1e10  # unit not declared (raw counts, "a.u."): beyond any 32-bit ADC


def amplitude_limit(kind: str, unit: str) -> float:
    """The largest plausible ``|sample|`` of a ``kind`` stream declared in ``unit``.

    Voltage units apply to ECG and EEG (and to any stream that declares them), siemens units
    to EDA; undeclared or unknown units get a limit no 32-bit converter can exceed.
    """
    u = unit.strip().lower().replace(" ", "")
    if kind.upper() == "EDA" and u in _SIEMENS:
        return _MAX_SIEMENS / _SIEMENS[u]
    if u in _VOLTS and kind.upper() != "EDA":
        return _MAX_VOLTS / _VOLTS[u]
    return _MAX_UNKNOWN


class Extractor(ABC):
    """Base of every feature extractor: ``__call__(chunk) -> Features``.

    Subclasses set :attr:`kind` (the stream type, for :attr:`produces` and the amplitude
    limit), may set :attr:`regular` to ``False`` (irregular streams such as RR intervals have
    no sample clock), and implement :meth:`_reset`, :meth:`_process`, :meth:`_values` and
    :meth:`_status`; :meth:`_restart` and :meth:`_columns` have defaults.

    ``settings`` must have ``clock`` (:class:`ClockSettings`); single-channel extractors also
    ``channel`` and ``gates`` (:class:`SignalGates`).
    """

    kind: ClassVar[str]
    regular: ClassVar[bool] = True

    def __init__(self, settings: Any, stream: str) -> None:
        self.settings = settings
        self.stream = stream
        self._shape: Hashable | None = None
        self._t = 0.0
        self._implausible_t = -math.inf
        self._limit = (math.inf, ())  # (limit, units it was computed for)
        self._clock = SampleClock(self._clock_settings())
        self._reset()

    @classmethod
    def produces(cls) -> FeatureNames:
        """The feature names this extractor type reports (see ``catalog.py``)."""
        return feature_names(cls.kind)

    @property
    def clock(self) -> SampleClock:
        """The stream's sample clock (measured rate, samples, gaps)."""
        return self._clock

    # ------------------------------------------------------------------ the template
    def __call__(self, chunk: Chunk) -> Features:
        """Process one chunk (any length, zero included); return the features at its end.

        Never raises on bad data: NaN/inf, huge values, gaps, clock jumps, rate and shape
        changes all come out as a status and a reason, and the values stay finite.
        """
        t = float(chunk.t_end) if math.isfinite(chunk.t_end) else self._t
        self._t = t
        events: list[Event] = []
        x = self._columns(chunk) if chunk.n and chunk.info.is_numeric else None
        missing = bool(chunk.n) and x is None
        if x is not None:
            shape = self._shape_key(chunk, x)
            if shape != self._shape:
                if self._shape is not None:  # another device on this key: start afresh
                    self._clock = SampleClock(self._clock_settings())
                    self._implausible_t = -math.inf
                    self._reset()
                self._shape = shape
            ts = np.asarray(chunk.timestamps, dtype=np.float64)
            x = self._gate_amplitude(chunk.info, ts, x)
            events = self._ingest(ts, x)
        values = self._values(t)
        status, reason = self._health(chunk, t, missing)
        since = min(self._ok_since(), t) if status is Status.OK else math.nan
        return Features(self.stream, t, values, status, reason, tuple(events), since)

    def _ingest(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        if not self.regular:
            return self._process(ts, x)
        events: list[Event] = []
        for run_ts, run_x, restart in self._clock.segments(ts, x):
            if restart is not None:
                self._restart(restart)
            events.extend(self._process(run_ts, run_x))
        return events

    def _gate_amplitude(self, info: StreamInfo, ts: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Impossible amplitudes become NaN (dropped like any bad sample) and are noted."""
        limit = self._amplitude_limit(info)
        # No np.errstate here: comparing NaN raises no warning in numpy >= 1.26, and the
        # context manager cost more than the comparison on every chunk.
        wild = np.abs(x) > limit
        if not wild.any():
            return x
        wild &= np.isfinite(x)  # NaN/inf are the clock's business ("non-finite samples")
        if not wild.any():
            return x
        rows = wild if wild.ndim == 1 else wild.any(axis=1)
        stamps = ts[rows & np.isfinite(ts)]
        self._implausible_t = max(self._implausible_t,
                                  float(stamps.max()) if stamps.size else self._t)
        return np.where(wild, np.nan, x)

    def _amplitude_limit(self, info: StreamInfo) -> float:
        units = info.channel_units
        if self._limit[1] != units or not math.isfinite(self._limit[0]):
            known = [u for u in units if u]
            # Mixed units: the most permissive one, so no real channel is ever cut.
            limit = max((amplitude_limit(self.kind, u) for u in known),
                        default=amplitude_limit(self.kind, ""))
            self._limit = (limit, units)
        return self._limit[0]

    def _health(self, chunk: Chunk, t: float, missing: bool) -> tuple[Status, str]:
        if chunk.status is not Status.OK:
            return chunk.status, chunk.reason or chunk.status.value
        if missing:
            return Status.INVALID, self._missing_reason(chunk)
        clock = self._clock.settings
        if t - self._implausible_t <= clock.invalid_hold_s:
            return Status.INVALID, "implausible amplitude"
        if self.regular and clock.finite_values:
            reason = self._clock.invalid_reason(t)
            if reason:
                return Status.INVALID, reason
            gates: SignalGates = self.settings.gates
            if gates.flat_window_s > 0 and self._clock.flat(gates.flat_window_s,
                                                            gates.flat_tolerance):
                return Status.INVALID, gates.flat_reason
            if gates.saturation_window_s > 0 and self._clock.saturated(
                    gates.saturation_window_s, gates.saturation_fraction):
                return Status.INVALID, "saturated signal"
        return self._status(t)

    # ------------------------------------------------------------------ hooks
    def _clock_settings(self) -> ClockSettings:
        # Keep only as much raw signal as the gates look at (copying a longer tail into
        # every chunk was a measurable part of the per-chunk cost).
        gates: SignalGates | None = getattr(self.settings, "gates", None)
        if gates is None:
            return self.settings.clock
        return replace(self.settings.clock,
                       tail_s=max(gates.flat_window_s, gates.saturation_window_s, 0.1))

    def _columns(self, chunk: Chunk) -> np.ndarray | None:
        """The samples this extractor reads: by default the configured channel, ``(n,)``;
        ``None`` when the chunk has no such channel."""
        channel = self.settings.channel
        if chunk.data.shape[1] <= channel:
            return None
        return np.asarray(chunk.data[:, channel], dtype=np.float64)

    def _missing_reason(self, chunk: Chunk) -> str:
        return f"no numeric channel {self.settings.channel}"

    def _shape_key(self, chunk: Chunk, x: np.ndarray) -> Hashable:
        """What identifies the stream's layout; a change resets every bit of state."""
        return x.shape[1:]

    @abstractmethod
    def _reset(self) -> None:
        """Set up every bit of state (at construction and when the stream's shape changes)."""

    def _restart(self, why: Restart) -> None:  # noqa: B027 - optional hook
        """A new continuous run starts: ``"start"`` after a gap, a dropped run or a clock
        jump (restart filters), ``"rate"`` with a newly measured rate (redesign them)."""

    @abstractmethod
    def _process(self, ts: np.ndarray, x: np.ndarray) -> list[Event]:
        """Process one continuous run of finite samples; return the events it produced."""

    @abstractmethod
    def _values(self, t: float) -> dict[str, float]:
        """The feature values at time ``t`` (finite; neutral defaults before they are known)."""

    def _ok_since(self) -> float:
        """While ``ok``: since when the data behind the verdict were good (NaN: not known,
        the frame itself). Heart sources say when their trusted run of beats began."""
        return math.nan

    @abstractmethod
    def _status(self, t: float) -> tuple[Status, str]:
        """The extractor's own verdict once the input and the raw signal passed the gates."""
