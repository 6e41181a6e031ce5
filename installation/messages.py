"""Typed, frozen messages passed between pipeline stages.

Every message carries times on the engine clock (seconds). For a recording, engine time 0 is
the first sample of the recording; for live LSL input it is the LSL local clock after
``time_correction``. Timestamps are never invented: a chunk's sample times are the source's
own, and ``Chunk.t_end`` says how far the source has been read even when no sample arrived.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import numpy as np


class Status(StrEnum):
    """Health of a stream or of a value derived from it."""

    OK = "ok"
    STALE = "stale"  # no new data for a while, last value still meaningful
    LOST = "lost"  # the stream is gone
    INVALID = "invalid"  # data arrives but cannot be trusted (flat, NaN, saturated...)


def _frozen_mapping(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a stream is: the fields of an LSL stream header that the engine uses."""

    name: str
    type: str
    channel_count: int
    nominal_srate: float  # 0.0 for irregular streams (markers, RR intervals)
    channel_format: str = "float32"
    channel_labels: tuple[str, ...] = ()
    source_id: str = ""
    hostname: str = ""
    # Per-channel units from the header (desc/channels/channel/unit), () when not declared;
    # the extractors judge which amplitudes are physically possible by them.
    channel_units: tuple[str, ...] = ()
    # The sender's whole <desc> element (XML), kept so a per-visit recording carries it as
    # `installation record` does; not part of a stream's identity (equality, hashing).
    desc_xml: str = field(default="", compare=False, repr=False)

    @property
    def is_numeric(self) -> bool:
        return self.channel_format != "string"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Samples of one stream that arrived since the previous chunk.

    Parameters
    ----------
    info
        The stream's header.
    timestamps
        ``(n,)`` float64 sample times on the engine clock, non-decreasing.
    data
        ``(n, channel_count)`` float64 for numeric streams, ``object`` for string streams.
        May contain NaN/inf: extractors must cope.
    t_end
        Engine time up to which the source has been read. With ``n == 0`` this still tells
        a stage that time has passed (needed to notice a stream going quiet).
    status, reason
        Health of the stream as seen by the input.
    """

    info: StreamInfo
    timestamps: np.ndarray
    data: np.ndarray
    t_end: float
    status: Status = Status.OK
    reason: str = ""

    def __post_init__(self) -> None:
        if self.timestamps.ndim != 1 or self.data.ndim != 2:
            raise ValueError(f"chunk of stream {self.info.name!r} ({self.info.type}): needs time"
                             f" stamps of shape (n,) and data of shape (n, ch), got"
                             f" {np.shape(self.timestamps)} and {np.shape(self.data)}")
        if self.data.shape[0] != self.timestamps.shape[0]:
            raise ValueError(f"chunk of stream {self.info.name!r} ({self.info.type}): time stamps"
                             f" and data disagree on the sample count ({self.timestamps.shape[0]}"
                             f" and {self.data.shape[0]})")

    @property
    def n(self) -> int:
        return int(self.timestamps.shape[0])


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at one instant, e.g. a heartbeat.

    ``t`` is when it happened in the body (the R-peak's own time); ``reported`` is the
    engine time at which the causal detector could first know it.
    """

    name: str
    t: float
    reported: float
    value: float = 1.0


@dataclass(frozen=True, slots=True)
class Features:
    """Features extracted from one stream, valid at engine time ``t``.

    ``values`` are always finite. When ``status`` is not ``ok``, they hold the last trusted
    values (or the extractor's neutral defaults) and ``reason`` says why. ``ok_since``, while
    ``ok``: the stream time from which the data behind the verdict were good (a heart source:
    the first beat of the run that earned its trust), NaN when the source does not say.
    """

    stream: str
    t: float
    values: Mapping[str, float]
    status: Status = Status.OK
    reason: str = ""
    events: tuple[Event, ...] = ()
    ok_since: float = math.nan

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen_mapping(self.values))
        if math.isfinite(sum(self.values.values())):  # every value finite: the usual case
            return
        bad = [k for k, v in self.values.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"non-finite feature values from {self.stream}: {bad}")


@dataclass(frozen=True, slots=True)
class Controls:
    """Named control values (already mapped and smoothed) at engine time ``t``."""

    t: float
    values: Mapping[str, float]
    stream_status: Mapping[str, Status] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen_mapping(self.values))
        object.__setattr__(self, "stream_status", MappingProxyType(dict(self.stream_status)))
        if math.isfinite(sum(self.values.values())):  # every value finite: the usual case
            return
        bad = [k for k, v in self.values.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"non-finite control values: {bad}")

    def get(self, name: str, default: float = 0.0) -> float:
        return float(self.values.get(name, default))


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One image from the generator: ``pixels`` is ``(h, w, 3)`` uint8, C-contiguous."""

    t: float
    index: int
    pixels: np.ndarray


@dataclass(frozen=True, slots=True)
class Frame:
    """One rendered output frame: ``pixels`` is ``(h, w, 3)`` uint8, top row first."""

    index: int
    t: float
    pixels: np.ndarray
