"""The engine's middle, shared by every mode: chunks in, one rendered frame out.

``Pipeline.step`` runs extract -> map -> (generate) -> render in lock-step. Modes own the
ends: where chunks come from (recording, LSL), what clock drives them, and where frames go.
Visitor presence and the visitor's state (baseline calibration, ``state.calm``...) are
decided here too, by the same code in every mode. When a visitor leaves, the extractors start
afresh, so no history of theirs (HRV windows, filters) reaches the next visitor's baseline.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import moderngl

from installation.features.registry import FeatureExtractor, make_feature_extractor
from installation.features.state import StateSettings, VisitorState
from installation.generator.factory import make_generator
from installation.generator.worker import GeneratorWorker
from installation.mapping import Mapper
from installation.messages import Chunk, Controls, Features, Frame, GeneratedImage, Status
from installation.presence import VISITOR, Presence, worn
from installation.render.passes import Renderer
from installation.safety.limiter import FlashLimiter
from installation.show import STATE_STREAM, Show, StreamSpec, pass_specs

_log = logging.getLogger(__name__)
RESTART_BACKOFF_MAX_S = 60.0


@dataclass(frozen=True)
class Step:
    """Everything one step produced, for sinks, exports and tests."""

    frame: Frame
    controls: Controls
    features: Mapping[str, Features]
    generated: GeneratedImage | None  # the new generator image, if one was made this step
    mode: str = "idle"  # presence: "idle" or "visitor"


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
    live
        Run the generator in a worker thread (gallery): each step posts the controls and
        shows the newest image, never waiting for inference. Replay and rehearsal run it in
        lock-step instead, for determinism.
    """

    def __init__(
        self, show: Show, ctx: moderngl.Context, size: tuple[int, int], fps: float,
        device: str | None = None, live: bool = False,
    ) -> None:
        self.show = show
        self.fps = fps
        self.extractors = {key: make_extractor(key, spec) for key, spec in show.streams.items()}
        self.mapper = Mapper(show.mappings, idle=show.idle)
        required = tuple(key for key, spec in show.streams.items() if spec.required)
        self.presence = Presence(required, show.visitor.arrive_s, show.visitor.leave_s)
        self.visitor_state = make_visitor_state(show)
        self._chunk_status: dict[str, Status] = {}
        self._stale_since: dict[str, float] = {}
        self.generator = make_generator(show, device=device, buffers=3 if live else 2)
        self.worker = (GeneratorWorker(self.generator, show.generator.rate).start()
                       if live else None)
        self._shown_index = -1
        self._restarts = 0  # over the whole run, for the status file
        self._backoff = 0  # restarts in a row without a healthy minute between them
        self._restart_at = 0.0
        self.renderer = Renderer(ctx, pass_specs(show), size=size, gen_size=show.generator.size)
        # Safety is the last stage: [safety] flash_limit = false is for analysis only.
        self.limiter = FlashLimiter() if show.safety.flash_limit else None
        self._gen_period = 1.0 / show.generator.rate
        self._gen_count = 0
        self._latest_t: float | None = None
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

    def adopt_sensing(self, other: Pipeline) -> None:
        """Carry the sensing state over from ``other`` (a show reload in rehearsal): the
        extractors of unchanged streams and, if the streams and ``[visitor]`` are unchanged,
        the visitor's presence and calibrated baseline, so saving show.toml does not make the
        visitor arrive and calibrate again."""
        same = {key for key in self.extractors
                if self.show.streams.get(key) == other.show.streams.get(key)}
        for key in same:
            self.extractors[key] = other.extractors[key]
            if key in other._features:
                self._features[key] = other._features[key]
                self._chunk_status[key] = other._chunk_status[key]
        if (same == set(self.extractors) == set(other.extractors)
                and self.show.visitor == other.show.visitor):
            self.presence, self.visitor_state = other.presence, other.visitor_state

    def reset_sensing(self, extractors: Mapping[str, FeatureExtractor]) -> None:
        """Start sensing afresh (a rehearsal seek): new extractors, nobody present yet."""
        self.extractors.update(extractors)
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
        generated = None
        # The generator's own schedule is computed from its image count, not accumulated, so
        # which frames get a new image depends only on t (deterministic at any output fps).
        # Time going backwards (a rehearsal seek) restarts the schedule.
        due = self._latest_t is None or t < self._latest_t
        if self.worker is not None:
            image = self._live_image(controls)
            if image is not None and image.index != self._shown_index:
                generated = image
                self.renderer.upload(image)
                self._shown_index, self._latest_t = image.index, t
            if self._latest_t is None:  # nothing generated yet: keep the screen black
                self._latest_t = t
        elif due or t + 1e-9 >= self._gen_count * self._gen_period:
            generated = self.generator(controls)
            self.renderer.upload(generated)
            self._latest_t = t
            self._gen_count = math.floor(t / self._gen_period + 1e-9) + 1
        mix = min(1.0, max(0.0, (t - self._latest_t) / self._gen_period))
        frame = self.renderer.render(t=t, frame_mix=mix, controls=controls.values, index=index)
        if self.limiter is not None:
            frame = self.limiter(frame)
        return Step(frame=frame, controls=controls, features=features, generated=generated,
                    mode=self.presence.mode)

    def _live_image(self, controls: Controls) -> GeneratedImage | None:
        # A dead generator thread (a driver fault, out of GPU memory) must not freeze the
        # piece for the rest of the run: the shaders keep animating the last image while the
        # worker is restarted, at once the first time, then with a growing back-off.
        assert self.worker is not None
        try:
            self.worker.post(controls)
            image = self.worker.latest()
            if self._backoff and self.worker.produced >= 60 * self.show.generator.rate:
                self._backoff = 0  # a healthy minute since the last restart
            return image
        except RuntimeError as error:
            now = time.monotonic()
            if now < self._restart_at:
                return None
            self._restarts += 1
            self._backoff += 1
            self._restart_at = now + min(RESTART_BACKOFF_MAX_S, 2.0 ** (self._backoff - 1))
            _log.error("generator failed (%s); restarting it (restart %d)",
                       error.__cause__ or error, self._restarts)
            self.worker = GeneratorWorker(self.generator, self.show.generator.rate).start()
            return None

    @property
    def generator_restarts(self) -> int:
        """How often the live generator thread died and was restarted."""
        return self._restarts

    def release(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.renderer.release()
