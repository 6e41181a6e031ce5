"""The rehearsal's sink: the window, with the HUD and any reload error drawn on each frame."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping

from installation.messages import Chunk, Frame
from installation.pipeline import Step
from installation.rehearsal.hud import Hud, status_line, visitor_line
from installation.rehearsal.transport import Transport
from installation.render.reload import ReloadingPipeline, error_bar
from installation.render.window import ShowWindow
from installation.runtime import SinkPart
from installation.show import STATE_STREAM


class RehearsalWindow(SinkPart):
    """Presents each step with its overlays; holds a frozen picture (live ``pause``).

    Attributes
    ----------
    last_step
        The last step shown (what the pipeline made, before any overlay).
    presented
        The last frame presented (with the overlays).
    notice
        A line for the HUD (the last key's answer, a saved mood).
    quit
        Set by the ``quit`` key: ends the run.
    """

    def __init__(self, window: ShowWindow, pipeline: ReloadingPipeline,
                 transport: Transport) -> None:
        self.window, self.pipeline, self.transport = window, pipeline, transport
        self.hud = Hud()
        self.last_step: Step | None = None
        self.presented: Frame | None = None
        self.notice = ""
        self.quit = False
        self._frame_times: deque[float] = deque(maxlen=60)

    @property
    def held(self) -> bool:  # type: ignore[override]
        return self.transport.frozen and self.presented is not None

    def running(self) -> bool:
        return not (self.quit or self.window.closed)

    @property
    def fps(self) -> float:
        times = self._frame_times
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0

    def show(self, step: Step, chunks: Mapping[str, Chunk]) -> None:
        self.last_step = step
        show = self.pipeline.show
        self.hud.record(step.frame.t, step.controls.values, step.features, show.mappings)
        frame, top = step.frame, 0
        error = self.pipeline.error
        if error:
            frame, top = error_bar(frame, error)
        if self.hud.visible:
            lines = [self.transport.describe(self.fps),
                     visitor_line(step.mode, step.features.get(STATE_STREAM)),
                     status_line(step.features)]
            lines += [self.notice] if self.notice else []
            names = list(step.controls.values) + sorted(
                {m.feature for m in show.mappings} - set(step.controls.values))
            frame = self.hud.draw(frame, lines, names, top=top)
        self.presented = frame
        self.missed(step.frame.index)

    def missed(self, index: int) -> None:
        if self.presented is not None:
            self.window.present(self.presented)
            self._frame_times.append(time.perf_counter())
