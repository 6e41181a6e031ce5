"""Features -> controls, as the show's ``[[mappings]]`` declare.

Each mapping normalises one feature through its input range, shapes it with a curve, scales
it to the output range and smooths it in time. When the feature is not trustworthy (its
stream is lost, stale or invalid) the control fades to the mapping's idle value instead, so
a dropped sensor eases the piece into its idle state rather than freezing or jumping. A
stale feature (no fresh data yet, last value still meaningful) holds the control where it is.

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


def shape(spec: MappingSpec, value: float) -> float:
    """Map one feature value through ``spec``'s range, curve and invert (no smoothing)."""
    lo, hi = spec.in_range
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
                          if spec.feature_name == PULSE_AT else None)
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
                target, tau = shape(spec, float(raw)), spec.smoothing_s
            elif status is Status.STALE:
                # Stale: the last value is still the best guess, so hold it.
                target, tau = state.value, 0.0
            else:
                target, tau = spec.idle, spec.idle_fade_s
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
