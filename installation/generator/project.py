"""Image -> GAN latent, by projection: the latent whose image is closest to a picture.

A GAN has no encoder, so an ``[[moods]] image = ...`` anchor is found by optimisation (the
projection of Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", 2020,
section 5, here without their perceptual distance, which needs a pretrained network): the
best of a few seeded starting latents, then Adam on an L1 + image-gradient distance for a
fixed number of steps, the latent's norm kept within 1.5 sqrt(latent_dim) so it stays where
the generator was trained (standard-normal latents have norms near sqrt(latent_dim)).
Seeded and bounded: the same image and model give the same latent, in bounded time.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from installation.generator.dataset import load_image

STARTS = 16
LEARNING_RATE = 0.05


def _distance(images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image L1 plus L1 of the horizontal and vertical differences."""
    l1 = (images - target).abs().mean(dim=(1, 2, 3))
    dx = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    dy = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    edges = ((dx(images) - dx(target)).abs().mean(dim=(1, 2, 3))
             + (dy(images) - dy(target)).abs().mean(dim=(1, 2, 3)))
    return l1 + edges


class GanProjector:
    """``path -> z``: the image mood encoder of a GAN source.

    Parameters
    ----------
    generator
        The generator, images in -1..1 (float32, on the CPU: projection runs once per mood
        at start-up, and on the CPU it is exactly reproducible).
    size
        Its native image side.
    steps
        Optimisation steps (``generator.image_steps``).
    seed
        Seed of the starting latents.
    """

    def __init__(self, generator: nn.Module, size: int, steps: int, seed: int = 0) -> None:
        self.generator = generator.eval()
        for p in self.generator.parameters():
            p.requires_grad_(False)
        self.latent_dim = int(generator.latent_dim)
        self.size = size
        self.steps = steps
        self.seed = seed

    def target(self, path: Path) -> torch.Tensor:
        pixels = load_image(Path(path), self.size)
        return torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 127.5 - 1.0

    def __call__(self, path: Path) -> torch.Tensor:
        return self.project(self.target(path))

    def project(self, target: torch.Tensor) -> torch.Tensor:
        """The latent ``(latent_dim,)`` whose image is closest to ``target`` ``(1, 3, S, S)``."""
        d = self.latent_dim
        bound = 1.5 * math.sqrt(d)
        gen = torch.Generator().manual_seed(self.seed)
        with torch.inference_mode(False), torch.enable_grad():
            starts = torch.randn(STARTS, d, generator=gen)
            with torch.no_grad():
                best = int(torch.argmin(_distance(self.generator(starts), target)))
            z = starts[best:best + 1].clone().requires_grad_(True)
            optimiser = torch.optim.Adam([z], lr=LEARNING_RATE)
            for _ in range(self.steps):
                loss = _distance(self.generator(z), target).sum()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                with torch.no_grad():
                    norm = float(z.norm())
                    if norm > bound:
                        z.mul_(bound / norm)
            return z.detach()[0].clone()


def reconstruction_error(generator: nn.Module, z: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute difference (0..1 units) between ``generator(z)`` and ``target``."""
    with torch.no_grad():
        return float(F.l1_loss(generator(z[None]), target)) / 2.0
