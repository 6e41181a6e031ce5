"""The engine's middle, shared by every mode: chunks in, one rendered frame out.

``Pipeline.step`` runs extract -> map -> (generate) -> render in lock-step. Modes own the
ends: where chunks come from (recording, LSL), what clock drives them, and where frames go.
Visitor presence and the visitor's state (baseline calibration, ``state.calm``...) are
decided here too, by the same code in every mode. When a visitor leaves, the extractors start
afresh, so no history of theirs (HRV windows, filters) reaches the next visitor's baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import moderngl

from installation.features.registry import FeatureExtractor, make_feature_extractor
from installation.features.state import StateSettings, VisitorState
from installation.generation import GenerationPolicy, LockStepGeneration
from installation.generator.factory import make_generator
from installation.mapping import Mapper
from installation.messages import Chunk, Controls, Features, Frame, GeneratedImage, Status
from installation.presence import VISITOR, Presence, worn
from installation.render.passes import PassSpec, Renderer
from installation.safety.limiter import FlashLimiter
from installation.show import STATE_STREAM, Show, StreamSpec, VisitorSpec

FEATURE_HISTORY_S = 5.0  # what the slowest extractor windows need to be full again


@dataclass(frozen=True)
class Step:
    """Everything one step produced, for sinks, exports and tests."""

    frame: Frame
    controls: Controls
    features: Mapping[str, Features]
    generated: GeneratedImage | None  # the new generator image, if one was made this step
    mode: str = "idle"  # presence: "idle" or "visitor"


@dataclass(frozen=True)
class SensingState:
    """What a pipeline has learnt about the streams and the visitor, handed to the next
    pipeline on a show reload (:meth:`Pipeline.adopt_sensing`)."""

    streams: Mapping[str, StreamSpec]
    visitor: VisitorSpec
    extractors: Mapping[str, FeatureExtractor]
    features: Mapping[str, Features]
    chunk_status: Mapping[str, Status]
    presence: Presence
    visitor_state: VisitorState


def make_extractor(key: str, spec: StreamSpec) -> FeatureExtractor:
    """The feature extractor for a show stream, chosen by its type."""
    return make_feature_extractor(spec.type, key, spec.channel)


def make_visitor_state(show: Show) -> VisitorState:
    """The show's ``[visitor]`` calibration and composites, fed by its streams."""
    v = show.visitor
    return VisitorState(StateSettings(
        baseline_s=v.baseline_s, adapt_tau_s=v.adapt_tau_s, smooth_tau_s=v.smooth_tau_s,
        gain=v.gain, sources=show.state_sources(),
    ))


