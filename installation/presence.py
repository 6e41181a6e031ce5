"""Is a visitor here? Decided the same way in every mode, from the required streams' health.

A stream is *worn* (:class:`Wear`) when its input delivers (chunk status ``ok``) and its
features are trusted (``ok``: for a heart source, beats its quality judge believes). While a
visitor is there, a stream ``stale`` for less than ``STALE_GRACE_S`` (a missed beat, a
flutter-like stretch, a filter restart) still counts (``GRACE``). Nothing else does: a flat
line (electrode off), noise (``invalid`` "noisy": a strap on a chair) and warm-up are not a
visitor. A visitor has *arrived* once every required stream (or, in a show with none
required, any stream) is worn for ``arrive_s``, and has *left* once one stops for ``leave_s``.
"Worn for" counts from when the stream's good data began (``Features.ok_since``): a heart
source's trust comes at the end of a run of matching beats, and the visitor wore the strap
from the run's first beat; the run itself is a debounce of two heartbeat intervals or more.

Arrival needs trusted data and not just warm-up (issue 15): warm-up looks the same whether a
heart or a chair is on the strap, and counting it made a noise gate flap between visitor and
idle every ~10 s (stop 9). The quality judge's own hysteresis keeps the first seconds of a
real visitor from flapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from installation.messages import Status

IDLE, VISITOR = "idle", "visitor"
# Longer than any extractor's warm-up (about 2 s) plus a pause between heartbeats, far shorter
# than a strap left lying about.
STALE_GRACE_S = 10.0


class Wear(IntEnum):
    """How surely a stream has a visitor on it. Truthy unless ``NO``."""

    NO = 0
    GRACE = 1  # stale for a short while: still the visitor's, not enough to arrive on
    YES = 2


def worn(chunk_status: Status | None, feature_status: Status | None,
         stale_for: float = 0.0) -> Wear:
    """Whether one stream has a visitor on it (see the module docstring).

    Parameters
    ----------
    chunk_status, feature_status
        The stream's input and feature health now.
    stale_for
        How long the features have been ``stale`` without a break.
    """
    if chunk_status is not Status.OK:
        return Wear.NO
    if feature_status is Status.OK:
        return Wear.YES
    if feature_status is Status.STALE and stale_for < STALE_GRACE_S:
        return Wear.GRACE
    return Wear.NO


def _level(w: bool | Wear) -> Wear:
    if isinstance(w, Wear):
        return w
    return Wear.YES if w else Wear.NO


@dataclass
class Presence:
    """Debounced visitor presence on the required streams.

    Parameters
    ----------
    required
        Keys of the streams a visitor must wear (the show's ``required`` streams; empty:
        any stream will do).
    arrive_s, leave_s
        The debounce of arrival and departure (``[visitor]`` in the show).
    """

    required: tuple[str, ...]
    arrive_s: float
    leave_s: float
    mode: str = IDLE
    visits: int = 0  # arrivals so far
    _since: float | None = None  # when the streams last disagreed with the visitor mode
    # While idle: since when each stream has been worn (YES), evidence included.
    _worn_since: dict[str, float] = field(default_factory=dict)

    def update(self, worn_by_stream: Mapping[str, bool | Wear], now: float,
               since: Mapping[str, float] | None = None) -> bool:
        """Feed how each stream is worn at ``now`` (:func:`worn`; a plain True counts as
        ``YES``); returns True when the mode changed.

        ``since`` (optional, per stream): the time from which a worn stream's data have been
        good (:attr:`Features.ok_since`; NaN or absent: from this call). ``arrive_s`` counts
        from there: a heart source is trusted only once its run of matching beats is
        complete, and that run, not the moment the verdict came, is when the visitor was
        first seen (issue 15: the visit within 2 s of a real ECG after noise).
        """
        levels = {key: _level(w) for key, w in worn_by_stream.items()}
        if self.mode == IDLE:
            return self._arrive(levels, now, since or {})
        # Staying accepts a grace (a stale stretch); leaving is debounced by leave_s.
        if self.required:
            here = all(levels.get(key, Wear.NO) >= Wear.GRACE for key in self.required)
        else:  # nothing declared required: anyone on any stream is a visitor
            here = any(w >= Wear.GRACE for w in levels.values())
        if here:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        if now - self._since >= self.leave_s:
            self.mode, self._since = IDLE, None
            return True
        return False

    def _arrive(self, levels: Mapping[str, Wear], now: float,
                since: Mapping[str, float]) -> bool:
        """Arriving needs trusted data on every required stream (any stream, with none
        required) for ``arrive_s``, counted from when each stream's good data began."""
        for key in [k for k in self._worn_since if k not in levels]:
            del self._worn_since[key]  # a stream that said nothing now is not worn now
        for key, w in levels.items():
            if w >= Wear.YES:
                start = since.get(key, now)
                start = now if start != start else min(start, now)  # NaN: from now
                self._worn_since[key] = min(self._worn_since.get(key, now), start)
            else:
                self._worn_since.pop(key, None)
        if self.required:
            if not all(key in self._worn_since for key in self.required):
                return False
            start = max(self._worn_since[key] for key in self.required)
        else:
            if not self._worn_since:
                return False
            start = min(self._worn_since.values())
        if now - start < self.arrive_s:
            return False
        self.mode = VISITOR
        self.visits += 1
        self._worn_since.clear()
        self._since = None
        return True
