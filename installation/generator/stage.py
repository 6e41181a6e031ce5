"""The generator stage: ``Controls -> GeneratedImage`` on the best available device."""

from __future__ import annotations

import numpy as np
import torch

from installation.generator.cppn import Cppn
from installation.generator.device import inference_dtype, pick_device
from installation.generator.latent_walk import LatentWalk
from installation.messages import Controls, GeneratedImage
from installation.show import GeneratorSpec


class CppnGenerator:
    """Stateful stage: each call moves the latent walk one step and renders an image.

    Parameters
    ----------
    spec
        The show's ``[generator]`` table.
    device
        ``None`` picks CUDA, then MPS, then CPU.
    """

    def __init__(self, spec: GeneratorSpec, device: str | None = None) -> None:
        self.spec = spec
        self.device = pick_device(device)
        self.dtype = inference_dtype(self.device)
        width, height = spec.size
        net = Cppn(spec.latent_dim, spec.hidden, spec.layers, spec.detail, spec.seed)
        self.net = net.to(self.device).eval()
        self.walk = LatentWalk(spec)
        with torch.inference_mode():
            coords = net.coordinates(width, height).to(self.device)
            self._coord_proj = self.net.project_coordinates(coords).to(self.dtype)
        self.net = self.net.to(self.dtype)
        self._index = 0

    @torch.inference_mode()
    def __call__(self, controls: Controls) -> GeneratedImage:
        width, height = self.spec.size
        z = self.walk(controls).to(self.device, self.dtype)
        rgb = self.net(self._coord_proj, z)
        pixels = (rgb * 255.0 + 0.5).clamp_(0, 255).to(torch.uint8).reshape(height, width, 3)
        image = GeneratedImage(t=controls.t, index=self._index, pixels=np.ascontiguousarray(
            pixels.cpu().numpy()))
        self._index += 1
        return image
