"""The idle state: what the piece does when nobody is there.

When no stream has delivered good data for ``[idle] after_s`` seconds, the controls ease
(time constant ``fade_s``) towards the values the show lists in ``[idle] controls``, and an
optional ``breath_control`` swells slowly so an empty room still sees the piece alive. When
a visitor's data returns, the body takes over again with the same ease.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from installation.messages import Controls, Status
from installation.show import IdleSpec


@dataclass
class IdleBehaviour:
    """Stateful stage: ``IdleBehaviour(spec)(controls) -> controls``."""

    spec: IdleSpec
    weight: float = field(default=0.0, init=False)  # 0: the body drives, 1: fully idle
    _last_ok: float | None = field(default=None, init=False)
    _t: float | None = field(default=None, init=False)

    def __call__(self, controls: Controls) -> Controls:
        t = controls.t
        if self._last_ok is None:
            self._last_ok = t  # the piece starts "just occupied": idle only after after_s
        if any(status is Status.OK for status in controls.stream_status.values()):
            self._last_ok = t
        target = 1.0 if t - self._last_ok >= self.spec.after_s else 0.0
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        if self.spec.fade_s <= 0.0:
            self.weight = target
        else:
            self.weight += (1.0 - math.exp(-dt / self.spec.fade_s)) * (target - self.weight)
        if self.weight <= 1e-6:
            return controls
        w = self.weight
        values = dict(controls.values)
        for name, idle_value in self.spec.controls.items():
            values[name] = (1.0 - w) * values.get(name, idle_value) + w * idle_value
        if self.spec.breath_control:
            name = self.spec.breath_control
            phase = 2.0 * math.pi * t / self.spec.breath_period_s
            breath = self.spec.breath_depth * 0.5 * (1.0 - math.cos(phase))
            values[name] = (1.0 - w) * values.get(name, 0.0) + w * breath
        return Controls(t=t, values=values, stream_status=controls.stream_status)
