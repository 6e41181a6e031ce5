"""The generator stage: ``Controls -> GeneratedImage`` on the best available device.

:class:`LatentGenerator` joins a walk (``Controls -> z``) to an image model (``z -> RGB``)
and writes into preallocated buffers. :class:`CppnGenerator` is the default: the seeded CPPN
with the two-anchor walk. ``factory.make_generator`` builds the one a show asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from installation.generator.cppn import Cppn
from installation.generator.device import inference_dtype, pick_device
from installation.generator.latent_walk import LatentWalk
from installation.generator.output import FrameBuffers
from installation.messages import Controls, GeneratedImage
from installation.show import GeneratorSpec

Walk = Callable[[Controls], torch.Tensor]


class ImageModel(Protocol):
    """What the stage needs from a model: one latent in, one RGB image out."""

    latent_dim: int

    def render(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(latent_dim,)`` -> ``(height, width, 3)`` in 0..1 (any strides), same device."""
        ...


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


class LatentGenerator:
    """Stateful stage: each call moves the walk one step and renders an image.

    ``GeneratedImage.pixels`` is one of ``buffers`` reused arrays (round-robin): it stays
    valid until ``buffers - 1`` further calls. Copy it to keep it longer.

    Parameters
    ----------
    model
        The image model (already on ``device`` in ``dtype``).
    walk
        ``Controls -> z`` (CPU float32).
    size
        ``(width, height)`` of the images handed out.
    device, dtype
        Where the model runs.
    buffers
        Number of reused output arrays (2: double buffering).
    """

    def __init__(
        self, model: ImageModel, walk: Walk, size: tuple[int, int], device: torch.device,
        dtype: torch.dtype, buffers: int = 2,
    ) -> None:
        self.model = model
        self.walk = walk
        self.device, self.dtype = device, dtype
        self.size = size
        self.buffers = FrameBuffers(size[0], size[1], device, dtype, count=buffers)
        self._z = torch.empty(model.latent_dim, device=device, dtype=dtype)
        self._index = 0

    def __call__(self, controls: Controls) -> GeneratedImage:
        return self.generate(controls, self._index % self.buffers.count)

    @property
    def latent(self) -> torch.Tensor:
        """A copy of the latent of the last image (rehearsal saves it as a mood)."""
        return self._z.detach().clone()

    @torch.inference_mode()
    def generate(self, controls: Controls, slot: int) -> GeneratedImage:
        """Step the walk and render into output buffer ``slot``."""
        self._z.copy_(self.walk(controls))
        # A source that reads the controls itself (the living image) says so (interfaces.md).
        render_controls = getattr(self.model, "render_controls", None)
        rgb = (render_controls(self._z, controls) if render_controls is not None
               else self.model.render(self._z))
        pixels = self.buffers.write(rgb, slot)
        image = GeneratedImage(t=controls.t, index=self._index, pixels=pixels)
        self._index += 1
        return image


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
