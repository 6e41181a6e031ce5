"""``installation train IMAGE --model nca``: grow the artist's image with a neural CA.

Pool training with damage, after Mordvintsev et al., "Growing Neural Cellular Automata"
(Distill 2020), section "Experiment 3: Learning to regenerate": a pool of states starts as
seeds; each optimiser step takes a batch from it, puts a fresh seed in place of the worst
sample (so growth from a seed is never forgotten), cuts discs out of the best ones (so it
learns to regrow), runs 64..96 steps, compares the RGBA channels with the image, and writes
the batch back. Gradients are normalised per parameter, as in the paper's colab. An extra
"overflow" penalty keeps every channel within -1..1 (from Niklasson et al., "Self-Organising
Textures", Distill 2021), so the automaton stays bounded when it runs for weeks.

Deterministic for a seed: every optimiser step draws its randomness from a generator seeded
by (seed, step), so a resumed run draws what an uninterrupted one would have drawn. The pool
itself is not saved (it holds 1024 grids): a resumed run refills it from seeds.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from installation.errors import UserError
from installation.generator.nca import (
    Nca,
    NcaConfig,
    disc_masks,
    fire_mask,
    likeness,
    load_checkpoint,
    load_target,
    rgba,
    save_checkpoint,
    seed_state,
    target_tensor,
)
from installation.generator.trainers import TrainRequest


@dataclass(frozen=True)
class NcaTrainConfig:
    """Training settings (the automaton's shape is ``nca``)."""

    nca: NcaConfig = field(default_factory=NcaConfig)
    # The paper trains 8000 steps of batch 8 (hidden 128, pool 1024, 64..96 CA steps). A
    # 2-core CPU does about 1000 optimiser steps of the smaller settings below in 15
    # minutes (BENCHMARKS.md), so the batch, the pool and the schedule are scaled to that.
    steps: int = 1500  # most optimiser steps
    minutes: float = 15.0
    batch_size: int = 4
    pool_size: int = 256
    damaged: int = 1  # samples of each batch that get a wound
    rollout: tuple[int, int] = (48, 80)  # CA steps per optimiser step, drawn uniformly
    learning_rate: float = 2e-3
    decay_step: int = 1200  # learning rate x0.1 from this step on (as the paper, scaled)
    overflow_weight: float = 1.0
    # Backpropagate through only the last N CA steps (None: all). 32 of 48..80 gives 1.4x the
    # optimiser steps per CPU second, but in a 15-minute run the automaton no longer grew
    # from a seed (the early steps of growth get no gradient): measured, BENCHMARKS.md.
    grad_steps: int | None = None
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    save_every: int = 50  # optimiser steps between checkpoints (and at the end)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.pool_size < self.batch_size:
            raise ValueError("batch size must be >= 1 and the pool at least one batch")
        if not 0 <= self.damaged < self.batch_size:
            raise ValueError("damaged samples must be fewer than the batch")
        lo, hi = self.rollout
        if not 1 <= lo <= hi:
            raise ValueError(f"rollout must be 1 <= min <= max, got {self.rollout}")
        if self.steps < 1:
            raise ValueError("steps must be at least 1")

    def to_record(self) -> dict[str, Any]:
        """What the checkpoint keeps of these settings (what shapes training, not where)."""
        keep = ("batch_size", "pool_size", "damaged", "learning_rate", "decay_step",
                "overflow_weight", "grad_steps", "seed")
        record: dict[str, Any] = {k: getattr(self, k) for k in keep}
        record["rollout"] = list(self.rollout)
        return record


@dataclass(frozen=True)
class NcaTrainResult:
    """What a run produced."""

    checkpoint: Path
    losses: list[float]  # every optimiser step since the first (resumed runs included)
    step: int  # optimiser steps done in total
    steps_this_run: int
    wall_s: float
    cpu_s: float  # process CPU time of the run (all threads)
    grid: Path
    loss_plot: Path
    likeness: dict[str, dict[str, float]]  # recognisability() at the end

    @property
    def steps_per_s(self) -> float:
        return self.steps_this_run / self.wall_s if self.wall_s > 0 else float("nan")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _step_generator(seed: int, step: int) -> torch.Generator:
    # Independent of everything before this step: resume draws the same numbers.
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


def _learning_rate(config: NcaTrainConfig, step: int) -> float:
    return config.learning_rate * (0.1 if step >= config.decay_step else 1.0)


def _per_sample_loss(state: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (rgba(state) - target).pow(2).mean(dim=(1, 2, 3))


def train_nca(image: Path, output: Path, config: NcaTrainConfig,
              resume: bool = False) -> NcaTrainResult:
    """Train an automaton to grow ``image`` and write its checkpoint to ``output``.

    Writes ``<output stem>_samples/grid.png`` (growth from a seed, and regrowth after a
    wound) and ``loss.png`` at the end; the checkpoint is rewritten every ``save_every``
    steps, so an interrupted run leaves a usable file.

    Parameters
    ----------
    resume
        Continue from the checkpoint at ``output``: its config, weights, optimiser state,
        step count and loss curve. The image must be the one it was trained on.

    Raises
    ------
    UserError
        The image is missing or unreadable; ``resume`` with no checkpoint, a bad one, or a
        different image.
    """
    output = Path(output)
    device = torch.device(config.device)
    losses: list[float] = []
    start = 0
    optimiser_state = None
    nca_config = config.nca
    if resume:
        if not output.is_file():
            raise UserError(f"{output}: --resume needs an existing checkpoint there")
        previous = load_checkpoint(output)
        nca_config = previous.config
        config = replace(config, nca=nca_config)
        start, losses, optimiser_state = previous.step, list(previous.losses), previous.optimiser
    target_u8, image_hash = load_target(Path(image), nca_config)
    if resume and image_hash != previous.image_hash:
        raise UserError(f"{image}: not the image {output} was trained on (--resume needs the "
                        f"same file)")
    target = target_tensor(target_u8, device)

    torch.manual_seed(config.seed)  # nn.Module default init draws from the global generator
    model = Nca(nca_config).to(device).train()
    if resume:
        model.load_state_dict(previous.model.state_dict())
    optimiser = torch.optim.Adam(model.parameters(), lr=_learning_rate(config, start))
    if optimiser_state is not None:
        try:
            optimiser.load_state_dict(optimiser_state)
        except (ValueError, KeyError, TypeError) as error:
            raise UserError(f"{output}: its optimiser state does not fit ({error})") from None

    size = nca_config.size
    pool = seed_state(config.pool_size, nca_config, size, size, device)
    seed = seed_state(1, nca_config, size, size, device)
    deadline = time.monotonic() + config.minutes * 60.0
    t0 = time.monotonic()
    cpu0 = _cpu_seconds()
    step = start
    bar = tqdm(total=config.steps, initial=start, disable=not config.progress, unit="step",
               desc="train nca")
    record = config.to_record()

    def save() -> None:
        save_checkpoint(output, model, target_u8, image_hash, step, losses,
                        optimiser.state_dict(), record)

    while step < config.steps:
        gen = _step_generator(config.seed, step)
        for group in optimiser.param_groups:
            group["lr"] = _learning_rate(config, step)
        idx = torch.randperm(config.pool_size, generator=gen)[:config.batch_size].to(device)
        batch = pool[idx]
        with torch.no_grad():
            order = _per_sample_loss(batch, target).argsort(descending=True)
        idx, batch = idx[order], batch[order]
        batch[:1] = seed  # the worst sample starts again from a seed
        if config.damaged:
            n = config.damaged
            centres = (torch.rand(n, 2, generator=gen) - 0.5).to(device)
            radii = (0.1 + 0.3 * torch.rand(n, generator=gen)).to(device)
            batch[-n:] *= 1.0 - disc_masks(n, size, size, centres, radii)
        lo, hi = config.rollout
        rollout = int(torch.randint(lo, hi + 1, (1,), generator=gen))
        state = batch
        # Truncated backpropagation: the first steps run without a graph (a third of the
        # cost); the pool carries states across optimiser steps, so long horizons are still
        # trained, as in the paper's pool, where most samples are already grown.
        free = max(0, rollout - config.grad_steps) if config.grad_steps else 0
        with torch.no_grad():
            for _ in range(free):
                state = model(state, fire_mask(state, nca_config.fire_rate, gen))
        for _ in range(rollout - free):
            state = model(state, fire_mask(state, nca_config.fire_rate, gen))
        image_loss = _per_sample_loss(state, target).mean()
        overflow = (state - state.clamp(-1.0, 1.0)).abs().mean()
        loss = image_loss + config.overflow_weight * overflow
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.grad /= p.grad.norm() + 1e-8
        optimiser.step()
        pool[idx] = state.detach()
        value = float(image_loss.detach())
        if not math.isfinite(value):
            raise RuntimeError(f"training diverged at step {step} (loss {value})")
        losses.append(value)
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4f}", log10=f"{math.log10(max(value, 1e-12)):.2f}",
                        rollout=rollout)
        if step % config.save_every == 0:
            save()
        if time.monotonic() > deadline:
            break
    bar.close()
    wall = time.monotonic() - t0
    cpu = _cpu_seconds() - cpu0
    save()
    samples = output.with_name(output.stem + "_samples")
    model.eval()
    grid = samples / "grid.png"
    growth_grid(model, target_u8, grid, seed=config.seed)
    loss_plot = samples / "loss.png"
    plot_losses(losses, loss_plot, title=f"{output.name}: {step} steps")
    score = recognisability(model, target_u8, seed=config.seed)
    return NcaTrainResult(checkpoint=output, losses=losses, step=step,
                          steps_this_run=step - start, wall_s=wall, cpu_s=cpu, grid=grid,
                          loss_plot=loss_plot, likeness=score)


