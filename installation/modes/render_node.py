"""``installation render SHOW --tile COL,ROW/COLS,ROWS``: one projector of a multi-machine show.

Follows the sensing node's ``Controls`` stream (pinned ``source_id``,
:mod:`installation.distributed`) and renders, at every frame, the newest sample that is at
least ``delay_s`` old on this machine's LSL clock: every node picks the same sample at the
same moment, and renders it at the sample's own show time ``_t``, with the generator's model
run on the latent the sample carries. The whole canvas is rendered and the node shows its
tile (plus ``overlap`` pixels for an edge blend): multi-pass shaders that sample their
neighbours stay seamless across tiles, which a per-tile viewport would break. Passes with
feedback and the flash limiter depend on the frames before, so a node renders every sample in
order (showing only the newest); a node that (re)joins converges to the others' pictures as
the feedback decays.

When the sensing node is lost (no sample for ``lost_s``), the node goes on: show time runs on
from the last sample on the local clock, so the shaders keep moving, and every control fades
to its mapping's idle value (``[idle] controls`` over them) with the mapping's
``idle_fade_s``, as the gallery does when a sensor drops. It follows the node again as soon
as samples return (the inlet re-resolves every 0.5 s).
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from installation.clock import LslClock
from installation.distributed import (
    ControlsLayout,
    RemoteControls,
    RemoteSample,
    TileSpec,
    controls_source_id,
    show_controls,
)
from installation.messages import Controls, Frame, GeneratedImage
from installation.show import Show

_log = logging.getLogger(__name__)
CATCH_UP = 8  # samples a node renders unseen per frame to keep its frame history complete


@dataclass(frozen=True)
class RenderOptions:
    tile: TileSpec
    offscreen: bool = False  # EGL, no window (tests, benchmarks)
    delay_s: float = 0.1  # a sample is shown this long after its time stamp, on every node
    lost_s: float = 1.0
    frames_log: Path | None = None  # CSV: index, seq, show time, status, presented (LSL);
    # status "unseen": a sample rendered only to keep the frame history (not shown)
    dump_dir: Path | None = None  # PNG of the tile (named by show time) every dump_every samples
    dump_every: int = 0
    max_seconds: float | None = None


class _RemoteWalk:
    """Stands in for the generator's walk: the latent is the sensing node's."""

    def __init__(self, latent_dim: int) -> None:
        import torch

        self.z = torch.zeros(latent_dim)

    def __call__(self, controls: Controls):
        return self.z


class RemoteGeneration:
    """Generation policy of a render node: a new image exactly when the sensing node made
    one, from its latent, shown from its time (so the crossfade matches on every node)."""

    buffers: ClassVar[int] = 2

    def __init__(self, generator, rate: float) -> None:
        self.generator = generator
        self.walk = _RemoteWalk(int(generator.latent.numel()))
        generator.walk = self.walk
        self.shown_at: float | None = None
        self.restarts = 0
        self._want: RemoteSample | None = None
        self._shown = -1
        self.upload: Callable[[GeneratedImage], None] | None = None  # the renderer's

    def follow(self, sample: RemoteSample) -> None:
        self._want = sample

    def __call__(self, controls: Controls, t: float) -> GeneratedImage | None:
        want = self._want
        if want is None or want.image == self._shown or want.image < 0:
            return None
        import torch

        if want.image != self._shown + 1 and self.upload is not None:
            # This node missed the image before: make it, so the crossfade blends the same
            # pair of images as on every other node.
            self.walk.z = torch.from_numpy(want.z_prev.astype(np.float32))
            self.upload(self.generator(controls))
        self.walk.z = torch.from_numpy(want.z.astype(np.float32))
        image = self.generator(controls)
        self._shown, self.shown_at = want.image, want.image_t
        return image

    def release(self) -> None:
        """Nothing runs in the background."""


class _IdleFade:
    """Controls fading from the last received values to the show's idle values."""

    def __init__(self, show: Show) -> None:
        self.idle: dict[str, float] = {}
        self.tau: dict[str, float] = {}
        for m in show.mappings:
            self.idle[m.control], self.tau[m.control] = m.idle, m.idle_fade_s
        self.idle.update(show.idle.controls)

    def __call__(self, last: Controls | None, since: float, t: float) -> Controls:
        values = {}
        names = set(self.idle) | (set(last.values) if last else set())
        for name in names:
            idle = self.idle.get(name, 0.0)
            start = last.get(name, idle) if last is not None else idle
            tau = self.tau.get(name, 2.0)
            w = math.exp(-max(since, 0.0) / tau) if tau > 0 else 0.0
            values[name] = idle + (start - idle) * w
        return Controls(t=t, values=values)


