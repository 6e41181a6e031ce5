"""What is on the LSL network: ``installation streams``, as LabRecorder's stream list shows it."""

from __future__ import annotations

from collections.abc import Sequence

from installation.messages import StreamInfo

__all__ = ["format_streams", "list_streams"]

COLUMNS = ("type", "name", "source_id", "host", "rate", "channels", "format")


def list_streams(wait_s: float = 2.0) -> list[StreamInfo]:
    """Every stream that answers within ``wait_s`` seconds, sorted by type, name, source."""
    import pylsl

    from installation.inputs.lsl import stream_info_from_lsl

    found = [stream_info_from_lsl(info) for info in pylsl.resolve_streams(wait_time=wait_s)]
    return sorted(found, key=lambda s: (s.type.lower(), s.name, s.source_id, s.hostname))


def format_streams(streams: Sequence[StreamInfo]) -> str:
    """A table, one stream per line (rate in Hz, or ``irregular``)."""
    rows = [COLUMNS] + [
        (s.type, s.name, s.source_id or "-", s.hostname or "-",
         f"{s.nominal_srate:g} Hz" if s.nominal_srate > 0 else "irregular",
         str(s.channel_count), s.channel_format)
        for s in streams
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
