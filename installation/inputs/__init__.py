"""Where chunks come from: a recording (:mod:`.recording`) or live LSL streams (:mod:`.lsl`,
:mod:`.live`). Both are a :class:`Source` to the runtime loop."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from installation.messages import Chunk

__all__ = ["Source"]


@runtime_checkable
class Source(Protocol):
    """Chunks of the show's streams, keyed as in ``[streams.KEY]``."""

    def read(self, t: float) -> dict[str, Chunk]:
        """One chunk per stream: what arrived up to engine time ``t`` since the last read."""
        ...

    def seek(self, t: float) -> None:
        """Position the source so the next read starts just after ``t`` (live: no-op)."""
        ...

    def close(self) -> None:
        """Release what the source holds; calling it again does nothing."""
        ...
