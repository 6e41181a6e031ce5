"""Recordings (.xdf, .csv) loaded whole and replayed as chunks on the engine clock.

Engine time 0 is the earliest first time stamp over all non-empty streams of the file; every
stream keeps its own (clock-synchronised) time stamps relative to that instant. Anything wrong
with the file raises :class:`~installation.errors.RecordingError` with one line naming it.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import warnings as _pywarnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyxdf

from installation.errors import RecordingError
from installation.inputs.silence import SilenceRule
from installation.messages import Chunk, Status, StreamInfo

_log = logging.getLogger(__name__)

__all__ = [
    "CSV_TIME_COLUMNS",
    "KNOWN_TYPES",
    "RecordedStream",
    "Recording",
    "RecordingSource",
    "load_recording",
]

CSV_TIME_COLUMNS = ("time", "time_s", "timestamp", "t")
# LSL time stamps are seconds of a local clock (typically since boot): anything beyond this is
# damage, not time (a flipped exponent bit, an unset double), and would make a replay endless.
MAX_TIME_STAMP_S = 1e10
KNOWN_TYPES = ("ECG", "EEG", "PPG", "EDA", "RSP", "RESP", "RR", "HR")


@dataclass(frozen=True, eq=False)
class RecordedStream:
    """One stream of a recording, fully loaded.

    Parameters
    ----------
    info
        The stream's header.
    timestamps
        ``(n,)`` float64 sample times on the engine clock, read-only.
    data
        ``(n, channel_count)`` float64 for numeric streams, ``object`` (str) for string
        streams, read-only.
    """

    info: StreamInfo
    timestamps: np.ndarray
    data: np.ndarray

    def __post_init__(self) -> None:
        # Replay hands out views of these arrays; freezing them keeps one consumer from
        # corrupting what another sees.
        self.timestamps.setflags(write=False)
        self.data.setflags(write=False)

    @property
    def n(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def effective_srate(self) -> float:
        """Rate measured from the time stamps; 0.0 for irregular streams or < 2 samples."""
        if self.info.nominal_srate <= 0 or self.n < 2:
            return 0.0
        span = float(self.timestamps[-1] - self.timestamps[0])
        return (self.n - 1) / span if span > 0 else 0.0


@dataclass(frozen=True, eq=False)
class Recording:
    """A loaded recording.

    ``t0`` is the raw (file) time of engine time 0; ``duration`` runs from engine time 0 to
    the end of the last sample (last time stamp plus one nominal sample period).
    """

    path: Path
    streams: tuple[RecordedStream, ...]
    t0: float
    duration: float
    warnings: tuple[str, ...] = ()

    def find_stream(self, type: str, name: str | None = None) -> RecordedStream:
        """Return the stream of ``type`` (case-insensitive), and ``name`` if given.

        When several match, the one with the most samples wins (the first on a tie).

        Raises
        ------
        RecordingError
            No stream matches; the message lists the streams the file has.
        """
        matches = [
            s
            for s in self.streams
            if s.info.type.casefold() == type.casefold() and (name is None or s.info.name == name)
        ]
        if not matches:
            have = ", ".join(f"{s.info.name!r} ({s.info.type})" for s in self.streams) or "none"
            named = f" named {name!r}" if name is not None else ""
            raise RecordingError(
                f"{self.path}: no stream of type {type!r}{named} (streams: {have})"
            )
        return max(matches, key=lambda s: s.n)  # max() keeps the first of equal counts


def load_recording(path: str | Path) -> Recording:
    """Load a ``.xdf`` or ``.csv`` recording.

    XDF goes through :func:`pyxdf.load_xdf` (clock synchronisation and dejittering, with a
    segment break at every gap the live input would call ``stale``). A file cut mid-chunk
    loads up to its last complete chunk, with a warning.
    See :func:`_load_csv` for the CSV layout.

    Raises
    ------
    RecordingError
        Missing, unreadable or malformed file, or an unsupported extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xdf", ".csv"):
        raise RecordingError(f"{path}: unsupported recording type (expected .xdf or .csv)")
    if not path.is_file():
        raise RecordingError(f"{path}: recording not found")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise RecordingError(f"{path}: cannot read recording ({e.strerror or e})") from e
    if suffix == ".xdf":
        return _load_xdf(path, raw)
    return _load_csv(path, raw)


# -- XDF ------------------------------------------------------------------------------------


