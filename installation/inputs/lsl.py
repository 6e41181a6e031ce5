"""Live input: one LSL stream, pulled into preallocated buffers, surviving dropouts.

Engine clock for live input
---------------------------
Live time stamps are on this machine's LSL clock, :func:`pylsl.local_clock` (seconds, monotonic,
arbitrary origin). They are converted once, here at the inlet: liblsl's post-processing adds the
sender's clock offset (``time_correction``) and, for regular streams, dejitters and monotonizes
them. Irregular streams (markers, RR intervals) only get the clock offset, so each sample keeps
its own time stamp. Nothing downstream converts time again.

Threads
-------
:meth:`LslInput.poll` never blocks: it pulls what is already there (``timeout=0``). Resolving a
stream and opening its inlet can take seconds, so a background thread does that and hands a
ready inlet over through a lock-protected slot. It keeps looking while the current stream is
lost or stale, so a returning stream (same or new source) is picked up within about a second.
"""

from __future__ import annotations

import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pylsl
from pylsl.lib import lib
from pylsl.util import LostError, handle_error

from installation.inputs.silence import SilenceRule
from installation.messages import Chunk, Status, StreamInfo

__all__ = [
    "LslInput",
    "LslSettings",
    "StreamPins",
    "lsl_desc_xml",
    "lsl_predicate",
    "stream_info_from_lsl",
    "type_clause",
    "xpath_literal",
]

_log = logging.getLogger(__name__)

_NUMPY_FORMATS = {
    pylsl.cf_float32: ("float32", np.float32),
    pylsl.cf_double64: ("double64", np.float64),
    pylsl.cf_int8: ("int8", np.int8),
    pylsl.cf_int16: ("int16", np.int16),
    pylsl.cf_int32: ("int32", np.int32),
    pylsl.cf_int64: ("int64", np.int64),
}


