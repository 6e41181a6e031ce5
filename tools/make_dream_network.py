"""Build the network the Dreaming piece dreams on: a fixed bank of oriented filters.

    .venv/bin/python tools/make_dream_network.py [-o pieces/dreaming/contours.pt]

The `dream` stage climbs a network's activations. With the CPPN source there is no trained
network to climb (the GAN's discriminator takes its place once an artist trains one), so this
piece brings a small, designed one, saved as TorchScript for `network = "torchscript"`:

1. **simple cells**: Gabor filters at 8 orientations and 2 scales (4 and 8 px), even and odd
   phase, on luminance and on two colour-opponent channels (Daugman, "Uncertainty relation for
   resolution in space, spatial frequency, and orientation optimized by two-dimensional visual
   cortical filters", JOSA A 1985: the receptive fields of V1 simple cells);
2. **complex cells**: the energy of each even/odd pair (Adelson and Bergen, "Spatiotemporal
   energy models for the perception of motion", JOSA A 1985), so a contour excites its
   orientation wherever its phase;
3. **continuation**: each orientation's energy pooled along its own axis (an elongated
   Gaussian), the association field of Field, Hayes and Hess (Vision Research 1993), so that
   climbing it lengthens and sharpens the contours an image already has.

Climbing layer 3 draws every contour out along itself: the swirled, ever finer line work of a
dream that grows from the image's own forms. Every weight is computed here, none is learnt or
downloaded; the file is tens of kB and the same on every run.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "pieces" / "dreaming" / "contours.pt"
ORIENTATIONS = 8
NATIVE = 64
WAVELENGTH = 4.0  # pixels: the fine scale; the coarse one (8 px) runs on a half-size copy


def gabor(size: int, wavelength: float, theta: float, phase: float) -> torch.Tensor:
    """A zero-mean, unit-energy Gabor kernel (sigma = 0.5 wavelength, aspect 0.6)."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    sigma = 0.5 * wavelength
    envelope = torch.exp(-(xr ** 2 + (0.6 * yr) ** 2) / (2 * sigma ** 2))
    kernel = envelope * torch.cos(2 * math.pi * xr / wavelength + phase)
    kernel = kernel - kernel.mean()
    return (kernel / kernel.norm()).float()


def elongated(size: int, theta: float, length: float, width: float) -> torch.Tensor:
    """A normalised Gaussian stretched along ``theta``: pooling along a contour."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    along = x * math.cos(theta) + y * math.sin(theta)
    across = -x * math.sin(theta) + y * math.cos(theta)
    g = torch.exp(-(along / length) ** 2 / 2 - (across / width) ** 2 / 2)
    return (g / g.sum()).float()


class ContourNetwork(nn.Module):
    """Image ``(1, 3, H, W)`` in 0..1 -> contour-continuation activations."""

    def __init__(self) -> None:
        super().__init__()
        # Luminance and two opponent channels (red-green, blue-yellow).
        self.register_buffer("opponent", torch.tensor([[0.299, 0.587, 0.114],
                                                       [0.5, -0.5, 0.0],
                                                       [-0.25, -0.25, 0.5]]))
        simple, pool = [], []
        size = 2 * int(WAVELENGTH) + 1
        for k in range(ORIENTATIONS):
            theta = math.pi * k / ORIENTATIONS
            for phase in (0.0, math.pi / 2):
                simple.append(gabor(size, WAVELENGTH, theta, phase))
            pool.append(elongated(size, theta, length=1.2 * WAVELENGTH,
                                  width=0.35 * WAVELENGTH))
        self.register_buffer("simple", torch.stack(simple)[:, None])  # (16, 1, k, k)
        self.register_buffer("pool", torch.stack(pool)[:, None])  # (8, 1, k, k)
        self.pad = size // 2
        self.native = float(NATIVE)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # Seen at a fixed scale (shorter side NATIVE px), as the dream stage shows the GAN's
        # discriminator its training scale: the line work keeps its size at any generator
        # size, and the cost stays a few ms per step.
        scale = self.native / min(image.shape[-2], image.shape[-1])
        if scale < 1.0:
            image = F.interpolate(image, scale_factor=scale, mode="bilinear",
                                  align_corners=False, recompute_scale_factor=False)
        x = torch.einsum("oc,bchw->bohw", self.opponent, image)
        b, c, h, w = x.shape
        x = x.reshape(b * c, 1, h, w)
        # The coarse scale is the same bank on a half-size copy (wavelength 2x, 1/4 the cost).
        fine = self._contours(x)
        coarse = self._contours(F.avg_pool2d(x, 2))
        # Luminance contours lead; colour contours add to them (weights 1, 0.5, 0.5).
        weight = torch.tensor([1.0, 0.5, 0.5], device=image.device).repeat(b)[:, None, None, None]
        return torch.cat([fine.flatten(1), coarse.flatten(1)], dim=1) * weight[:, :, 0, 0]

    def _contours(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        responses = F.conv2d(F.pad(x, (p, p, p, p), mode="reflect"), self.simple)
        even, odd = responses[:, 0::2], responses[:, 1::2]
        energy = torch.sqrt(even * even + odd * odd + 1e-6)  # complex cells
        energy = F.pad(energy, (p, p, p, p), mode="reflect")
        return F.conv2d(energy, self.pool, groups=self.pool.shape[0])


def build(out: Path) -> Path:
    """Script and save the network to ``out``."""
    module = torch.jit.script(ContourNetwork().eval())
    out.parent.mkdir(parents=True, exist_ok=True)
    module.save(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    path = build(args.out)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
