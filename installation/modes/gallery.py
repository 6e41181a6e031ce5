"""Gallery (kiosk) mode: live LSL streams in, the piece on the projector, unattended for weeks.

It starts with no sensor connected and waits; the mapping's idle values keep the piece
drifting by itself. Presence (:mod:`installation.presence`, decided in the pipeline exactly as
in replay) tells a visitor's arrival, which starts the calibration of their baseline, and
their departure; controls fade between idle and the visitor's body by the mappings' time
constants, so the piece crossfades rather than cuts. With ``[record] enabled`` each visit
is written to its own XDF file. No sensor, data, shader or generator fault ends the loop:
the fault is logged and the last good frame stays on screen (a dead generator thread is
restarted). Only closing the window, SIGINT/SIGTERM or ``max_seconds`` ends it.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pylsl

from installation.errors import UserError
from installation.inputs.lsl import LslInput
from installation.messages import Frame, Status
from installation.modes.supervision import (
    FrameStats,
    SystemdNotifier,
    rotating_log,
    write_status_file,
)
from installation.pipeline import Pipeline
from installation.presence import VISITOR
from installation.record.session import SessionRecorder, record_folder
from installation.render.window import ShowWindow, WindowSettings
from installation.show import Show


@dataclass(frozen=True)
class GalleryOptions:
    """How the kiosk runs (the piece itself is in the show)."""

    screen: int = 0
    fullscreen: bool = True
    status_file: Path | None = None
    log_dir: Path | None = None
    max_seconds: float | None = None  # for tests and soak benchmarks; None: run until stopped
    status_every_s: float = 1.0


def run_gallery(show: Show, options: GalleryOptions) -> int:
    """Run the kiosk until the window closes, a stop signal arrives, or ``max_seconds``.

    Returns
    -------
    int
        0 on a requested stop.
    """
    log = rotating_log(options.log_dir)
    notifier = SystemdNotifier()
    stop = {"requested": False}

    def request_stop(signum: int, _frame: object) -> None:
        stop["requested"] = True

    if show.record.enabled:
        # A recordings folder that cannot exist is a set-up error: say so at start, while the
        # technician is watching, not at the first visitor's arrival.
        folder = record_folder(show)
        log.info("recording each visit to %s ([record] enabled in the show)", folder)
    previous_term = signal.signal(signal.SIGTERM, request_stop)
    size = show.output.size
    window = ShowWindow(WindowSettings(size=size, screen=options.screen,
                                       fullscreen=options.fullscreen, vsync=True),
                        title=show.meta.title)
    inputs = {key: LslInput(key, spec).start() for key, spec in show.streams.items()}
    # Live: the generator runs in its own thread; the display never waits for it.
    pipeline = Pipeline(show, window.ctx, size, show.output.fps, live=True)
    presence = pipeline.presence
    mode = presence.mode
    recorder: SessionRecorder | None = None
    stats = FrameStats()
    period = 1.0 / show.output.fps
    began = time.perf_counter()
    next_status = began
    last_frame: Frame | None = None
    faults = 0
    index = 0
    log.info("gallery started: %s (%s), waiting for streams %s", show.meta.title, show.path,
             ", ".join(show.streams))
    notifier.notify("READY=1")
    try:
        while not (stop["requested"] or window.closed):
            tick = time.perf_counter()
            if options.max_seconds is not None and tick - began >= options.max_seconds:
                break
            t = pylsl.local_clock()
            try:
                chunks = {key: inp.poll() for key, inp in inputs.items()}
                step = pipeline.step(chunks, t, index)
                last_frame = step.frame
                if recorder is not None and presence.mode == VISITOR:
                    recorder.write_step(chunks, step.features, step.controls)
            except Exception:  # a fault must not end the show: log it, keep the last frame
                faults += 1
                if faults <= 10 or faults % 1000 == 0:
                    log.exception("frame %d failed (fault %d); showing the last good frame",
                                  index, faults)
            # Checked after the frame, whatever it raised: presence changes inside the step,
            # and a visit must never go unrecorded or run on into the next visitor's file.
            if presence.mode != mode:
                mode = presence.mode
                log.info("mode -> %s (visit %d; streams: %s)", mode, presence.visits,
                         _fmt({key: inp.status for key, inp in inputs.items()}))
                recorder = _switch_recording(show, recorder, mode == VISITOR, log)
            if last_frame is not None:
                window.present(last_frame)
                stats.tick()
                notifier.notify("WATCHDOG=1")  # only while frames really reach the screen
            index += 1
            if tick >= next_status:
                next_status = tick + options.status_every_s
                _publish(options, notifier, pipeline, inputs, stats, faults, time.time())
            # vsync paces a real display; a virtual one (Xvfb) needs us to wait ourselves.
            delay = period - (time.perf_counter() - tick)
            if delay > 0:
                time.sleep(delay)
    except KeyboardInterrupt:
        pass
    finally:
        log.info("gallery stopping after %d frames (%d faults)", stats.presented, faults)
        notifier.notify("STOPPING=1")
        _switch_recording(show, recorder, False, log)
        _publish(options, notifier, pipeline, inputs, stats, faults, time.time(), stopped=True)
        for inp in inputs.values():
            inp.close()
        pipeline.release()
        window.close()
        notifier.close()
        signal.signal(signal.SIGTERM, previous_term)
    return 0


def _switch_recording(
    show: Show, recorder: SessionRecorder | None, visiting: bool, log: logging.Logger,
) -> SessionRecorder | None:
    # One file per visit (only when the show opts in): close the last visit's, open a new one.
    if recorder is not None:
        recorder.close()
        recorder = None
    if visiting:
        try:
            recorder = SessionRecorder.for_show(show, started=time.time())
        except UserError as error:  # the show goes on unrecorded
            log.error("recording off: %s", error)
        if recorder is not None:
            log.info("recording this visit to %s", recorder.path)
    return recorder


def _fmt(statuses: dict[str, Status]) -> str:
    return ", ".join(f"{k}={s.value}" for k, s in statuses.items())


def _publish(
    options: GalleryOptions, notifier: SystemdNotifier, pipeline: Pipeline,
    inputs: dict[str, LslInput], stats: FrameStats, faults: int, wall: float,
    stopped: bool = False,
) -> None:
    presence = pipeline.presence
    streams = {key: {"status": inp.status.value, "name": inp.info.name,
                     "rate_hz": round(inp.effective_srate, 2)} for key, inp in inputs.items()}
    status = {"mode": presence.mode, "visits": presence.visits, "fps": round(stats.fps, 2),
              "frames": stats.presented,
              "interval_ms_p50": round(stats.interval_ms(0.5), 2),
              "interval_ms_p99": round(stats.interval_ms(0.99), 2),
              "faults": faults, "generator_restarts": pipeline.generator_restarts,
              "streams": streams, "time": wall, "running": not stopped}
    notifier.notify(f"STATUS={presence.mode}, {stats.fps:.1f} fps, "
                    + ", ".join(f"{k} {v['status']}" for k, v in streams.items()))
    if options.status_file is not None:
        try:
            write_status_file(options.status_file, status)
        except OSError as error:
            logging.getLogger(__name__).warning("cannot write status file: %s", error)
