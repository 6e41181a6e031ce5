"""Record what the engine saw during one visitor's session: one XDF file per visitor.

The gallery loop opts in through the show's ``[record]`` table (privacy: nothing biometric is
written otherwise) and drives a :class:`SessionRecorder` once per visitor::

    rec = SessionRecorder.for_show(show, started=time.time())   # None when not enabled
    rec.write_step(chunks, step.features, step.controls)         # every frame
    rec.close()                                                  # visitor gone / show stops

What is written (all time stamps on the engine clock, i.e. the local LSL clock, already
clock-corrected at the inlet; each stream gets clock offsets of 0.0 so a reader's clock
synchronisation changes nothing):

* ``record.streams``: per show stream key, the raw samples exactly as the inputs delivered
  them, header from the chunk's :class:`~installation.messages.StreamInfo`. A stream's header
  is written at its first chunk with samples; a device that reconnects as a different stream
  (its ``StreamInfo`` differs) starts a new XDF stream.
* ``record.features``: per :class:`~installation.messages.Features` key (show streams and the
  visitor ``state``) a ``features-KEY`` stream (type ``Features``; channels: the feature names
  of the first message that has values, sorted, then ``status``, coded by
  :data:`STATUS_CODES`; a later unknown feature is dropped, a missing one is NaN), and one
  ``controls`` stream (type ``Controls``). One sample per :meth:`SessionRecorder.write_step`
  in which the message's ``t`` changed; irregular rate.

Every write is flushed and a Boundary chunk is written every ``boundary_every_s`` of engine
time, so a killed process loses at most the frame being written. The recorder never stops the
show: an ``OSError`` (disk full, folder not writable) is logged once and turns it off.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from installation.messages import Chunk, Controls, Features, Status, StreamInfo
from installation.record.recorder import RecordError
from installation.record.xdf_writer import NUMERIC_FORMATS, XdfWriter
from installation.show import Show

__all__ = [
    "STATUS_CODES", "SessionRecorder", "SessionSettings", "record_folder", "session_file_name",
]

_log = logging.getLogger(__name__)

STATUS_CODES: Mapping[Status, int] = {
    Status.OK: 0,
    Status.STALE: 1,
    Status.LOST: 2,
    Status.INVALID: 3,
}
"""Value of a features stream's ``status`` channel for each :class:`Status`."""

_TIMESTAMPS_NOTE = "engine clock: local LSL clock, already clock-corrected at the inlet"


@dataclass(frozen=True)
class SessionSettings:
    """What a :class:`SessionRecorder` writes.

    Parameters
    ----------
    streams
        Write the raw samples of the show's streams.
    features
        Write the features and the controls.
    boundary_every_s
        Engine seconds between Boundary chunks (where a reader of a damaged file can
        resynchronise); each comes with a fresh zero clock offset per stream.
    """

    streams: bool = True
    features: bool = True
    boundary_every_s: float = 10.0


def record_folder(show: Show) -> Path:
    """The show's ``[record] dir`` (relative to the show file), created if missing.

    Raises
    ------
    RecordError
        The folder does not exist and cannot be created.
    """
    spec = show.record
    folder = spec.dir if spec.dir.is_absolute() else show.path.parent / spec.dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RecordError(
            f"{show.path}: record.dir: cannot create {folder} ({e.strerror or e})"
        ) from None
    return folder


def session_file_name(started: float) -> str:
    """``visitor-YYYY-MM-DDTHH-MM-SS.xdf`` for a start time (``time.time()``, local time)."""
    return time.strftime("visitor-%Y-%m-%dT%H-%M-%S.xdf", time.localtime(started))


@dataclass
class _RawStream:
    info: StreamInfo
    stream_id: int
    channel_format: str


@dataclass
class _ValueStream:
    stream_id: int
    keys: tuple[str, ...]
    last_t: float | None = None


@dataclass
class _State:
    raw: dict[str, _RawStream] = field(default_factory=dict)
    features: dict[str, _ValueStream] = field(default_factory=dict)
    controls: _ValueStream | None = None
    next_boundary: float | None = None
    failed_keys: set[str] = field(default_factory=set)


