"""``kind = "dream"``: DeepDream (Mordvintsev, Olah and Tyka, "Inceptionism", Google Research
blog, 2015) on the engine's own networks.

Gradient ascent on the image to grow the activations of one layer of a network, so the
picture shows more of what that layer responds to. The network is the artist's own: the
discriminator of their GAN or the encoder of their VAE (both trained on their images, so the
dream amplifies their motifs), or a TorchScript network they bring.

The classic recipe, kept safe for a projector that runs for weeks:

- **octaves**: dream on a small copy first, then add the detail found to ever larger ones
  (large motifs as well as fine texture);
- **jitter**: a random roll of the image before each step (seeded), so no pixel grid shows;
- **normalised, clamped steps**: the gradient is divided by its mean magnitude and each pixel
  moves at most ``step_size * intensity`` per step, and the image stays in 0..1, so however
  large a network's gradients are, the dream never blows out;
- **feedback**: each image starts from the last dream, slightly zoomed and rotated, its
  colours anchored to the model's new image and blended with it (``feedback_mix``): the
  endless zoom of DeepDream videos, without drifting into one saturated colour. A control can
  kick the zoom on each heartbeat;
- the engine's own networks see the image at the scale they were trained at (their motifs,
  not pixel texture).

Gradients run in float32 whatever the chain's dtype (half precision is unsafe for them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from installation.errors import ModelError, ShowError
from installation.generator.models import failure_reason, load_torchscript_file
from installation.messages import Controls
from installation.show import Show, StageSpec

MIN_OCTAVE_SIDE = 16  # smaller copies carry no structure worth dreaming


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


class DreamNetwork(Protocol):
    """A network the dream climbs: image ``(1, 3, H, W)`` in 0..1 -> activations."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor: ...


def at_native_scale(image: torch.Tensor, native: int | None) -> torch.Tensor:
    """``image`` resized so its shorter side is ``native`` pixels (``None``: as it is).

    A trained network's features are tuned to its training images' scale; the generator's
    picture is usually larger (a 64 px GAN image covering 256x144). Seen at its own scale, the
    network finds its motifs; seen 4x larger it only finds pixel-scale texture. Bilinear, so
    the gradient flows back smoothly to the full-size image.
    """
    if native is None or min(image.shape[-2:]) == native:
        return image
    scale = native / min(image.shape[-2:])
    return F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False)


class DiscriminatorLayer(nn.Module):
    """The GAN discriminator's activations after ``layer`` layers (it sees -1..1 images)."""

    def __init__(self, discriminator: nn.Module, layer: int, native: int | None = None) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.layer = layer
        self.native = native

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = at_native_scale(image, self.native)
        return self.discriminator.features(x * 2.0 - 1.0, self.layer)


class EncoderLayer(nn.Module):
    """The VAE encoder's activations after ``layer`` of its conv blocks (it sees -1..1)."""

    def __init__(self, encoder: nn.Sequential, layer: int, native: int | None = None) -> None:
        super().__init__()
        self.native = native
        convs = [i for i, m in enumerate(encoder) if isinstance(m, nn.Conv2d)]
        # Each block is conv, norm, activation: cut after the activation of block ``layer``.
        block = min(layer, len(convs))
        end = convs[block] if block < len(convs) else len(encoder) - 1  # drop Flatten
        self.net = nn.Sequential(*list(encoder)[:end])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(at_native_scale(image, self.native) * 2.0 - 1.0)


def _frozen(net: nn.Module, device: torch.device) -> nn.Module:
    net = net.to(device, torch.float32).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def load_network(spec: StageSpec, show: Show, device: torch.device) -> nn.Module:
    """The network a dream stage climbs, as ``spec`` and the show's generator say.

    Raises
    ------
    ShowError
        ``network = "auto"`` (or a trained network) with no model file to take it from.
    ModelError
        The file is missing, broken or its network does not take an image.
    """
    network = spec.network
    gen = show.generator
    if network == "auto":
        if spec.path is not None:
            network = "torchscript"
        elif gen.model == "gan":
            network = "discriminator"
        elif gen.model == "vae":
            network = "encoder"
        else:
            raise ShowError(f"{show.path}: generator.stages ({spec.label}): a dream needs a "
                            f"network: use "
                            f'model = "gan" or "vae", or give path = "network.pt" (TorchScript)')
    if network == "torchscript":
        assert spec.path is not None  # StageSpec refuses torchscript without a path
        module = load_torchscript_file(spec.path)
        _probe(module, spec.path, show.generator.size)
        return _frozen(module, device)
    path = spec.path or gen.path
    if network == "discriminator":
        if path is None or (spec.path is None and gen.model != "gan"):
            raise ShowError(f"{show.path}: generator.stages ({spec.label}): network = "
                            f"\"discriminator\" "
                            f"needs a GAN checkpoint (model = \"gan\", or path = ...)")
        from installation.generator.gan import load_gan

        checkpoint = load_gan(path)
        return _frozen(DiscriminatorLayer(checkpoint.discriminator, spec.layer,
                                          checkpoint.config.size), device)
    if path is None or (spec.path is None and gen.model != "vae"):
        raise ShowError(f"{show.path}: generator.stages ({spec.label}): network = \"encoder\" "
                        f"needs a VAE "
                        f"checkpoint (model = \"vae\", or path = ...)")
    from installation.generator.vae import load_checkpoint

    vae = load_checkpoint(path)
    return _frozen(EncoderLayer(vae.model.encoder, spec.layer, vae.config.size), device)


