"""Is a visitor here? Decided the same way in every mode, from the required streams' health.

A required stream *has someone on it* when its input delivers (chunk status ``ok``) and its
features are usable or warming up (``ok`` or ``stale``): a connected sensor sending a flat
line (electrode off, strap on the table) is not a visitor. A visitor has *arrived* once every
required stream has someone on it for ``arrive_s``, and has *left* once one has not for
``leave_s``; the debounce keeps a loose electrode from ending a visit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from installation.messages import Status

IDLE, VISITOR = "idle", "visitor"


def worn(chunk_status: Status | None, feature_status: Status | None) -> bool:
    """Whether one stream has a visitor on it (see the module docstring)."""
    return chunk_status is Status.OK and feature_status in (Status.OK, Status.STALE)


@dataclass
class Presence:
    """Debounced visitor presence on the required streams.

    Parameters
    ----------
    required
        Keys of the streams a visitor must wear (the show's ``required`` streams).
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
        here = bool(self.required) and all(
            worn_by_stream.get(key, False) for key in self.required
        )
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
