"""Rehearsal: the artist at work. A window plays a recording (or live streams) through the
show; shaders and ``show.toml`` reload on save; OSC can nudge any control.

Keys: ``space`` pause, ``left``/``right`` seek 5 s, ``up``/``down`` speed x2 / /2, ``l`` loop,
``r`` reload now, ``h`` HUD, ``m`` save the current latent as a mood, ``q``/``esc`` quit.
Live (no recording): the show's LSL streams drive it as in the gallery; ``space`` freezes the
picture while the features keep up, and seeking, speed and loop do not apply.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pylsl
from PIL import Image, ImageDraw, ImageFont

from installation.errors import UserError
from installation.inputs.lsl import LslInput
from installation.inputs.recording import RecordingSource, load_recording
from installation.messages import Chunk, Frame
from installation.modes.replay import resolve_streams
from installation.osc import OscBridge, OscSettings
from installation.pipeline import Pipeline, Step, make_extractor
from installation.render.reload import ShaderWatcher, ShowWatcher, draw_error
from installation.render.window import ShowWindow, WindowSettings
from installation.show import Show

_log = logging.getLogger(__name__)
SEEK_S = 5.0
WARMUP_S = 5.0  # features re-learn this much history after a jump
SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class PlaybackClock:
    """Real time that can pause, change speed, jump, and loop over ``duration``."""

    duration: float | None = None
    loop: bool = True
    speed: float = 1.0
    paused: bool = False
    wall: Callable[[], float] = time.perf_counter
    _t: float = 0.0
    _since: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._since = self.wall()

    def now(self) -> float:
        t = self._t if self.paused else self._t + (self.wall() - self._since) * self.speed
        if self.duration is not None and t >= self.duration:
            t = t % self.duration if self.loop else self.duration
            self.seek(t)
        return t

    def _anchor(self) -> None:
        self._t, self._since = self.now(), self.wall()

    def toggle_pause(self) -> None:
        self._anchor()
        self.paused = not self.paused

    def seek(self, t: float) -> None:
        upper = self.duration if self.duration is not None else float("inf")
        self._t, self._since = min(max(0.0, t), upper), self.wall()

    def set_speed(self, speed: float) -> None:
        self._anchor()
        self.speed = speed


@dataclass(frozen=True)
class RehearsalOptions:
    """How the rehearsal window runs."""

    fullscreen: bool = False
    screen: int = 0
    osc: OscSettings | None = None
    max_seconds: float | None = None


class Rehearsal:
    """One rehearsal session; :meth:`run` loops, :meth:`step` and :meth:`press` drive it."""

    def __init__(self, show: Show, recording: Path | None, options: RehearsalOptions) -> None:
        self.show = show
        self.options = options
        self.live = recording is None
        self.inputs: dict[str, LslInput] = {}
        if recording is None:
            self.recording = None
            self.streams = {}
            self.keys = list(show.streams)
            self.inputs = {key: LslInput(key, spec).start() for key, spec in show.streams.items()}
            self.clock = PlaybackClock(loop=False)
        else:
            self.recording = load_recording(recording)
            self.streams = resolve_streams(show, self.recording)
            self.keys = list(self.streams)
            self.source = RecordingSource(self.recording, [self.streams[k] for k in self.keys])
            self.clock = PlaybackClock(duration=self.recording.duration)
        self.notice = ""
        self.window = ShowWindow(WindowSettings(size=show.output.size, screen=options.screen,
                                                fullscreen=options.fullscreen, vsync=True),
                                 title=f"rehearse: {show.meta.title}")
        self.window.window.push_handlers(on_key_press=self._on_key_press)
        self.pipeline = Pipeline(show, self.window.ctx, show.output.size, show.output.fps)
        self.shader_watch = ShaderWatcher(self.pipeline.renderer)
        self.show_watch = ShowWatcher(show.path)
        self.osc = OscBridge(options.osc).start() if options.osc else None
        if self.osc is not None:  # diffusion (issue 12): /prompt NAME "text"
            self.osc.prompt_handler = self.set_prompt
        self.hud = True
        self.quit = False
        self.error: str | None = None
        self.index = 0
        self._last_t = 0.0
        self._frame_times: deque[float] = deque(maxlen=60)
        self._history: deque[tuple[float, Mapping[str, float]]] = deque(maxlen=600)
        self.saved_moods: list[Path] = []
        self.last_step: Step | None = None
        self._last_presented: Frame | None = None
        self._reloaded = False

    # -- keys -----------------------------------------------------------------------------
    def _on_key_press(self, symbol: int, _modifiers: int) -> bool:
        from pyglet.window import key

        names = {key.SPACE: "pause", key.LEFT: "back", key.RIGHT: "forward", key.UP: "faster",
                 key.DOWN: "slower", key.L: "loop", key.R: "reload", key.H: "hud",
                 key.M: "mood", key.Q: "quit", key.ESCAPE: "quit"}
        if symbol in names:
            self.press(names[symbol])
            return True  # handled: pyglet's default ESC-closes-window stays out of it
        return False

    def press(self, action: str) -> None:
        """Do what a key does: pause, back, forward, faster, slower, loop, reload, hud,
        mood, quit."""
        clock = self.clock
        self.notice = ""
        if self.live and action in ("back", "forward", "faster", "slower", "loop"):
            self.notice = "live input: no seek, speed or loop"
        elif action == "pause":
            clock.toggle_pause()
        elif action in ("back", "forward"):
            clock.seek(clock.now() + (SEEK_S if action == "forward" else -SEEK_S))
        elif action in ("faster", "slower"):
            i = min(range(len(SPEEDS)), key=lambda j: abs(SPEEDS[j] - clock.speed))
            i = min(len(SPEEDS) - 1, i + 1) if action == "faster" else max(0, i - 1)
            clock.set_speed(SPEEDS[i])
        elif action == "loop":
            clock.loop = not clock.loop
        elif action == "reload":
            self.shader_watch.poll(force=True)
            self._swap_show(force=True)
        elif action == "hud":
            self.hud = not self.hud
        elif action == "mood":
            self.save_mood()
        elif action == "quit":
            self.quit = True

    # -- the loop -------------------------------------------------------------------------
    def _chunks(self, t: float) -> dict[str, Chunk]:
        if self.live:
            return {key: inp.poll() for key, inp in self.inputs.items()}
        reloaded, self._reloaded = self._reloaded, False
        # A reload can take longer than a second of playback; that is not a seek.
        if t < self._last_t - 1e-9 or (t > self._last_t + 1.0 and not reloaded):
            # A jump (seek, loop): features restart from a warm-up before t long enough to
            # re-learn the visitor's baseline too, so the piece shows what that moment of the
            # recording really drove.
            self.pipeline.reset_sensing({key: make_extractor(key, spec)
                                         for key, spec in self.show.streams.items()
                                         if key in self.streams})
            warm = max(0.0, t - WARMUP_S - self.show.visitor.baseline_s
                       - self.show.visitor.arrive_s)
            self.source.seek(warm)
            while warm + 0.1 < t:
                warm += 0.1
                self.pipeline.extract(dict(zip(self.keys, self.source.read_until(warm),
                                               strict=True)), warm)
        self._last_t = t
        return dict(zip(self.keys, self.source.read_until(t), strict=True))

    def step(self) -> Frame:
        """Render and present one frame; returns what was presented."""
        self.shader_watch.poll()
        self._swap_show()
        t = pylsl.local_clock() if self.live else self.clock.now()
        chunks = self._chunks(t)
        if self.live and self.clock.paused and self.last_step is not None:
            # Frozen picture; the features keep up with the body underneath.
            self.pipeline.extract(chunks, t)
            self.window.present(self._last_presented)
            self._frame_times.append(time.perf_counter())
            return self._last_presented
        if self.osc is not None:
            step = self.pipeline.step(chunks, t, self.index, adjust=self.osc.apply)
            self.osc.send(step.features, step.controls)
        else:
            step = self.pipeline.step(chunks, t, self.index)
        self.last_step = step
        plotted = dict(step.controls.values)
        for mapping in self.show.mappings:  # the features the piece listens to, as received
            source = step.features.get(mapping.stream)
            value = None if source is None else source.values.get(mapping.feature_name)
            if value is not None and np.isfinite(value):
                plotted[mapping.feature] = float(value)
        self._history.append((t, plotted))
        frame = step.frame
        error = self.shader_watch.error or self.show_watch.error or self.error
        if self.hud:
            frame = self._draw_hud(frame, step)
        if error:
            frame = draw_error(frame, error)
        self.window.present(frame)
        self._last_presented = frame
        self._frame_times.append(time.perf_counter())
        self.index += 1
        return frame

    def run(self) -> int:
        began = time.perf_counter()
        period = 1.0 / self.show.output.fps
        try:
            while not (self.quit or self.window.closed):
                tick = time.perf_counter()
                limit = self.options.max_seconds
                if limit is not None and tick - began > limit:
                    break
                self.step()
                delay = period - (time.perf_counter() - tick)
                if delay > 0:
                    time.sleep(delay)
        finally:
            self.close()
        return 0

    def close(self) -> None:
        if self.osc is not None:
            self.osc.close()
            self.osc = None
        for inp in self.inputs.values():
            inp.close()
        self.inputs = {}
        self.pipeline.release()
        self.window.close()

    # -- reload and moods -----------------------------------------------------------------
    def _swap_show(self, force: bool = False) -> None:
        show = self.show_watch.poll()
        if show is None and force:
            try:
                from installation.show import load_show

                show = load_show(self.show.path)
            except UserError as error:
                self.error = str(error)
                return
        if show is None:
            return
        try:
            pipeline = Pipeline(show, self.window.ctx, self.show.output.size, show.output.fps)
        except UserError as error:  # e.g. a uniform the shader lacks: keep the running show
            self.error = str(error)
            return
        # Keep the features' history (and the visitor's baseline) where nothing changed.
        pipeline.adopt_sensing(self.pipeline)
        if self.live:  # live inputs follow the edited [streams] (new pins, new streams)
            for key in set(self.inputs) | set(show.streams):
                if show.streams.get(key) != self.show.streams.get(key):
                    if key in self.inputs:
                        self.inputs.pop(key).close()
                    if key in show.streams:
                        self.inputs[key] = LslInput(key, show.streams[key]).start()
            self.keys = list(show.streams)
        self.pipeline.release()
        self.pipeline, self.show, self.error = pipeline, show, None
        self._reloaded = True
        self.shader_watch = ShaderWatcher(self.pipeline.renderer)
        _log.info("reloaded %s", show.path)

    def set_prompt(self, name: str, text: str) -> None:
        """``/prompt NAME "text"`` (OSC thread): the generator paints it from its next image."""
        set_prompt = getattr(self.pipeline.generator, "set_prompt", None)
        if set_prompt is None:
            self.notice = "/prompt: this show's generator takes no prompts"
            return
        try:
            set_prompt(name, text)
        except KeyError as error:
            self.notice = f"/prompt: {error.args[0]}"
        else:
            self.notice = f"prompt {name}: {text[:40]!r}"

    def save_mood(self) -> Path | None:
        """Save the generator's current latent as ``moods/mood-N.npy`` beside the show and
        append a ``[[moods]]`` entry that uses it; returns the file."""
        latent = getattr(self.pipeline.generator, "latent", None)
        if latent is None:
            self.error = "this generator exposes no latent to save"
            return None
        folder = self.show.path.parent / "moods"
        folder.mkdir(exist_ok=True)
        n = len(list(folder.glob("mood-*.npy"))) + 1
        path = folder / f"mood-{n}.npy"
        np.save(path, latent.cpu().float().numpy().astype(np.float32))
        # Place the mood where the body is now, in the walk's own coordinates.
        spec = self.show.generator
        controls = self.last_step.controls if self.last_step is not None else None
        calm = controls.get(spec.mood_control, 0.5) if controls else 0.5
        arousal = controls.get(spec.energy_control, 0.3) if controls else 0.3
        # diffusion (issue 12): the prompt blend is saved beside the latent, as its embedding.
        save_blend = getattr(self.pipeline.generator, "save_blend", None)
        blend = save_blend(folder / f"mood-{n}.prompt.safetensors") if save_blend else ""
        with self.show.path.open("a") as handle:
            handle.write(
                f'\n[[moods]]  # saved in rehearsal at t={self.clock.now():.1f} s\n'
                f'name = "mood-{n}"\nlatent = "moods/{path.name}"\n'
                f"position = [{calm:.3f}, {arousal:.3f}]\n{blend}"
            )
        self.saved_moods.append(path)
        return path

    # -- HUD ------------------------------------------------------------------------------
    def _draw_hud(self, frame: Frame, step: Step) -> Frame:
        image = Image.fromarray(frame.pixels)
        draw = ImageDraw.Draw(image, "RGBA")
        font = ImageFont.load_default()
        fps = 0.0
        if len(self._frame_times) > 1:
            fps = (len(self._frame_times) - 1) / (self._frame_times[-1] - self._frame_times[0])
        if self.recording is None:
            where = f"LIVE  {step.mode}{'  FROZEN' if self.clock.paused else ''}  {fps:4.1f} fps"
        else:
            state = "PAUSED" if self.clock.paused else "playing"
            where = (f"{self.clock.now():6.1f}/{self.recording.duration:.1f} s  "
                     f"x{self.clock.speed:g}  {state}{'  loop' if self.clock.loop else ''}  "
                     f"{fps:4.1f} fps")
        lines = [where, "  ".join(f"{k}:{f.status.value}" for k, f in step.features.items())]
        hud_line = getattr(self.pipeline.generator, "hud_line", None)  # diffusion (issue 12)
        if hud_line is not None and hud_line():
            lines.append(hud_line())
        if self.notice:
            lines.append(self.notice)
        # Controls, then the features the mappings read (e.g. ecg.heart_rate), each with a
        # sparkline of its recent history.
        names = list(step.controls.values) + sorted(
            {m.feature for m in self.show.mappings} - set(step.controls.values))
        height = 14 * len(lines) + 16 * len(names) + 8
        draw.rectangle((0, 0, 270, height), fill=(0, 0, 0, 150))
        for i, line in enumerate(lines):
            draw.text((4, 3 + 14 * i), line, fill=(255, 255, 255), font=font)
        top = 14 * len(lines) + 4
        history = list(self._history)[-200:]
        for j, name in enumerate(names):
            y0 = top + 16 * j
            now = history[-1][1].get(name) if history else None
            label = f"{name[-14:]:14s} {now:7.2f}" if now is not None else f"{name[-14:]:14s}    --"
            draw.text((4, y0), label, fill=(220, 220, 220), font=font)
            values = [h[name] for _, h in history if name in h]
            if len(values) > 1:
                lo, hi = min(values), max(values)
                span = hi - lo if hi > lo else 1.0
                points = [(145 + 120 * k / (len(values) - 1), y0 + 12 - 11 * (v - lo) / span)
                          for k, v in enumerate(values)]
                draw.line(points, fill=(120, 220, 255), width=1)
        return Frame(index=frame.index, t=frame.t, pixels=np.asarray(image))
