"""Is a visitor here? Decided the same way in every mode, from the required streams' health.

A stream *has someone on it* when its input delivers (chunk status ``ok``) and its features
are usable (``ok``), or ``stale`` for less than ``STALE_GRACE_S`` (warming up, a missed beat):
a connected sensor sending a flat line (electrode off) or noise without a heartbeat (a strap
left on a chair) is not a visitor. A visitor has *arrived* once every required stream (or,
in a show with none required, any stream) has someone on it for ``arrive_s``, and has *left*
once that stops for ``leave_s``; the debounce keeps a loose electrode from ending a visit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from installation.messages import Status

IDLE, VISITOR = "idle", "visitor"
# Longer than any extractor's warm-up (about 2 s) plus a pause between heartbeats, far shorter
# than a strap left lying about.
STALE_GRACE_S = 10.0


def worn(chunk_status: Status | None, feature_status: Status | None,
         stale_for: float = 0.0) -> bool:
    """Whether one stream has a visitor on it (see the module docstring).

    Parameters
    ----------
    chunk_status, feature_status
        The stream's input and feature health now.
    stale_for
        How long the features have been ``stale`` without a break.
    """
    if chunk_status is not Status.OK:
        return False
    return feature_status is Status.OK or (
        feature_status is Status.STALE and stale_for < STALE_GRACE_S)


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

    def update(self, worn_by_stream: Mapping[str, bool], now: float) -> bool:
        """Feed which streams are worn at ``now``; returns True when the mode changed."""
        if self.required:
            here = all(worn_by_stream.get(key, False) for key in self.required)
        else:  # nothing declared required: anyone on any stream is a visitor
            here = any(worn_by_stream.values())
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
