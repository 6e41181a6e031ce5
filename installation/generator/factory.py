"""Build the chain a show asks for: walk + source (``[generator] model``) + image stages."""

from __future__ import annotations

from dataclasses import replace

from installation.generator.chain import GeneratorChain
from installation.generator.device import inference_dtype, pick_device
from installation.generator.latent_walk import LatentWalk
from installation.generator.moods import Encoder, MoodWalk, resolve_anchors
from installation.generator.sources import make_source
from installation.generator.stage import Walk
from installation.show import GeneratorSpec, MoodSpec, Show


def make_walk(spec: GeneratorSpec, moods: tuple[MoodSpec, ...], latent_dim: int,
              encoder: Encoder | None = None) -> Walk:
    """The mood walk when the show declares moods, else the default two-anchor walk."""
    spec = replace(spec, latent_dim=latent_dim)
    if not moods:
        return LatentWalk(spec)
    return MoodWalk(spec, moods, resolve_anchors(moods, latent_dim, encoder))


def make_generator(show: Show, device: str | None = None, buffers: int = 2) -> GeneratorChain:
    """The show's generator chain on ``device`` (``None``: CUDA, then MPS, then CPU).

    Raises
    ------
    ModelError
        A model file is missing, corrupt, incompatible or breaks its contract.
    ShowError
        A stage cannot be built for this show (e.g. a dream with no network to dream on).
    """
    spec = show.generator
    dev = pick_device(device)
    source = make_source(spec, dev, inference_dtype(dev))
    walk = make_walk(spec, show.moods, source.model.latent_dim, source.encoder)
    stages = []
    if any(s.enabled for s in spec.stages):
        from installation.generator.stages import make_stage

        stages = [make_stage(s, show, dev, source.dtype) for s in spec.stages if s.enabled]
    return GeneratorChain(source.model, walk, spec.size, dev, source.dtype, buffers=buffers,
                          stages=stages)
