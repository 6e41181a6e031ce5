"""A growing neural cellular automaton (NCA), its target image and its checkpoint file.

After Mordvintsev, Randazzo, Niklasson and Levin, "Growing Neural Cellular Automata",
Distill 2020 (https://distill.pub/2020/growing-ca/). Every cell of a grid holds ``channels``
numbers: RGBA first, the rest hidden. At each step a cell perceives its 3x3 neighbourhood
(the identity and two Sobel filters per channel), a small per-cell network (two 1x1
convolutions) proposes an update, and only a random half of the cells apply it (stochastic,
asynchronous updates). A cell is alive while it or a neighbour has alpha > 0.1; dead cells
are zeroed (alive masking). Trained from a single seed cell to grow the artist's image, and
from damaged states to regrow it (``train_nca.py``).

The checkpoint is a plain ``torch.save`` dict loaded with ``weights_only=True`` (no pickled
code runs at load): format, version, package version, config, the target image (uint8 RGBA),
its hash, the training step, the loss curve and the optimiser state (for ``--resume``).
Anything else is refused with a one-line :class:`ModelError` naming the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from installation import __version__
from installation.errors import ModelError, UserError

FORMAT = "installation-nca"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class NcaConfig:
    """Shape of the automaton and of its training grid.

    Parameters
    ----------
    size
        Side of the square training grid, in cells (64: the CPU target).
    image_size
        Side of the image inside it; the rest is transparent margin, so the automaton
        learns where to stop growing (the paper pads its 40 px emoji by 16).
    channels
        State channels per cell (RGBA + hidden).
    hidden
        Width of the update network (the paper's 128 costs a third more per step).
    fire_rate
        Probability that a cell updates at a step (training; live shows may lower it).
    alive_threshold
        A cell lives while the largest alpha of its 3x3 neighbourhood exceeds this.
    """

    size: int = 64
    image_size: int = 48
    channels: int = 16
    hidden: int = 96
    fire_rate: float = 0.5
    alive_threshold: float = 0.1

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 512:
            raise ValueError(f"size must be 16..512, got {self.size}")
        if not 8 <= self.image_size <= self.size:
            raise ValueError(f"image size must be 8..{self.size}, got {self.image_size}")
        if not 5 <= self.channels <= 64:
            raise ValueError(f"channels must be 5..64 (RGBA + hidden), got {self.channels}")
        if not 8 <= self.hidden <= 1024:
            raise ValueError(f"hidden must be 8..1024, got {self.hidden}")
        if not 0.0 < self.fire_rate <= 1.0:
            raise ValueError(f"fire rate must be in (0, 1], got {self.fire_rate}")


def perception_kernels(channels: int) -> torch.Tensor:
    """Depthwise 3x3 filters ``(3 * channels, 1, 3, 3)``: identity, Sobel x, Sobel y per channel.

    The perceived vector of a cell is therefore interleaved: ``[c0, dx c0, dy c0, c1, ...]``.
    """
    identity = torch.zeros(3, 3)
    identity[1, 1] = 1.0
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
    kernels = torch.stack([identity, sobel_x, sobel_x.T])
    return kernels.repeat(channels, 1, 1)[:, None]


class Nca(nn.Module):
    """The update rule: perceive (fixed filters), then a 1x1-conv MLP per cell.

    The last layer starts at zero (as in the paper), so an untrained automaton does nothing.
    The parameters are the paper's 1x1 convolutions (``hidden``, ``out``), so checkpoints keep
    their layout; :meth:`update` applies them as matrix products.
    """

    def __init__(self, config: NcaConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.register_buffer("kernels", perception_kernels(c), persistent=False)
        self.hidden = nn.Conv2d(3 * c, config.hidden, 1)
        self.out = nn.Conv2d(config.hidden, c, 1, bias=False)
        nn.init.zeros_(self.out.weight)

    def alive(self, state: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` bool: cells with an alpha above threshold within their 3x3."""
        alpha = state[:, 3:4]
        return functional.max_pool2d(alpha, 3, 1, 1) > self.config.alive_threshold

    def update(self, state: torch.Tensor) -> torch.Tensor:
        """The proposed change of every cell, ``(B, C, H, W)``."""
        # Zero padding: the world ends at the grid's edge, as with the paper's SAME padding.
        perceived = functional.conv2d(state, self.kernels.to(state.dtype), padding=1,
                                      groups=self.config.channels)
        # The two 1x1 convolutions as batched matrix products over the cells: the same
        # weights and sums, but torch's CPU 1x1 conv copies its input (im2col) each time;
        # this form measured ~20% less CPU per CA step, forward + backward (BENCHMARKS.md).
        b, c, h, w = perceived.shape
        w1 = self.hidden.weight[:, :, 0, 0].expand(b, -1, -1)
        w2 = self.out.weight[:, :, 0, 0].expand(b, -1, -1)
        x = torch.baddbmm(self.hidden.bias[None, :, None], w1, perceived.reshape(b, c, h * w))
        return torch.bmm(w2, torch.relu(x)).reshape(b, -1, h, w)

    def forward(self, state: torch.Tensor, fire: torch.Tensor) -> torch.Tensor:
        """One step. ``state`` ``(B, C, H, W)``; ``fire`` ``(B, 1, H, W)``: 1 where a cell updates.

        The random ``fire`` mask is drawn by the caller from its own seeded generator, so a
        step is deterministic.
        """
        pre = self.alive(state)
        state = state + self.update(state) * fire
        return state * (pre & self.alive(state)).to(state.dtype)


def seed_state(batch: int, config: NcaConfig, height: int, width: int,
               device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
               ) -> torch.Tensor:
    """A grid with one live cell in the middle: alpha and hidden channels at 1, RGB at 0."""
    state = torch.zeros(batch, config.channels, height, width, device=device, dtype=dtype)
    state[:, 3:, height // 2, width // 2] = 1.0
    return state


def fire_mask(state: torch.Tensor, rate: float | torch.Tensor,
              generator: torch.Generator) -> torch.Tensor:
    """``(B, 1, H, W)`` float mask, 1 with probability ``rate`` (seeded by ``generator``)."""
    shape = (state.shape[0], 1, *state.shape[2:])
    noise = torch.rand(shape, generator=generator, device=generator.device)
    return (noise.to(state.device) < rate).to(state.dtype)


def disc_masks(count: int, height: int, width: int, centres: torch.Tensor,
               radii: torch.Tensor) -> torch.Tensor:
    """``(count, 1, H, W)`` float masks, 1 inside discs.

    ``centres`` ``(count, 2)`` are (x, y) and ``radii`` ``(count,)`` in units of the grid's
    half-width, with (0, 0) the middle (the paper's ``make_circle_masks``).
    """
    xs = torch.linspace(-1.0, 1.0, width, device=centres.device)
    ys = torch.linspace(-1.0, 1.0, height, device=centres.device) * (height / width)
    dx = xs[None, None, :] - centres[:, 0, None, None]
    dy = ys[None, :, None] - centres[:, 1, None, None]
    inside = dx * dx + dy * dy < (radii * radii)[:, None, None]
    return inside[:, None].float()


def rgba(state: torch.Tensor) -> torch.Tensor:
    """The visible channels, premultiplied RGBA ``(B, 4, H, W)``, clamped to 0..1."""
    return state[:, :4].clamp(0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# The target image


def load_target(path: Path, config: NcaConfig) -> tuple[np.ndarray, str]:
    """The artist's image as the automaton's target: ``(size, size, 4)`` uint8 RGBA.

    The image is centre-cropped square and resized to ``image_size``, then placed in the
    middle of a transparent ``size`` grid. An image with transparency keeps its own alpha;
    an opaque one is cut to a disc with a soft one-cell edge, so the grown image has a shape
    to stop at. RGB is stored premultiplied by alpha (what the automaton grows).

    Returns
    -------
    tuple
        The target and a SHA-256 of the file's bytes.

    Raises
    ------
    UserError
        The file is missing or not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: image not found")
    data = path.read_bytes()
    try:
        with Image.open(path) as image:
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            image = image.convert("RGBA")
            w, h = image.size
            side = min(w, h)
            box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
            s = config.image_size
            pixels = np.asarray(image.resize((s, s), Image.Resampling.LANCZOS, box=box),
                                dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as error:
        raise UserError(f"{path}: cannot read image ({error})") from None
    if not has_alpha:
        r = (np.arange(s, dtype=np.float32) + 0.5 - s / 2.0)
        distance = np.sqrt(r[None, :] ** 2 + r[:, None] ** 2)
        pixels[..., 3] = np.clip(s / 2.0 - distance, 0.0, 1.0)
    pixels[..., :3] *= pixels[..., 3:4]
    target = np.zeros((config.size, config.size, 4), dtype=np.float32)
    top = (config.size - s) // 2
    target[top:top + s, top:top + s] = pixels
    return np.round(target * 255.0).astype(np.uint8), hashlib.sha256(data).hexdigest()


def target_tensor(target: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 ``(H, W, 4)`` -> float ``(1, 4, H, W)`` in 0..1."""
    return torch.from_numpy(np.ascontiguousarray(target)).permute(2, 0, 1)[None].float().div(
        255.0).to(device)


# ---------------------------------------------------------------------------------------------
# Checkpoint


@dataclass(frozen=True)
class NcaCheckpoint:
    """A loaded NCA checkpoint: the automaton and what it was made from."""

    path: Path
    config: NcaConfig
    model: Nca
    target: np.ndarray  # (size, size, 4) uint8, premultiplied RGBA
    image_hash: str
    package_version: str
    step: int
    losses: list[float]
    optimiser: dict[str, Any] | None
    train: dict[str, Any]  # the training settings it was made with (for --resume)


def save_checkpoint(path: Path, model: Nca, target: np.ndarray, image_hash: str, step: int,
                    losses: list[float], optimiser: dict[str, Any] | None,
                    train: dict[str, Any]) -> None:
    """Write the automaton with everything needed to use it, check it, and resume training."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config": asdict(model.config),
        "target": torch.from_numpy(np.ascontiguousarray(target)),
        "image_hash": image_hash,
        "step": step,
        "losses": torch.tensor(losses, dtype=torch.float32),
        "optimiser": optimiser,
        "train": train,
        "state_dict": model.state_dict(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # a crash mid-write never leaves a half checkpoint under the real name


def load_checkpoint(path: Path) -> NcaCheckpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises
    ------
    ModelError
        One line naming the file if it is missing, truncated or corrupt, not an NCA
        checkpoint (e.g. a VAE's), from another format version, or its weights or target do
        not fit its config.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt files; all mean the same
        raise ModelError(f"{path}: truncated, corrupt or not a checkpoint "
                         f"({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        what = f" (it is {found!r})" if isinstance(found, str) else ""
        raise ModelError(f"{path}: not an NCA checkpoint{what}; make one with "
                         f"`installation train IMAGE --model nca -o {path.name}`")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(f"{path}: NCA checkpoint format {version!r} is not supported "
                         f"(this version reads {FORMAT_VERSION}); retrain or upgrade")
    try:
        config = NcaConfig(**payload["config"])
        model = Nca(config)
        model.load_state_dict(payload["state_dict"])
        target = payload["target"].numpy()
        if target.shape != (config.size, config.size, 4) or target.dtype != np.uint8:
            raise ValueError(f"target {tuple(target.shape)} {target.dtype} does not fit size "
                             f"{config.size}")
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise ValueError("weights hold NaN or inf")
        train = payload["train"]
        if not isinstance(train, dict):
            raise TypeError("train settings are not a table")
        return NcaCheckpoint(
            path=path, config=config, model=model.eval(), target=target,
            image_hash=str(payload["image_hash"]),
            package_version=str(payload["package_version"]), step=int(payload["step"]),
            losses=[float(v) for v in payload["losses"]], optimiser=payload["optimiser"],
            train=train,
        )
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise ModelError(f"{path}: incompatible NCA checkpoint ({reason})") from None


# ---------------------------------------------------------------------------------------------
# How much the grown image looks like the target (issue 13's "recognisable")

LIKENESS_BLOCK = 4  # low-pass cells: 64 px -> 16x16, where a face's layout still shows


def _ssim_map(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Per-pixel SSIM of two grey images in 0..1 (Wang et al. 2004: Gaussian window of
    sigma 1.5, K1 0.01, K2 0.03, sample covariances, as skimage's ``gaussian_weights``)."""
    from scipy.ndimage import gaussian_filter

    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, sigma, mode="reflect", truncate=3.5)

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a), blur(b)
    n = (2 * int(3.5 * sigma + 0.5) + 1) ** 2  # window size, for the unbiased covariances
    norm = n / (n - 1)
    var_a = norm * (blur(a * a) - mu_a**2)
    var_b = norm * (blur(b * b) - mu_b**2)
    cov = norm * (blur(a * b) - mu_a * mu_b)
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)
            / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))


