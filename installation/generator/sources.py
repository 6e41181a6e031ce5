"""The chain's sources (latent -> image), built from ``[generator] model`` by name.

Adding a source is one ``build(spec, device, dtype) -> Source`` function and one line in
:data:`SOURCES` (plus the name in ``GeneratorSpec.model``; a test keeps the two in step).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch

from installation.generator.chain import ImageModel
from installation.generator.moods import Encoder
from installation.show import GeneratorSpec


@dataclass(frozen=True)
class Source:
    """A built source: the model, the dtype it runs in, and its image encoder if it has one."""

    model: ImageModel
    dtype: torch.dtype
    encoder: Encoder | None = None


def _cppn(spec: GeneratorSpec, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.stage import CppnImage

    return Source(CppnImage(spec, device, dtype), dtype)


def _torchscript(spec: GeneratorSpec, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.models import BatchImage, load_torchscript

    assert spec.path is not None  # GeneratorSpec refuses a model file-less torchscript
    signed = spec.output_range == "-1..1"
    module = load_torchscript(spec.path, spec.latent_dim, signed)
    # Artists' modules may not be half-safe; they run in float32 everywhere.
    return Source(BatchImage(module.to(device), spec.latent_dim, spec.size, signed=signed),
                  torch.float32)


def _onnx(spec: GeneratorSpec, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.onnx_model import OnnxSource

    assert spec.path is not None
    return Source(OnnxSource(spec.path, spec.latent_dim, spec.size, device,
                             signed=spec.output_range == "-1..1"), torch.float32)


def _vae(spec: GeneratorSpec, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.models import BatchImage, load_vae

    assert spec.path is not None
    decoder, latent_dim, encoder, _ = load_vae(spec.path)
    return Source(BatchImage(decoder.to(device, dtype), latent_dim, spec.size), dtype, encoder)


def _gan(spec: GeneratorSpec, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.gan import load_gan
    from installation.generator.models import BatchImage
    from installation.generator.project import GanProjector

    assert spec.path is not None
    checkpoint = load_gan(spec.path)
    generator = checkpoint.generator
    # The projector keeps a float32 CPU copy: image moods are found once, reproducibly.
    projector = GanProjector(copy.deepcopy(generator), checkpoint.config.size,
                             spec.image_steps, seed=spec.seed)
    model = BatchImage(generator.to(device, dtype), checkpoint.config.latent_dim, spec.size,
                       signed=True)
    return Source(model, dtype, projector)


def _nca(spec: GeneratorSpec, device: torch.device, dtype: torch.dtype) -> Source:
    from installation.generator.nca_source import NcaSource

    return Source(NcaSource(spec, device), torch.float32)  # the state is float32 everywhere


SOURCES: dict[str, Callable[[GeneratorSpec, torch.device, torch.dtype], Source]] = {
    "cppn": _cppn,
    "torchscript": _torchscript,
    "onnx": _onnx,
    "vae": _vae,
    "gan": _gan,
    "nca": _nca,
}


def make_source(spec: GeneratorSpec, device: torch.device, dtype: torch.dtype) -> Source:
    """The source ``spec.model`` names.

    Raises
    ------
    ModelError
        The model file is missing, corrupt, incompatible or breaks the contract.
    """
    return SOURCES[spec.model](spec, device, dtype)
