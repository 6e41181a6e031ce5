"""GAN training recipes side by side: seconds per step and images per second, same run.

    .venv/bin/python benchmarks/bench_gan_recipe.py [--size 64] [--steps 30] [--threads 1]
        [--json out.json]

The recipe of ``installation train --model gan`` today (``new``: the defaults of
``GanConfig`` and ``GanTrainConfig``: format 2's plain discriminator, no BatchNorm, no
reconstruction decoders) against format 1's two recipes (``old``: 16/32 channels, batch 8,
lr 2e-4; ``v1``: 8/16 channels, batch 16, lr 1e-3, both with BatchNorm and the decoders in
the discriminator), all on the 240 procedural shapes. Their steps are
**interleaved** in one process (one step of each in turn, after two warm-up steps each), so a
machine that other people load slows both alike and the ratio stays meaningful even when the
absolute speed is not. Prints the median seconds per step, images per second, parameter
counts, the ratio and the load average before and after.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see installation/cli.py

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from installation.generator.dataset import load_folder
from installation.generator.gan import GanConfig
from installation.generator.gan_train import GanTrainConfig, _Run
from installation.generator.quality import make_shapes


def recipes(size: int) -> dict[str, GanTrainConfig]:
    new = GanTrainConfig(gan=GanConfig(size=size), progress=False)
    v1 = replace(new, gan=GanConfig(size=size, d_norm="batch", decoders=True))
    old = replace(v1, gan=replace(v1.gan, channels=16, d_channels=32), batch_size=8,
                  learning_rate=2e-4)
    return {"old": old, "v1": v1, "new": new}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        make_shapes(Path(tmp), count=240, size=args.size, seed=0)
        images, _ = load_folder(Path(tmp), args.size)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    configs = recipes(args.size)
    runs = {name: _Run(config, config.gan, torch.device("cpu")) for name, config in configs.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    load_before = os.getloadavg()
    for i in range(args.steps + 2):
        for name, run in runs.items():
            start = time.perf_counter()
            run.train_step(data, configs[name])
            if i >= 2:
                times[name].append(time.perf_counter() - start)
    report: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "torch": torch.__version__, "threads": args.threads, "size": args.size,
                    "steps": args.steps, "load_before": [round(v, 2) for v in load_before],
                    "load_after": [round(v, 2) for v in os.getloadavg()]}
    for name, run in runs.items():
        s = statistics.median(times[name])
        report[name] = {
            "batch_size": configs[name].batch_size, "learning_rate": configs[name].learning_rate,
            "channels": configs[name].gan.channels, "d_channels": configs[name].gan.d_channels,
            "d_norm": configs[name].gan.d_norm, "decoders": configs[name].gan.decoders,
            "g_params": sum(p.numel() for p in run.generator.parameters()),
            "d_params": sum(p.numel() for p in run.discriminator.parameters()),
            "s_per_step": round(s, 4), "steps_per_s": round(1 / s, 3),
            "images_per_s": round(configs[name].batch_size / s, 2),
        }
    for base in ("old", "v1"):
        report[f"step_speed_ratio_vs_{base}"] = round(
            report[base]["s_per_step"] / report["new"]["s_per_step"], 2)
        report[f"image_speed_ratio_vs_{base}"] = round(
            report["new"]["images_per_s"] / report[base]["images_per_s"], 2)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
