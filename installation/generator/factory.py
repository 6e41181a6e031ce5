"""Build the generator a show asks for: model (cppn | torchscript | vae) + walk (moods or not)."""

from __future__ import annotations

from dataclasses import replace

import torch

from installation.generator.device import inference_dtype, pick_device
from installation.generator.latent_walk import LatentWalk
from installation.generator.models import BatchImage, load_torchscript, load_vae
from installation.generator.moods import Encoder, MoodWalk, resolve_anchors
from installation.generator.stage import CppnImage, ImageModel, LatentGenerator, Walk
from installation.show import GeneratorSpec, MoodSpec, Show


def make_walk(spec: GeneratorSpec, moods: tuple[MoodSpec, ...], latent_dim: int,
              encoder: Encoder | None = None) -> Walk:
    """The mood walk when the show declares moods, else the default two-anchor walk."""
    spec = replace(spec, latent_dim=latent_dim)
    if not moods:
        return LatentWalk(spec)
    return MoodWalk(spec, moods, resolve_anchors(moods, latent_dim, encoder))


def make_generator(show: Show, device: str | None = None, buffers: int = 2) -> LatentGenerator:
    """The show's generator stage on ``device`` (``None``: CUDA, then MPS, then CPU).

    Raises
    ------
    ModelError
        The model file is missing, corrupt, incompatible or breaks the contract.
    """
    spec = show.generator
    dev = pick_device(device)
    dtype = inference_dtype(dev)
    encoder: Encoder | None = None
    model: ImageModel | None = None
    if spec.model == "cppn":
        model = CppnImage(spec, dev, dtype)
    elif spec.model == "torchscript":
        assert spec.path is not None  # GeneratorSpec refuses a model file-less torchscript
        module = load_torchscript(spec.path, spec.latent_dim, spec.output_range == "-1..1")
        # Artists' modules may not be half-safe; they run in float32 everywhere.
        dtype = torch.float32
        model = BatchImage(module.to(dev), spec.latent_dim, spec.size,
                           signed=spec.output_range == "-1..1")
    elif spec.model == "vae":
        assert spec.path is not None
        decoder, latent_dim, encoder, _ = load_vae(spec.path)
        model = BatchImage(decoder.to(dev, dtype), latent_dim, spec.size)
    # -- diffusion (issue 12): TEMPORARY hook until the generator chain is on main; see
    # installation/generator/diffusion/adapter.py for what moves into the chain.
    if spec.model == "diffusion" or show.diffusion.repaint:
        from installation.generator.diffusion.adapter import make_diffusion_generator

        return make_diffusion_generator(show, model, encoder, dev, dtype, buffers)
    assert model is not None
    walk = make_walk(spec, show.moods, model.latent_dim, encoder)
    return LatentGenerator(model, walk, spec.size, dev, dtype, buffers=buffers)
