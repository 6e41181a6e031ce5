"""Gallery (kiosk) mode: live LSL streams in, the piece on the projector, unattended for weeks.

It starts with no sensor connected and waits; the mapping's idle values keep the piece
drifting by itself. Presence (:mod:`installation.presence`, decided in the pipeline exactly as
in replay) tells a visitor's arrival, which starts the calibration of their baseline, and
their departure; controls fade between idle and the visitor's body by the mappings' time
constants, so the piece crossfades rather than cuts. With ``[record] enabled`` each visit
is written to its own XDF file. No sensor, data, shader or generator fault ends the loop:
the fault is logged and the last good frame stays on screen (a dead generator thread is
restarted). Only closing the window, SIGINT/SIGTERM or ``max_seconds`` ends it.

The loop is :func:`installation.runtime.run` with live LSL input, the LSL clock and the
kiosk's sink parts (:mod:`installation.modes.kiosk`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from installation.clock import LslClock
from installation.first_frame import hanging_passes
from installation.generation import LiveGeneration
from installation.inputs.live import LslSource
from installation.modes.kiosk import (
    FaultLog,
    KioskWindow,
    StatusPublisher,
    StopSignal,
    VisitRecorder,
)
from installation.modes.supervision import SystemdNotifier, rotating_log
from installation.pipeline import Pipeline
from installation.pipeline_latency import PipelineLatency
from installation.record.session import record_folder
from installation.render.window import ShowWindow, WindowSettings
from installation.runtime import Deadline, Sinks, run
from installation.show import Show


@dataclass(frozen=True)
class GalleryOptions:
    """How the kiosk runs (the piece itself is in the show); ``None``: the show's
    ``[output]`` value."""

    screen: int | None = None
    fullscreen: bool | None = None
    status_file: Path | None = None
    log_dir: Path | None = None
    max_seconds: float | None = None  # for tests and soak benchmarks; None: run until stopped
    status_every_s: float = 1.0


def run_gallery(show: Show, options: GalleryOptions) -> int:
    """Run the kiosk until the window closes, a stop signal arrives, or ``max_seconds``.

    Returns 0 on a requested stop.
    """
    log = rotating_log(options.log_dir)
    if show.record.enabled:  # a folder that cannot exist is said at start, not at a visit
        log.info("recording each visit to %s ([record] enabled in the show)", record_folder(show))
    out = show.output
    with contextlib.ExitStack() as stack:
        notifier = stack.enter_context(contextlib.closing(SystemdNotifier()))
        # Before the window's GL context: a pass that never ends would freeze the kiosk, and
        # the watchdog would restart it into the same hang. Such passes are turned off.
        hung = probe_gallery(show, notifier, log)
        window = stack.enter_context(ShowWindow(WindowSettings(
            size=out.size, screen=out.screen if options.screen is None else options.screen,
            fullscreen=out.fullscreen if options.fullscreen is None else options.fullscreen,
            vsync=out.vsync), title=show.meta.title))
        source = stack.enter_context(LslSource(show.streams))
        latency = PipelineLatency.live(out.latency_s, out.latency)
        pipeline = Pipeline(show, window.ctx, out.size, out.fps, generation=LiveGeneration,
                            latency=latency)
        stack.callback(pipeline.release)
        pipeline.renderer.turned_off |= hung
        kiosk, faults = KioskWindow(window, notifier), FaultLog(log)
        sinks = Sinks(VisitRecorder(show, pipeline, source, log), kiosk,
                      StatusPublisher(options.status_file, options.status_every_s, notifier,
                                      pipeline, source, kiosk, faults),
                      StopSignal(), Deadline(options.max_seconds))
        stack.callback(sinks.close)
        log.info("gallery started: %s (%s), waiting for streams %s", show.meta.title,
                 show.path, ", ".join(show.streams))
        notifier.notify("READY=1")
        with contextlib.suppress(KeyboardInterrupt):
            run(pipeline, source, LslClock(out.fps), sinks, on_fault=faults, latency=latency)
    return 0


def probe_gallery(show: Show, notifier: SystemdNotifier, log: logging.Logger) -> set[int]:
    """Probe the show's passes (``[output] probe_limit_s``; 0: none) and return the indices
    of those that never finished a frame, each named in one logged line, to be passed
    through for the run as a pass over its budget is."""
    limit = show.output.probe_limit_s
    if limit <= 0:
        return set()

    def extend(seconds: float) -> None:
        # Not READY yet: systemd's start timeout, not the watchdog, is running; extend it.
        notifier.notify(f"EXTEND_TIMEOUT_USEC={int((seconds + 10.0) * 1e6)}")

    hung = hanging_passes(show, limit, before=extend)
    for hang in hung:
        log.error("%s: turned off for the run (its input is passed through)", hang.describe())
    return {hang.index for hang in hung}
