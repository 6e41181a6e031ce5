"""The idle state: what the piece does when nobody is there.

When nobody has been there for ``[idle] after_s`` seconds, the controls ease (time constant
``fade_s``) towards the values the show lists in ``[idle] controls``, and an optional
``breath_control`` swells slowly so an empty room still sees the piece alive. When a visitor
arrives, the body takes over again with the quicker ``return_s``, so the piece has turned to
them within about three time constants.

"Nobody there" is the pipeline's presence (the ``state`` stream is ``lost`` between visits);
without it (a bare :class:`~installation.mapping.Mapper`), no stream delivering good data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from installation.messages import Controls, Status
from installation.show import STATE_STREAM, IdleSpec


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
        statuses = controls.stream_status
        if STATE_STREAM in statuses:
            present = statuses[STATE_STREAM] is not Status.LOST
        else:
            present = any(status is Status.OK for status in statuses.values())
        if present:
            self._last_ok = t
        target = 1.0 if t - self._last_ok >= self.spec.after_s else 0.0
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        tau = self.spec.fade_s if target > self.weight else self.spec.return_s
        if tau <= 0.0:
            self.weight = target
        else:
            self.weight += (1.0 - math.exp(-dt / tau)) * (target - self.weight)
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
