"""``installation train --model gan``: training the artist's GAN (see ``gan.py``).

Deterministic for a seed: every random draw (batches, flips, latents, augmentations, label
noise) comes from one seeded ``torch.Generator`` whose state is saved in the checkpoint with
both networks, both optimisers and the EMA, so ``--resume`` continues exactly where the run
stopped (a run stopped at step N and resumed to step M gives the same weights as one run to
M). ``--minutes`` bounds the wall time of this invocation; ``--steps`` the total step count.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F  # noqa: N812
from tqdm import tqdm

from installation import __version__
from installation.errors import ModelError, UserError
from installation.generator.dataset import load_folder
from installation.generator.diffaug import diff_augment
from installation.generator.gan import (
    FORMAT,
    FORMAT_VERSION,
    GanConfig,
    build_discriminator,
    build_generator,
    config_dict,
    load_gan,
    quadrant,
)
from installation.generator.trainers import TrainRequest


@dataclass(frozen=True)
class GanTrainConfig:
    """Training settings (the networks' shape is ``gan``; ignored on resume).

    The defaults are format 3's recipe for the DCGAN (``gan.py``): DCGAN's Adam (2e-4,
    betas 0.5/0.999) and non-saturating loss, the discriminator held back (half the rate,
    real label 0.9: Salimans et al. 2016), translation augmentation. ``FASTGAN_FORMAT_2``
    holds the settings format 2 trained its FastGAN with.
    """

    gan: GanConfig = field(default_factory=GanConfig)
    steps: int | None = None  # total optimiser steps to reach (None: until ``minutes``)
    minutes: float = 15.0
    batch_size: int = 32
    learning_rate: float = 2e-4  # DCGAN's
    d_learning_rate: float | None = 1e-4  # None: learning_rate; smaller holds D back
    real_label: float = 0.9  # one-sided label smoothing ("ns" loss only); 1.0: off
    reconstruction: float = 1.0  # weight of the discriminator's self-supervision
    r1: float = 0.0  # R1 penalty weight (gamma) on the reals' gradient; 0: off
    r1_every: int = 16  # lazy R1 (StyleGAN2): every this many steps, scaled by it
    d_steps: int = 1  # discriminator updates per generator update, each on a fresh batch
    betas: tuple[float, float] = (0.5, 0.999)  # DCGAN's and FastGAN's
    policy: str = "translation"  # DiffAugment policy of every image D sees
    loss: str = "ns"  # "ns": non-saturating (DCGAN's) or "hinge" (FastGAN's, noisy margin)
    ema: float = 0.999
    every: int = 500  # sample grid + checkpoint every this many steps
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    resume: bool = False

    def __post_init__(self) -> None:
        if self.loss not in ("hinge", "ns"):
            raise ValueError(f"loss must be 'hinge' or 'ns', got {self.loss!r}")
        if not 0.5 < self.real_label <= 1.0:
            raise ValueError(f"real_label must be in (0.5, 1], got {self.real_label}")


# The settings format 2 trained its FastGAN with (with ``gan.FASTGAN_FORMAT_2``'s networks).
FASTGAN_FORMAT_2_TRAINING: dict[str, Any] = {
    "batch_size": 16, "learning_rate": 1e-3, "d_learning_rate": None, "real_label": 1.0,
    "policy": "color,translation", "loss": "hinge",
}


@dataclass(frozen=True)
class GanTrainResult:
    """What a run produced."""

    checkpoint: Path
    step: int  # total steps of the model (resumed ones included)
    steps_run: int  # steps run by this invocation
    seconds: float
    losses_d: list[float]
    losses_g: list[float]
    grids: list[Path]
    data_hash: str
    images: int

    @property
    def steps_per_s(self) -> float:
        return self.steps_run / self.seconds if self.seconds > 0 else 0.0


def _gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 between the horizontal and vertical differences of two images: edges must match."""
    dxa, dxb = a[..., :, 1:] - a[..., :, :-1], b[..., :, 1:] - b[..., :, :-1]
    dya, dyb = a[..., 1:, :] - a[..., :-1, :], b[..., 1:, :] - b[..., :-1, :]
    return F.l1_loss(dxa, dxb) + F.l1_loss(dya, dyb)


def reconstruction_loss(rec: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The discriminator's self-supervision, without a pretrained perceptual network."""
    target = F.interpolate(target, size=rec.shape[-2:], mode="area")
    return F.l1_loss(rec, target) + _gradient_l1(rec, target)


@torch.no_grad()
def recalibrated(ema: nn.Module, latent_dim: int, device: torch.device) -> nn.Module:
    """A copy of the EMA generator whose BatchNorm statistics are its own.

    The running statistics were gathered by the raw generator, not the averaged one; a few
    seeded batches through the copy (cumulative averages) make them match what it renders.
    Uses its own generator, so it never disturbs the training run's random stream.
    """
    model = copy.deepcopy(ema)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    gen = torch.Generator().manual_seed(1234)
    for _ in range(4):
        model(torch.randn(32, latent_dim, generator=gen).to(device))
    for bn in bns:
        bn.momentum = 0.1
    return model.eval()


def sample_grid(images: torch.Tensor, path: Path, cols: int = 8) -> None:
    """Save ``(N, 3, S, S)`` images in -1..1 as a PNG grid of ``cols`` columns."""
    n = images.shape[0] - images.shape[0] % cols
    s = images.shape[-1]
    grid = images[:n].add(1).mul(127.5).clamp(0, 255).round().byte().cpu()
    grid = grid.view(n // cols, cols, 3, s, s).permute(0, 3, 1, 4, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid.reshape(n // cols * s, cols * s, 3).numpy()).save(path)


RECIPE_KEYS = ("batch_size", "learning_rate", "d_learning_rate", "real_label", "loss", "policy",
               "ema")


def resumed_recipe(payload: dict[str, Any], gan: GanConfig) -> dict[str, Any]:
    """The training recipe a checkpoint was made with, so that a resumed run goes on with it.

    Checkpoints before format 3 saved only some of it; what they leave out is format 2's
    FastGAN recipe, which is what made them.
    """
    saved = payload.get("training", {}).get("settings", {})
    base = FASTGAN_FORMAT_2_TRAINING if gan.arch == "fastgan" and "loss" not in saved else {}
    recipe = {**base, **{k: saved[k] for k in RECIPE_KEYS if k in saved}}
    if "batch_size" in recipe:
        recipe["batch_size"] = int(recipe["batch_size"])
    return recipe


class _Run:
    """The state of one training run: networks, optimisers, EMA, random stream, step."""

    def __init__(self, config: GanTrainConfig, gan: GanConfig, device: torch.device) -> None:
        torch.manual_seed(config.seed)  # nn.Module default init draws from the global generator
        self.gan = gan
        self.device = device
        self.generator = build_generator(gan).to(device).train()
        self.discriminator = build_discriminator(gan).to(device).train()
        self.ema = copy.deepcopy(self.generator).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.learning_rate,
                                      betas=config.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(),
                                      lr=config.d_learning_rate or config.learning_rate,
                                      betas=config.betas)
        self.gen = torch.Generator().manual_seed(config.seed)
        self.fixed_z = torch.randn(32, gan.latent_dim,
                                   generator=torch.Generator().manual_seed(config.seed + 1))
        self.step = 0

    def state(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.gen.get_state(),
        }

    def load(self, training: dict[str, Any], step: int) -> None:
        self.generator.load_state_dict(training["generator"])
        self.discriminator.load_state_dict(training["discriminator"])
        self.ema.load_state_dict(training["ema"])
        self.opt_g.load_state_dict(training["opt_g"])
        self.opt_d.load_state_dict(training["opt_d"])
        self.gen.set_state(training["rng"])
        self.step = step

    def save(self, path: Path, data_hash: str, config: GanTrainConfig) -> None:
        payload: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "config": config_dict(self.gan),
            "data_hash": data_hash,
            "step": self.step,
            "generator": recalibrated(self.ema, self.gan.latent_dim, self.device).state_dict(),
            "training": {
                **self.state(),
                "settings": {"batch_size": config.batch_size,
                             "learning_rate": config.learning_rate,
                             "d_learning_rate": config.d_learning_rate,
                             "real_label": config.real_label, "loss": config.loss,
                             "policy": config.policy, "ema": config.ema, "seed": config.seed},
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)  # a crash mid-write never leaves a half checkpoint under the real name

    def train_step(self, data: torch.Tensor, config: GanTrainConfig) -> tuple[float, float, float]:
        """One generator update after ``config.d_steps`` discriminator updates; the losses."""
        fake = torch.empty(0)
        loss_d = loss_rec = torch.zeros(())
        for i in range(config.d_steps):
            # Only the last batch's fakes keep their graph: the generator's update reuses them.
            with torch.set_grad_enabled(i == config.d_steps - 1):
                real, fake, part = self._batch(data, config)
            loss_d, loss_rec = self._discriminator_step(real, fake, part, config)
        return self._generator_step(fake, config, loss_d, loss_rec)

    def _batch(self, data: torch.Tensor, config: GanTrainConfig
               ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Augmented reals and fakes of one batch, and the quadrant the decoder rebuilds."""
        gen, dev = self.gen, self.device
        b = min(config.batch_size, data.shape[0])
        idx = torch.randint(0, data.shape[0], (b,), generator=gen).to(dev)
        real = data[idx]
        flip = (torch.rand(b, generator=gen) < 0.5).to(dev)
        real = torch.where(flip[:, None, None, None], real.flip(-1), real)
        z = torch.randn(b, self.gan.latent_dim, generator=gen).to(dev)
        part = int(torch.randint(0, 4, (1,), generator=gen))
        fake = diff_augment(self.generator(z), config.policy, gen)
        real = diff_augment(real, config.policy, gen)
        return real, fake, part

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor, part: int,
                            config: GanTrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
        gen, dev = self.gen, self.device
        # Discriminator: noisy hinge (FastGAN) + self-supervised reconstruction of the reals.
        rec = self.gan.decoders and config.reconstruction > 0
        logits, rec_all, rec_part = self.discriminator(real, part if rec else None)
        if config.loss == "ns":
            # Binary cross-entropy against the (smoothed) real label.
            loss_real = F.binary_cross_entropy_with_logits(
                logits, torch.full_like(logits, config.real_label))
        else:
            u = torch.rand(logits.shape, generator=gen).to(dev)
            loss_real = F.relu(0.8 + 0.2 * u - logits).mean()
        loss_rec = torch.zeros((), device=dev)
        if rec_all is not None and rec_part is not None:
            loss_rec = (reconstruction_loss(rec_all, real)
                        + reconstruction_loss(rec_part, quadrant(real, part)))
        fake_logits = self.discriminator(fake.detach())[0]
        if config.loss == "ns":
            loss_fake = F.softplus(fake_logits).mean()
        else:
            u = torch.rand(fake_logits.shape, generator=gen).to(dev)
            loss_fake = F.relu(0.8 + 0.2 * u + fake_logits).mean()
        loss_d = loss_real + loss_fake + config.reconstruction * loss_rec
        if config.r1 > 0 and self.step % config.r1_every == 0:
            # R1 (Mescheder et al. 2018), lazily as StyleGAN2 does (Karras et al. 2020).
            x = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.discriminator(x)[0].sum(), x, create_graph=True)
            penalty = grad.square().sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + 0.5 * config.r1 * config.r1_every * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return loss_d, loss_rec

    def _generator_step(self, fake: torch.Tensor, config: GanTrainConfig, loss_d: torch.Tensor,
                        loss_rec: torch.Tensor) -> tuple[float, float, float]:
        # Generator: raise the discriminator's logits of its (augmented) images.
        logits = self.discriminator(fake)[0]
        # Hinge: raise the logits; non-saturating: -log sigmoid (Goodfellow et al. 2014).
        loss_g = F.softplus(-logits).mean() if config.loss == "ns" else -logits.mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()

        self.step += 1
        # EMA with a warm-up, so early checkpoints are not dominated by the random init.
        decay = min(config.ema, (1.0 + self.step) / (10.0 + self.step))
        with torch.no_grad():
            for p_ema, p in zip(self.ema.parameters(), self.generator.parameters(), strict=True):
                p_ema.lerp_(p, 1.0 - decay)
            for b_ema, b_raw in zip(self.ema.buffers(), self.generator.buffers(), strict=True):
                b_ema.copy_(b_raw)
        return float(loss_d.detach()), float(loss_g.detach()), float(loss_rec.detach())

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        model = recalibrated(self.ema, self.gan.latent_dim, self.device)
        return model(self.fixed_z.to(self.device))


def train_gan(folder: Path, output: Path, config: GanTrainConfig) -> GanTrainResult:
    """Train (or, ``config.resume``, go on training) a GAN on the images of ``folder``.

    Sample grids go to ``<output stem>_samples/step_NNNNNN.png`` every ``config.every`` steps
    and at the end; the checkpoint is rewritten at the same times, so an interrupted run
    (Ctrl-C included) leaves a usable, resumable model.

    Raises
    ------
    DatasetError
        The folder is missing, empty or holds an unreadable image.
    ModelError
        ``resume`` and the checkpoint is missing, not a GAN checkpoint or broken.

    On resume, the networks' shape and the training recipe (``RECIPE_KEYS``) are the
    checkpoint's, whatever ``config`` says: the run goes on as it was started.
    """
    output = Path(output)
    device = torch.device(config.device)
    gan, payload = config.gan, None
    if config.resume:
        if not output.is_file():
            raise ModelError(f"{output}: nothing to resume (no checkpoint there yet)")
        checkpoint = load_gan(output)
        gan, payload = checkpoint.config, checkpoint.payload
        try:
            config = replace(config, **resumed_recipe(payload, gan))
        except (TypeError, ValueError, AttributeError) as error:
            raise ModelError(f"{output}: cannot resume from this checkpoint "
                             f"(its training settings: {error})") from None
    images, data_hash = load_folder(Path(folder), gan.size)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    data = data.to(device)
    run = _Run(config, gan, device)
    if payload is not None:
        try:
            run.load(payload["training"], int(payload["step"]))
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            reason = str(error).strip().splitlines()[0][:160]
            raise ModelError(f"{output}: cannot resume from this checkpoint ({reason})") from None
    grids_dir = output.with_name(output.stem + "_samples")
    losses_d: list[float] = []
    losses_g: list[float] = []
    grids: list[Path] = []
    start = time.monotonic()
    deadline = start + config.minutes * 60.0
    total = config.steps
    bar = tqdm(total=total, initial=run.step if total else 0, disable=not config.progress,
               unit="step", desc="train gan")

    def checkpoint() -> None:
        grid = grids_dir / f"step_{run.step:06d}.png"
        sample_grid(run.samples(), grid)
        grids.append(grid)
        run.save(output, data_hash, config)

    first = run.step
    try:
        while (total is None or run.step < total) and time.monotonic() < deadline:
            d, g, rec = run.train_step(data, config)
            losses_d.append(d)
            losses_g.append(g)
            bar.update(1)
            postfix = {"d": f"{d:.3f}", "g": f"{g:.3f}"}
            if gan.decoders:  # format 1's discriminator: its reconstruction loss too
                postfix["rec"] = f"{rec:.3f}"
            bar.set_postfix(postfix)
            if not math.isfinite(d + g):
                raise ModelError(f"{output}: training diverged at step {run.step} (loss "
                                 f"{d:.3g}/{g:.3g}); the last checkpoint is kept")
            if run.step % config.every == 0:
                checkpoint()
    except KeyboardInterrupt:
        bar.close()
        checkpoint()
        raise
    bar.close()
    if not grids or grids[-1].name != f"step_{run.step:06d}.png":
        checkpoint()
    return GanTrainResult(
        checkpoint=output, step=run.step, steps_run=run.step - first,
        seconds=time.monotonic() - start, losses_d=losses_d, losses_g=losses_g, grids=grids,
        data_hash=data_hash, images=data.shape[0],
    )


def train_request(request: TrainRequest) -> str:
    """``installation train --model gan``: the command line's request, run."""
    if request.epochs is not None:
        raise UserError("--epochs is for --model vae; a GAN trains for --steps or --minutes")
    try:
        gan = GanConfig(size=request.size or 64, latent_dim=request.latent_dim or 64)
    except ValueError as error:
        raise UserError(f"--size/--latent-dim: {error}") from None
    if request.resume and request.size is not None and Path(request.output).is_file():
        saved = load_gan(request.output).config.size
        if saved != request.size:
            raise UserError(f"{request.output}: --resume of a {saved} px model with --size "
                            f"{request.size}; leave --size out to resume")
    config = GanTrainConfig(
        gan=gan, steps=request.steps, minutes=request.minutes,
        batch_size=request.batch_size or GanTrainConfig.batch_size,
        every=request.every or 500, seed=request.seed,
        device=request.device, progress=request.progress, resume=request.resume,
    )
    result = train_gan(request.images, request.output, config)
    return (f"wrote {result.checkpoint} ({result.images} images, step {result.step}, "
            f"{result.steps_run} steps in {result.seconds:.0f} s = {result.steps_per_s:.2f} "
            f"steps/s; samples in {result.grids[-1].parent})")
