"""The show's live LSL streams as one runtime ``Source``: one :class:`LslInput` per
``[streams.KEY]``, each resolving, reconnecting and reporting its own status."""

from __future__ import annotations

from collections.abc import Mapping

from installation.inputs.lsl import LslInput, LslSettings, StreamPins
from installation.messages import Chunk, Status

__all__ = ["LslSource"]


class LslSource:
    """Polls every live input at once; reading never blocks.

    Parameters
    ----------
    streams
        ``[streams.KEY]`` pins by key (e.g. ``show.streams``).
    settings
        Tuning shared by every input.
    """

    def __init__(self, streams: Mapping[str, StreamPins],
                 settings: LslSettings | None = None) -> None:
        self.settings = settings
        self._specs = dict(streams)
        self.inputs: dict[str, LslInput] = {
            key: LslInput(key, spec, settings).start() for key, spec in streams.items()
        }

    def read(self, t: float) -> dict[str, Chunk]:
        """The samples that arrived since the last read, per stream (``t`` is not needed:
        live input delivers what has arrived; each chunk's ``t_end`` is the pull time)."""
        return {key: inp.poll() for key, inp in self.inputs.items()}

    def seek(self, t: float) -> None:
        """Live input cannot seek; does nothing."""

    def follow(self, streams: Mapping[str, StreamPins]) -> None:
        """Reopen only the inputs whose pins changed (a show reload): new pins, new or
        removed streams; unchanged ones keep their connection."""
        for key in set(self.inputs) | set(streams):
            if streams.get(key) != self._specs.get(key):
                if key in self.inputs:
                    self.inputs.pop(key).close()
                if key in streams:
                    self.inputs[key] = LslInput(key, streams[key], self.settings).start()
        self._specs = dict(streams)

    @property
    def statuses(self) -> dict[str, Status]:
        return {key: inp.status for key, inp in self.inputs.items()}

    def close(self) -> None:
        for inp in self.inputs.values():
            inp.close()
        self.inputs = {}

    def __enter__(self) -> LslSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