def _complete_prefix(raw: bytes) -> tuple[int, bool]:
    """Walk the chunk lengths of an XDF byte string.

    Returns the offset where the last complete chunk ends and whether every length field
    could be read (False: a corrupt length byte, past which only pyxdf's boundary scan helps).
    """
    pos, size = 4, len(raw)
    while pos < size:
        width = raw[pos]
        if width not in (1, 4, 8):
            return pos, False
        if pos + 1 + width > size:
            return pos, True
        end = pos + 1 + width + int.from_bytes(raw[pos + 1 : pos + 1 + width], "little")
        if end > size:
            return pos, True
        pos = end
    return pos, True


class _PyxdfLog(logging.Handler):
    """Collect pyxdf's log lines while loading. They are diagnostics of its clock-sync fit
    (e.g. "Segments and clock-segments differ"), not user errors: left alone they would print
    bare, unattributed lines on stderr. What the user must know is in our own warnings."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []
        self._logger = logging.getLogger("pyxdf")

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))

    def __enter__(self) -> _PyxdfLog:
        self._propagate = self._logger.propagate
        self._logger.addHandler(self)
        self._logger.propagate = False
        # numpy's RuntimeWarnings from pyxdf's fits on damaged stamps (inf - inf) are the
        # same diagnostics; the damage itself is reported in our warnings.
        self._numpy = _pywarnings.catch_warnings()
        self._numpy.__enter__()
        _pywarnings.simplefilter("ignore", RuntimeWarning)
        return self

    def __exit__(self, *exc: object) -> None:
        self._numpy.__exit__(*exc)
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate


# pyxdf's dejitter fits one line through each segment of a stream, and by default only a
# gap over max(1 s, 500 samples) starts a new one: a shorter dropout is smoothed away, so a
# replay showed `ok` through a silence the live input reports `stale`. Breaking segments at
# the live rule's own delay, max(min_stale_s, stale_intervals / rate), keeps every such gap.
_GAP_BREAKS = {"jitter_break_threshold_seconds": SilenceRule().min_stale_s,
               "jitter_break_threshold_samples": SilenceRule().stale_intervals}


def _load_xdf(path: Path, raw: bytes) -> Recording:
    if raw[:4] != b"XDF:":
        raise RecordingError(f"{path}: not an XDF file (no 'XDF:' magic bytes)")
    problem = ""
    end, lengths_ok = _complete_prefix(raw)
    if not lengths_ok:
        problem = f"corrupt chunk at byte {end}; skipped to the next boundary chunk"
    elif end < len(raw):
        # pyxdf raises on a header cut short and silently drops a cut Samples chunk, so feed
        # it only the complete chunks and say what was left out.
        problem = (
            f"file is truncated (ends inside a chunk at byte {len(raw)}); "
            f"loaded the {end} bytes of complete chunks"
        )
        raw = raw[:end]
    with _PyxdfLog() as log:
        try:
            xdf_streams, _header = pyxdf.load_xdf(io.BytesIO(raw), **_GAP_BREAKS)
        except Exception as e:  # pyxdf signals damage with assorted exception types
            raise RecordingError(f"{path}: unreadable XDF ({type(e).__name__}: {e})") from e
    if not xdf_streams:
        raise RecordingError(
            f"{path}: no stream headers in XDF file" + (f" ({problem})" if problem else "")
        )
    warnings = [f"{path}: {problem}"] if problem else []
    for message in log.messages:
        _log.debug("%s: pyxdf: %s", path, message)
    warnings += _salvage_stamps(path, raw, xdf_streams)

    infos = [_xdf_info(path, s) for s in xdf_streams]
    no_footer = [i.name for i, s in zip(infos, xdf_streams, strict=True) if "footer" not in s]
    if no_footer and not warnings:
        warnings.append(
            f"{path}: no footer for stream(s) {', '.join(map(repr, no_footer))} "
            "(the recording was probably interrupted)"
        )
    loaded = []
    for info, stream in zip(infos, xdf_streams, strict=True):
        ts = np.asarray(stream["time_stamps"], dtype=np.float64).reshape(-1)
        try:
            data = _xdf_data(info, stream["time_series"], ts.shape[0])
        except (ValueError, TypeError) as e:
            # e.g. a header whose channel_count disagrees with the samples
            raise RecordingError(f"{path}: stream {info.name!r} is malformed ({e})") from e
        good = np.isfinite(ts) & (np.abs(ts) < MAX_TIME_STAMP_S)
        if not good.all():
            warnings.append(f"{path}: stream {info.name!r}: dropped {int((~good).sum())} of "
                            f"{ts.shape[0]} samples whose time stamp is not a time "
                            "(NaN, infinite or absurdly large)")
            ts, data = ts[good], data[good]
        order = np.argsort(ts, kind="stable")
        if np.any(np.diff(ts) < 0):  # samples must reach the features in time order
            warnings.append(f"{path}: stream {info.name!r}: time stamps out of order; sorted")
            ts, data = ts[order], data[order]
        loaded.append((info, ts, data))
    t0 = _first_time([ts for _, ts, _ in loaded])
    streams = [RecordedStream(info, ts - t0, data) for info, ts, data in loaded]
    return Recording(path, tuple(streams), t0, _duration(streams), tuple(warnings))


def _finite_stamps(stream: dict[str, Any]) -> bool:
    return bool(np.all(np.isfinite(np.asarray(stream["time_stamps"], dtype=np.float64))))


def _salvage_stamps(path: Path, raw: bytes, streams: list[dict[str, Any]]) -> list[str]:
    """Re-read the streams whose time stamps came out non-finite with less processing.

    pyxdf's dejitter fits a line through each segment's stamps, and its clock sync a line
    through the clock offsets: one NaN stamp or offset spreads to every sample they touch.
    Loading such streams again without dejitter (then without clock sync) keeps all but the
    damaged samples, which the caller drops.
    """
    warnings: list[str] = []
    for options, what in (({"dejitter_timestamps": False}, "not dejittered"),
                          ({"dejitter_timestamps": False, "synchronize_clocks": False},
                           "neither dejittered nor clock-synchronised")):
        bad = [s for s in streams if not _finite_stamps(s)]
        if not bad:
            break
        with _PyxdfLog():
            try:
                again, _ = pyxdf.load_xdf(io.BytesIO(raw), **options)
            except Exception:  # the first load worked; keep its result
                break
        by_id = {s["info"].get("stream_id"): s for s in again}
        for stream in bad:
            other = by_id.get(stream["info"].get("stream_id"))
            if other is not None and np.isfinite(np.asarray(
                    other["time_stamps"], dtype=np.float64)).sum() > np.isfinite(np.asarray(
                    stream["time_stamps"], dtype=np.float64)).sum():
                stream["time_stamps"], stream["time_series"] = (other["time_stamps"],
                                                                other["time_series"])
                warnings.append(f"{path}: stream {_text(stream['info'], 'name')!r}: damaged "
                                f"time stamps or clock offsets; its times are {what}")
    return warnings


def _text(node: dict[str, Any], key: str, default: str = "") -> str:
    values = node.get(key) or [default]
    value = values[0]
    return value.strip() if isinstance(value, str) else default


def _xdf_info(path: Path, stream: dict[str, Any]) -> StreamInfo:
    info = stream["info"]
    try:
        channel_count = int(_text(info, "channel_count"))
        srate = float(_text(info, "nominal_srate", "0"))
    except ValueError as e:
        name = _text(info, "name", "?")
        raise RecordingError(f"{path}: stream {name!r} has a malformed header ({e})") from e
    return StreamInfo(
        name=_text(info, "name"),
        type=_text(info, "type"),
        channel_count=channel_count,
        nominal_srate=srate,
        channel_format=_text(info, "channel_format", "float32"),
        channel_labels=_xdf_labels(info, channel_count),
        source_id=_text(info, "source_id"),
        hostname=_text(info, "hostname"),
        channel_units=_xdf_channel_field(info, channel_count, "unit"),
    )


def _xdf_labels(info: dict[str, Any], channel_count: int) -> tuple[str, ...]:
    """Labels from ``desc/channels/channel/label``; () unless every channel has one."""
    labels = _xdf_channel_field(info, channel_count, "label")
    return labels if all(labels) else ()


def _xdf_channel_field(info: dict[str, Any], channel_count: int, key: str) -> tuple[str, ...]:
    """``desc/channels/channel/<key>`` of every channel ("" where one lacks it); () unless
    the description lists exactly one entry per channel."""
    try:
        channels = info["desc"][0]["channels"][0]["channel"]
        values = tuple(_text(ch, key) for ch in channels)
    except (KeyError, IndexError, TypeError):
        return ()
    return values if len(values) == channel_count and any(values) else ()


def _xdf_data(info: StreamInfo, series: Any, n: int) -> np.ndarray:
    if not info.is_numeric:
        data = np.empty((n, info.channel_count), dtype=object)
        for i, row in enumerate(series):
            data[i, :] = row
        return data
    return np.asarray(series, dtype=np.float64).reshape(n, info.channel_count)


def _first_time(stamps: Sequence[np.ndarray]) -> float:
    firsts = [float(ts[0]) for ts in stamps if ts.shape[0]]
    return min(firsts) if firsts else 0.0


def _duration(streams: Sequence[RecordedStream]) -> float:
    ends = [
        float(s.timestamps[-1]) + (1.0 / s.info.nominal_srate if s.info.nominal_srate > 0 else 0.0)
        for s in streams
        if s.n
    ]
    return max(ends, default=0.0)


# -- CSV ------------------------------------------------------------------------------------


def _column_type(column: str) -> tuple[str, str] | None:
    """(type, label) for a column named after a known type or prefixed ``TYPE_``."""
    upper = column.upper()
    if upper in KNOWN_TYPES:
        return upper, column
    prefix, sep, rest = column.partition("_")
    if sep and rest and prefix.upper() in KNOWN_TYPES:
        return prefix.upper(), rest
    return None


def _load_csv(path: Path, raw: bytes) -> Recording:
    """Load a CSV recording.

    Layout: optional ``# key: value`` lines (``type``, ``name``, ``srate``), a header row whose
    first column is the time in seconds, then one row per sample. Columns named after a known
    type (``ECG``) or prefixed with it (``EEG_Fp1``) form that type's stream; the others form
    one stream of the ``# type:``. Empty and ``nan`` cells are kept as NaN.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RecordingError(f"{path}: not a UTF-8 text file ({e.reason})") from e
    lines = text.splitlines()

    meta: dict[str, str] = {}
    warnings: list[str] = []
    header_index = 0
    for header_index, line in enumerate(lines):  # noqa: B007 (index used after the loop)
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        key, sep, value = stripped[1:].partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip()
    else:
        raise RecordingError(f"{path}: no header row (expected e.g. 'time_s,ECG')")

    header = [c.strip() for c in next(csv.reader([lines[header_index]]))]
    line_no = header_index + 1
    if header[0].lower() not in CSV_TIME_COLUMNS:
        raise RecordingError(
            f"{path} line {line_no}: first column must be the time in seconds "
            f"({', '.join(CSV_TIME_COLUMNS)}), got {header[0]!r}"
        )
    if len(header) < 2:
        raise RecordingError(f"{path} line {line_no}: no channel columns after the time")
    for key in sorted(set(meta) - {"type", "name", "srate"}):
        warnings.append(f"{path}: ignored unknown header key {key!r}")

    # type -> [(column index, label)], in order of first appearance
    groups: dict[str, list[tuple[int, str]]] = {}
    default_type = meta.get("type", "").strip()
    for col, column in enumerate(header[1:], start=1):
        typed = _column_type(column)
        if typed is None:
            if not default_type:
                raise RecordingError(
                    f"{path}: column {column!r} has no known type "
                    f"({', '.join(KNOWN_TYPES)} or TYPE_name); add a '# type: ...' line"
                )
            typed = (default_type, column)
        groups.setdefault(typed[0], []).append((col, typed[1]))

    table = _csv_rows(path, lines, header_index + 1, len(header))
    times = table[:, 0]
    srate = _csv_srate(path, meta, times)
    base = meta.get("name") or path.stem
    t0 = float(times[0]) if times.shape[0] else 0.0
    engine_times = times - t0
    engine_times.setflags(write=False)
    streams = tuple(
        RecordedStream(
            StreamInfo(
                name=f"{base}-{stype}",
                type=stype,
                channel_count=len(cols),
                nominal_srate=srate,
                channel_format="double64",
                channel_labels=tuple(label for _, label in cols),
                source_id=f"{path.name}:{stype}",
            ),
            engine_times,
            np.ascontiguousarray(table[:, [c for c, _ in cols]]),
        )
        for stype, cols in groups.items()
    )
    return Recording(path, streams, t0, _duration(streams), tuple(warnings))


