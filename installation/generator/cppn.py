"""A seeded compositional pattern-producing network (CPPN): pixel coordinates + latent -> RGB.

Resolution-independent (it is evaluated per pixel) and cheap enough for a CPU. Richness comes
from random Fourier features of the coordinates, alternating periodic and saturating
activations, and the latent injected at every layer so moving it reshapes the whole image
rather than tinting it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

_ACTIVATIONS = (torch.tanh, torch.sin, torch.tanh, torch.sin, nn.functional.softsign)


class Cppn(nn.Module):
    """The network. Weights come from ``seed`` alone, so a seed names an artwork.

    Parameters
    ----------
    latent_dim, hidden, layers
        Latent size, hidden width and number of hidden layers.
    detail
        Scale of the random Fourier frequencies: higher gives finer structure.
    seed
        Seed of every weight.
    """

    def __init__(
        self, latent_dim: int, hidden: int, layers: int, detail: float, seed: int,
        n_fourier: int = 6,
    ) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.latent_dim = latent_dim
        n_coord = 3 + 2 * n_fourier
        self.register_buffer("fourier", torch.randn(2, n_fourier, generator=gen) * detail)
        self.coord_in = nn.Linear(n_coord, hidden)
        self.latent_in = nn.ModuleList(nn.Linear(latent_dim, hidden) for _ in range(layers))
        self.hidden = nn.ModuleList(
            nn.Linear(hidden, hidden, bias=False) for _ in range(layers - 1)
        )
        self.rgb = nn.Linear(hidden, 3)
        # Wider-than-default weights: the default init gives smooth gradients, this gives the
        # folded, marbled structure CPPN art is known for. The latent is injected more gently
        # so it reshapes the pattern instead of saturating it, and the output has no bias so
        # the palette is left to the shaders.
        nn.init.normal_(self.coord_in.weight, 0.0, 1.6 / math.sqrt(n_coord), generator=gen)
        nn.init.normal_(self.coord_in.bias, 0.0, 0.3, generator=gen)
        for layer in self.latent_in:
            nn.init.normal_(layer.weight, 0.0, 0.8 / math.sqrt(latent_dim), generator=gen)
            nn.init.zeros_(layer.bias)
        for layer in self.hidden:
            nn.init.normal_(layer.weight, 0.0, 2.2 / math.sqrt(hidden), generator=gen)
        nn.init.normal_(self.rgb.weight, 0.0, 1.6 / math.sqrt(hidden), generator=gen)
        nn.init.zeros_(self.rgb.bias)

    def coordinates(self, width: int, height: int) -> torch.Tensor:
        """Per-pixel input features ``(height * width, n_coord)``, top row first."""
        aspect = width / height
        ys = torch.linspace(1.0, -1.0, height)
        xs = torch.linspace(-aspect, aspect, width)
        y, x = torch.meshgrid(ys, xs, indexing="ij")
        xy = torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)
        r = xy.norm(dim=1, keepdim=True)
        proj = xy @ self.fourier.to(xy.device, xy.dtype)
        return torch.cat([xy, r, torch.sin(proj), torch.cos(proj)], dim=1)

    def project_coordinates(self, coords: torch.Tensor) -> torch.Tensor:
        """The coordinate half of the first layer; constant per size, so computed once."""
        return self.coord_in(coords)

    def forward(self, coord_proj: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """RGB in 0..1 of shape ``(pixels, 3)`` for one latent ``z`` of shape ``(latent_dim,)``."""
        h = _ACTIVATIONS[0](coord_proj + self.latent_in[0](z))
        for i, layer in enumerate(self.hidden, start=1):
            h = _ACTIVATIONS[i % len(_ACTIVATIONS)](layer(h) + self.latent_in[i](z))
        return torch.sigmoid(2.0 * self.rgb(h))
