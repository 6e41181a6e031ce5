"""The chain's sources (latent -> image), built from ``[generator] model`` by name.

Adding a source is one ``build(show, device, dtype) -> Source`` function and one line in
:data:`SOURCES` (plus the name in ``GeneratorSpec.model``; a test keeps the two in step).
Most sources read only ``show.generator``; the diffusion source also reads the moods'
prompts and ``[diffusion]``, and brings the walk of its own noise latent.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch

from installation.generator.chain import ImageModel, Walk
from installation.generator.moods import Encoder
from installation.show import Show


@dataclass(frozen=True)
class Source:
    """A built source: the model, the dtype it runs in, its image encoder if it has one, and
    its own walk if it has one (``None``: the show's mood walk over ``model.latent_dim``)."""

    model: ImageModel
    dtype: torch.dtype
    encoder: Encoder | None = None
    walk: Walk | None = None


def _cppn(show: Show, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.stage import CppnImage

    spec = show.generator
    return Source(CppnImage(spec, device, dtype), dtype)


def _torchscript(show: Show, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.models import BatchImage, load_torchscript

    spec = show.generator
    assert spec.path is not None  # GeneratorSpec refuses a model file-less torchscript
    signed = spec.output_range == "-1..1"
    module = load_torchscript(spec.path, spec.latent_dim, signed)
    # Artists' modules may not be half-safe; they run in float32 everywhere.
    return Source(BatchImage(module.to(device), spec.latent_dim, spec.size, signed=signed),
                  torch.float32)


def _onnx(show: Show, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.onnx_model import OnnxSource

    spec = show.generator
    assert spec.path is not None
    return Source(OnnxSource(spec.path, spec.latent_dim, spec.size, device,
                             signed=spec.output_range == "-1..1"), torch.float32)


def _vae(show: Show, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.models import BatchImage, load_vae

    spec = show.generator
    assert spec.path is not None
    decoder, latent_dim, encoder, _ = load_vae(spec.path)
    return Source(BatchImage(decoder.to(device, dtype), latent_dim, spec.size), dtype, encoder)


def _gan(show: Show, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.gan import load_gan
    from installation.generator.models import BatchImage
    from installation.generator.project import GanProjector

    spec = show.generator
    assert spec.path is not None
    checkpoint = load_gan(spec.path)
    generator = checkpoint.generator
    # The projector keeps a float32 CPU copy: image moods are found once, reproducibly.
    projector = GanProjector(copy.deepcopy(generator), checkpoint.config.size,
                             spec.image_steps, seed=spec.seed)
    model = BatchImage(generator.to(device, dtype), checkpoint.config.latent_dim, spec.size,
                       signed=True)
    return Source(model, dtype, projector)


def _nca(show: Show, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.nca_source import NcaSource

    return Source(NcaSource(show.generator, device), torch.float32)  # float32 state everywhere


def _diffusion(show: Show, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.diffusion.source import build_source

    source, walk = build_source(show, device, dtype)
    return Source(source, dtype, walk=walk)


SOURCES: dict[str, Callable[[Show, torch.device, torch.dtype], Source]] = {
    "cppn": _cppn,
    "torchscript": _torchscript,
    "onnx": _onnx,
    "vae": _vae,
    "gan": _gan,
    "nca": _nca,
    "diffusion": _diffusion,
}


def make_source(show: Show, device: torch.device, dtype: torch.dtype) -> Source:
    """The source ``show.generator.model`` names.

    Raises
    ------
    ModelError
        The model file (or folder) is missing, corrupt, incompatible or breaks the contract.
    """
    return SOURCES[show.generator.model](show, device, dtype)