def likeness(rgb: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """How recognisable a grown image is: three scores against the target, inside its shape.

    The margin around the image is excluded (an automaton that grows nothing would
    otherwise score for the black background), and so is a silhouette's worth of credit:
    a blob of the image's mean colour in the image's disc scores 0 on ``layout``.

    Parameters
    ----------
    rgb
        ``(H, W, 3)`` uint8 premultiplied RGB, e.g. a frame of ``growth_frames``.
    target
        ``(H, W, 4)`` uint8 premultiplied RGBA (:func:`load_target`) or its ``(H, W, 3)`` RGB
        with the alpha taken as "any channel lit".

    Returns
    -------
    dict
        ``layout``: Pearson correlation of the two images averaged over
        ``LIKENESS_BLOCK``-pixel cells (16x16 at 64 px: cap, face, glasses, shoulders),
        over the cells inside the target and all three channels; 1 for the target itself,
        about 0 for a uniform blob. ``ssim``: mean grey-level SSIM over the target's pixels
        (structure at full resolution; 1 at most). ``psnr``: dB over the target's pixels.
    """
    rgb = np.asarray(rgb, dtype=np.float64)[..., :3] / 255.0
    goal = np.asarray(target, dtype=np.float64) / 255.0
    inside = goal[..., 3] > 0.5 if goal.shape[-1] == 4 else goal.max(axis=-1) > 0.0
    goal = goal[..., :3]
    if rgb.shape != goal.shape:
        raise ValueError(f"image {rgb.shape} and target {goal.shape} differ in size")
    mse = float(((rgb - goal) ** 2)[inside].mean())
    psnr = 10.0 * np.log10(1.0 / max(mse, 1e-10))
    grey = np.array([0.299, 0.587, 0.114])
    ssim = float(_ssim_map(rgb @ grey, goal @ grey)[inside].mean())

    k = LIKENESS_BLOCK
    h, w = (goal.shape[0] // k) * k, (goal.shape[1] // k) * k

    def pool(x: np.ndarray) -> np.ndarray:
        return x[:h, :w].reshape(h // k, k, w // k, k, -1).mean(axis=(1, 3))

    cells = pool(inside[..., None].astype(np.float64))[..., 0] > 0.99  # wholly inside
    # Each channel about its own mean: a blob of the right colour is not a likeness.
    a, b = pool(rgb)[cells], pool(goal)[cells]
    a, b = (a - a.mean(axis=0)).ravel(), (b - b.mean(axis=0)).ravel()
    spread = float(np.sqrt((a * a).sum() * (b * b).sum()))
    layout = float((a * b).sum() / spread) if spread > 1e-12 else 0.0
    return {"layout": layout, "ssim": ssim, "psnr": float(psnr)}
