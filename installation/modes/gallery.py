"""Gallery (kiosk) mode: live LSL streams in, the piece on the projector, unattended for weeks.

It starts with no sensor connected and waits; the mapping's idle values keep the piece
drifting by itself. A visitor is *present* once every required stream has been ``ok`` for
``arrive_s``; they have *left* once one has not been ``ok`` for ``leave_s``. Controls fade
between idle and the visitor's body by the mappings' time constants, so the piece crossfades
rather than cuts. No sensor, data or shader fault ends the loop: the fault is logged and the
last good frame stays on screen. Only closing the window, SIGINT/SIGTERM or ``max_seconds``
ends it.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pylsl

from installation.inputs.lsl import LslInput
from installation.messages import Frame, Status
from installation.modes.supervision import (
    FrameStats,
    SystemdNotifier,
    rotating_log,
    write_status_file,
)
from installation.pipeline import Pipeline
from installation.render.window import ShowWindow, WindowSettings
from installation.show import Show

IDLE, VISITOR = "idle", "visitor"


@dataclass(frozen=True)
class GalleryOptions:
    """How the kiosk runs (the piece itself is in the show)."""

    screen: int = 0
    fullscreen: bool = True
    status_file: Path | None = None
    log_dir: Path | None = None
    max_seconds: float | None = None  # for tests and soak benchmarks; None: run until stopped
    arrive_s: float = 0.5
    leave_s: float = 2.0
    status_every_s: float = 1.0


@dataclass
class Presence:
    """Is a visitor here? Debounced on the required streams' status."""

    required: tuple[str, ...]
    arrive_s: float
    leave_s: float
    mode: str = IDLE
    _since: float | None = None  # when the streams last disagreed with the current mode

    def update(self, statuses: dict[str, Status], now: float) -> bool:
        """Feed the streams' status at ``now``; returns True when the mode changed."""
        all_ok = bool(self.required) and all(
            statuses.get(key) is Status.OK for key in self.required
        )
        wants = VISITOR if all_ok else IDLE
        if wants == self.mode:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        hold = self.arrive_s if wants == VISITOR else self.leave_s
        if now - self._since >= hold:
            self.mode, self._since = wants, None
            return True
        return False


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

    previous_term = signal.signal(signal.SIGTERM, request_stop)
    size = show.output.size
    window = ShowWindow(WindowSettings(size=size, screen=options.screen,
                                       fullscreen=options.fullscreen, vsync=True),
                        title=show.meta.title)
    inputs = {key: LslInput(key, spec).start() for key, spec in show.streams.items()}
    required = tuple(key for key, spec in show.streams.items() if spec.required)
    presence = Presence(required, options.arrive_s, options.leave_s)
    # Live: the generator runs in its own thread; the display never waits for it.
    pipeline = Pipeline(show, window.ctx, size, show.output.fps, live=True)
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
                statuses = {key: chunk.status for key, chunk in chunks.items()}
                if presence.update(statuses, t):
                    log.info("mode -> %s (streams: %s)", presence.mode, _fmt(statuses))
                step = pipeline.step(chunks, t, index)
                last_frame = step.frame
            except Exception:  # a fault must not end the show: log it, keep the last frame
                faults += 1
                if faults <= 10 or faults % 1000 == 0:
                    log.exception("frame %d failed (fault %d); showing the last good frame",
                                  index, faults)
            if last_frame is not None:
                window.present(last_frame)
                stats.tick()
                notifier.notify("WATCHDOG=1")  # only while frames really reach the screen
            index += 1
            if tick >= next_status:
                next_status = tick + options.status_every_s
                _publish(options, notifier, presence, inputs, stats, faults, time.time())
            # vsync paces a real display; a virtual one (Xvfb) needs us to wait ourselves.
            delay = period - (time.perf_counter() - tick)
            if delay > 0:
                time.sleep(delay)
    except KeyboardInterrupt:
        pass
    finally:
        log.info("gallery stopping after %d frames (%d faults)", stats.presented, faults)
        notifier.notify("STOPPING=1")
        _publish(options, notifier, presence, inputs, stats, faults, time.time(), stopped=True)
        for inp in inputs.values():
            inp.close()
        pipeline.release()
        window.close()
        notifier.close()
        signal.signal(signal.SIGTERM, previous_term)
    return 0


def _fmt(statuses: dict[str, Status]) -> str:
    return ", ".join(f"{k}={s.value}" for k, s in statuses.items())


def _publish(
    options: GalleryOptions, notifier: SystemdNotifier, presence: Presence,
    inputs: dict[str, LslInput], stats: FrameStats, faults: int, wall: float,
    stopped: bool = False,
) -> None:
    streams = {key: {"status": inp.status.value, "name": inp.info.name,
                     "rate_hz": round(inp.effective_srate, 2)} for key, inp in inputs.items()}
    status = {"mode": presence.mode, "fps": round(stats.fps, 2), "frames": stats.presented,
              "interval_ms_p50": round(stats.interval_ms(0.5), 2),
              "interval_ms_p99": round(stats.interval_ms(0.99), 2),
              "faults": faults, "streams": streams, "time": wall, "running": not stopped}
    notifier.notify(f"STATUS={presence.mode}, {stats.fps:.1f} fps, "
                    + ", ".join(f"{k} {v['status']}" for k, v in streams.items()))
    if options.status_file is not None:
        try:
            write_status_file(options.status_file, status)
        except OSError as error:
            logging.getLogger(__name__).warning("cannot write status file: %s", error)
