"""The CPPN source and the default generator: the seeded CPPN with the two-anchor walk.

:class:`LatentGenerator` (the chain of ``chain.py`` without stages) joins a walk
(``Controls -> z``) to an image model (``z -> RGB``) and writes into preallocated buffers.
``factory.make_generator`` builds the chain a show asks for.
"""

from __future__ import annotations

import torch

from installation.generator.chain import GeneratorChain, ImageModel, Walk
from installation.generator.cppn import Cppn
from installation.generator.device import inference_dtype, pick_device
from installation.generator.latent_walk import LatentWalk
from installation.show import GeneratorSpec

__all__ = ["CppnGenerator", "CppnImage", "ImageModel", "LatentGenerator", "Walk"]


class CppnImage:
    """The CPPN as an :class:`ImageModel` at a fixed size (coordinates projected once)."""

    def __init__(
        self, spec: GeneratorSpec, device: torch.device, dtype: torch.dtype,
    ) -> None:
        width, height = spec.size
        net = Cppn(
            spec.latent_dim, spec.hidden, spec.layers, spec.detail, spec.seed,
            architecture=spec.architecture, activations=spec.activations,
        )
        self.latent_dim = spec.latent_dim
        self.net = net.to(device).eval()
        self.shape = (height, width, 3)
        with torch.inference_mode():
            coords = net.coordinates(width, height).to(device)
            self._coord_proj = self.net.project_coordinates(coords).to(dtype)
        self.net = self.net.to(dtype)

    def render(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self._coord_proj, z).view(self.shape)


# The chain without stages is the original generator stage; the old name stays for callers.
LatentGenerator = GeneratorChain


class CppnGenerator(LatentGenerator):
    """The seeded CPPN on the best device, walked by ``walk`` (default: two-anchor walk).

    Parameters
    ----------
    spec
        The show's ``[generator]`` table.
    device
        ``None`` picks CUDA, then MPS, then CPU.
    walk
        ``Controls -> z``; ``None`` uses :class:`LatentWalk`.
    buffers
        Number of reused output arrays.
    """

    def __init__(
        self, spec: GeneratorSpec, device: str | None = None, walk: Walk | None = None,
        buffers: int = 2,
    ) -> None:
        self.spec = spec
        dev = pick_device(device)
        dtype = inference_dtype(dev)
        model = CppnImage(spec, dev, dtype)
        super().__init__(model, walk or LatentWalk(spec), spec.size, dev, dtype, buffers)

    @property
    def net(self) -> Cppn:
        return self.model.net  # type: ignore[attr-defined]
