"""Differentiable augmentation (DiffAugment: Zhao, Liu, Lin, Zhu and Han, "Differentiable
Augmentation for Data-Efficient GAN Training", NeurIPS 2020).

With few images a discriminator memorises them and training collapses. Augmenting *every*
image it sees, real and generated alike, with differentiable transforms (so the generator's
gradient passes through) keeps it honest without the augmentations leaking into the
generated images. Written here, rather than imported, because the reference code draws from
torch's global generator: these functions take an explicit ``torch.Generator`` so that a
training run, and its resumption, are exactly reproducible.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F  # noqa: N812

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _rand(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One uniform 0..1 number per image, ``(B, 1, 1, 1)`` on the images' device."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=gen).to(x.device, x.dtype)


def brightness(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return x + (_rand(x, gen) - 0.5)


def saturation(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(x, gen) * 2.0) + mean


def contrast(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, gen) + 0.5) + mean


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, zero-filling what comes in."""
    b, _, h, w = x.shape
    sy, sx = max(1, int(h * ratio)), max(1, int(w * ratio))
    dy = torch.randint(-sy, sy + 1, (b,), generator=gen).tolist()
    dx = torch.randint(-sx, sx + 1, (b,), generator=gen).tolist()
    padded = F.pad(x, (sx, sx, sy, sy))
    return torch.stack([padded[i, :, sy - dy[i]:sy - dy[i] + h, sx - dx[i]:sx - dx[i] + w]
                        for i in range(b)])


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` of the size per image, anywhere (even partly outside)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio), int(w * ratio)
    cy = torch.randint(0, h + (1 - ch % 2), (b,), generator=gen)
    cx = torch.randint(0, w + (1 - cw % 2), (b,), generator=gen)
    ys = torch.arange(h)[None, :]
    xs = torch.arange(w)[None, :]
    y0, x0 = (cy - ch // 2)[:, None], (cx - cw // 2)[:, None]
    inside_y = (ys >= y0) & (ys < y0 + ch)  # (B, H)
    inside_x = (xs >= x0) & (xs < x0 + cw)  # (B, W)
    mask = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return x * mask[:, None].to(x.device, x.dtype)


POLICIES: dict[str, tuple[Augment, ...]] = {
    # "color" is the reference code's trio, in its order; each transform is also a key of its
    # own because brightness alone can stop a small discriminator learning (BENCHMARKS.md,
    # "GAN recipe, fourth try"): a per-image offset moves every activation of its first conv.
    "color": (brightness, saturation, contrast),
    "brightness": (brightness,),
    "saturation": (saturation,),
    "contrast": (contrast,),
    "translation": (translation,),
    "cutout": (cutout,),
}


def policy_keys(policy: str) -> list[str]:
    """The keys of a comma-separated ``policy``, checked against :data:`POLICIES`.

    Raises
    ------
    ValueError
        A key that is not one of :data:`POLICIES`, named with the known ones.
    """
    keys = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [k for k in keys if k not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy key {unknown[0]!r} "
                         f"(known: {', '.join(POLICIES)})")
    return keys


def diff_augment(x: torch.Tensor, policy: str, gen: torch.Generator) -> torch.Tensor:
    """Apply ``policy`` (comma-separated keys of :data:`POLICIES`, e.g. ``"color,translation"``
    or ``"saturation,contrast,translation"``) to images ``(B, C, H, W)`` in -1..1, drawing
    from ``gen``; the empty policy returns the images unchanged."""
    for name in policy_keys(policy):
        for fn in POLICIES[name]:
            x = fn(x, gen)
    return x
