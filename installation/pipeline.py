"""The engine's middle, shared by every mode: chunks in, one rendered frame out.

``Pipeline.step`` runs extract -> map -> (generate) -> render in lock-step. Modes own the
ends: where chunks come from (recording, LSL), what clock drives them, and where frames go.
Visitor presence and the visitor's state (baseline calibration, ``state.calm``...) are
decided here too, by the same code in every mode. When a visitor leaves, the extractors start
afresh, so no history of theirs (HRV windows, filters) reaches the next visitor's baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import moderngl

from installation.generation import GenerationPolicy, LockStepGeneration
from installation.generator.factory import make_generator
from installation.messages import Chunk, Controls, Features, Frame, GeneratedImage
from installation.pipeline_latency import PipelineLatency
from installation.render.passes import Renderer
from installation.safety.limiter import FlashLimiter
from installation.sensing import (
    FEATURE_HISTORY_S,
    Sensing,
    SensingState,
    make_extractor,
    make_visitor_state,
)
from installation.show import Show, pass_specs

__all__ = ["FEATURE_HISTORY_S", "Pipeline", "SensingState", "Step", "make_extractor",
           "make_visitor_state"]


@dataclass(frozen=True)
class Step:
    """Everything one step produced, for sinks, exports and tests."""

    frame: Frame
    controls: Controls
    features: Mapping[str, Features]
    generated: GeneratedImage | None  # the new generator image, if one was made this step
    mode: str = "idle"  # presence: "idle" or "visitor"
    chunks: Mapping[str, Chunk] = field(default_factory=dict)  # what the streams delivered


class Pipeline(Sensing):
    """Extract -> map -> generate -> render, one frame per :meth:`step`.

    Parameters
    ----------
    show
        The loaded show.
    ctx
        A moderngl context, current on this thread (GL stays on one thread).
    size, fps
        Output size and frame rate. The generator runs at ``show.generator.rate`` within it,
        and the renderer crossfades between its last two images.
    device
        Torch device for the generator (``None``: automatic).
    generation
        When the generator runs (:mod:`installation.generation`): in lock-step
        (:class:`~installation.generation.LockStepGeneration`, replay and rehearsal, for
        determinism) or in a worker thread that the display never waits for
        (:class:`~installation.generation.LiveGeneration`, the gallery).
    latency_s
        From a frame's engine time to its presentation, for ``at_s`` mappings.
    latency
        That figure measured live (gallery, rehearsal; the runtime loop feeds it): replaces
        ``latency_s``. It outlives the pipeline (a rehearsal reload builds a new one).
    pass_budget
        Apply ``[output] pass_budget_s`` (gallery, rehearsal). Replay turns it off: the
        budget is wall time, and a replay must not depend on how loaded the machine is.
    """

    def __init__(
        self, show: Show, ctx: moderngl.Context, size: tuple[int, int], fps: float,
        device: str | None = None, generation: GenerationPolicy = LockStepGeneration,
        latency_s: float = 0.0, pass_budget: bool = True,
        latency: PipelineLatency | None = None,
    ) -> None:
        super().__init__(show, latency_s=latency_s, latency=latency)
        self.fps = fps
        self.generator = make_generator(show, device=device, buffers=generation.buffers)
        self.generation = generation(self.generator, show.generator.rate)
        self.renderer = Renderer(ctx, pass_specs(show), size=size, gen_size=show.generator.size,
                                 pass_budget_s=show.output.pass_budget_s if pass_budget
                                 else None)
        # Safety is the last stage: [safety] flash_limit = false is for analysis only.
        self.limiter = FlashLimiter() if show.safety.flash_limit else None
        self._gen_period = 1.0 / show.generator.rate

    def reset_sensing(self) -> None:
        """Start sensing afresh (a rehearsal seek), and forget the generator's own state (a
        dream's previous image, a grown colony) too.

        Only called from the loop thread with lock-step generation (rehearsal), where no
        worker can be generating at the same time."""
        super().reset_sensing()
        self.generator.reset()

    def step(
        self, chunks: Mapping[str, Chunk], t: float, index: int,
        adjust: Callable[[Controls], Controls] | None = None,
    ) -> Step:
        """Advance the whole pipeline to engine time ``t`` and render frame ``index``.

        ``adjust``, if given, may change the controls after mapping (e.g. OSC overrides).
        """
        features = self.extract(chunks, t)
        controls = self.mapper(features, t)
        if adjust is not None:
            controls = adjust(controls)
        return self.present(controls, t, index, features, chunks)

    def present(self, controls: Controls, t: float, index: int,
                features: Mapping[str, Features] | None = None,
                chunks: Mapping[str, Chunk] | None = None) -> Step:
        """Generate (on the policy's schedule) and render frame ``index`` from ``controls``
        at engine time ``t``: the second half of :meth:`step`, and all a render node does
        with the controls it receives from a sensing node."""
        generated = self.generation(controls, t)
        if generated is not None:
            self.renderer.upload(generated)
        shown_at = self.generation.shown_at if self.generation.shown_at is not None else t
        mix = min(1.0, max(0.0, (t - shown_at) / self._gen_period))
        frame = self.renderer.render(t=t, frame_mix=mix, controls=controls.values, index=index)
        if self.limiter is not None:
            frame = self.limiter(frame)
        return Step(frame=frame, controls=controls, features=features or {}, generated=generated,
                    mode=self.presence.mode, chunks=chunks or {})

    @property
    def generator_restarts(self) -> int:
        """How often the live generator thread died and was restarted."""
        return self.generation.restarts

    def release(self) -> None:
        self.generation.release()
        self.renderer.release()
