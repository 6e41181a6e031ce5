"""Incremental XDF writer.

No maintained XDF *writer* library exists for Python (pyxdf only reads), so this module writes
the format by hand, following the XDF 1.0 specification
(https://github.com/sccn/xdf/wiki/Specifications). Layout of a file::

    "XDF:" chunk*
    chunk = NumLengthBytes(1: 1|4|8) Length(varlen, bytes of tag + content) Tag(uint16) content
    tags  = 1 FileHeader (XML) | 2 StreamHeader (StreamId uint32 + XML)
          | 3 Samples (StreamId, NumSamples varlen, samples) | 4 ClockOffset (StreamId,
            CollectionTime double, OffsetValue double) | 5 Boundary (16-byte UUID)
          | 6 StreamFooter (StreamId + XML)

All numbers are little-endian. Every sample is written with its own 8-byte time stamp (prefix
byte 8) rather than relying on the reader's ``last + 1/srate`` deduction, so time stamps
round-trip bit-exactly.

Each public write call ends with a flush: if the recording process is killed, the file holds
every chunk written so far, and a reader only misses the stream footers.
"""

from __future__ import annotations

import contextlib
import struct
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np

from installation.messages import StreamInfo

__all__ = ["BOUNDARY_UUID", "NUMERIC_FORMATS", "XdfWriter"]

BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")

