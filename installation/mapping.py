"""Features -> controls, as the show's ``[[mappings]]`` declare.

Each mapping normalises one feature through its input range, shapes it with a curve, scales
it to the output range and smooths it in time. When the feature is not trustworthy (its
stream is lost, stale or invalid) the control fades to the mapping's idle value instead, so
a dropped sensor eases the piece into its idle state rather than freezing or jumping. A
stale feature (no fresh data yet, last value still meaningful) holds the control where it is.
A mapping with ``relative_s`` maps through the feature's own recent range instead of a fixed
one (:class:`RecentRange`).

The feature ``STREAM.pulse_at`` of a heart stream is not computed by its extractor but here:
a pulse placed ``at_s`` after each R-peak, on the screen (:mod:`installation.pulse_at`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from installation.idle import IdleBehaviour
from installation.messages import Controls, Features, Status
from installation.pipeline_latency import PipelineLatency
from installation.pulse_at import PULSE_AT, BeatPulse
from installation.show import IdleSpec, MappingSpec

_CURVES = {
    "linear": lambda x: x,
    "smoothstep": lambda x: x * x * (3.0 - 2.0 * x),
    "ease_in": lambda x: x * x,
    "ease_out": lambda x: 1.0 - (1.0 - x) * (1.0 - x),
}


def shape(spec: MappingSpec, value: float,
          in_range: tuple[float, float] | None = None) -> float:
    """Map one feature value through ``spec``'s range, curve and invert (no smoothing).

    ``in_range``: the range to use instead of ``spec.in_range`` (a ``relative_s`` mapping's
    own recent range).
    """
    lo, hi = spec.in_range if in_range is None else in_range
    x = min(1.0, max(0.0, (value - lo) / (hi - lo)))
    x = _CURVES[spec.curve](x)
    if spec.invert:
        x = 1.0 - x
    out_lo, out_hi = spec.out_range
    return out_lo + x * (out_hi - out_lo)


@dataclass
class _MappingState:
    value: float
    t: float | None = None
    # delay_s: (t, value) history; entry 0 is the newest one at least delay_s old.
    history: deque[tuple[float, float]] = field(default_factory=deque)
    pulse: BeatPulse | None = None  # the feature pulse_at: a pulse at_s after each beat
    recent: RecentRange | None = None  # relative_s: the feature's own recent range


# A relative_s mapping samples its feature this often, and needs this much of it to trust
# its own range: a steady 2 Hz keeps a long window cheap and independent of the frame rate.
_RELATIVE_EVERY_S = 0.5
_RELATIVE_MIN_S = 10.0
_RELATIVE_QUANTILES = (25.0, 75.0)
_RELATIVE_MIN_SPAN = 0.1  # of in_range's width: a flat feature is not stretched into noise


@dataclass
class RecentRange:
    """The middle half (25th to 75th percentile) of a feature's values over a window.

    A piece that keys a look to "calmer or less calm than this visitor has been" needs the
    visitor's own range, not one fixed for everybody: over one visit a state can sit in a
    narrow band that a fixed ``in_range`` turns into a nearly constant control.

    Parameters
    ----------
    window_s
        How far back the range looks (s).
    in_range
        The mapping's fixed range: its direction is kept, and a tenth of its width is the
        smallest range allowed.
    """

    window_s: float
    in_range: tuple[float, float]
    _samples: deque[tuple[float, float]] = field(default_factory=deque, init=False)
    _range: tuple[float, float] | None = field(default=None, init=False)

    def clear(self) -> None:
        """Forget the range (the stream was lost: the next values may be somebody else's)."""
        self._samples.clear()
        self._range = None

    def update(self, t: float, value: float) -> tuple[float, float] | None:
        """Add a trustworthy value at ``t``; the range to map with, or ``None`` (too little
        history yet: use ``in_range``)."""
        if self._samples and t < self._samples[-1][0]:
            self.clear()  # time went back (a rehearsal's seek): the history is another run's
        if self._samples and t - self._samples[-1][0] < _RELATIVE_EVERY_S - 1e-9:
            return self._range
        self._samples.append((t, value))
        while self._samples[0][0] < t - self.window_s:
            self._samples.popleft()
        if len(self._samples) * _RELATIVE_EVERY_S < _RELATIVE_MIN_S:
            self._range = None
            return None
        lo, hi = np.percentile([v for _, v in self._samples], _RELATIVE_QUANTILES)
        a, b = self.in_range
        least = _RELATIVE_MIN_SPAN * abs(b - a)
        if hi - lo < least:
            mid = 0.5 * (lo + hi)
            lo, hi = mid - 0.5 * least, mid + 0.5 * least
        self._range = (float(lo), float(hi)) if b > a else (float(hi), float(lo))
        return self._range


@dataclass
class Mapper:
    """Stateful stage: ``Mapper(specs)(features_by_stream, t) -> Controls``.

    Parameters
    ----------
    specs
        The show's mappings, applied in order (later mappings of the same control win).
    idle
        The show's ``[idle]`` behaviour, applied after the mappings (``None``: none).
    latency_s
        From a frame's engine time to its presentation (s), which ``at_s`` mappings
        subtract: 0 in a replay (frame time is presentation time).
    latency
        The live measurement of that figure (gallery, rehearsal): replaces ``latency_s``.
    """

    specs: Sequence[MappingSpec]
    idle: IdleSpec | None = None
    latency_s: float = 0.0
    latency: PipelineLatency | None = None
    _state: list[_MappingState] = field(init=False)

    def __post_init__(self) -> None:
        self.specs = tuple(self.specs)
        self._state = [
            _MappingState(value=spec.idle, pulse=BeatPulse(spec.at_s, self.latency_s,
                                                           latency=self.latency)
                          if spec.feature_name == PULSE_AT else None,
                          recent=RecentRange(spec.relative_s, spec.in_range)
                          if spec.relative_s > 0 else None)
            for spec in self.specs
        ]
        self._idle = None if self.idle is None else IdleBehaviour(self.idle)

    def pulses(self) -> dict[str, BeatPulse]:
        """The ``pulse_at`` schedulers by control name (for benchmarks and the HUD)."""
        return {spec.control: st.pulse for spec, st in zip(self.specs, self._state, strict=True)
                if st.pulse is not None}
        self._idle = None if self.idle is None else IdleBehaviour(self.idle)

    @property
    def idle_weight(self) -> float:
        """How idle the piece is now: 0 the body drives, 1 fully idle."""
        return 0.0 if self._idle is None else self._idle.weight

    def __call__(self, features: Mapping[str, Features], t: float) -> Controls:
        """Update every control to time ``t`` from the latest features of each stream."""
        values: dict[str, float] = {}
        for spec, state in zip(self.specs, self._state, strict=True):
            source = features.get(spec.stream)
            status = Status.LOST if source is None else source.status
            if state.pulse is not None:
                ok = source is not None and status is Status.OK
                raw = state.pulse(source.values, t) if ok else None
            else:
                raw = None if source is None else source.values.get(spec.feature_name)
            if status is Status.OK and raw is not None and np.isfinite(raw):
                own = None if state.recent is None else state.recent.update(t, float(raw))
                target, tau = shape(spec, float(raw), own), spec.smoothing_s
            elif status is Status.STALE:
                # Stale: the last value is still the best guess, so hold it.
                target, tau = state.value, 0.0
            else:
                target, tau = spec.idle, spec.idle_fade_s
                if status is Status.LOST and state.recent is not None:
                    state.recent.clear()
            dt = None if state.t is None else t - state.t
            state.value = _smooth(state.value, target, tau, dt)
            state.t = t
            values[spec.control] = _delayed(spec, state, t) if spec.delay_s > 0 else state.value
        status = {key: f.status for key, f in features.items()}
        controls = Controls(t=t, values=values, stream_status=status)
        return controls if self._idle is None else self._idle(controls)


def _delayed(spec: MappingSpec, state: _MappingState, t: float) -> float:
    # A causal delay line: the value as it was delay_s ago (held between updates), and the
    # idle value until the mapping has that much history.
    state.history.append((t, state.value))
    cutoff = t - spec.delay_s + 1e-9
    while len(state.history) >= 2 and state.history[1][0] <= cutoff:
        state.history.popleft()
    return state.history[0][1] if state.history[0][0] <= cutoff else spec.idle


def _smooth(current: float, target: float, tau: float, dt: float | None) -> float:
    # First-order low-pass with a time constant, exact for any step size, so the result does
    # not depend on the frame rate.
    if tau <= 0.0:
        return target
    if dt is None or dt <= 0.0:
        return current
    alpha = 1.0 - math.exp(-dt / tau)
    return current + alpha * (target - current)
