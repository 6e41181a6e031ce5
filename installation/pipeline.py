"""The engine's middle, shared by every mode: chunks in, one rendered frame out.

``Pipeline.step`` runs extract -> map -> (generate) -> render in lock-step. Modes own the
ends: where chunks come from (recording, LSL), what clock drives them, and where frames go.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import moderngl

from installation.features.cardiac import CardiacExtractor, CardiacSettings
from installation.features.eeg import EegExtractor, EegSettings
from installation.generator.stage import CppnGenerator
from installation.mapping import Mapper
from installation.messages import Chunk, Controls, Features, Frame, GeneratedImage
from installation.render.passes import PassSpec, Renderer
from installation.show import Show, StreamSpec


@dataclass(frozen=True)
class Step:
    """Everything one step produced, for sinks, exports and tests."""

    frame: Frame
    controls: Controls
    features: Mapping[str, Features]
    generated: GeneratedImage | None  # the new generator image, if one was made this step


def make_extractor(key: str, spec: StreamSpec) -> CardiacExtractor | EegExtractor:
    """The feature extractor for a show stream, chosen by its type."""
    kind = spec.type.upper()
    if kind == "ECG":
        return CardiacExtractor(CardiacSettings(channel=spec.channel), stream=key)
    if kind == "EEG":
        return EegExtractor(EegSettings(), stream=key)
    raise ValueError(f"no extractor for stream type {spec.type!r}")  # show.py refuses these


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
    """

    def __init__(
        self, show: Show, ctx: moderngl.Context, size: tuple[int, int], fps: float,
        device: str | None = None,
    ) -> None:
        self.show = show
        self.fps = fps
        self.extractors = {key: make_extractor(key, spec) for key, spec in show.streams.items()}
        self.mapper = Mapper(show.mappings)
        self.generator = CppnGenerator(show.generator, device=device)
        passes = [PassSpec(shader=p.shader, uniforms=dict(p.uniforms)) for p in show.passes]
        self.renderer = Renderer(ctx, passes, size=size, gen_size=show.generator.size)
        self._gen_period = 1.0 / show.generator.rate
        self._gen_count = 0
        self._latest_t: float | None = None
        self._features: dict[str, Features] = {}

    def extract(self, chunks: Mapping[str, Chunk]) -> dict[str, Features]:
        """Feed each stream's chunk to its extractor; returns the latest features."""
        for key, chunk in chunks.items():
            self._features[key] = self.extractors[key](chunk)
        return dict(self._features)

    def step(self, chunks: Mapping[str, Chunk], t: float, index: int) -> Step:
        """Advance the whole pipeline to engine time ``t`` and render frame ``index``."""
        features = self.extract(chunks)
        controls = self.mapper(features, t)
        generated = None
        # The generator's own schedule is computed from its image count, not accumulated, so
        # which frames get a new image depends only on t (deterministic at any output fps).
        if self._latest_t is None or t + 1e-9 >= self._gen_count * self._gen_period:
            generated = self.generator(controls)
            self.renderer.upload(generated)
            self._latest_t = t
            self._gen_count = math.floor(t / self._gen_period + 1e-9) + 1
        mix = min(1.0, max(0.0, (t - self._latest_t) / self._gen_period))
        frame = self.renderer.render(t=t, frame_mix=mix, controls=controls.values, index=index)
        return Step(frame=frame, controls=controls, features=features, generated=generated)

    def release(self) -> None:
        self.renderer.release()
