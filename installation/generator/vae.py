"""A small convolutional VAE the artist trains on their own images, and its checkpoint file.

The decoder is the generator (latent -> image); the encoder turns an image into a latent, so
a picture can become a mood. The checkpoint is a plain ``torch.save`` dict loaded with
``weights_only=True`` (no pickled code runs at load), holding the config, the training-data
hash and the package version; anything else is refused with a one-line :class:`ModelError`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from installation import __version__
from installation.errors import ModelError

FORMAT = "installation-vae"
FORMAT_VERSION = 2  # 2: nearest-neighbour upsampling + conv in the decoder; 1 still loads


@dataclass(frozen=True)
class VaeConfig:
    """Shape of the network.

    Parameters
    ----------
    size
        Square image side, a power of two >= 16 (64 is the CPU sweet spot).
    latent_dim
        Latent size.
    channels
        Channels of the first conv block; doubled per block, capped at 8x.
    upsample
        Decoder upsampling: ``"nearest"`` (nearest-neighbour x2 then a 3x3 conv: no
        checkerboard, Odena et al. 2016, "Deconvolution and Checkerboard Artifacts") or
        ``"transposed"`` (4x4 stride-2 transposed convs: the format-1 decoder).
    """

    size: int = 64
    latent_dim: int = 32
    channels: int = 32
    upsample: str = "nearest"

    def __post_init__(self) -> None:
        if self.size < 16 or self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two >= 16, got {self.size}")
        if self.latent_dim < 1 or self.channels < 1:
            raise ValueError("latent_dim and channels must be positive")
        if self.upsample not in ("nearest", "transposed"):
            raise ValueError(f"upsample must be nearest or transposed, got {self.upsample!r}")

    @property
    def blocks(self) -> int:
        return int(math.log2(self.size)) - 2  # down to a 4x4 grid

    def widths(self) -> list[int]:
        return [self.channels * min(8, 2**i) for i in range(self.blocks)]


class Vae(nn.Module):
    """Conv encoder (stride-2 blocks to 4x4) and mirrored transposed-conv decoder."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        self.config = config
        widths = config.widths()
        layers: list[nn.Module] = []
        c_in = 3
        for w in widths:
            layers += [nn.Conv2d(c_in, w, 4, 2, 1), nn.BatchNorm2d(w), nn.LeakyReLU(0.2)]
            c_in = w
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        flat = widths[-1] * 16
        self.to_mu = nn.Linear(flat, config.latent_dim)
        self.to_logvar = nn.Linear(flat, config.latent_dim)
        self.decoder = Decoder(config)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``(B, 3, S, S)`` in 0..1 -> ``(mu, logvar)``, each ``(B, latent_dim)``."""
        h = self.encoder(x * 2.0 - 1.0)
        return self.to_mu(h), self.to_logvar(h).clamp(-10.0, 10.0)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction, mu and logvar (reparameterised sample, seeded by ``gen``)."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


class Decoder(nn.Module):
    """Latent ``(B, latent_dim)`` -> images ``(B, 3, S, S)`` in 0..1."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        widths = config.widths()[::-1]
        self.latent_dim = config.latent_dim
        self.first = widths[0]
        self.fc = nn.Linear(config.latent_dim, widths[0] * 16)
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths, [*widths[1:], None], strict=True):
            c_out = 3 if w_out is None else w_out
            if config.upsample == "transposed":
                layers.append(nn.ConvTranspose2d(w_in, c_out, 4, 2, 1))
            else:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                           nn.Conv2d(w_in, c_out, 3, 1, 1)]
            if w_out is None:
                layers.append(nn.Sigmoid())
            else:
                layers += [nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, self.first, 4, 4))


def vae_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0, sharpness: float = 0.0,
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Total, reconstruction and KL losses, each summed per image and averaged over the batch.

    ``sharpness`` weighs a squared error on the image gradients (horizontal and vertical
    differences) on top of the pixels' squared error: a perceptual-network-free sharpening
    term (as in the gradient-difference loss of Mathieu, Couprie and LeCun, "Deep multi-scale
    video prediction beyond mean square error", 2016), since a pixel loss alone is lowest for
    a blur when the model is unsure where an edge is.
    """
    batch = x.shape[0]
    recon_loss = nn.functional.mse_loss(recon, x, reduction="sum") / batch
    if sharpness:
        dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
        dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
        edges = (nn.functional.mse_loss(dx(recon), dx(x), reduction="sum")
                 + nn.functional.mse_loss(dy(recon), dy(x), reduction="sum")) / batch
        recon_loss = recon_loss + sharpness * edges
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
    return recon_loss + beta * kl, recon_loss, kl


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the model and what it was made from."""

    path: Path
    config: VaeConfig
    model: Vae
    data_hash: str
    package_version: str
    epochs: int


def save_checkpoint(path: Path, model: Vae, data_hash: str, epochs: int) -> None:
    """Write ``model`` with its config, training-data hash and package version."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config": asdict(model.config),
        "data_hash": data_hash,
        "epochs": epochs,
        "state_dict": model.state_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # a crash mid-write never leaves a half checkpoint under the real name


def load_checkpoint(path: Path) -> Checkpoint:
    """Load a VAE checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    ModelError
        One line naming the file if it is missing, corrupt, not a VAE checkpoint, from a newer
        format, or its weights do not fit its config.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt files; all mean the same
        raise ModelError(f"{path}: corrupt or not a checkpoint ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path}: not an installation VAE checkpoint "
                         f"(made by `installation train`?)")
    version = payload.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise ModelError(f"{path}: checkpoint format {version!r} is not supported "
                         f"(this version reads 1 and {FORMAT_VERSION}); retrain or upgrade")
    try:
        fields = dict(payload["config"])
        if version == 1:
            fields.setdefault("upsample", "transposed")  # format 1 had only this decoder
        config = VaeConfig(**fields)
        model = Vae(config)
        model.load_state_dict(payload["state_dict"])
        return Checkpoint(path=path, config=config, model=model.eval(),
                          data_hash=str(payload["data_hash"]),
                          package_version=str(payload["package_version"]),
                          epochs=int(payload["epochs"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        reason = str(error).splitlines()[0][:160]
        raise ModelError(f"{path}: incompatible checkpoint ({reason})") from None