def _csv_rows(path: Path, lines: Sequence[str], start: int, width: int) -> np.ndarray:
    """Parse data rows into an ``(n, width)`` float64 table, checking time increases."""
    rows: list[list[float]] = []
    last_time = -math.inf
    for index in range(start, len(lines)):
        line = lines[index]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        line_no = index + 1
        cells = line.split(",") if '"' not in line else next(csv.reader([line]))
        if len(cells) != width:
            raise RecordingError(
                f"{path} line {line_no}: expected {width} cells, found {len(cells)}"
            )
        row: list[float] = []
        for cell in cells:
            cell = cell.strip()
            try:
                row.append(float(cell) if cell else math.nan)
            except ValueError:
                raise RecordingError(f"{path} line {line_no}: not a number: {cell!r}") from None
        t = row[0]
        if not math.isfinite(t):
            raise RecordingError(f"{path} line {line_no}: the time must be a finite number")
        if t <= last_time:
            raise RecordingError(
                f"{path} line {line_no}: time {t!r} does not increase (previous {last_time!r})"
            )
        last_time = t
        rows.append(row)
    if not rows:
        return np.empty((0, width), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64)


def _csv_srate(path: Path, meta: dict[str, str], times: np.ndarray) -> float:
    if "srate" in meta:
        try:
            srate = float(meta["srate"])
        except ValueError:
            srate = math.nan
        if not (math.isfinite(srate) and srate >= 0):
            raise RecordingError(f"{path}: '# srate:' must be a rate in Hz, got {meta['srate']!r}")
        return srate
    if times.shape[0] < 2:
        return 0.0
    return float(1.0 / np.median(np.diff(times)))