# XDF channel_format -> little-endian numpy dtype
NUMERIC_FORMATS: Mapping[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "double64": np.dtype("<f8"),
    "int8": np.dtype("<i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
}

_TAG_FILE_HEADER = 1
_TAG_STREAM_HEADER = 2
_TAG_SAMPLES = 3
_TAG_CLOCK_OFFSET = 4
_TAG_BOUNDARY = 5
_TAG_STREAM_FOOTER = 6


def _varlen(n: int) -> bytes:
    """Encode ``n`` as an XDF variable-length integer (1-byte width, then the value)."""
    if n < 0:
        raise ValueError("XDF lengths cannot be negative")
    if n <= 0xFF:
        return b"\x01" + struct.pack("<B", n)
    if n <= 0xFFFFFFFF:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _fill_element(parent: ET.Element, value: Any) -> None:
    """Write ``value`` (str/number, mapping or list of those) below ``parent``."""
    if isinstance(value, Mapping):
        for key, sub in value.items():
            # A list under a key means the element repeats (e.g. several <channel>).
            items = sub if isinstance(sub, list | tuple) else [sub]
            for item in items:
                _fill_element(ET.SubElement(parent, str(key)), item)
    elif value is not None:
        parent.text = str(value)


def _parse_desc(desc_xml: str) -> ET.Element:
    """The ``<desc>`` element of ``desc_xml``, validated (a reader must be able to parse it)."""
    try:
        element = ET.fromstring(desc_xml)
    except ET.ParseError as e:
        raise ValueError(f"desc_xml is not well-formed XML: {e}") from None
    if element.tag != "desc":
        raise ValueError(f"desc_xml must be a <desc> element, not <{element.tag}>")
    return element


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0"?>' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _fmt_float(x: float) -> str:
    # repr() is the shortest string that parses back to the same double.
    return repr(float(x))


@dataclass(slots=True)
class _StreamState:
    info: StreamInfo
    first_timestamp: float | None = None
    last_timestamp: float | None = None
    sample_count: int = 0
    clock_offsets: list[tuple[float, float]] = field(default_factory=list)


class XdfWriter:
    """Write an XDF file chunk by chunk.

    Parameters
    ----------
    path
        File to create (overwritten if it exists).
    datetime
        Optional ISO-8601 text for the file header's ``<datetime>``. Left out by default so
        the same input gives the same bytes.
    exclusive
        Refuse to replace an existing file (``FileExistsError``) instead of overwriting it.

    Examples
    --------
    >>> with XdfWriter("out.xdf") as w:  # doctest: +SKIP
    ...     sid = w.add_stream(StreamInfo("ecg", "ECG", 1, 360.0))
    ...     w.write_samples(sid, timestamps, data)
    """

    def __init__(
        self, path: str | Path, *, datetime: str | None = None, exclusive: bool = False
    ) -> None:
        self.path = Path(path)
        self._streams: dict[int, _StreamState] = {}
        self._next_id = 1
        # "xb" creates atomically or raises FileExistsError: no race between check and open.
        mode = "xb" if exclusive else "wb"
        self._file: BinaryIO | None = open(self.path, mode)  # noqa: SIM115 (closed in close())
        header = ET.Element("info")
        _fill_element(header, {"version": "1.0"})
        if datetime is not None:
            _fill_element(header, {"datetime": datetime})
        self._write(b"XDF:" + _chunk(_TAG_FILE_HEADER, _xml(header)))

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> XdfWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._file is None

    # -- public API -----------------------------------------------------------------------
    def add_stream(
        self,
        info: StreamInfo,
        desc: Mapping[str, Any] | None = None,
        *,
        desc_xml: str | None = None,
        header: Mapping[str, str] | None = None,
    ) -> int:
        """Write a stream header and return the new stream's id.

        Parameters
        ----------
        info
            Stream header fields. ``info.channel_labels`` and ``info.channel_units`` become
            ``desc/channels/channel/label`` and ``.../unit`` unless ``desc`` or ``desc_xml``
            has its own ``channels`` entry.
        desc
            Extra meta-data written under ``<desc>``: nested mappings become nested elements,
            lists become repeated elements, anything else becomes text. Keys that
            ``desc_xml`` already has are left out (the sender's description wins).
        desc_xml
            The sender's own ``<desc>...</desc>`` element (e.g. from
            ``pylsl.StreamInfo.as_xml()``), copied verbatim, nested meta-data included.
        header
            More header elements written after ``hostname``, e.g. the LSL ``created_at``,
            ``uid``, ``session_id`` and ``version`` (as LabRecorder keeps them). Names that
            the header already has from ``info`` are ignored.

        Raises
        ------
        ValueError
            Unsupported format, bad channel labels, or ``desc_xml`` that is not one
            well-formed ``<desc>`` element.

        Returns
        -------
        int
            The stream id to pass to the other write methods.
        """
        if info.channel_format != "string" and info.channel_format not in NUMERIC_FORMATS:
            raise ValueError(f"unsupported XDF channel_format {info.channel_format!r}")
        if info.channel_count < 1:
            raise ValueError("an XDF stream needs at least one channel")
        if info.channel_labels and len(info.channel_labels) != info.channel_count:
            raise ValueError("channel_labels must have one label per channel")
        if info.channel_units and len(info.channel_units) != info.channel_count:
            raise ValueError("channel_units must have one unit per channel")
        stream_id = self._next_id
        self._next_id += 1

        root = ET.Element("info")
        _fill_element(
            root,
            {
                "name": info.name,
                "type": info.type,
                "channel_count": info.channel_count,
                "nominal_srate": _fmt_float(info.nominal_srate),
                "channel_format": info.channel_format,
                "source_id": info.source_id,
                "hostname": info.hostname,
            },
        )
        for key, value in (header or {}).items():
            if root.find(key) is None:
                _fill_element(ET.SubElement(root, key), value)
        desc_element = _parse_desc(desc_xml) if desc_xml is not None else ET.Element("desc")
        root.append(desc_element)
        present = {child.tag for child in desc_element}
        desc_items = {k: v for k, v in (desc or {}).items() if str(k) not in present}
        if ((info.channel_labels or info.channel_units) and "channels" not in desc_items
                and "channels" not in present):
            # One entry per channel with what the info declares: the label, and the unit
            # the extractors judge impossible amplitudes by (issue 17).
            n = info.channel_count
            labels = info.channel_labels or ("",) * n
            units = info.channel_units or ("",) * n
            desc_items["channels"] = {"channel": [
                {k: v for k, v in (("label", lb), ("unit", un)) if v}
                for lb, un in zip(labels, units, strict=True)]}
        _fill_element(desc_element, desc_items)

        self._streams[stream_id] = _StreamState(info)
        self._write(_chunk(_TAG_STREAM_HEADER, struct.pack("<I", stream_id) + _xml(root)))
        return stream_id

    def write_samples(self, stream_id: int, timestamps: Any, data: Any) -> None:
        """Write one Samples chunk.

        Parameters
        ----------
        stream_id
            Id returned by :meth:`add_stream`.
        timestamps
            ``(n,)`` sample times in seconds (finite).
        data
            ``(n, channel_count)`` values, or ``(n,)`` for a one-channel stream. Numeric
            streams accept anything numpy converts losslessly to the stream's format; string
            streams take ``str`` values.
        """
        state = self._stream(stream_id)
        info = state.info
        ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(ts)):
            raise ValueError("XDF time stamps must be finite")
        n = ts.shape[0]
        if n == 0:
            return
        if info.channel_format == "string":
            payload = self._string_payload(info, ts, data)
        else:
            payload = self._numeric_payload(info, ts, data)
        content = struct.pack("<I", stream_id) + _varlen(n) + payload
        self._write(_chunk(_TAG_SAMPLES, content))
        if state.first_timestamp is None:
            state.first_timestamp = float(ts[0])
        state.last_timestamp = float(ts[-1])
        state.sample_count += n

    def write_clock_offset(
        self, stream_id: int, collection_time: float, offset_value: float
    ) -> None:
        """Write a ClockOffset chunk: at ``collection_time`` (recorder clock), the stream's
        clock read ``offset_value`` seconds from the recorder's (readers add it)."""
        state = self._stream(stream_id)
        content = struct.pack("<Idd", stream_id, float(collection_time), float(offset_value))
        self._write(_chunk(_TAG_CLOCK_OFFSET, content))
        state.clock_offsets.append((float(collection_time), float(offset_value)))

    def write_boundary(self) -> None:
        """Write a Boundary chunk, where a reader of a damaged file can resynchronise."""
        self._write(_chunk(_TAG_BOUNDARY, BOUNDARY_UUID))

    def close(self) -> None:
        """Write a footer per stream and close the file. Calling it again does nothing."""
        if self._file is None:
            return
        try:
            for stream_id, state in self._streams.items():
                self._write(_chunk(_TAG_STREAM_FOOTER, self._footer(stream_id, state)))
        finally:
            self._file.close()
            self._file = None

    def abort(self) -> None:
        """Close the file without footers, e.g. after a write failed (disk full): a reader
        loads what was written, as after a crash. Never raises; calling it again does
        nothing."""
        file, self._file = self._file, None
        if file is None:
            return
        # close() flushes, which fails the same way the write did (already reported).
        with contextlib.suppress(OSError):
            file.close()

    # -- internals ------------------------------------------------------------------------
    def _stream(self, stream_id: int) -> _StreamState:
        if self._file is None:
            raise ValueError(f"{self.path}: XdfWriter is closed")
        try:
            return self._streams[stream_id]
        except KeyError:
            raise ValueError(f"unknown XDF stream id {stream_id}") from None

    def _write(self, raw: bytes) -> None:
        if self._file is None:
            raise ValueError(f"{self.path}: XdfWriter is closed")
        self._file.write(raw)
        # flush (not fsync): a killed process then loses nothing already written; surviving
        # a power cut would need fsync, too slow to do per chunk.
        self._file.flush()

    @staticmethod
    def _numeric_payload(info: StreamInfo, ts: np.ndarray, data: Any) -> bytes:
        n = ts.shape[0]
        dtype = NUMERIC_FORMATS[info.channel_format]
        raw = np.asarray(data)
        values = raw.astype(dtype).reshape(n, info.channel_count)
        # float64 -> float32 rounding is expected; integer streams must hold values exactly.
        if dtype.kind == "i" and not np.array_equal(values.reshape(-1), raw.reshape(-1)):
            raise ValueError(f"values do not fit {info.channel_format} exactly")
        record = np.dtype([("flag", "u1"), ("t", "<f8"), ("v", dtype, (info.channel_count,))])
        rows = np.empty(n, dtype=record)
        rows["flag"] = 8
        rows["t"] = ts
        rows["v"] = values
        return rows.tobytes()

    @staticmethod
    def _string_payload(info: StreamInfo, ts: np.ndarray, data: Any) -> bytes:
        n = ts.shape[0]
        values = np.asarray(data, dtype=object).reshape(n, info.channel_count)
        parts: list[bytes] = []
        for t, row in zip(ts, values, strict=True):
            parts.append(b"\x08" + struct.pack("<d", t))
            for value in row:
                encoded = str(value).encode("utf-8")
                parts.append(_varlen(len(encoded)) + encoded)
        return b"".join(parts)

    @staticmethod
    def _footer(stream_id: int, state: _StreamState) -> bytes:
        root = ET.Element("info")
        _fill_element(
            root,
            {
                "first_timestamp": _fmt_float(state.first_timestamp or 0.0),
                "last_timestamp": _fmt_float(state.last_timestamp or 0.0),
                "sample_count": state.sample_count,
            },
        )
        offsets = ET.SubElement(root, "clock_offsets")
        for time, value in state.clock_offsets:
            _fill_element(
                ET.SubElement(offsets, "offset"),
                {"time": _fmt_float(time), "value": _fmt_float(value)},
            )
        return struct.pack("<I", stream_id) + _xml(root)