# ---------------------------------------------------------------------------------------------
# Pictures of a trained automaton

GROWTH_STEPS = (0, 10, 20, 30, 45, 60, 80, 100, 150, 200)
REGROWTH_STEPS = (0, 5, 10, 20, 30, 45, 60, 80, 100, 200)


@torch.no_grad()
def growth_frames(model: Nca, steps: tuple[int, ...], seed: int = 0,
                  wound: tuple[float, float, float] | None = None,
                  grow_first: int = 200, size: int | None = None) -> list[np.ndarray]:
    """Premultiplied RGB images ``(H, W, 3)`` uint8 of one automaton at the given steps.

    From a seed, or, with ``wound = (x, y, radius)`` (grid half-widths, middle = 0), from the
    state grown for ``grow_first`` steps with that disc cut out.
    """
    config = model.config
    side = size or config.size
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    state = seed_state(1, config, side, side, device)
    if wound is not None:
        for _ in range(grow_first):
            state = model(state, fire_mask(state, config.fire_rate, gen))
        x, y, r = wound
        state = state * (1.0 - disc_masks(1, side, side, torch.tensor([[x, y]], device=device),
                                          torch.tensor([r], device=device)))
    frames = []
    for i in range(max(steps) + 1):
        if i in steps:
            rgb = rgba(state)[0, :3].permute(1, 2, 0).cpu().numpy()
            frames.append(np.round(rgb * 255.0).astype(np.uint8))
        state = model(state, fire_mask(state, config.fire_rate, gen))
    return frames


