"""The gallery's sink, in parts with one job each: the projector window, one recording per
visit, the status file and watchdog, the stop signal, and the fault log.

Each is a :class:`~installation.runtime.SinkPart`; :func:`~installation.modes.gallery.run_gallery`
puts them together with :class:`~installation.runtime.Sinks`.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from installation.errors import UserError
from installation.inputs.live import LslSource
from installation.messages import Chunk, Frame, Status
from installation.modes.supervision import FrameStats, SystemdNotifier, write_status_file
from installation.pipeline import Pipeline, Step
from installation.presence import VISITOR
from installation.record.session import SessionRecorder
from installation.render.window import ShowWindow
from installation.runtime import SinkPart
from installation.show import Show

__all__ = ["FaultLog", "KioskWindow", "StatusPublisher", "StopSignal", "VisitRecorder"]


class KioskWindow(SinkPart):
    """Presents each frame; after a fault, the last good frame stays up. The watchdog is
    fed only while frames really reach the screen, so a frozen loop gets restarted."""

    def __init__(self, window: ShowWindow, notifier: SystemdNotifier) -> None:
        self.window, self.notifier = window, notifier
        self.stats = FrameStats()
        self._last: Frame | None = None

    def running(self) -> bool:
        return not self.window.closed

    def show(self, step: Step, chunks: Mapping[str, Chunk]) -> None:
        self._last = step.frame
        self.missed(step.frame.index)

    def missed(self, index: int) -> None:
        if self._last is not None:
            self.window.present(self._last)
            self.stats.tick()
            self.notifier.notify("WATCHDOG=1")


class VisitRecorder(SinkPart):
    """Logs each change of presence and, with ``[record] enabled``, writes one XDF per visit.

    The change is checked after every frame, whatever it raised: presence changes inside
    the step, and a visit must never go unrecorded or run on into the next visitor's file.
    """

    def __init__(self, show: Show, pipeline: Pipeline, source: LslSource,
                 log: logging.Logger) -> None:
        self.piece, self.pipeline, self.source, self.log = show, pipeline, source, log
        self.mode = pipeline.presence.mode
        self.recorder: SessionRecorder | None = None

    def show(self, step: Step, chunks: Mapping[str, Chunk]) -> None:
        if self.recorder is not None and self.pipeline.presence.mode == VISITOR:
            self.recorder.write_step(chunks, step.features, step.controls)
        self.missed(step.frame.index)

    def missed(self, index: int) -> None:
        presence = self.pipeline.presence
        if presence.mode != self.mode:
            self.mode = presence.mode
            self.log.info("mode -> %s (visit %d; streams: %s)", self.mode, presence.visits,
                          _fmt(self.source.statuses))
            self._switch(self.mode == VISITOR)

    def _switch(self, visiting: bool) -> None:
        # One file per visit (only when the show opts in): close the last visit's, open anew.
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        if visiting and self.piece.record.enabled:
            try:
                self.recorder = SessionRecorder.for_show(self.piece, started=time.time())
            except UserError as error:  # the show goes on unrecorded
                self.log.error("recording off: %s", error)
            if self.recorder is not None:
                self.log.info("recording this visit to %s", self.recorder.path)

    def close(self) -> None:
        self._switch(False)


@dataclass
class FaultLog:
    """Counts frame faults and logs them (the first ten, then one in a thousand)."""

    log: logging.Logger
    count: int = 0

    def __call__(self, error: Exception, index: int) -> None:
        self.count += 1
        if self.count <= 10 or self.count % 1000 == 0:
            self.log.error("frame %d failed (fault %d); showing the last good frame",
                           index, self.count, exc_info=error)


class StatusPublisher(SinkPart):
    """Every ``every_s``: the status file (JSON) and systemd's STATUS line. Stream health,
    mode and frame rate only, never a feature value."""

    def __init__(self, path: Path | None, every_s: float, notifier: SystemdNotifier,
                 pipeline: Pipeline, source: LslSource, window: KioskWindow,
                 faults: FaultLog) -> None:
        self.path, self.every_s, self.notifier = path, every_s, notifier
        self.pipeline, self.source, self.window, self.faults = pipeline, source, window, faults
        self._next = time.perf_counter()

    def show(self, step: Step, chunks: Mapping[str, Chunk]) -> None:
        self.missed(step.frame.index)

    def missed(self, index: int) -> None:
        now = time.perf_counter()
        if now >= self._next:
            self._next = now + self.every_s
            self.publish()

    def close(self) -> None:
        logging.getLogger("installation").info(
            "gallery stopping after %d frames (%d faults)", self.window.stats.presented,
            self.faults.count)
        self.notifier.notify("STOPPING=1")
        self.publish(stopped=True)

    def publish(self, stopped: bool = False) -> None:
        presence, stats = self.pipeline.presence, self.window.stats
        # A stream that is not ok delivers nothing now: its last measured rate would lie.
        streams = {key: {"status": inp.status.value, "name": inp.info.name,
                         "rate_hz": round(inp.effective_srate, 2)
                         if inp.status is Status.OK else 0.0}
                   for key, inp in self.source.inputs.items()}
        status = {"mode": presence.mode, "visits": presence.visits, "fps": round(stats.fps, 2),
                  "frames": stats.presented,
                  "interval_ms_p50": round(stats.interval_ms(0.5), 2),
                  "interval_ms_p99": round(stats.interval_ms(0.99), 2),
                  "faults": self.faults.count,
                  "generator_restarts": self.pipeline.generator_restarts,
                  "frames_limited": (self.pipeline.limiter.limited_frames
                                     if self.pipeline.limiter is not None else 0),
                  "streams": streams, "time": time.time(), "running": not stopped}
        self.notifier.notify(f"STATUS={presence.mode}, {stats.fps:.1f} fps, "
                             + ", ".join(f"{k} {v['status']}" for k, v in streams.items()))
        if self.path is not None:
            try:
                write_status_file(self.path, status)
            except OSError as error:
                logging.getLogger(__name__).warning("cannot write status file: %s", error)


class StopSignal(SinkPart):
    """SIGTERM (systemd stopping the unit) ends the run after the current frame."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = signal.signal(signal.SIGTERM, self._request)

    def _request(self, _signum: int, _frame: object) -> None:
        self.requested = True

    def running(self) -> bool:
        return not self.requested

    def close(self) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def _fmt(statuses: dict[str, Status]) -> str:
    return ", ".join(f"{k}={s.value}" for k, s in statuses.items())