def _probe(module: nn.Module, path: Path, size: tuple[int, int]) -> None:
    width, height = size
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    try:
        out = module(x)
        ok = isinstance(out, torch.Tensor) and out.is_floating_point() and out.numel() > 0
        if ok:
            (grad,) = torch.autograd.grad(out.float().pow(2).mean(), x)
    except Exception as error:  # the artist's network: any failure breaks the contract
        raise ModelError(f"{path}: a dream network must take a (1, 3, {height}, {width}) "
                         f"float image and return activations ({failure_reason(error)})"
                         ) from None
    if not ok:
        raise ModelError(f"{path}: a dream network must return a float tensor of "
                         f"activations, returned {type(out).__name__}")
    if not bool(torch.isfinite(grad).all()):
        raise ModelError(f"{path}: the dream network's gradient is not finite")


def warp(image: torch.Tensor, zoom: float, degrees: float) -> torch.Tensor:
    """Zoom into the centre by ``zoom`` and rotate by ``degrees`` (bilinear, edges mirrored)."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    _, _, h, w = image.shape
    aspect = w / h
    theta = torch.tensor([[cos, -sin / aspect, 0.0], [sin * aspect, cos, 0.0]],
                         dtype=image.dtype, device=image.device)[None]
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def match_colours(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``image`` with each channel's mean and spread moved to ``reference``'s.

    Feedback dreams on its own output image after image; without this, the small colour bias
    of every step compounds until the picture is one saturated colour. Anchoring the colour
    statistics to the source's fresh image keeps the palette the model's (and the body's),
    while the dreamt structure still accumulates.
    """
    dims = (2, 3)
    mean, std = image.mean(dims, keepdim=True), image.std(dims, keepdim=True)
    ref_mean, ref_std = reference.mean(dims, keepdim=True), reference.std(dims, keepdim=True)
    return ((image - mean) * (ref_std / std.clamp_min(1e-3)) + ref_mean).clamp(0.0, 1.0)


@dataclass
class DreamStage:
    """The stateful dream: settings in ``spec``, the jitter's generator and the last dream.

    Parameters
    ----------
    spec
        The ``[[generator.stages]]`` entry.
    network
        Image ``(1, 3, H, W)`` in 0..1 -> activations (float32, frozen, on ``device``).
    device
        Where it runs.
    """

    spec: StageSpec
    network: nn.Module
    device: torch.device
    name: str = field(init=False)
    _gen: torch.Generator = field(init=False)
    _previous: torch.Tensor | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.name = self.spec.label
        self.reset()

    def reset(self) -> None:
        self._gen = torch.Generator().manual_seed(self.spec.seed)
        self._previous = None

    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor:
        spec = self.spec
        intensity = spec.intensity * (_clip01(controls.get(spec.intensity_control, 1.0))
                                      if spec.intensity_control else 1.0)
        mix = spec.mix * (_clip01(controls.get(spec.mix_control, 1.0))
                          if spec.mix_control else 1.0)
        with torch.inference_mode(False):
            source = image.detach().to(torch.float32).clone()  # a normal tensor: autograd ok
            start = source
            previous = self._previous
            if spec.feedback and previous is not None and previous.shape == source.shape:
                zoom = spec.zoom
                if spec.zoom_control:
                    zoom += spec.zoom_kick * _clip01(controls.get(spec.zoom_control, 0.0))
                warped = match_colours(warp(previous, zoom, spec.rotate), source)
                start = torch.lerp(source, warped, spec.feedback_mix)
            dreamt = self.dream(start, intensity) if intensity > 0 else start
            if spec.feedback:
                self._previous = dreamt
            out = dreamt if mix >= 1.0 else torch.lerp(source, dreamt, mix)
            return out.to(image.dtype)

    def octave_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """Octave sizes, smallest first, none with a side under 16 pixels."""
        sizes = []
        for k in range(self.spec.octaves):
            scale = self.spec.octave_scale ** k
            h, w = round(height / scale), round(width / scale)
            if k and min(h, w) < MIN_OCTAVE_SIDE:
                break
            sizes.append((h, w))
        return sizes[::-1]

    def dream(self, image: torch.Tensor, intensity: float) -> torch.Tensor:
        """Octave gradient ascent on ``image`` ``(1, 3, H, W)`` float32 in 0..1."""
        _, _, height, width = image.shape
        step = self.spec.step_size * intensity
        detail = torch.zeros_like(image)
        result = image
        for h, w in self.octave_sizes(height, width):
            base = F.interpolate(image, size=(h, w), mode="bilinear", align_corners=False,
                                 antialias=True) if (h, w) != (height, width) else image
            up = F.interpolate(detail, size=(h, w), mode="bilinear", align_corners=False)
            x = (base + up).clamp(0.0, 1.0)
            for _ in range(self.spec.steps):
                x = self._ascend(x, step)
            detail = x - base
            result = x
        return result.clamp(0.0, 1.0)

    def _ascend(self, x: torch.Tensor, step: float) -> torch.Tensor:
        j = self.spec.jitter
        dy, dx = (torch.randint(-j, j + 1, (2,), generator=self._gen).tolist() if j else (0, 0))
        rolled = torch.roll(x, shifts=(dy, dx), dims=(2, 3)).detach().requires_grad_(True)
        with torch.enable_grad():
            activations = self.network(rolled)
            (grad,) = torch.autograd.grad(activations.float().pow(2).mean(), rolled)
        grad = torch.roll(grad, shifts=(-dy, -dx), dims=(2, 3))
        # Normalised by the mean magnitude, then clamped: no pixel moves more than ``step``.
        grad = grad / (grad.abs().mean() + 1e-8)
        return (x + grad.clamp(-3.0, 3.0) * (step / 3.0)).clamp(0.0, 1.0).detach()


def build(spec: StageSpec, show: Show, device: torch.device, dtype: torch.dtype) -> DreamStage:
    """The dream stage of ``spec``, its network loaded and checked."""
    return DreamStage(spec, load_network(spec, show, device), device)