GRID_WOUND = (0.2, -0.15, 0.35)  # the grid's wound: (x, y, radius) in grid half-widths
# Recognisable, judged by eye on the 64 px portrait blurred with a Gaussian: at sigma 3 px
# (layout 0.86) the cap, face and glasses still read as a face; at 4 px (0.76) only a cap over
# a skin-coloured disc does (BENCHMARKS.md, "Living image").
RECOGNISABLE_LAYOUT = 0.85


def recognisability(model: Nca, target: np.ndarray, seed: int = 0,
                    steps: int = 200) -> dict[str, dict[str, float]]:
    """:func:`likeness` of what the automaton grows, as the grid shows it.

    Returns
    -------
    dict
        ``grown``: after ``steps`` CA steps from a seed; ``regrown``: grown ``steps``, cut by
        the grid's wound, then ``steps`` more. Each holds ``layout``, ``ssim`` and ``psnr``.
    """
    grown = growth_frames(model, (steps,), seed=seed)[0]
    regrown = growth_frames(model, (steps,), seed=seed, wound=GRID_WOUND, grow_first=steps)[0]
    return {"grown": likeness(grown, target), "regrown": likeness(regrown, target)}


def growth_grid(model: Nca, target: np.ndarray, path: Path, seed: int = 0,
                scale: int = 2) -> Path:
    """Save a PNG: growth from a seed (top row), regrowth after a wound (bottom row), and
    the target at the end of each row, each tile enlarged ``scale`` times (nearest)."""
    top = growth_frames(model, GROWTH_STEPS, seed=seed)
    bottom = growth_frames(model, REGROWTH_STEPS, seed=seed, wound=GRID_WOUND)
    goal = target[..., :3]
    gap = np.full((target.shape[0], 2, 3), 255, np.uint8)

    def row(frames: list[np.ndarray]) -> np.ndarray:
        parts: list[np.ndarray] = []
        for f in [*frames, goal]:
            parts += [f, gap]
        return np.concatenate(parts[:-1], axis=1)

    hgap = np.full((2, row(top).shape[1], 3), 255, np.uint8)
    grid = np.concatenate([row(top), hgap, row(bottom)], axis=0)
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
    return path