# -- replay ---------------------------------------------------------------------------------


class RecordingSource:
    """Replay preloaded streams as chunks on the engine clock (a runtime ``Source``).

    Each :meth:`read` (or :meth:`read_until`) returns, per stream, the samples stamped in
    ``(previous t, t]`` (the first call starts at minus infinity), as views of the preloaded
    arrays.

    Parameters
    ----------
    recording
        The loaded recording (its path names the source in status reasons).
    streams
        Streams to replay, usually picked with :meth:`Recording.find_stream`; all by default.
        A mapping keys them as the show does (``[streams.KEY]``); a sequence keys them by
        stream name.
    lost_after
        Seconds after a stream's last sample at which it reports ``Status.LOST``.
    silence
        When a gap inside a stream makes it ``stale``: the live input's rule (a recording's
        dropout reads as the gallery saw it live, so the visitor leaves at the same frame).
    """

    def __init__(
        self,
        recording: Recording,
        streams: Sequence[RecordedStream] | Mapping[str, RecordedStream] | None = None,
        *,
        lost_after: float = 1.0,
        silence: SilenceRule | None = None,
    ) -> None:
        self.recording = recording
        self.silence = silence or SilenceRule()
        if isinstance(streams, Mapping):
            self.keys: tuple[str, ...] = tuple(streams)
            streams = tuple(streams.values())
        else:
            streams = tuple(recording.streams if streams is None else streams)
            self.keys = tuple(_unique_names([s.info.name for s in streams]))
        self.streams: tuple[RecordedStream, ...] = streams
        self.lost_after = lost_after
        self._pos = [0] * len(self.streams)

    def seek(self, t: float) -> None:
        """Position every stream so the next read starts just after engine time ``t``."""
        self._pos = [int(np.searchsorted(s.timestamps, t, side="right")) for s in self.streams]

    def read(self, t: float) -> dict[str, Chunk]:
        """:meth:`read_until`, keyed by the show's stream keys."""
        return dict(zip(self.keys, self.read_until(t), strict=True))

    def close(self) -> None:
        """Nothing to release: the recording is in memory."""

    def read_until(self, t: float) -> list[Chunk]:
        """Return one chunk per stream with the samples in ``(previous t, t]``.

        Reading an earlier ``t`` than before returns empty chunks (use :meth:`seek` to go
        back).
        """
        chunks = []
        for i, stream in enumerate(self.streams):
            start = self._pos[i]
            stop = max(start, int(np.searchsorted(stream.timestamps, t, side="right")))
            self._pos[i] = stop
            status, reason = Status.OK, ""
            if stream.n == 0:
                status, reason = Status.LOST, f"stream has no samples in {self.recording.path}"
            elif t > float(stream.timestamps[-1]) + self.lost_after:
                status = Status.LOST
                reason = f"recording of this stream ended at {float(stream.timestamps[-1]):.3f} s"
            elif stop > 0:
                silent = t - float(stream.timestamps[stop - 1])
                if silent > self.silence.after(stream.info.nominal_srate):
                    status = Status.STALE
                    reason = (f"gap in the recording: no samples for {silent:.1f} s "
                              f"(since {float(stream.timestamps[stop - 1]):.3f} s)")
            chunks.append(
                Chunk(
                    info=stream.info,
                    timestamps=stream.timestamps[start:stop],
                    data=stream.data[start:stop],
                    t_end=float(t),
                    status=status,
                    reason=reason,
                )
            )
        return chunks


def _unique_names(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out
