"""A seeded family of compositional pattern-producing networks (CPPNs): pixel coordinates +
latent -> RGB.

Resolution-independent (evaluated per pixel) and cheap enough for a CPU. Richness comes from
coordinate features (random Fourier features, or polar harmonics for ``radial``), alternating
periodic and saturating activations, and the latent injected at every layer so moving it
reshapes the whole image rather than tinting it.

Architectures
-------------
``fourier``
    The default look: a plain stack, each layer ``act(W h + L z)``.
``residual``
    Each layer adds to the previous (``h + act(W h + L z)``): deeper networks stay stable and
    give layered, painterly structure.
``radial``
    Polar coordinate features (angular harmonics, radial Fourier rings): mandala-like symmetry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from installation.generator.names import ARCHITECTURES, DEFAULT_ACTIVATIONS

__all__ = ["ACTIVATIONS", "ARCHITECTURES", "DEFAULT_ACTIVATIONS", "Cppn"]


def _gauss(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-x * x) * 2.0 - 1.0  # centred, so it composes like tanh


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sin": torch.sin,
    "cos": torch.cos,
    "softsign": nn.functional.softsign,
    "gauss": _gauss,
    "abs": lambda x: torch.abs(x) * 2.0 - 1.0,
    "sigmoid": lambda x: torch.sigmoid(x) * 2.0 - 1.0,
    "relu": torch.relu,
}
# Angular harmonics of the radial architecture: 3-, 5- and 6-fold symmetry mixed.
_RADIAL_HARMONICS = (3.0, 5.0, 6.0)
_SQRT_HALF = math.sqrt(0.5)


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
    n_fourier
        Number of random Fourier frequencies.
    architecture
        One of :data:`ARCHITECTURES`.
    activations
        Activation names (keys of :data:`ACTIVATIONS`), cycled over the layers.
    """

    def __init__(
        self, latent_dim: int, hidden: int, layers: int, detail: float, seed: int,
        n_fourier: int = 6, architecture: str = "fourier",
        activations: Sequence[str] = DEFAULT_ACTIVATIONS,
    ) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown CPPN architecture {architecture!r}")
        unknown = [a for a in activations if a not in ACTIVATIONS]
        if unknown or not activations:
            raise ValueError(f"unknown activations {unknown} (known: {', '.join(ACTIVATIONS)})")
        gen = torch.Generator().manual_seed(seed)
        self.latent_dim = latent_dim
        self.architecture = architecture
        self._acts = tuple(ACTIVATIONS[a] for a in activations)
        n_coord = 3 + 2 * n_fourier
        if architecture == "radial":
            n_coord += 2 * len(_RADIAL_HARMONICS)
        # The draw order below is the default look's identity: keep new draws after it.
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
        # A residual sum grows with depth; narrower hidden weights keep it out of saturation.
        hidden_gain = 1.8 if architecture == "residual" else 2.2
        for layer in self.hidden:
            nn.init.normal_(layer.weight, 0.0, hidden_gain / math.sqrt(hidden), generator=gen)
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
        fourier = self.fourier.to(xy.device, xy.dtype)
        if self.architecture != "radial":
            proj = xy @ fourier
            return torch.cat([xy, r, torch.sin(proj), torch.cos(proj)], dim=1)
        # Radial: rings from the radius (its Fourier features), petals from the angle.
        theta = torch.atan2(xy[:, 1:2], xy[:, 0:1])
        harmonics = torch.tensor(_RADIAL_HARMONICS, dtype=xy.dtype, device=xy.device)
        angular = theta * harmonics
        rings = r * fourier.norm(dim=0, keepdim=True)
        return torch.cat([xy, r, torch.sin(rings), torch.cos(rings),
                          torch.sin(angular), torch.cos(angular)], dim=1)

    def project_coordinates(self, coords: torch.Tensor) -> torch.Tensor:
        """The coordinate half of the first layer; constant per size, so computed once."""
        return self.coord_in(coords)

    def forward(self, coord_proj: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """RGB in 0..1 of shape ``(pixels, 3)`` for one latent ``z`` of shape ``(latent_dim,)``."""
        acts = self._acts
        h = acts[0](coord_proj + self.latent_in[0](z))
        residual = self.architecture == "residual"
        for i, layer in enumerate(self.hidden, start=1):
            out = acts[i % len(acts)](layer(h) + self.latent_in[i](z))
            # Scaled sum keeps the variance flat with depth, so deep stacks don't saturate.
            h = (h + out) * _SQRT_HALF if residual else out
        return torch.sigmoid(2.0 * self.rgb(h))
