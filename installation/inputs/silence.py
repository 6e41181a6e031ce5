"""When a silent stream stops counting as delivering: one rule for live input and replay.

The live input (:mod:`.lsl`) reports a connected stream that sends nothing as ``stale`` after
this delay; a replayed recording reports a gap inside a stream the same way after the same
delay, so presence (a visitor leaving) and the mapping's hold behave alike in the gallery and
in a replay of what was recorded there.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SilenceRule"]


@dataclass(frozen=True)
class SilenceRule:
    """How long a stream may send nothing before it is ``stale``.

    Parameters
    ----------
    stale_intervals
        A regular stream is stale after this many expected sample intervals without data...
    min_stale_s
        ...but never sooner than this (devices send in bursts).
    irregular_stale_s
        The delay for irregular streams (markers, RR intervals).
    """

    stale_intervals: float = 50.0
    min_stale_s: float = 0.5
    irregular_stale_s: float = 5.0

    def after(self, nominal_srate: float, measured_srate: float = 0.0) -> float:
        """Seconds of silence after which a stream of this rate is stale.

        Parameters
        ----------
        nominal_srate
            The stream's declared rate (0: irregular).
        measured_srate
            The rate measured lately, preferred when known (0: unknown).
        """
        if nominal_srate <= 0:
            return self.irregular_stale_s
        rate = measured_srate or nominal_srate
        return max(self.min_stale_s, self.stale_intervals / rate)
