"""A GAN the artist trains from scratch on their own images, and its checkpoint.

Two architectures (``GanConfig.arch``):

- ``"dcgan"`` (format 3, the default): Radford, Metz and Chintala, "Unsupervised
  Representation Learning with Deep Convolutional Generative Adversarial Networks" (ICLR
  2016), as in the PyTorch example: a generator of 4x4 transposed convs with BatchNorm and
  ReLU, tanh out; a discriminator of strided 4x4 convs with BatchNorm (not on the first) and
  LeakyReLU 0.2, one logit; N(0, 0.02) init. ``gan_train.py`` trains it with the
  non-saturating loss, one-sided label smoothing and a discriminator at half the
  generator's rate (Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016),
  translation augmentation of both (``diffaug.py``) and an EMA of the generator. On a CPU,
  at equal wall-clock, it is the first recipe here whose samples hold recognisable shapes
  (a third of them, all discs, after 15 minutes: BENCHMARKS.md, "GAN recipe, format 3").
- ``"fastgan"`` (formats 1 and 2, still loaded and trainable): FastGAN's (Liu, Zhang, Song
  and Elgammal, "Towards Faster and Stabilized GAN Training for High-fidelity Few-shot Image
  Synthesis", ICLR 2021), scaled down: a generator of upsampling blocks (nearest x2, 3x3
  conv, BatchNorm, GLU) with **skip-layer excitation** (a low-resolution map gates the
  channels of one 8-16 times larger); a spectrally normalised (Miyato et al. 2018) residual
  discriminator with patch hinge logits (format 2: no BatchNorm, as in SNGAN). Format 1 also
  had BatchNorm and the paper's **self-supervised reconstruction** (two small decoders
  rebuilding the real image from the 8x8 features and a random quarter from the 16x16 ones,
  L1 + image-gradient L1 in place of the paper's LPIPS), still built for format-1
  checkpoints (``d_norm = "batch"``, ``decoders = True``).

Deliberate departures, for a live show: no noise injection (the latent alone decides the
image, so the walk is smooth and replays are exact). The checkpoint is a plain
``torch.save`` dict loaded with ``weights_only=True``: no pickled code runs at load.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from installation.errors import ModelError

FORMAT = "installation-gan"
FORMAT_VERSION = 3  # 3: the architecture is named (``arch``; DCGAN by default); 1 and 2 load
# What older formats' configs leave out: both were FastGAN; format 1's discriminator also had
# BatchNorm and decoders.
OLD_ARCHITECTURE: dict[int, dict[str, Any]] = {
    1: {"arch": "fastgan", "d_norm": "batch", "decoders": True},
    2: {"arch": "fastgan"},
}
# Format 2's defaults, for training a FastGAN as the engine did before format 3.
FASTGAN_FORMAT_2: dict[str, Any] = {"arch": "fastgan", "channels": 8, "d_channels": 16,
                                    "d_norm": "spectral", "decoders": False}
ARCHS = ("dcgan", "fastgan")


@dataclass(frozen=True)
class GanConfig:
    """Shape of the two networks.

    Parameters
    ----------
    size
        Square image side, a power of two from 32 to 512 (64, 128, 256 are the usual).
    latent_dim
        Latent size.
    channels
        Generator width at the output resolution; doubles per halving, capped at 16x.
    d_channels
        Discriminator width at half the image size; doubles per halving, capped at 16x.
    arch
        ``"dcgan"`` or ``"fastgan"`` (see the module's docstring).
    d_norm
        The discriminator's normalisation: ``"batch"`` (BatchNorm; DCGAN's, and with
        spectral norm format 1's), ``"spectral"`` (spectral norm only; format 2's) or
        ``"none"``.
    decoders
        FastGAN only: the discriminator's reconstruction decoders (format 1).
    """

    size: int = 64
    latent_dim: int = 64
    channels: int = 16  # DCGAN's ngf 32 at 64 px (16 x 2 at 32 px, doubling per halving)
    d_channels: int = 16
    d_norm: str = "batch"
    decoders: bool = False
    arch: str = "dcgan"

    def __post_init__(self) -> None:
        if self.size < 32 or self.size > 512 or self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two from 32 to 512, got {self.size}")
        if self.latent_dim < 1 or self.channels < 2 or self.d_channels < 2:
            raise ValueError("latent_dim must be positive, channels at least 2")
        if self.d_norm not in ("spectral", "batch", "none"):
            raise ValueError(f"d_norm must be 'spectral', 'batch' or 'none', got {self.d_norm!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be 'dcgan' or 'fastgan', got {self.arch!r}")
        if self.arch == "dcgan" and self.decoders:
            raise ValueError("decoders are FastGAN's (arch = 'fastgan')")

    def g_width(self, res: int) -> int:
        return self.channels * min(16, self.size // res)

    def d_width(self, res: int) -> int:
        return self.d_channels * min(16, max(1, self.size // (2 * res)))

    @property
    def resolutions(self) -> list[int]:
        """4, 8, ..., size."""
        return [2**i for i in range(2, int(math.log2(self.size)) + 1)]

    def sle_pairs(self) -> list[tuple[int, int]]:
        """``(low, high)`` resolutions joined by skip-layer excitation (FastGAN: 4->64,
        8->128, 16->256; here also 4->32 so that small images get one)."""
        return [(max(4, high // 16), high) for high in self.resolutions if high >= 32]


class _GLUConv(nn.Sequential):
    """3x3 conv to twice the channels, BatchNorm, GLU: FastGAN's gated conv unit."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, 2 * c_out, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1))