class StreamPins(Protocol):
    """What selects a stream: ``installation.show.StreamSpec`` satisfies this."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def hostname(self) -> str: ...


@dataclass(frozen=True)
class LslSettings:
    """Tuning of a live input.

    Parameters
    ----------
    buffer_s
        Seconds of data liblsl keeps for us if we fall behind (inlet ``max_buflen``).
    chunk_s
        Seconds of samples one pull can take (the preallocated buffer's size).
    stale_intervals
        A regular stream is ``stale`` after this many expected sample intervals without data
        (but never sooner than ``min_stale_s``, since devices send in bursts).
    min_stale_s
        Floor for the stale delay of regular streams.
    irregular_stale_s
        Stale delay for irregular streams (markers, RR intervals).
    resolve_every_s
        How often the background thread looks for a (new) matching stream.
    rate_window_s
        Window over which the effective sample rate is measured.
    open_timeout_s
        How long an inlet's open may take (header, then the data connection). Generous: it
        runs in the background thread, and a producer that started sending while a short
        open timed out has lost those samples to us by the retry (a loaded 2-core machine
        timed out at 1 s).
    open_retry_s
        Wait before retrying a stream whose inlet failed to open (a timeout on a loaded
        machine or a slow network); it doubles with each further failure of that stream...
    open_retry_max_s
        ...up to this ceiling, so a stream that cannot be opened is still retried for good.
    """

    buffer_s: int = 30
    chunk_s: float = 2.0
    stale_intervals: float = 50.0
    min_stale_s: float = 0.5
    irregular_stale_s: float = 5.0
    resolve_every_s: float = 0.5
    rate_window_s: float = 5.0
    open_timeout_s: float = 5.0
    open_retry_s: float = 0.5
    open_retry_max_s: float = 8.0

    @property
    def silence(self) -> SilenceRule:
        """The stale rule, shared with replay (:class:`.silence.SilenceRule`)."""
        return SilenceRule(self.stale_intervals, self.min_stale_s, self.irregular_stale_s)


def xpath_literal(text: str) -> str:
    """``text`` quoted as an XPath 1.0 string literal."""
    # XPath 1.0 has no escapes: quote with whichever quote the text lacks.
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise ValueError(f"cannot pin a stream on a value holding both quote kinds: {text!r}")


_ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ASCII_UPPER = _ASCII_LOWER.upper()


def type_clause(stream_type: str) -> str:
    """XPath clause matching the LSL ``type`` field regardless of (ASCII) case.

    mne-lsl and other producers send ``ecg``/``eeg`` where LabRecorder and our simulators send
    ``ECG``; the engine treats them alike everywhere (show validation, recordings), so the live
    resolver must too. XPath 1.0 has no ``lower-case()``; ``translate()`` folds ASCII letters.

    Examples
    --------
    >>> type_clause("ecg")
    "translate(type,'abcdefghijklmnopqrstuvwxyz','ABCDEFGHIJKLMNOPQRSTUVWXYZ')='ECG'"
    """
    folded = stream_type.translate(str.maketrans(_ASCII_LOWER, _ASCII_UPPER))
    return f"translate(type,'{_ASCII_LOWER}','{_ASCII_UPPER}')={xpath_literal(folded)}"


def lsl_predicate(pins: StreamPins) -> str:
    """XPath predicate for :func:`pylsl.resolve_bypred` matching ``pins``.

    Examples
    --------
    >>> from installation.show import StreamSpec
    >>> lsl_predicate(StreamSpec(type="ECG", source_id="h10-1")).endswith(
    ...     "='ECG' and source_id='h10-1'")
    True
    """
    parts = [type_clause(pins.type)]
    for field_name in ("name", "source_id", "hostname"):
        value = getattr(pins, field_name)
        if value:
            parts.append(f"{field_name}={xpath_literal(value)}")
    return " and ".join(parts)


def _channel_field(info: pylsl.StreamInfo, key: str) -> tuple[str, ...]:
    """``desc/channels/channel/<key>`` of every channel ("" where one lacks it); () unless the
    description lists exactly one entry per channel."""
    values = []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty():
        values.append(channel.child_value(key))
        channel = channel.next_sibling("channel")
    if len(values) != info.channel_count() or not any(values):
        return ()
    return tuple(values)


def _channel_labels(info: pylsl.StreamInfo) -> tuple[str, ...]:
    labels = _channel_field(info, "label")
    return labels if all(labels) else ()


def lsl_desc_xml(info: pylsl.StreamInfo) -> str:
    """The sender's whole ``<desc>`` element as XML text ("" when it has none or it is empty)."""
    desc = ET.fromstring(info.as_xml()).find("desc")
    if desc is None or (len(desc) == 0 and not (desc.text or "").strip()):
        return ""
    return ET.tostring(desc, encoding="unicode")


def stream_info_from_lsl(info: pylsl.StreamInfo) -> StreamInfo:
    """The engine's :class:`StreamInfo` for a pylsl stream info (with its ``desc``)."""
    fmt = info.channel_format()
    return StreamInfo(
        name=info.name(),
        type=info.type(),
        channel_count=info.channel_count(),
        nominal_srate=float(info.nominal_srate()),
        channel_format=_NUMPY_FORMATS[fmt][0] if fmt in _NUMPY_FORMATS else "string",
        channel_labels=_channel_labels(info),
        source_id=info.source_id(),
        hostname=info.hostname(),
        channel_units=_channel_field(info, "unit"),
        desc_xml=lsl_desc_xml(info),
    )


@dataclass(slots=True)
class _Connection:
    """An open inlet and what was preallocated for it (owned by the caller's thread)."""

    inlet: pylsl.StreamInlet
    info: StreamInfo
    uid: str
    buffer: np.ndarray | None  # None for string streams
    capacity: int


def _flags(nominal_srate: float) -> int:
    flags = pylsl.proc_clocksync
    if nominal_srate > 0:
        flags |= pylsl.proc_dejitter | pylsl.proc_monotonize
    return flags


def _restart_dejitter(conn: _Connection) -> None:
    """Start liblsl's dejitter afresh: called when a regular stream has gone quiet.

    liblsl smooths stamps with one line through sample count and time (a forgetting least
    squares, 90-s half-time) that knows nothing of pauses: after a 2-s pause it stamps the
    samples that resume as if none had been missed (seen: 14 ms after the last sample), so the
    gap vanishes from the stamps that features and the gallery's visit recordings get, and a
    replay of the recording said ``ok`` where live said ``stale``. liblsl resets the dejitterer
    when its flag changes (``time_postprocessor::set_options``), so it is toggled off and on.
    """
    if conn.info.nominal_srate <= 0:
        return  # irregular streams are not dejittered
    flags = _flags(conn.info.nominal_srate)
    handle_error(lib.lsl_set_postprocessing(conn.inlet.obj, flags & ~pylsl.proc_dejitter))
    handle_error(lib.lsl_set_postprocessing(conn.inlet.obj, flags))


class _RateMeter:
    """Effective sample rate from the time stamps of the last ``window_s`` seconds."""

    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._marks: deque[tuple[float, int]] = deque()
        self._count = 0

    def reset(self) -> None:
        self._marks.clear()
        self._count = 0

    def add(self, timestamps: np.ndarray) -> None:
        if timestamps.shape[0] == 0:
            return
        if not self._marks:
            # The first sample only starts the clock: rate = intervals / time between them.
            self._marks.append((float(timestamps[0]), 0))
            self._count = 0
        self._count += timestamps.shape[0]
        self._marks.append((float(timestamps[-1]), self._count - 1))
        while len(self._marks) > 2 and self._marks[-1][0] - self._marks[1][0] >= self._window_s:
            self._marks.popleft()

    @property
    def rate(self) -> float:
        if len(self._marks) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._marks[0], self._marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


class LslInput:
    """A live LSL stream as a source of :class:`~installation.messages.Chunk`.

    Parameters
    ----------
    key
        The show's name for the stream (``[streams.KEY]``), used in messages.
    spec
        Which stream: ``type`` plus optional ``name`` / ``source_id`` / ``hostname`` pins, e.g.
        an :class:`installation.show.StreamSpec`. Pins keep a stranger's stream on the gallery
        network from taking over.
    settings
        Buffer sizes and stale / resolve timing.

    Notes
    -----
    Call :meth:`start` once, then :meth:`poll` as often as wanted (each call returns the samples
    that arrived since the previous one, and the stream's status), then :meth:`close`. Usable
    as a context manager. ``poll`` is for one thread only.
    """

    def __init__(self, key: str, spec: StreamPins, settings: LslSettings | None = None) -> None:
        self.key = key
        self.spec = spec
        self.settings = settings or LslSettings()
        self.predicate = lsl_predicate(spec)
        self._conn: _Connection | None = None
        self._pending: _Connection | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._want_new = True  # read by the resolver thread: look for a (new) stream
        self._current_uid = ""
        self._dead: set[str] = set()  # uids of lost streams (guarded by _lock)
        # uid -> (failed opens in a row, monotonic time of the next try); resolver thread only.
        # A failed open is not a lost stream: the producer may be streaming, so it is retried.
        self._backoff: dict[str, tuple[int, float]] = {}
        self._rate = _RateMeter(self.settings.rate_window_s)
        # Where the current silence began, on the local clock: the newest sample's stamp (or
        # the connection), as replay counts a gap from a recorded sample's stamp.
        self._last_data = 0.0
        self._last_stamp = -np.inf
        self._status = Status.LOST
        self._reason = "waiting for a stream matching " + self.predicate
        self._info = StreamInfo(
            name=spec.name or key, type=spec.type, channel_count=1, nominal_srate=0.0
        )
        self.connections = 0  # how many inlets were opened (reconnects included)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> LslInput:
        """Start the background resolver; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._resolve_loop, name=f"lsl-resolve-{self.key}", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the resolver and close the inlet. Calling it again does nothing."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        with self._lock:
            pending, self._pending = self._pending, None
        for conn in (self._conn, pending):
            if conn is not None:
                conn.inlet.close_stream()
        self._conn = None

    def __enter__(self) -> LslInput:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state ----------------------------------------------------------------------------
    @property
    def status(self) -> Status:
        return self._status

    @property
    def info(self) -> StreamInfo:
        """Header of the current (or last) stream; a placeholder before the first one."""
        return self._info

    @property
    def effective_srate(self) -> float:
        """Sample rate measured over the last ``rate_window_s``; 0.0 until measurable."""
        return self._rate.rate

    # -- pulling --------------------------------------------------------------------------
    def poll(self) -> Chunk:
        """Return the samples that arrived since the last call, without blocking.

        The chunk's ``status`` is ``ok`` while data flows, ``stale`` when none came for longer
        than the stale delay, ``lost`` when there is no stream (not found yet, or its inlet
        reported it gone); ``reason`` says which. ``t_end`` is the local clock at the pull.
        """
        self._adopt_pending()
        conn = self._conn
        if conn is None:
            return self._empty(pylsl.local_clock())
        try:
            timestamps, data = self._pull(conn)
        except LostError:
            self._drop(f"stream {conn.info.name!r} ({conn.info.source_id or conn.uid}) was lost")
            return self._empty(pylsl.local_clock())
        now = pylsl.local_clock()
        n = timestamps.shape[0]
        if n:
            self._last_stamp = float(timestamps[-1])
            # Silence is counted from the newest sample's stamp, not from when the pull saw
            # it: then a gap turns `stale` at the same frame live as in a replay of its
            # recording (which has only the stamps), however late this poll came. A sample
            # delivered later than half the stale delay (a slow radio link) counts from its
            # arrival less that half, so a late but steady stream never flickers stale.
            half = 0.5 * self._stale_after(conn.info)
            self._last_data = max(self._last_data, self._last_stamp, now - half)
            self._rate.add(timestamps)
            self._set(Status.OK, "")
        elif now - self._last_data > self._stale_after(conn.info):
            if self._status is Status.OK:
                _restart_dejitter(conn)
            self._set(Status.STALE, f"no samples for {now - self._last_data:.1f} s")
        # t_end: a dejittered stamp can sit a hair past the local clock.
        t_end = max(now, self._last_stamp)
        return Chunk(conn.info, timestamps, data, t_end, self._status, self._reason)

    def _pull(self, conn: _Connection) -> tuple[np.ndarray, np.ndarray]:
        stamps: list[np.ndarray] = []
        values: list[np.ndarray] = []
        while True:
            if conn.buffer is None:
                rows, ts = conn.inlet.pull_chunk(timeout=0.0, max_samples=conn.capacity)
                ts = np.asarray(ts, dtype=np.float64)
                block = np.empty((ts.shape[0], conn.info.channel_count), dtype=object)
                for i, row in enumerate(rows):
                    block[i, :] = row
            else:
                view, ts = conn.inlet.pull_chunk(
                    timeout=0.0, max_samples=conn.capacity, dest_obj=conn.buffer, as_numpy=True
                )
                # The buffer is reused by the next pull, so the chunk gets its own float64 copy.
                block = view.astype(np.float64)
            stamps.append(ts)
            values.append(block)
            if ts.shape[0] < conn.capacity:
                break
        if len(stamps) == 1:
            return stamps[0], values[0]
        return np.concatenate(stamps), np.concatenate(values)

    def _stale_after(self, info: StreamInfo) -> float:
        return self.settings.silence.after(info.nominal_srate, self._rate.rate)

    def _empty(self, now: float) -> Chunk:
        info = self._info
        data = np.empty((0, info.channel_count), dtype=np.float64 if info.is_numeric else object)
        return Chunk(info, np.empty(0), data, now, self._status, self._reason)

    def _set(self, status: Status, reason: str) -> None:
        if status != self._status:
            _log.info("%s: %s%s", self.key, status.value, f" ({reason})" if reason else "")
        self._status, self._reason = status, reason

    # -- connection hand-over -------------------------------------------------------------
    def _adopt_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                self._current_uid = pending.uid  # under the lock: the resolver reads it
        if pending is None:
            return
        if self._conn is not None:
            self._conn.inlet.close_stream()
        self._conn = pending
        self._info = pending.info
        self._rate.reset()
        self._last_data = pylsl.local_clock()
        self._last_stamp = -np.inf
        self._want_new = False
        self.connections += 1
        self._set(Status.OK, "")

    def _drop(self, reason: str) -> None:
        if self._conn is not None:
            self._conn.inlet.close_stream()
        self._conn = None
        self._rate.reset()  # a lost stream has no rate (the status file must not show its last)
        with self._lock:
            self._dead.add(self._current_uid)
            self._current_uid = ""
        self._set(Status.LOST, reason)
        self._want_new = True
        self._wake.set()

    def _resolve_loop(self) -> None:
        # A ContinuousResolver answers from its running background queries at once; a fresh
        # resolve_bypred per attempt was seen to take 5 s to notice a restarted producer.
        resolver = pylsl.ContinuousResolver(pred=self.predicate, forget_after=2.0)
        try:
            while not self._stop.is_set():
                # Look again while the stream is missing or has gone quiet: a quiet stream may
                # be a visitor's device left on a table while the next visitor's is here.
                if self._want_new or self._status == Status.STALE:
                    try:
                        self._resolve_once(resolver)
                    except Exception:
                        _log.exception("%s: resolving %s failed", self.key, self.predicate)
                self._wake.wait(self.settings.resolve_every_s)
                self._wake.clear()
        finally:
            del resolver

    def _resolve_once(self, resolver: pylsl.ContinuousResolver) -> None:
        # The resolver remembers a stream for a while after it died: skip the ones we lost.
        # Skip the stream already open or waiting to be adopted too: a second inlet to it
        # would replace the first and throw away the samples queued in it.
        with self._lock:
            skip = {self._current_uid, *self._dead, *self._open_uids()}
        now = time.monotonic()
        found = resolver.results()
        seen = {s.uid() for s in found}
        for uid in [u for u in self._backoff if u not in seen]:
            del self._backoff[uid]  # gone from the network: nothing left to retry
        candidates = [
            s for s in found
            if s.uid() not in skip and self._backoff.get(s.uid(), (0, now))[1] <= now
        ]
        if not candidates or self._stop.is_set():
            return
        # The newest matching stream wins: that is the device that just arrived.
        best = max(candidates, key=lambda s: s.created_at())
        conn = self._open(best)
        if conn is None:
            failures = self._backoff.get(best.uid(), (0, now))[0] + 1
            wait = min(self.settings.open_retry_max_s,
                       self.settings.open_retry_s * 2.0 ** (failures - 1))
            self._backoff[best.uid()] = (failures, time.monotonic() + wait)
            _log.warning("%s: will retry %s in %.1f s (failed open #%d)",
                         self.key, best.name(), wait, failures)
            return
        self._backoff.pop(best.uid(), None)
        with self._lock:
            # The poll thread may have adopted this very stream while it was being opened.
            duplicate = conn.uid == self._current_uid
            stale = None
            if not duplicate:
                stale, self._pending = self._pending, conn
        for extra in (conn if duplicate else None, stale):
            if extra is not None:
                extra.inlet.close_stream()

    def _open_uids(self) -> set[str]:
        # Called with the lock held.
        return {self._pending.uid} if self._pending is not None else set()

    def _open(self, found: pylsl.StreamInfo) -> _Connection | None:
        flags = _flags(found.nominal_srate())
        # recover=False: a vanished stream must surface as LostError (status lost) instead of
        # liblsl silently waiting for the same source; our resolver does the recovering, and
        # may pick a different device.
        inlet = pylsl.StreamInlet(
            found, max_buflen=self.settings.buffer_s, recover=False, processing_flags=flags
        )
        try:
            full = inlet.info(timeout=self.settings.open_timeout_s)
            inlet.open_stream(timeout=self.settings.open_timeout_s)
            # The first clock-offset estimate takes several probe round trips (~0.5 s); liblsl
            # would block the first pull on it, so get it here, off the caller's thread.
            inlet.time_correction(timeout=2.0)
        except RuntimeError as e:  # liblsl's TimeoutError, LostError, InternalError...
            _log.warning("%s: could not open %s (%s)", self.key, found.name(), e)
            inlet.close_stream()
            return None
        info = stream_info_from_lsl(full)
        rate = info.nominal_srate if info.nominal_srate > 0 else 100.0
        capacity = max(64, int(np.ceil(rate * self.settings.chunk_s)))
        fmt = full.channel_format()
        buffer = (
            np.empty((capacity, info.channel_count), dtype=_NUMPY_FORMATS[fmt][1])
            if fmt in _NUMPY_FORMATS
            else None
        )
        return _Connection(inlet, info, found.uid(), buffer, capacity)

