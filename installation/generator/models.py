"""Batch models as stage image models: a TorchScript module or a trained VAE's decoder.

Both follow one contract (see docs/generator.md): a float latent batch ``(B, latent_dim)``
in, images ``(B, 3, H, W)`` out in 0..1 (or -1..1 when declared). Their native size is
scaled to cover the show's ``generator.size`` and centre-cropped (bilinear, on the device).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from installation.errors import ModelError
from installation.generator.vae import load_checkpoint


def fit_cover(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Scale ``(B, 3, h, w)`` to cover ``width x height``, then centre-crop to it."""
    h, w = images.shape[-2:]
    if (h, w) == (height, width):
        return images
    scale = max(width / w, height / h)
    new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
    images = nn.functional.interpolate(images, size=(new_h, new_w), mode="bilinear",
                                       align_corners=False)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return images[..., top:top + height, left:left + width]


class BatchImage:
    """A ``(B, latent_dim) -> (B, 3, H, W)`` module as a stage image model.

    Parameters
    ----------
    module
        The module, on ``device`` in ``dtype``.
    latent_dim
        Its latent size.
    size
        ``(width, height)`` handed out.
    signed
        True when the module's images are in -1..1 rather than 0..1.
    """

    def __init__(self, module: nn.Module, latent_dim: int, size: tuple[int, int],
                 signed: bool = False) -> None:
        self.module = module
        self.latent_dim = latent_dim
        self.size = size
        self.signed = signed

    def render(self, z: torch.Tensor) -> torch.Tensor:
        images = self.module(z[None])
        if self.signed:
            images = images * 0.5 + 0.5
        images = fit_cover(images.clamp(0.0, 1.0), *self.size)
        return images[0].permute(1, 2, 0)


def load_torchscript(path: Path, latent_dim: int, signed: bool = False) -> nn.Module:
    """Load a TorchScript generator and prove it keeps the contract with one dummy forward.

    Raises
    ------
    ModelError
        One line naming the file when it cannot be loaded or its output breaks the contract
        (not a float tensor ``(B, 3, H, W)``, not finite, or outside the declared range).
    """
    path = Path(path)
    module = load_torchscript_file(path)
    z = torch.randn(2, latent_dim, generator=torch.Generator().manual_seed(0))
    try:
        with torch.inference_mode():
            out = module(z)
    except Exception as error:  # the artist's code: any failure means a contract mismatch
        raise ModelError(f"{path}: forward of a (2, {latent_dim}) float latent batch failed "
                         f"({failure_reason(error)}); check generator.latent_dim") from None
    check_images(out, path, batch=2, signed=signed, what="latents")
    return module


def check_images(out: object, path: Path, batch: int, signed: bool, what: str,
                 shape: tuple[int, int] | None = None, key: str = "generator.output_range",
                 ) -> None:
    """The image contract every model the artist brings must keep.

    ``out`` must be a finite float tensor ``(batch, 3, H, W)`` with ``H, W >= 8`` (exactly
    ``shape`` when given) and values in 0..1 (-1..1 when ``signed``).

    Raises
    ------
    ModelError
        One line naming ``path`` and the breach.
    """
    lo, hi = (-1.0, 1.0) if signed else (0.0, 1.0)
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"{path}: must return a tensor, returned {type(out).__name__}")
    if not out.is_floating_point():
        raise ModelError(f"{path}: must return float images, returned {out.dtype}")
    if out.dim() != 4 or out.shape[0] != batch or out.shape[1] != 3:
        raise ModelError(f"{path}: must return images (B, 3, H, W) for a batch of B={batch} "
                         f"{what}, returned shape {tuple(out.shape)}")
    if shape is not None and tuple(out.shape[2:]) != shape:
        raise ModelError(f"{path}: must return images of the size it is given {shape}, "
                         f"returned {tuple(out.shape[2:])}")
    if min(out.shape[2:]) < 8:
        raise ModelError(f"{path}: images of {tuple(out.shape[2:])} are too small (>= 8x8)")
    if not bool(torch.isfinite(out).all()):
        raise ModelError(f"{path}: returned non-finite values (NaN or inf)")
    tol = 1e-3
    if float(out.min()) < lo - tol or float(out.max()) > hi + tol:
        hint = f' (set {key} = "-1..1"?)' if float(out.min()) < 0 and not signed else ""
        raise ModelError(f"{path}: values {float(out.min()):.3g}..{float(out.max()):.3g} are "
                         f"outside the declared range {lo:g}..{hi:g}{hint}")


def load_torchscript_file(path: Path) -> torch.jit.ScriptModule:
    """Load a TorchScript archive on the CPU, in eval mode.

    Raises
    ------
    ModelError
        One line naming the file when it is missing or not a loadable TorchScript module.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated upstream but is still what artists can export today.
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as error:  # torch.jit raises RuntimeError and others for bad archives
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise ModelError(f"{path}: not a loadable TorchScript module ({reason})") from None
    return module.eval()


def failure_reason(error: BaseException) -> str:
    """The last line of an exception from an artist's model, short."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[-1][:160]}" if text else type(
        error).__name__


class VaeEncoder:
    """Image file -> latent (the encoder's mean), for image moods."""

    def __init__(self, model: nn.Module, size: int) -> None:
        self.model = model
        self.size = size

    def __call__(self, path: Path) -> torch.Tensor:
        from installation.generator.dataset import load_image

        pixels = load_image(Path(path), self.size)
        x = torch.from_numpy(np.array(pixels)).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            mu, _ = self.model.encode(x)
        return mu[0].clone()


def load_vae(path: Path) -> tuple[nn.Module, int, VaeEncoder, int]:
    """The decoder, its latent size, an image encoder and the native size of a checkpoint."""
    checkpoint = load_checkpoint(path)
    model = checkpoint.model
    return model.decoder, checkpoint.config.latent_dim, VaeEncoder(
        model, checkpoint.config.size), checkpoint.config.size
