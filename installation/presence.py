"""Is a visitor here? Decided the same way in every mode, from the required streams' health.

A stream is *worn* (:class:`Wear`) when its input delivers (chunk status ``ok``) and its
features are trusted (``ok``: for a heart source, beats its quality judge believes). While a
visitor is there, a stream ``stale`` for less than ``STALE_GRACE_S`` (a missed beat, a
flutter-like stretch, a filter restart) still counts (``GRACE``). Nothing else does: a flat
line (electrode off), noise (``invalid`` "noisy": a strap on a chair) and warm-up are not a
visitor. A visitor has *arrived* once every required stream (or, in a show with none
required, any stream) is worn for ``arrive_s``, and has *left* once one stops for ``leave_s``.

Arrival needs trusted data and not just warm-up (issue 15): warm-up looks the same whether a
heart or a chair is on the strap, and counting it made a noise gate flap between visitor and
idle every ~10 s (stop 9). The quality judge's own hysteresis keeps the first seconds of a
real visitor from flapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    _since: float | None = None  # when the streams last disagreed with the current mode

    def update(self, worn_by_stream: Mapping[str, bool | Wear], now: float) -> bool:
        """Feed how each stream is worn at ``now`` (:func:`worn`; a plain True counts as
        ``YES``); returns True when the mode changed."""
        # Arriving needs trusted data on every required stream; staying accepts a grace.
        need = Wear.GRACE if self.mode == VISITOR else Wear.YES
        levels = {key: _level(w) for key, w in worn_by_stream.items()}
        if self.required:
            here = all(levels.get(key, Wear.NO) >= need for key in self.required)
        else:  # nothing declared required: anyone on any stream is a visitor
            here = any(w >= need for w in levels.values())
        wants = VISITOR if here else IDLE
        if wants == self.mode:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        hold = self.arrive_s if wants == VISITOR else self.leave_s
        if now - self._since >= hold:
            self.mode, self._since = wants, None
            self.visits += wants == VISITOR
            return True
        return False