def run_render(show: Show, options: RenderOptions) -> int:
    """Render this node's tile until the window closes, SIGTERM, or ``max_seconds``."""
    from installation.modes.kiosk import StopSignal
    from installation.pipeline import Pipeline

    size = show.output.size
    x0, y0, x1, y1 = options.tile.box(size)
    clock = LslClock(show.output.fps)
    stop = StopSignal()
    with contextlib.ExitStack() as stack:
        window = None
        if options.offscreen:
            from installation.render.gl_context import create_offscreen_context

            ctx = create_offscreen_context()
        else:
            from installation.render.window import ShowWindow, WindowSettings

            window = stack.enter_context(ShowWindow(WindowSettings(
                size=(x1 - x0, y1 - y0), screen=show.output.screen,
                fullscreen=show.output.fullscreen, vsync=show.output.vsync),
                title=f"{show.meta.title} {options.tile.col},{options.tile.row}"))
            ctx = window.ctx
        pipeline = Pipeline(show, ctx, size, show.output.fps, device="cpu",
                            generation=RemoteGeneration)
        stack.callback(pipeline.release)
        generation = pipeline.generation
        assert isinstance(generation, RemoteGeneration)
        generation.upload = pipeline.renderer.upload
        layout = ControlsLayout(show_controls(show), generation.walk.z.numel())
        remote = RemoteControls(controls_source_id(show), layout, options.lost_s)
        stack.callback(remote.close)
        fade = _IdleFade(show)
        log_file = stack.enter_context(options.frames_log.open("w", newline="", buffering=1)) \
            if options.frames_log else None
        writer = csv.writer(log_file) if log_file else None
        if writer:
            writer.writerow(["index", "seq", "show_t", "status", "presented"])
        if options.dump_dir:
            options.dump_dir.mkdir(parents=True, exist_ok=True)
        pending: deque[RemoteSample] = deque(maxlen=256)
        last: RemoteSample | None = None
        last_local = clock.now()
        lost_since: float | None = None
        start, index, shown_seq = clock.now(), 0, -1
        frame: Frame | None = None
        print(f"render: tile {options.tile} following {controls_source_id(show)}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while stop.running() and (window is None or not window.closed):
                now = clock.now()
                if options.max_seconds is not None and now - start >= options.max_seconds:
                    break
                pending.extend(remote.poll(now))
                due: list[RemoteSample] = []
                while pending and pending[0].stamp <= now - options.delay_s:
                    due.append(pending.popleft())
                # Passes with feedback (u_feedback) and the flash limiter remember the frames
                # before: render every sample, in order, so each node's history is the same;
                # only the newest is shown. A node far behind skips: short memories (trails)
                # converge again, a state kept for good (a Gray-Scott garden) need not.
                for sample in due[-CATCH_UP - 1 : -1]:
                    generation.follow(sample)
                    pipeline.present(sample.controls, sample.t, sample.seq)
                    if writer:
                        writer.writerow([index, sample.seq, f"{sample.t:.6f}", "unseen",
                                         f"{clock.now():.6f}"])
                chosen = due[-1] if due else None
                if remote.lost(now):
                    if lost_since is None:
                        lost_since = now
                        if last is not None:
                            _log.warning("sensing node lost: fading to idle")
                    t = (last.t if last else 0.0) + (now - last_local)
                    controls = fade(last.controls if last else None, now - lost_since, t)
                    status, seq = ("lost" if last else "waiting"), -1
                else:
                    if chosen is not None:
                        if lost_since is not None:
                            _log.info("sensing node back")
                        lost_since, last, last_local = None, chosen, now
                        generation.follow(chosen)
                    if last is None:
                        t, controls, status, seq = now, fade(None, 0.0, now), "waiting", -1
                    elif chosen is None:
                        # No new sample yet: the picture stays (a frame of our own would
                        # enter the feedback history and part this node from the others).
                        if window is not None and frame is not None:
                            window.present(frame)
                        clock.tick()
                        continue
                    else:
                        t, controls, status, seq = chosen.t, chosen.controls, "ok", chosen.seq
                step = pipeline.present(controls, t, seq if seq >= 0 else index)
                tile = step.frame.pixels[y0:y1, x0:x1]
                frame = Frame(index=index, t=t, pixels=np.ascontiguousarray(tile))
                if window is not None:
                    window.present(frame)
                presented = clock.now()
                if writer:
                    writer.writerow([index, seq, f"{t:.6f}", status, f"{presented:.6f}"])
                if (options.dump_dir and options.dump_every and seq >= 0
                        and seq != shown_seq and seq % options.dump_every == 0):
                    from PIL import Image

                    # Named by show time: sequence numbers start again with a new sensing node.
                    Image.fromarray(frame.pixels).save(options.dump_dir / f"t{t:.6f}.png")
                shown_seq = seq if seq >= 0 else shown_seq
                index += 1
                clock.tick()
    return 0
