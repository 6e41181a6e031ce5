"""Record live LSL streams (and, optionally, the engine's features) to XDF, incrementally.

What LabRecorder does, in-process: each stream's samples are written with their *original* LSL
time stamps, and every few seconds a ClockOffset chunk holds ``inlet.time_correction()``, so a
reader (pyxdf) does the clock synchronisation and dejittering. Every write is flushed
(:class:`~installation.record.xdf_writer.XdfWriter`), and samples are pulled every
``poll_every_s``, so a killed recorder loses well under a second; a clean close adds the stream
footers. Recording is explicit: nothing here runs unless a command or a show asks for it.
"""

from __future__ import annotations

import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pylsl
from pylsl.util import LostError

from installation.clock import LslClock
from installation.errors import UserError
from installation.inputs.lsl import stream_info_from_lsl, type_clause, xpath_literal
from installation.messages import Features, StreamInfo
from installation.record.xdf_writer import XdfWriter

__all__ = [
    "RecordError",
    "Recorder",
    "RecorderSettings",
    "RecordingTarget",
    "find_streams",
    "lsl_header_extras",
]

_log = logging.getLogger(__name__)


class RecordError(UserError):
    """Nothing to record: no stream matched, or the output cannot be written."""


@dataclass(frozen=True)
class RecordingTarget:
    """Which live streams to record: a type, optionally narrowed by name / source_ids."""

    type: str
    name: str = ""
    source_ids: tuple[str, ...] = ()
    hostname: str = ""

    def predicate(self) -> str:
        """XPath predicate for :func:`pylsl.resolve_bypred`."""
        parts = [type_clause(self.type)]  # case-insensitive, as the live input's
        if self.name:
            parts.append(f"name={xpath_literal(self.name)}")
        if self.hostname:
            parts.append(f"hostname={xpath_literal(self.hostname)}")
        if self.source_ids:
            ids = " or ".join(f"source_id={xpath_literal(s)}" for s in self.source_ids)
            parts.append(f"({ids})")
        return " and ".join(parts)


@dataclass(frozen=True)
class RecorderSettings:
    """Timing of a recording.

    Parameters
    ----------
    poll_every_s
        How often samples are pulled and written (bounds what a SIGKILL loses).
    offset_every_s
        How often a ClockOffset chunk is written per stream.
    boundary_every_s
        How often a Boundary chunk is written (where a reader can resynchronise).
    buffer_s
        Inlet buffer, should writing stall for a while.
    """

    poll_every_s: float = 0.05
    offset_every_s: float = 5.0
    boundary_every_s: float = 10.0
    buffer_s: int = 60


def find_streams(targets: Sequence[RecordingTarget], wait_s: float) -> list[pylsl.StreamInfo]:
    """Every live stream matching any target, looking for up to ``wait_s`` seconds.

    Raises
    ------
    RecordError
        A target matched no stream.
    """
    found: dict[str, pylsl.StreamInfo] = {}
    for target in targets:
        matches = pylsl.resolve_bypred(target.predicate(), minimum=1, timeout=wait_s)
        # One more short look: several devices of one type may answer a moment apart.
        matches += pylsl.resolve_bypred(target.predicate(), minimum=len(matches) + 1, timeout=0.5)
        if not matches:
            raise RecordError(f"no LSL stream matching {target.predicate()} within {wait_s:g} s")
        for info in matches:
            found[info.uid()] = info
    return list(found.values())


# Header fields LabRecorder keeps besides the ones StreamInfo carries (XDF readers and tools
# such as pyxdf's stream matching use uid/session_id; created_at dates the outlet).
_KEPT_HEADER_FIELDS = ("created_at", "uid", "session_id", "version")


def lsl_header_extras(info: pylsl.StreamInfo) -> tuple[str | None, dict[str, str]]:
    """The sender's whole ``<desc>`` element (XML text) and the header fields worth keeping.

    Parameters
    ----------
    info
        A full stream info, as ``inlet.info()`` returns it (a resolved info has no desc).

    Returns
    -------
    tuple
        ``(desc_xml, header)``: ``desc_xml`` is ``None`` when the info has no ``<desc>``;
        ``header`` maps ``created_at``, ``uid``, ``session_id``, ``version`` to their text,
        leaving out those that are absent or empty.
    """
    root = ET.fromstring(info.as_xml())
    desc = root.find("desc")
    desc_xml = ET.tostring(desc, encoding="unicode") if desc is not None else None
    header = {}
    for tag in _KEPT_HEADER_FIELDS:
        text = (root.findtext(tag) or "").strip()
        if text:
            header[tag] = text
    return desc_xml, header


@dataclass
class _Recorded:
    inlet: pylsl.StreamInlet
    info: StreamInfo
    stream_id: int
    buffer: np.ndarray | None
    capacity: int
    count: int = 0


