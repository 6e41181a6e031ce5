"""Rehearsal: the artist at work. A window plays a recording (or live streams) through the
show; shaders and ``show.toml`` reload on save; OSC can hold or nudge the show's controls.

Keys: ``space`` pause, ``left``/``right`` seek 5 s, ``up``/``down`` speed x2 / /2, ``l`` loop,
``r`` reload now, ``h`` HUD, ``m`` save the current latent as a mood, ``q``/``esc`` quit.
Live (no recording): the show's LSL streams drive it as in the gallery; ``space`` freezes the
picture while the features keep up, and seeking, speed and loop do not apply.
With a diffusion model, ``/prompt NAME "text"`` over OSC gives a mood a new prompt (kept
across reloads unless the file changes that mood's prompt), the HUD shows the blend, and
``m`` saves the blend beside the latent.

The loop is :func:`installation.runtime.run`'s; the parts are in :mod:`installation.rehearsal`
(transport, keys, HUD, moods, the window sink), :class:`~installation.render.reload.
ReloadingPipeline` (hot reload) and :mod:`installation.osc`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from installation.clock import LslClock, PlaybackClock
from installation.first_frame import start_probe
from installation.inputs.live import LslSource
from installation.inputs.recording import RecordingSource, load_recording
from installation.messages import Controls, Frame
from installation.modes.replay import resolve_streams
from installation.modes.supervision import rotating_log
from installation.osc import OscBridge, OscOut, OscSettings, control_ranges
from installation.pipeline import Pipeline, Step
from installation.pipeline_latency import PipelineLatency
from installation.rehearsal.keys import bind_keys
from installation.rehearsal.moods import save_mood
from installation.rehearsal.prompts import LivePrompts
from installation.rehearsal.transport import ACTIONS, Transport
from installation.rehearsal.window import RehearsalWindow
from installation.render.reload import ReloadingPipeline, ShaderWatcher
from installation.render.window import ShowWindow, WindowSettings
from installation.runtime import Deadline, Loop, Sinks
from installation.show import Show, prompt_names

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RehearsalOptions:
    """How the rehearsal window runs (``screen`` ``None``: the show's ``[output] screen``)."""

    fullscreen: bool = False
    screen: int | None = None
    osc: OscSettings | None = None
    max_seconds: float | None = None


def rehearse(show: Show, recording: Path | None, options: RehearsalOptions) -> int:
    """Run a rehearsal until the window closes, ``q`` or ``max_seconds``; returns 0."""
    rotating_log(None, "rehearse")  # reloads and shader errors go to the terminal
    return Rehearsal(show, recording, options).run()


class Rehearsal:
    """One rehearsal session, assembled from its parts around the runtime loop.

    :meth:`step` makes one frame (tests drive it directly), :meth:`press` does what a key
    does, :meth:`run` loops until the window closes or ``quit``.
    """

    def __init__(self, show: Show, recording: Path | None, options: RehearsalOptions) -> None:
        self.live = recording is None
        out = show.output
        # Drawn in a child while the recording loads; the verdict comes before the window's
        # GL context: a pass that never ends would freeze this process for good.
        with start_probe(show) as probe:
            if recording is None:
                self.clock: PlaybackClock | LslClock = LslClock(out.fps)
            else:
                loaded = load_recording(recording)
                streams = resolve_streams(show, loaded)
                self.clock = PlaybackClock(duration=loaded.duration, fps=out.fps)
            probe.require()
        self.transport = Transport(None if self.live else self.clock)
        self.window = ShowWindow(WindowSettings(
            size=out.size, screen=out.screen if options.screen is None else options.screen,
            fullscreen=options.fullscreen, vsync=out.vsync), title=f"rehearse: {show.meta.title}")
        self.source = (LslSource(show.streams) if recording is None
                       else RecordingSource(loaded, streams))
        # The window shows each frame some render + present after its time, in the recording's
        # time as much as live: measured here as in the gallery, kept across reloads.
        self.latency = PipelineLatency.live(out.latency_s, out.latency)
        self.pipeline = ReloadingPipeline(
            show, lambda s: Pipeline(s, self.window.ctx, out.size, s.output.fps,
                                     latency=self.latency),
            on_show=self._on_show)
        self.view = RehearsalWindow(self.window, self.pipeline, self.transport)
        bind_keys(self.window.window, self.press)
        osc = options.osc
        self.osc = (OscBridge(osc, control_ranges(show), prompts=prompt_names(show)).start()
                    if osc is not None and osc.listen_port is not None else None)
        self.prompts = LivePrompts()
        sinks = [self.view, Deadline(options.max_seconds)]
        if osc is not None and osc.send_port is not None:
            sinks.append(OscOut(osc.send_host, osc.send_port))
        self.loop = Loop(self.pipeline, self.source, self.clock, Sinks(*sinks),
                         adjust=self._adjust if self.osc is not None else None,
                         latency=self.latency)
        self.saved_moods: list[Path] = []

    def _on_show(self, show: Show) -> None:
        if isinstance(self.source, LslSource):  # live inputs follow the edited [streams]
            self.source.follow(show.streams)
        if self.osc is not None:
            self.osc.controls = control_ranges(show)
            self.osc.prompts = prompt_names(show)
        # The new generator knows only the file's prompts: give it the live ones again.
        kept = self.prompts.reapply(self.pipeline.generator, show)
        if kept:
            self.view.notice = f"live prompts kept: {', '.join(kept)}"

    def _adjust(self, controls: Controls) -> Controls:
        # Runs in the pipeline's step, before the generator: prompts received over OSC since
        # the last frame paint from this image on; then the OSC holds and nudges.
        assert self.osc is not None
        for name, text in self.osc.take_prompts().items():
            self.set_prompt(name, text)
        return self.osc.apply(controls)

    def set_prompt(self, name: str, text: str) -> None:
        """``/prompt NAME "text"``: mood ``name`` paints ``text`` from the next image on;
        the HUD says so (or why not)."""
        self.view.notice = self.prompts.set(self.pipeline.generator, self.pipeline.show,
                                            name, text)
        _log.info("%s", self.view.notice)

    # -- driving it -----------------------------------------------------------------------
    def step(self) -> Frame | None:
        """Make and present one frame; returns what was presented."""
        self.loop.once()
        return self.view.presented

    def press(self, action: str) -> None:
        """Do what a key does: pause, back, forward, faster, slower, loop, reload, hud,
        mood, quit."""
        self.view.notice = ""
        if action in ACTIONS:
            self.transport.press(action)
            self.view.notice = self.transport.notice
        elif action == "reload":
            self.pipeline.poll(force=True)
        elif action == "hud":
            self.view.hud.visible = not self.view.hud.visible
        elif action == "mood":
            self.save_mood()
        elif action == "quit":
            self.view.quit = True

    def run(self) -> int:
        try:
            self.loop.run()
        finally:
            self.close()
        return 0

    def close(self) -> None:
        if self.osc is not None:
            self.osc.close()
            self.osc = None
        self.source.close()
        self.pipeline.release()
        self.window.close()

    def save_mood(self) -> Path | None:
        """Save the generator's current latent as a mood (see
        :func:`~installation.rehearsal.moods.save_mood`); the HUD and the terminal say so."""
        latent = getattr(self.pipeline.generator, "latent", None)
        if latent is None:
            self.view.notice = "this generator exposes no latent to save"
            return None
        step = self.view.last_step
        path = save_mood(self.pipeline.show, latent, step.controls if step else None,
                         self.clock.now(),
                         save_blend=getattr(self.pipeline.generator, "save_blend", None))
        self.saved_moods.append(path)
        self.view.notice = f"saved {path.stem} to {path.parent.name}/ and show.toml"
        _log.info("saved mood %s (a [[moods]] entry appended to %s)", path,
                  self.pipeline.show.path)
        return path

    # -- what tests and tools look at -----------------------------------------------------
    @property
    def last_step(self) -> Step | None:
        return self.view.last_step

    @property
    def notice(self) -> str:
        return self.view.notice

    @property
    def hud(self) -> bool:
        return self.view.hud.visible

    @property
    def quit(self) -> bool:
        return self.view.quit

    @property
    def shader_watch(self) -> ShaderWatcher:
        return self.pipeline.shaders
