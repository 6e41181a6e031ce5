"""Quality of the trainable generators, with no downloaded network: GAN vs VAE, same budget.

    .venv/bin/python benchmarks/bench_quality.py [--minutes 15] [--size 64]
        [--datasets shapes,photos] [--models gan,vae,vae-v1] [--work DIR] [--json out.json]
        [--stills docs/stills]

For each dataset (``shapes``: 240 procedural coloured shapes with a moment-based validity
score; ``photos``: 240 crops and flips of the colour photographs inside scikit-image), three
models are trained **at the same time, for the same wall-clock minutes**, each as a real
``installation train`` run on one thread (the VM has two cores; running them side by side
gives each the same share of a machine other people are also using, so the comparison is
fair even when the absolute speed is not representative):

- ``gan``: ``installation train --model gan`` (format 3: a DCGAN with label smoothing, a
  slower discriminator and DiffAugment);
- ``vae``: ``installation train --model vae`` (the VAE with this issue's fixes);
- ``vae-v1``: the VAE as it was before (transposed-conv decoder, no sharpening term, no KL
  warm-up), trained through the same code, for the "what did the fixes do" row.

Then 240 seeded samples of each are scored against the training images (see
``installation/generator/quality.py``): sharpness ratio, diversity ratio, memorisation ratio,
near-copies, shape validity. The GAN's validity is also read off its sample grids (saved every
100 steps) to show how many steps it took to draw shapes. The machine load (``os.getloadavg``)
before and after is printed with every figure. With ``--stills``, sample grids are written as
PNG for the docs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see installation/cli.py

import numpy as np
import torch
from PIL import Image

from installation.generator.dataset import load_folder
from installation.generator.gan import load_gan
from installation.generator.quality import (
    make_photos,
    make_shapes,
    quality,
    shape_validity,
)
from installation.generator.vae import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
SAMPLES = 240

OLD_VAE = """
import sys
from pathlib import Path
from installation.generator.train import TrainConfig, train_vae
from installation.generator.vae import VaeConfig
folder, out, minutes, size = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
config = TrainConfig(vae=VaeConfig(size=size, upsample="transposed"), epochs=100000,
                     minutes=minutes, sharpness=0.0, warmup_steps=0, progress=False)
result = train_vae(Path(folder), Path(out), config)
print(f"wrote {out} ({result.images} images, {result.epochs} epochs, {len(result.losses)} steps)")
"""


def train_all(folder: Path, work: Path, minutes: float, size: int,
              models: tuple[str, ...] = ("gan", "vae", "vae-v1")) -> dict[str, dict]:
    """Train ``models`` side by side, one thread each; returns steps and seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    cli = [sys.executable, "-m", "installation", "train", str(folder), "--size", str(size),
           "--minutes", str(minutes), "-q", "--device", "cpu"]
    commands = {
        "gan": [*cli, "--model", "gan", "-o", str(work / "gan.pt"), "--every", "100"],
        "vae": [*cli, "--model", "vae", "--epochs", "100000", "-o", str(work / "vae.pt")],
        "vae-v1": [sys.executable, "-c", OLD_VAE, str(folder), str(work / "vae-v1.pt"),
                   str(minutes), str(size)],
    }
    commands = {name: commands[name] for name in models}
    started = time.monotonic()
    procs = {name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env, cwd=REPO)
             for name, cmd in commands.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=minutes * 60 + 900)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} training failed: {stderr[-2000:]}")
        line = stdout.strip().splitlines()[-1]
        steps = re.search(r"(\d+) steps", line)
        out[name] = {"line": line, "steps": int(steps.group(1)) if steps else None,
                     "wall_s": round(time.monotonic() - started, 1)}
    for info in out.values():
        if info["steps"]:
            info["steps_per_s"] = round(info["steps"] / (minutes * 60), 3)
    return out


@torch.no_grad()
def samples(path: Path, kind: str, n: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """``n`` seeded prior samples of a checkpoint as ``(n, S, S, 3)`` uint8."""
    gen = torch.Generator().manual_seed(seed)
    if kind == "gan":
        checkpoint = load_gan(path)
        z = torch.randn(n, checkpoint.config.latent_dim, generator=gen)
        images = (checkpoint.generator(z) + 1.0) / 2.0
    else:
        checkpoint = load_checkpoint(path)
        z = torch.randn(n, checkpoint.config.latent_dim, generator=gen)
        images = checkpoint.model.decoder(z)
    pixels = images.clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1)
    return pixels.numpy()


def grid(images: np.ndarray, cols: int = 8, rows: int = 3) -> np.ndarray:
    n, s = cols * rows, images.shape[1]
    return images[:n].reshape(rows, cols, s, s, 3).transpose(0, 2, 1, 3, 4).reshape(
        rows * s, cols * s, 3)


def grid_validity(path: Path, size: int) -> float:
    """Shape validity of the 32 fixed-latent samples in one of the GAN's sample grids."""
    with Image.open(path) as image:
        pixels = np.array(image.convert("RGB"))
    tiles = pixels.reshape(pixels.shape[0] // size, size, 8, size, 3).transpose(0, 2, 1, 3, 4)
    tiles = tiles.reshape(-1, size, size, 3)
    return float(np.mean([shape_validity(t).valid for t in tiles]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--datasets", default="shapes,photos")
    parser.add_argument("--models", default="gan,vae,vae-v1",
                        help="which of gan, vae, vae-v1 to train side by side (one thread each)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_quality"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--stills", type=Path, help="write sample grids (PNG) here")
    args = parser.parse_args()
    report: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "torch": torch.__version__, "minutes": args.minutes, "size": args.size}
    for dataset in args.datasets.split(","):
        work = args.work / dataset
        folder = work / "images"
        maker = make_shapes if dataset == "shapes" else make_photos
        maker(folder, count=240, size=args.size, seed=0)
        training, _ = load_folder(folder, args.size)
        load_before = os.getloadavg()
        trained = train_all(folder, work, args.minutes, args.size, tuple(args.models.split(",")))
        entry: dict = {"load_before": [round(v, 2) for v in load_before],
                       "load_after": [round(v, 2) for v in os.getloadavg()]}
        shapes = dataset == "shapes"
        for name, info in trained.items():
            kind = "gan" if name == "gan" else "vae"
            generated = samples(work / f"{name}.pt", kind)
            entry[name] = {**info, **quality(generated, training, shapes=shapes).as_dict()}
            if args.stills:
                args.stills.mkdir(parents=True, exist_ok=True)
                Image.fromarray(grid(generated)).save(args.stills / f"{dataset}_{name}.png")
        if args.stills:
            # Files sort by kind (all circles first): show an even spread of the set.
            spread = np.linspace(0, len(training) - 1, 24).round().astype(int)
            Image.fromarray(grid(training[spread])).save(args.stills / f"{dataset}_training.png")
        if shapes and "gan" in trained:
            grids = sorted((work / "gan_samples").glob("step_*.png"))
            entry["gan"]["validity_by_step"] = {
                int(g.stem.split("_")[1]): round(grid_validity(g, args.size), 3) for g in grids}
        report[dataset] = entry
        print(json.dumps({dataset: entry}, indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