class SessionRecorder:
    """Writes one visitor's session to one XDF file.

    Parameters
    ----------
    path
        The ``.xdf`` to create; an existing file is never replaced (``-2``, ``-3``... is
        appended to the name instead, see :attr:`path` for the one used).
    settings
        What to write.
    started
        Session start (``time.time()``), written as the file header's ``datetime``.

    Notes
    -----
    If the file cannot be created, the error is logged and the recorder is off from the
    start (:attr:`active` is false); every method is then a no-op.
    """

    def __init__(
        self, path: str | Path, settings: SessionSettings | None = None,
        started: float | None = None,
    ) -> None:
        self.settings = settings or SessionSettings()
        self.path = Path(path)
        self._state = _State()
        self._writer: XdfWriter | None = None
        started = time.time() if started is None else started
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
        try:
            self._writer = _create_unique(self.path, stamp)
            self.path = self._writer.path
        except OSError as e:
            self._fail(e)

    @classmethod
    def for_show(
        cls, show: Show, started: float, settings: SessionSettings | None = None
    ) -> SessionRecorder | None:
        """The recorder of a new visitor, or ``None`` when the show does not record.

        Parameters
        ----------
        show
            The loaded show; ``show.record`` says whether and where to record
            (``dir`` relative to the show file).
        started
            When the visitor arrived (``time.time()``): names the file.
        settings
            Overrides ``show.record.streams`` / ``features`` (tests, tools).

        Raises
        ------
        RecordError
            The recordings folder does not exist and cannot be created.
        """
        spec = show.record
        if not spec.enabled:
            return None
        folder = record_folder(show)
        if settings is None:
            settings = SessionSettings(streams=spec.streams, features=spec.features)
        return cls(folder / session_file_name(started), settings, started=started)

    @property
    def active(self) -> bool:
        """Whether the recorder still writes (false after an I/O error or :meth:`close`)."""
        return self._writer is not None and not self._writer.closed

    def write_step(
        self,
        chunks: Mapping[str, Chunk],
        features: Mapping[str, Features],
        controls: Controls,
    ) -> None:
        """Write one frame's worth: new raw samples, changed features and controls.

        Parameters
        ----------
        chunks
            Show stream key -> what the input delivered this frame (possibly no samples).
        features
            Feature key (show stream key, or ``state``) -> latest features.
        controls
            The frame's controls.
        """
        writer = self._writer
        if writer is None or writer.closed:
            return
        try:
            if self.settings.streams:
                for key, chunk in chunks.items():
                    if chunk.n:
                        self._write_chunk(writer, key, chunk)
            if self.settings.features:
                for key, message in features.items():
                    self._write_features(writer, key, message)
                self._write_controls(writer, controls)
            self._maybe_boundary(writer, controls.t)
        except OSError as e:
            self._fail(e)

    def close(self) -> None:
        """Write the stream footers and close the file; later calls do nothing."""
        writer, self._writer = self._writer, None
        if writer is None or writer.closed:
            return
        try:
            writer.close()
        except OSError as e:
            self._fail(e)  # the file object is closed already; the footers may be missing

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw samples ----------------------------------------------------------------------
    def _write_chunk(self, writer: XdfWriter, key: str, chunk: Chunk) -> None:
        if not np.all(np.isfinite(chunk.timestamps)):
            # XDF needs finite stamps; inputs never produce others, so this is a bug upstream.
            self._skip_key(key, "non-finite time stamps")
            return
        current = self._state.raw.get(key)
        lossless = _fits(chunk, chunk.info.channel_format)
        if current is None or current.info != chunk.info:
            fmt = chunk.info.channel_format if lossless else "double64"
            current = self._open_raw(writer, key, chunk, fmt)
        elif current.channel_format != "double64" and not _fits(chunk, current.channel_format):
            # Values the declared format cannot hold (NaN in an int stream...): rather than
            # round them, go on in a new, double64 stream of the same device.
            current = self._open_raw(writer, key, chunk, "double64")
        writer.write_samples(current.stream_id, chunk.timestamps, chunk.data)

    def _open_raw(self, writer: XdfWriter, key: str, chunk: Chunk, fmt: str) -> _RawStream:
        info = chunk.info
        header_info = info if fmt == info.channel_format else _with_format(info, fmt)
        engine: dict[str, Any] = {"show_key": key, "timestamps": _TIMESTAMPS_NOTE}
        if fmt != info.channel_format:
            engine["source_channel_format"] = info.channel_format
        # The sender's whole description (units, montage, device...), as `installation record`.
        stream_id = writer.add_stream(header_info, {"engine": engine},
                                      desc_xml=info.desc_xml or None)
        self._zero_offset(writer, stream_id, float(chunk.timestamps[0]))
        raw = _RawStream(info, stream_id, fmt)
        self._state.raw[key] = raw
        return raw

    # -- features and controls ------------------------------------------------------------
    def _write_features(self, writer: XdfWriter, key: str, message: Features) -> None:
        stream = self._state.features.get(key)
        if stream is None:
            if not message.values:
                # e.g. the pipeline's "nobody here" state: no channels to fix the stream by yet.
                return
            keys = tuple(sorted(message.values))
            codes = {status.value: code for status, code in STATUS_CODES.items()}
            stream = self._open_values(
                writer, f"features-{key}", "Features", (*keys, "status"),
                {"show_key": key, "timestamps": _TIMESTAMPS_NOTE, "status_codes": codes},
                message.t,
            )
            stream.keys = keys  # the status channel is added separately
            self._state.features[key] = stream
        if stream.last_t == message.t:
            return
        row = [message.values.get(k, math.nan) for k in stream.keys]
        row.append(float(STATUS_CODES[message.status]))
        writer.write_samples(stream.stream_id, [message.t], np.array([row], dtype=np.float64))
        stream.last_t = message.t

    def _write_controls(self, writer: XdfWriter, controls: Controls) -> None:
        stream = self._state.controls
        if stream is None:
            stream = self._open_values(
                writer, "controls", "Controls", tuple(sorted(controls.values)),
                {"timestamps": _TIMESTAMPS_NOTE}, controls.t,
            )
            self._state.controls = stream
        if stream.last_t == controls.t or not stream.keys:
            return
        row = [controls.values.get(k, math.nan) for k in stream.keys]
        writer.write_samples(stream.stream_id, [controls.t], np.array([row], dtype=np.float64))
        stream.last_t = controls.t

    def _open_values(
        self, writer: XdfWriter, name: str, kind: str, channels: Sequence[str],
        engine: Mapping[str, Any], t: float,
    ) -> _ValueStream:
        labels = tuple(channels) or ("none",)  # XDF needs a channel; a control-less show
        info = StreamInfo(
            name=name, type=kind, channel_count=len(labels), nominal_srate=0.0,
            channel_format="double64", channel_labels=labels, source_id=f"engine-{name}",
        )
        stream_id = writer.add_stream(info, {"engine": dict(engine)})
        self._zero_offset(writer, stream_id, t)
        return _ValueStream(stream_id, tuple(channels))

    # -- timing, failures -----------------------------------------------------------------
    @staticmethod
    def _zero_offset(writer: XdfWriter, stream_id: int, t: float) -> None:
        # Engine time is the local clock: the offset is zero by construction.
        writer.write_clock_offset(stream_id, t, 0.0)

    def _maybe_boundary(self, writer: XdfWriter, t: float) -> None:
        state = self._state
        if state.next_boundary is None:
            state.next_boundary = t + self.settings.boundary_every_s
            return
        if t < state.next_boundary:
            return
        writer.write_boundary()
        ids = [r.stream_id for r in state.raw.values()]
        ids += [f.stream_id for f in state.features.values()]
        if state.controls is not None:
            ids.append(state.controls.stream_id)
        for stream_id in ids:
            writer.write_clock_offset(stream_id, t, 0.0)
        state.next_boundary = t + self.settings.boundary_every_s

    def _skip_key(self, key: str, why: str) -> None:
        if key not in self._state.failed_keys:
            self._state.failed_keys.add(key)
            _log.error("recording %s: skipping samples of stream %r (%s)", self.path, key, why)

    def _fail(self, error: OSError) -> None:
        # Logged once: the recorder is off afterwards, so this cannot repeat every frame.
        _log.error(
            "recording %s failed, recording is off for this visitor: %s",
            error.filename or self.path, error.strerror or error,
        )
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()


def _create_unique(path: Path, stamp: str) -> XdfWriter:
    """An exclusive new XdfWriter at ``path`` or, if taken, at ``path-2``, ``path-3``..."""
    for n in range(1, 1000):
        candidate = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
        try:
            return XdfWriter(candidate, datetime=stamp, exclusive=True)
        except FileExistsError:
            continue
    raise FileExistsError(17, "too many recordings with this name", str(path))


def _fits(chunk: Chunk, fmt: str) -> bool:
    """Whether ``chunk``'s values survive a round trip through XDF format ``fmt``."""
    if fmt == "string" or fmt == "double64" or not chunk.info.is_numeric:
        return True
    data = np.asarray(chunk.data, dtype=np.float64)
    dtype = NUMERIC_FORMATS[fmt]
    if dtype.kind == "i" and not np.all(np.isfinite(data)):
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        back = data.astype(dtype).astype(np.float64)
    return bool(np.array_equal(back, data, equal_nan=True))


def _with_format(info: StreamInfo, fmt: str) -> StreamInfo:
    return replace(info, channel_format=fmt)