class Recorder:
    """Writes live streams to one XDF file until :meth:`close`.

    Parameters
    ----------
    path
        Output ``.xdf``.
    streams
        Resolved streams to record (see :func:`find_streams`).
    settings
        Timing.
    started
        When the recording began (``time.time()``; default: now), written as the file
        header's ``datetime``.

    Notes
    -----
    Drive it with :meth:`run` (blocking, until a duration or a stop event) or by calling
    :meth:`step` from a loop. :meth:`add_feature_stream` / :meth:`write_features` record the
    engine's own features, whose time stamps are already on the local LSL clock.
    """

    def __init__(
        self,
        path: str | Path,
        streams: Sequence[pylsl.StreamInfo],
        settings: RecorderSettings | None = None,
        started: float | None = None,
    ) -> None:
        self.settings = settings or RecorderSettings()
        self.clock = LslClock()  # the engine's live clock: collection times of clock offsets
        # The header's <datetime>, as LabRecorder writes it (local time with its UTC offset).
        when = time.time() if started is None else started
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(when))
        try:
            self.writer = XdfWriter(path, datetime=stamp)
        except OSError as e:
            raise RecordError(f"{path}: cannot write recording ({e.strerror or e})") from e
        self._recorded: list[_Recorded] = []
        self._features: dict[int, tuple[str, ...]] = {}
        for found in streams:
            self._recorded.append(self._open(found))
        self._last_offsets = -np.inf
        self._last_boundary = self.clock.now()
        self._write_offsets()

    def _open(self, found: pylsl.StreamInfo) -> _Recorded:
        # No post-processing: the file keeps the sender's own time stamps, as LabRecorder's do;
        # recover=True keeps recording through a short device dropout.
        inlet = pylsl.StreamInlet(found, max_buflen=self.settings.buffer_s, recover=True)
        full = inlet.info(timeout=5.0)
        inlet.open_stream(timeout=5.0)
        info = stream_info_from_lsl(full)
        desc_xml, header = lsl_header_extras(full)
        stream_id = self.writer.add_stream(info, desc_xml=desc_xml, header=header)
        rate = info.nominal_srate if info.nominal_srate > 0 else 100.0
        capacity = max(64, int(rate * 2))
        buffer = (
            None
            if info.channel_format == "string"
            else np.empty((capacity, info.channel_count), dtype=_DTYPES[info.channel_format])
        )
        return _Recorded(inlet, info, stream_id, buffer, capacity)

    @property
    def sample_counts(self) -> dict[str, int]:
        """Samples written so far, by stream name."""
        return {r.info.name: r.count for r in self._recorded}

    def add_feature_stream(self, name: str, keys: Sequence[str], rate: float = 0.0) -> int:
        """Add a stream of engine features (one channel per key); returns its id."""
        info = StreamInfo(
            name=name, type="Features", channel_count=len(keys), nominal_srate=rate,
            channel_format="double64", channel_labels=tuple(keys), source_id=f"engine-{name}",
        )
        stream_id = self.writer.add_stream(info)
        self._features[stream_id] = tuple(keys)
        # Engine time is the local LSL clock: the offset is zero by construction.
        self.writer.write_clock_offset(stream_id, self.clock.now(), 0.0)
        return stream_id

    def write_features(self, stream_id: int, features: Features) -> None:
        """Write one :class:`Features` message as a sample (missing keys become NaN)."""
        keys = self._features[stream_id]
        row = np.array([[features.values.get(k, np.nan) for k in keys]], dtype=np.float64)
        self.writer.write_samples(stream_id, [features.t], row)

    def step(self) -> int:
        """Pull and write what arrived; write clock offsets / boundaries when due.

        Returns the number of samples written.
        """
        written = 0
        for rec in self._recorded:
            try:
                written += self._drain(rec)
            except LostError:
                _log.warning("recorder: stream %r lost", rec.info.name)
        now = self.clock.now()
        if now - self._last_offsets >= self.settings.offset_every_s:
            self._write_offsets()
        if now - self._last_boundary >= self.settings.boundary_every_s:
            self.writer.write_boundary()
            self._last_boundary = now
        return written

    def _drain(self, rec: _Recorded) -> int:
        total = 0
        while True:
            if rec.buffer is None:
                rows, ts = rec.inlet.pull_chunk(timeout=0.0, max_samples=rec.capacity)
                data: object = np.asarray(rows, dtype=object).reshape(len(ts), -1)
            else:
                data, ts = rec.inlet.pull_chunk(
                    timeout=0.0, max_samples=rec.capacity, dest_obj=rec.buffer, as_numpy=True
                )
            n = len(ts)
            if n:
                self.writer.write_samples(rec.stream_id, ts, data)
                rec.count += n
                total += n
            if n < rec.capacity:
                return total

    def _write_offsets(self) -> None:
        for rec in self._recorded:
            try:
                offset = rec.inlet.time_correction(timeout=1.0)
            except (pylsl.util.TimeoutError, LostError):
                continue  # no fresh estimate now; pyxdf interpolates between the others
            self.writer.write_clock_offset(rec.stream_id, self.clock.now(), offset)
        self._last_offsets = self.clock.now()

    def run(self, duration: float | None = None, stop: threading.Event | None = None) -> None:
        """Record until ``duration`` seconds have passed or ``stop`` is set."""
        start = time.monotonic()
        k = 0
        while not (stop is not None and stop.is_set()):
            self.step()
            if duration is not None and time.monotonic() - start >= duration:
                break
            k += 1
            # Scheduled against target times so the write cadence does not drift.
            wait = start + k * self.settings.poll_every_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    def close(self) -> None:
        """Write what is left, the stream footers, and close the file."""
        if self.writer.closed:
            return
        try:
            self.step()
        finally:
            for rec in self._recorded:
                rec.inlet.close_stream()
            self.writer.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DTYPES = {
    "float32": np.float32,
    "double64": np.float64,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
}