class Pipeline:
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
    """

    def __init__(
        self, show: Show, ctx: moderngl.Context, size: tuple[int, int], fps: float,
        device: str | None = None, generation: GenerationPolicy = LockStepGeneration,
        latency_s: float = 0.0,
    ) -> None:
        self.show = show
        self.fps = fps
        self.extractors = {key: make_extractor(key, spec) for key, spec in show.streams.items()}
        self.mapper = Mapper(show.mappings, idle=show.idle, latency_s=latency_s)
        required = tuple(key for key, spec in show.streams.items() if spec.required)
        self.presence = Presence(required, show.visitor.arrive_s, show.visitor.leave_s)
        self.visitor_state = make_visitor_state(show)
        self._chunk_status: dict[str, Status] = {}
        self._stale_since: dict[str, float] = {}
        self.generator = make_generator(show, device=device, buffers=generation.buffers)
        self.generation = generation(self.generator, show.generator.rate)
        passes = [PassSpec(shader=p.shader, uniforms=dict(p.uniforms)) for p in show.passes]
        self.renderer = Renderer(ctx, passes, size=size, gen_size=show.generator.size)
        # Safety is the last stage: [safety] flash_limit = false is for analysis only.
        self.limiter = FlashLimiter() if show.safety.flash_limit else None
        self._gen_period = 1.0 / show.generator.rate
        self._features: dict[str, Features] = {}

    def extract(self, chunks: Mapping[str, Chunk], t: float) -> dict[str, Features]:
        """Feed each stream's chunk to its extractor, then update presence and the state.

        Returns
        -------
        dict
            The latest features of every stream that has delivered, plus ``"state"``: the
            visitor's state while one is present, ``lost`` ("nobody here") otherwise.
        """
        for key, chunk in chunks.items():
            self._features[key] = self.extractors[key](chunk)
            self._chunk_status[key] = chunk.status
        features = dict(self._features)
        on = {}
        for key, f in features.items():
            if f.status is Status.STALE:
                self._stale_since.setdefault(key, t)
            else:
                self._stale_since.pop(key, None)
            stale_for = t - self._stale_since.get(key, t)
            on[key] = worn(self._chunk_status.get(key), f.status, stale_for)
        if self.presence.update(on, t):
            if self.presence.mode == VISITOR:
                self.visitor_state.reset()  # a new visitor: learn their baseline afresh
            else:  # they left: nothing of theirs may shape the next visitor's features
                self.extractors = {key: make_extractor(key, spec)
                                   for key, spec in self.show.streams.items()}
                self._features.clear()
                self._stale_since.clear()
        if self.presence.mode == VISITOR:
            features[STATE_STREAM] = self.visitor_state(features, t)
        else:
            features[STATE_STREAM] = Features(STATE_STREAM, t, {}, Status.LOST, "nobody here")
        return features

    @property
    def history_s(self) -> float:
        """Seconds of input the features and the visitor's baseline need behind a frame to
        be where a straight run would have them (what a rehearsal seek re-learns)."""
        v = self.show.visitor
        return FEATURE_HISTORY_S + v.baseline_s + v.arrive_s

    def sensing(self) -> SensingState:
        """What this pipeline has learnt of the streams and the visitor (for a reload)."""
        return SensingState(
            streams=dict(self.show.streams), visitor=self.show.visitor,
            extractors=dict(self.extractors), features=dict(self._features),
            chunk_status=dict(self._chunk_status), presence=self.presence,
            visitor_state=self.visitor_state,
        )

    def adopt_sensing(self, other: Pipeline | SensingState) -> None:
        """Carry the sensing state over from ``other`` (a show reload in rehearsal): the
        extractors of unchanged streams and, if the streams and ``[visitor]`` are unchanged,
        the visitor's presence and calibrated baseline, so saving show.toml does not make the
        visitor arrive and calibrate again."""
        state = other.sensing() if isinstance(other, Pipeline) else other
        same = {key for key in self.extractors
                if self.show.streams.get(key) == state.streams.get(key)}
        for key in same:
            self.extractors[key] = state.extractors[key]
            if key in state.features:
                self._features[key] = state.features[key]
                self._chunk_status[key] = state.chunk_status[key]
        if (same == set(self.extractors) == set(state.extractors)
                and self.show.visitor == state.visitor):
            self.presence, self.visitor_state = state.presence, state.visitor_state

    def reset_sensing(self) -> None:
        """Start sensing afresh (a rehearsal seek): new extractors, nobody present yet."""
        self.extractors = {key: make_extractor(key, spec)
                           for key, spec in self.show.streams.items()}
        self._features.clear()
        self._chunk_status.clear()
        self._stale_since.clear()
        self.presence = Presence(self.presence.required, self.presence.arrive_s,
                                 self.presence.leave_s)
        self.visitor_state.reset()

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
        generated = self.generation(controls, t)
        if generated is not None:
            self.renderer.upload(generated)
        shown_at = self.generation.shown_at if self.generation.shown_at is not None else t
        mix = min(1.0, max(0.0, (t - shown_at) / self._gen_period))
        frame = self.renderer.render(t=t, frame_mix=mix, controls=controls.values, index=index)
        if self.limiter is not None:
            frame = self.limiter(frame)
        return Step(frame=frame, controls=controls, features=features, generated=generated,
                    mode=self.presence.mode)

    @property
    def generator_restarts(self) -> int:
        """How often the live generator thread died and was restarted."""
        return self.generation.restarts

    def release(self) -> None:
        self.generation.release()
        self.renderer.release()
