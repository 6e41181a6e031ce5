"""Two hearts that disagree: the worse one is marked, and the visitor's state takes the better.

A visitor may wear an ECG and a PPG at once. Each judges its own quality
(``signal_quality``, ``quality.py``), but each can still be wrong while it believes itself
(a PPG that finds 2 of 3 pulses, an ECG after an artefact burst). When two trusted (``ok``)
heart sources differ by more than ``max(tolerance_bpm, tolerance_fraction * rate)``, the one
with the lower quality index is marked ``invalid`` with the reason ``disagrees with KEY``
(ties: ECG over RR over PPG, the order their timing is known to be sharp), so its mappings
fade as for a lost stream, and the visitor's state reads the other (``heart_fallbacks``).
The mark is lifted once the two agree within 70 % of the tolerance again (hysteresis: a
difference hovering at the tolerance must not flicker).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from installation.messages import Features, Status

__all__ = ["HEART_QUANTITIES", "HEART_TYPES", "HeartCrossCheck", "heart_fallbacks"]

HEART_TYPES = ("ECG", "RR", "PPG")  # in the order a tie is decided
HEART_QUANTITIES = ("heart_rate", "hrv_rmssd")  # state quantities any heart source can feed


@dataclass
class HeartCrossCheck:
    """``__call__(features) -> features`` with the disagreeing worse heart sources marked.

    Parameters
    ----------
    keys
        The show's heart streams, best type first (see :data:`HEART_TYPES`).
    """

    keys: tuple[str, ...]
    tolerance_bpm: float = 10.0
    tolerance_fraction: float = 0.1
    _marked: dict[str, str] = field(default_factory=dict)

    def reset(self) -> None:
        self._marked.clear()

    def __call__(self, features: Mapping[str, Features]) -> dict[str, Features]:
        out = dict(features)
        live = [k for k in self.keys if k in out and out[k].status is Status.OK
                and "heart_rate" in out[k].values]
        if len(live) < 2:
            self._marked = {k: v for k, v in self._marked.items() if k in live}
            return out
        rank = {k: i for i, k in enumerate(self.keys)}
        best = max(live, key=lambda k: (out[k].values.get("signal_quality", 0.0), -rank[k]))
        hr = out[best].values["heart_rate"]
        tol = max(self.tolerance_bpm, self.tolerance_fraction * hr)
        for key in live:
            if key == best:
                self._marked.pop(key, None)
                continue
            diff = abs(out[key].values["heart_rate"] - hr)
            limit = 0.7 * tol if key in self._marked else tol
            if diff > limit:
                self._marked[key] = best
            else:
                self._marked.pop(key, None)
        for key, better in self._marked.items():
            f = out[key]
            out[key] = Features(f.stream, f.t, f.values, Status.INVALID,
                                f"disagrees with {better}", f.events)
        return out


def heart_fallbacks(streams: Mapping[str, str], sources: Mapping[str, str]
                    ) -> dict[str, tuple[str, ...]]:
    """For each heart quantity, the other heart streams' features, best type first.

    Parameters
    ----------
    streams
        Stream key -> LSL type, as the show declares them.
    sources
        Quantity -> ``key.feature`` the state reads first (``Show.state_sources()``).
    """
    keys = heart_keys(streams)
    out: dict[str, tuple[str, ...]] = {}
    for q in HEART_QUANTITIES:
        if q not in sources:
            continue
        primary = sources[q].split(".", 1)[0]
        if primary in keys:  # a source the artist chose elsewhere is theirs to keep
            out[q] = tuple(f"{k}.{q}" for k in keys if k != primary)
    return out


def heart_keys(streams: Mapping[str, str]) -> tuple[str, ...]:
    """The heart streams among ``streams`` (key -> type), best type first."""
    return tuple(k for kind in HEART_TYPES for k, t in streams.items() if t.upper() == kind)
