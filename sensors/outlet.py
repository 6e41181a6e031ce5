"""Shared helpers of the LSL producers: outlets with channel labels, and a ticker.

Producers schedule their chunks against target time stamps instead of sleeping a fixed
amount, so they never drift from their nominal rate (mne-lsl's player does the same).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence

import pylsl

__all__ = ["FORMATS", "make_outlet", "ticks", "unique_source_id"]

FORMATS: Mapping[str, int] = {
    "float32": pylsl.cf_float32,
    "double64": pylsl.cf_double64,
    "int8": pylsl.cf_int8,
    "int16": pylsl.cf_int16,
    "int32": pylsl.cf_int32,
    "int64": pylsl.cf_int64,
    "string": pylsl.cf_string,
}


def unique_source_id(prefix: str) -> str:
    """A source_id no other producer uses (so inlets never confuse two runs)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_outlet(
    name: str,
    type: str,
    labels: Sequence[str],
    srate: float,
    source_id: str,
    *,
    channel_format: str = "float32",
    unit: str = "",
    chunk_size: int = 0,
    extra: Mapping[str, str] | None = None,
) -> pylsl.StreamOutlet:
    """Create an outlet whose ``desc/channels/channel`` carries a label (and unit) per channel.

    Parameters
    ----------
    name, type, srate, source_id, channel_format
        LSL stream header fields; ``srate`` 0 makes an irregular stream.
    labels
        One label per channel; their number is the channel count.
    unit
        Unit written for every channel (e.g. ``microvolts``), if any.
    extra
        Text elements added under ``desc`` (e.g. the producer's start time).
    """
    info = pylsl.StreamInfo(
        name, type, len(labels), float(srate), FORMATS[channel_format], source_id
    )
    channels = info.desc().append_child("channels")
    for label in labels:
        channel = channels.append_child("channel")
        channel.append_child_value("label", label)
        if unit:
            channel.append_child_value("unit", unit)
    for key, value in (extra or {}).items():
        info.desc().append_child_value(key, str(value))
    return pylsl.StreamOutlet(info, chunk_size=chunk_size)


def ticks(period: float, t0: float | None = None) -> Iterator[float]:
    """Yield the LSL local clock once per ``period``, scheduled against target times.

    Tick ``k`` is due at ``t0 + k * period``; the wait is computed from that target, not from
    the previous tick, so time spent producing a chunk never accumulates into drift.
    """
    start = pylsl.local_clock() if t0 is None else t0
    k = 0
    while True:
        wait = start + k * period - pylsl.local_clock()
        if wait > 0:
            time.sleep(wait)
        yield pylsl.local_clock()
        k += 1