def plot_losses(losses: list[float], path: Path, title: str = "") -> Path:
    """Save the loss curve (log scale, with a running mean) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = np.asarray(losses, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    if values.size:
        ax.semilogy(np.arange(1, values.size + 1), values, lw=0.6, alpha=0.5, label="step")
        window = max(1, min(50, values.size // 10))
        if window > 1:
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            ax.semilogy(np.arange(window, values.size + 1), smooth, lw=1.6,
                        label=f"mean of {window}")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("RGBA MSE")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def config_record(config: NcaTrainConfig) -> dict[str, Any]:
    """Everything about a run, for logs and benchmark JSON."""
    data = asdict(config)
    data["rollout"] = list(config.rollout)
    return data


def train_request(request: TrainRequest) -> str:
    """``installation train IMAGE --model nca``: the trainer registry's NCA entry.

    Returns
    -------
    str
        The summary line the command prints.

    Raises
    ------
    UserError
        An option the NCA does not use, a folder instead of one image, or bad settings.
    """
    import os

    for flag, value in (("--epochs", request.epochs), ("--latent-dim", request.latent_dim),
                        ("--every", request.every)):
        if value is not None:
            raise UserError(f"{flag} is not an option of --model nca (it trains by --steps)")
    if Path(request.images).is_dir():
        raise UserError(f"{request.images}: --model nca grows one image; give an image file")
    size = request.size or 64
    try:
        nca = NcaConfig(size=size, image_size=max(8, round(size * 0.75)))
        # Growth from the middle to the image's edge takes about a step per half cell, so
        # the rollout scales with the grid: 48..80 CA steps at 64.
        rollout = (max(8, round(size * 0.75)), max(8, round(size * 1.25)))
        config = NcaTrainConfig(
            nca=nca, rollout=rollout, steps=request.steps or NcaTrainConfig.steps,
            minutes=request.minutes,
            batch_size=request.batch_size or NcaTrainConfig.batch_size, seed=request.seed,
            device=request.device, progress=request.progress)
    except ValueError as error:
        raise UserError(f"train --model nca: {error}") from None
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    busy = config.device == "cpu" and cores > 1 and load >= cores
    if busy:
        # Measured on a shared 2-core machine at load ~9: one thread ran a step about twice
        # as fast as two, which kept waiting for each other (BENCHMARKS.md). Said in the
        # summary line, so that an error stays the only line on stderr.
        torch.set_num_threads(1)
    result = train_nca(request.images, request.output, config, resume=request.resume)
    recent = result.losses[-20:]
    return (f"wrote {result.checkpoint} ({result.step} steps, {result.steps_this_run} in "
            f"{result.wall_s:.0f} s = {result.steps_per_s:.2f} steps/s, {result.cpu_s:.0f} CPU s;"
            f" load {os.getloadavg()[0]:.1f}; loss "
            f"{sum(recent) / len(recent):.4f}; likeness (layout, recognisable >= "
            f"{RECOGNISABLE_LAYOUT}) {result.likeness['grown']['layout']:.2f} grown, "
            f"{result.likeness['regrown']['layout']:.2f} regrown; grid {result.grid}, loss "
            f"curve {result.loss_plot})"
            + (f"; one thread, the machine was busy (load {load:.1f} on {cores} cores)"
               if busy else ""))
