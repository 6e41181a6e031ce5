"""``installation train``: fit a small conv VAE to the artist's image folder.

Deterministic for a seed (seeded init, shuffling, flips and sampling); stops after
``epochs`` or ``minutes``, whichever comes first, and always leaves a complete checkpoint and
one sample grid per epoch (fixed prior samples on top, reconstructions below).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from installation.errors import UserError
from installation.generator.dataset import load_folder
from installation.generator.trainers import TrainRequest
from installation.generator.vae import Vae, VaeConfig, save_checkpoint, vae_loss


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (the network's shape is ``vae``)."""

    vae: VaeConfig = field(default_factory=VaeConfig)
    epochs: int = 30
    minutes: float = 15.0
    batch_size: int = 32
    learning_rate: float = 2e-3
    beta: float = 1.0
    # KL warm-up (Bowman et al. 2016, "Generating sentences from a continuous space"): beta
    # ramps from 0 over these steps, so the decoder learns to draw before the prior squeezes.
    warmup_steps: int = 300
    sharpness: float = 1.0  # weight of the image-gradient term of vae_loss
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    max_steps: int | None = None  # stop after this many optimiser steps (tests)


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: per-step losses, the checkpoint and the sample grids."""

    checkpoint: Path
    losses: list[float]
    epochs: int
    grids: list[Path]
    data_hash: str
    images: int


def sample_grid(model: Vae, z: torch.Tensor, batch: torch.Tensor, path: Path) -> None:
    """Save prior samples (top rows) and reconstructions of ``batch`` (bottom row) as a PNG."""
    model.eval()
    with torch.inference_mode():
        samples = model.decoder(z)
        recon = model.decoder(model.encode(batch)[0])
    model.train()
    rows = torch.cat([samples, batch, recon])
    cols = 8
    n = rows.shape[0] - rows.shape[0] % cols
    s = rows.shape[-1]
    grid = rows[:n].clamp(0, 1).mul(255).round().byte().view(n // cols, cols, 3, s, s)
    grid = grid.permute(0, 3, 1, 4, 2).reshape(n // cols * s, cols * s, 3).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)


def train_vae(folder: Path, output: Path, config: TrainConfig) -> TrainResult:
    """Train a VAE on the images of ``folder`` and write its checkpoint to ``output``.

    Sample grids go to ``<output stem>_samples/epoch_NNN.png``.

    Raises
    ------
    DatasetError
        The folder is missing, empty or holds an unreadable image.
    """
    torch.manual_seed(config.seed)  # nn.Module default init draws from the global generator
    images, data_hash = load_folder(Path(folder), config.vae.size)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
    device = torch.device(config.device)
    data = data.to(device)
    gen = torch.Generator().manual_seed(config.seed)
    model = Vae(config.vae).to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    fixed_z = torch.randn(16, config.vae.latent_dim, generator=gen).to(device)
    fixed_batch = data[:8]
    grids_dir = output.with_name(output.stem + "_samples")
    n = data.shape[0]
    batch_size = min(config.batch_size, n)
    steps_per_epoch = max(1, n // batch_size)
    deadline = time.monotonic() + config.minutes * 60.0
    losses: list[float] = []
    grids: list[Path] = []
    epochs_done = 0
    bar = tqdm(total=config.epochs * steps_per_epoch, disable=not config.progress,
               unit="step", desc="train")
    stop = False
    for epoch in range(config.epochs):
        order = torch.randperm(n, generator=gen)
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            batch = data[idx.to(device)]
            flip = torch.rand(batch.shape[0], generator=gen).to(device) < 0.5
            batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
            recon, mu, logvar = model(batch, gen=None)
            ramp = min(1.0, (len(losses) + 1) / config.warmup_steps) if config.warmup_steps else 1
            loss, rec, kl = vae_loss(recon, batch, mu, logvar, config.beta * ramp,
                                     config.sharpness)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.1f}", recon=f"{rec.item():.1f}",
                            kl=f"{kl.item():.1f}")
            if time.monotonic() > deadline or (
                config.max_steps is not None and len(losses) >= config.max_steps
            ):
                stop = True
                break
        epochs_done = epoch + 1
        grid = grids_dir / f"epoch_{epochs_done:03d}.png"
        sample_grid(model, fixed_z, fixed_batch, grid)
        grids.append(grid)
        save_checkpoint(output, model, data_hash, epochs_done)  # usable even if interrupted
        if stop:
            break
    bar.close()
    return TrainResult(checkpoint=output, losses=losses, epochs=epochs_done, grids=grids,
                       data_hash=data_hash, images=n)


def train_request(request: TrainRequest) -> str:
    """``installation train --model vae``: the command line's request, run."""
    if request.resume:
        raise UserError("--resume is for --model gan; a VAE trains again from the start")
    if request.every is not None:
        raise UserError("--every is for --model gan; a VAE saves after every epoch")
    try:
        vae = VaeConfig(size=request.size or 64, latent_dim=request.latent_dim or 32)
    except ValueError as error:
        raise UserError(f"--size/--latent-dim: {error}") from None
    config = TrainConfig(vae=vae, epochs=request.epochs or 200, minutes=request.minutes,
                         batch_size=request.batch_size or 32, seed=request.seed,
                         device=request.device, progress=request.progress,
                         max_steps=request.steps)
    result = train_vae(request.images, request.output, config)
    return (f"wrote {result.checkpoint} ({result.images} images, {result.epochs} epochs, "
            f"{len(result.losses)} steps, final loss {result.losses[-1]:.1f}; samples in "
            f"{result.grids[-1].parent})")