class UpBlock(nn.Sequential):
    """Nearest-neighbour x2, then one (or, ``double``, two) gated conv units."""

    def __init__(self, c_in: int, c_out: int, double: bool) -> None:
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"),
                                   _GLUConv(c_in, c_out)]
        if double:
            layers.append(_GLUConv(c_out, c_out))
        super().__init__(*layers)


class SkipExcitation(nn.Module):
    """Skip-layer excitation: channel gates for a large map, computed from a small one."""

    def __init__(self, c_low: int, c_high: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_low, c_high, 4, 1, 0, bias=False), nn.SiLU(),
            nn.Conv2d(c_high, c_high, 1, 1, 0, bias=False), nn.Sigmoid(),
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)


class Generator(nn.Module):
    """Latent ``(B, latent_dim)`` -> images ``(B, 3, S, S)`` in -1..1."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        w = config.g_width
        self.init = nn.Sequential(
            nn.ConvTranspose2d(config.latent_dim, 2 * w(4), 4, 1, 0, bias=False),
            nn.BatchNorm2d(2 * w(4)), nn.GLU(dim=1),
        )
        self.ups = nn.ModuleList(
            UpBlock(w(res // 2), w(res), double=i % 2 == 0)
            for i, res in enumerate(config.resolutions[1:])
        )
        self._sle_low = {high: low for low, high in config.sle_pairs()}
        self.sle = nn.ModuleDict({str(high): SkipExcitation(w(low), w(high))
                                  for low, high in config.sle_pairs()})
        self.to_rgb = nn.Conv2d(w(config.size), 3, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.init(z.view(z.shape[0], -1, 1, 1))
        feats = {4: x}
        for res, up in zip(self.config.resolutions[1:], self.ups, strict=True):
            x = up(x)
            if res in self._sle_low:
                x = self.sle[str(res)](feats[self._sle_low[res]], x)
            feats[res] = x
        return torch.tanh(self.to_rgb(x))


def _sn_conv(c_in: int, c_out: int, k: int, s: int, p: int, bias: bool = False,
             norm: str = "spectral") -> nn.Module:
    conv = nn.Conv2d(c_in, c_out, k, s, p, bias=bias)
    return conv if norm == "none" else spectral_norm(conv)


def _conv_act(c_in: int, c_out: int, k: int, s: int, p: int, norm: str) -> list[nn.Module]:
    """A conv (spectrally normalised unless ``norm == "none"``), BatchNorm when
    ``norm == "batch"``, LeakyReLU."""
    if norm == "batch":
        return [_sn_conv(c_in, c_out, k, s, p), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
    return [_sn_conv(c_in, c_out, k, s, p, bias=True, norm=norm), nn.LeakyReLU(0.2)]


class DownBlock(nn.Module):
    """FastGAN's residual down block: a strided conv path and an average-pool path, averaged."""

    def __init__(self, c_in: int, c_out: int, norm: str = "batch") -> None:
        super().__init__()
        self.main = nn.Sequential(*_conv_act(c_in, c_out, 4, 2, 1, norm),
                                  *_conv_act(c_out, c_out, 3, 1, 1, norm))
        self.direct = nn.Sequential(nn.AvgPool2d(2), *_conv_act(c_in, c_out, 1, 1, 0, norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) * 0.5


class Decoder(nn.Module):
    """Small decoder of the discriminator's self-supervision: 8x8 features -> an image."""

    def __init__(self, c_in: int, out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(c_in, min(c_in, 64), 1, 1, 0, bias=False)]
        c, res = min(c_in, 64), 8  # narrow first: full-width decoders cost as much as the G
        while res < out:
            c_next = max(8, c // 2)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _GLUConv(c, c_next)]
            c, res = c_next, res * 2
        self.net = nn.Sequential(nn.AdaptiveAvgPool2d(8), *layers, nn.Conv2d(c, 3, 3, 1, 1),
                                 nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    """Images ``(B, 3, S, S)`` in -1..1 -> patch logits; decoders for self-supervision.

    ``blocks[i]`` halves the resolution: ``features(x, layer)`` returns the activations after
    ``layer`` blocks (1: half size, fine texture; the last: 8x8, whole motifs), which is what
    the dream stage climbs.
    """

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        w = config.d_width
        half = config.size // 2
        self.stem = nn.Sequential(_sn_conv(3, w(half), 4, 2, 1, norm=config.d_norm),
                                  nn.LeakyReLU(0.2))
        res = [r for r in reversed(config.resolutions) if 8 <= r <= half]  # half, ..., 8
        self.blocks = nn.ModuleList(DownBlock(w(r), w(r // 2), config.d_norm) for r in res[:-1])
        self._res = res  # resolution after the stem and after each block
        self.logits = nn.Sequential(
            *_conv_act(w(8), w(8), 1, 1, 0, config.d_norm),
            _sn_conv(w(8), 1, 4, 1, 0, bias=True, norm=config.d_norm),
        )
        self.rec_size = min(half, 64)
        self.decode_all: Decoder | None = None
        self.decode_part: Decoder | None = None
        if config.decoders:
            self.decode_all = Decoder(w(8), self.rec_size)
            self.decode_part = Decoder(w(16), self.rec_size)

    @property
    def depth(self) -> int:
        """Layers ``features`` can return (the stem counts as layer 1)."""
        return 1 + len(self.blocks)

    def features(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Activations after ``layer`` layers (1: the stem), capped at :attr:`depth`."""
        h = self.stem(x)
        for block in self.blocks[: max(0, min(layer, self.depth) - 1)]:
            h = block(h)
        return h

    def forward(self, x: torch.Tensor, part: int | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Logits ``(B, 1, 5, 5)``; with ``part`` (quadrant 0..3) also both reconstructions."""
        h = self.stem(x)
        feats = {self._res[0]: h}
        for r, block in zip(self._res[1:], self.blocks, strict=True):
            h = block(h)
            feats[r] = h
        logits = self.logits(h)
        if part is None or self.decode_all is None or self.decode_part is None:
            return logits, None, None
        f16 = feats[16]
        top, left = (part // 2) * 8, (part % 2) * 8
        return logits, self.decode_all(h), self.decode_part(f16[:, :, top:top + 8, left:left + 8])


def _dcgan_conv(conv: nn.Module, norm: str = "none") -> nn.Module:
    """A conv with DCGAN's N(0, 0.02) init, spectrally normalised when ``norm == "spectral"``
    (initialised first: the parametrisation hides the raw weight)."""
    nn.init.normal_(conv.weight, 0.0, 0.02)
    return spectral_norm(conv) if norm == "spectral" else conv


def _dcgan_bn(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    nn.init.normal_(bn.weight, 1.0, 0.02)
    nn.init.zeros_(bn.bias)
    return bn


class DcganGenerator(nn.Module):
    """DCGAN's generator: latent ``(B, latent_dim)`` -> images ``(B, 3, S, S)`` in -1..1.

    A 4x4 transposed conv from the latent, then one stride-2 4x4 transposed conv per
    doubling (BatchNorm, ReLU), the last to RGB with tanh.
    """

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        w = config.g_width
        layers: list[nn.Module] = [
            _dcgan_conv(nn.ConvTranspose2d(config.latent_dim, w(4), 4, 1, 0, bias=False)),
            _dcgan_bn(w(4)), nn.ReLU()]
        for res in config.resolutions[1:-1]:
            layers += [_dcgan_conv(nn.ConvTranspose2d(w(res // 2), w(res), 4, 2, 1, bias=False)),
                       _dcgan_bn(w(res)), nn.ReLU()]
        layers += [_dcgan_conv(nn.ConvTranspose2d(w(config.size // 2), 3, 4, 2, 1, bias=False)),
                   nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DcganDiscriminator(nn.Module):
    """DCGAN's discriminator: images ``(B, 3, S, S)`` in -1..1 -> one logit ``(B, 1, 1, 1)``.

    ``features(x, layer)`` returns the activations after ``layer`` strided convs (1: half
    size, fine texture; the last: 4x4, whole motifs), which is what the dream stage climbs.
    """

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        w, norm = config.d_width, config.d_norm
        half = config.size // 2
        self.stem = nn.Sequential(_dcgan_conv(nn.Conv2d(3, w(half), 4, 2, 1, bias=False), norm),
                                  nn.LeakyReLU(0.2))
        blocks = []
        for res in [r for r in reversed(config.resolutions) if 8 <= r <= half]:  # half .. 8
            conv = _dcgan_conv(nn.Conv2d(w(res), w(res // 2), 4, 2, 1, bias=norm != "batch"),
                               norm)
            layers = [conv, _dcgan_bn(w(res // 2))] if norm == "batch" else [conv]
            blocks.append(nn.Sequential(*layers, nn.LeakyReLU(0.2)))
        self.blocks = nn.ModuleList(blocks)
        self.logits = _dcgan_conv(nn.Conv2d(w(4), 1, 4, 1, 0, bias=False), norm)

    @property
    def depth(self) -> int:
        """Layers ``features`` can return (the stem counts as layer 1)."""
        return 1 + len(self.blocks)

    def features(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Activations after ``layer`` layers (1: the stem), capped at :attr:`depth`."""
        h = self.stem(x)
        for block in self.blocks[: max(0, min(layer, self.depth) - 1)]:
            h = block(h)
        return h

    def forward(self, x: torch.Tensor, part: int | None = None
                ) -> tuple[torch.Tensor, None, None]:
        """The logit; no reconstructions (the signature is FastGAN's, ``part`` is ignored)."""
        return self.logits(self.features(x, self.depth)), None, None


def build_generator(config: GanConfig) -> nn.Module:
    """The generator of ``config.arch``."""
    return DcganGenerator(config) if config.arch == "dcgan" else Generator(config)


def build_discriminator(config: GanConfig) -> nn.Module:
    """The discriminator of ``config.arch``."""
    return DcganDiscriminator(config) if config.arch == "dcgan" else Discriminator(config)


def quadrant(images: torch.Tensor, part: int) -> torch.Tensor:
    """Quadrant ``part`` (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right)."""
    h, w = images.shape[-2] // 2, images.shape[-1] // 2
    top, left = (part // 2) * h, (part % 2) * w
    return images[..., top:top + h, left:left + w]


@dataclass(frozen=True)
class GanCheckpoint:
    """A loaded checkpoint: the EMA generator, the discriminator and what made them."""

    path: Path
    config: GanConfig
    generator: nn.Module  # DcganGenerator or Generator (FastGAN)
    discriminator: nn.Module
    data_hash: str
    package_version: str
    step: int
    payload: dict[str, Any]


def load_gan(path: Path) -> GanCheckpoint:
    """Load a GAN checkpoint written by ``installation train --model gan``.

    Raises
    ------
    ModelError
        One line naming the file if it is missing, corrupt or truncated, not a GAN checkpoint
        (a VAE's, someone else's), from another format version, or its weights do not fit
        its config.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt files; all mean the same
        raise ModelError(f"{path}: corrupt or not a checkpoint ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        hint = f" (it is an {found} checkpoint)" if isinstance(found, str) else ""
        raise ModelError(f"{path}: not an installation GAN checkpoint{hint} "
                         f"(made by `installation train --model gan`?)")
    version = payload.get("format_version")
    if version not in (1, 2, FORMAT_VERSION):
        raise ModelError(f"{path}: GAN checkpoint format {version!r} is not supported "
                         f"(this version reads 1 to {FORMAT_VERSION}); retrain or upgrade")
    try:
        old = OLD_ARCHITECTURE.get(version, {})
        config = GanConfig(**{**old, **payload["config"]})
        generator = build_generator(config)
        generator.load_state_dict(payload["generator"])
        discriminator = build_discriminator(config)
        discriminator.load_state_dict(payload["training"]["discriminator"])
        return GanCheckpoint(
            path=path, config=config, generator=generator.eval(),
            discriminator=discriminator.eval(), data_hash=str(payload["data_hash"]),
            package_version=str(payload["package_version"]), step=int(payload["step"]),
            payload=payload,
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        reason = " ".join(str(error).split())[:200]  # load_state_dict's lines, folded
        raise ModelError(f"{path}: incompatible GAN checkpoint ({reason})") from None


def config_dict(config: GanConfig) -> dict[str, Any]:
    return asdict(config)
