"""GAN recipes compared at equal steps: quality every K steps on the 240 procedural shapes.

    .venv/bin/python benchmarks/bench_gan_steps.py NAME '{"steps": 600, "every": 200,
        "channels": 8, "d_channels": 16, "batch_size": 16, "learning_rate": 1e-3}'
        [--out /tmp/gan_steps] [--threads 1]

The JSON names the fields of ``GanConfig`` (``channels``, ``d_channels``, ``latent_dim``,
``size``) and ``GanTrainConfig`` (``batch_size``, ``learning_rate``, ``policy``, ``ema``...)
that differ from today's defaults, plus ``steps`` and ``every`` (and, an experiment only,
``logit_gain``: a fixed factor on the discriminator's logits). Every ``every`` steps the
recalibrated EMA generator renders 96 fixed latents, scored against the training images by
``installation/generator/quality.py`` (validity, sharpness, diversity, memorisation ratios),
printed as one JSON line with the seconds per training step so far, the load average and the
discriminator's mean logit on 96 training images and on the 96 samples, and
32 of them saved as ``OUT/NAME_STEP.png``. Run two recipes at once (one thread each) to
compare them on a shared machine: the figures to read are at equal steps.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see installation/cli.py

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from installation.generator.dataset import load_folder
from installation.generator.gan import GanConfig
from installation.generator.gan_train import GanTrainConfig, _Run, recalibrated, sample_grid
from installation.generator.quality import make_shapes, quality

GAN_KEYS = ("channels", "d_channels", "latent_dim", "size", "d_norm", "decoders")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("recipe", help="JSON of the settings that differ from the defaults")
    parser.add_argument("--out", type=Path, default=Path("/tmp/gan_steps"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = json.loads(args.recipe)
    steps, every = int(spec.pop("steps", 600)), int(spec.pop("every", 200))
    gan = GanConfig(**{k: spec.pop(k) for k in list(spec) if k in GAN_KEYS})
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])
    gain = float(spec.pop("logit_gain", 1.0))
    config = GanTrainConfig(gan=gan, progress=False, **spec)
    with tempfile.TemporaryDirectory() as tmp:
        make_shapes(Path(tmp), count=240, size=gan.size, seed=0)
        images, _ = load_folder(Path(tmp), gan.size)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    run = _Run(config, gan, torch.device("cpu"))
    if gain != 1.0:
        # An experiment, not a recipe: a fixed gain on D's logits lifts spectral norm's
        # Lipschitz bound of ~1 to ``gain`` (does the bound keep the logits of reals and
        # fakes together?). The module's own forward, scaled; nothing else changes.
        forward = run.discriminator.forward

        def scaled(x: torch.Tensor, part: int | None = None) -> tuple:
            logits, *rest = forward(x, part)
            return (logits * gain, *rest)

        run.discriminator.forward = scaled  # type: ignore[method-assign]
    z = torch.randn(96, gan.latent_dim, generator=torch.Generator().manual_seed(7))
    args.out.mkdir(parents=True, exist_ok=True)
    seconds = 0.0
    while run.step < steps:
        start = time.perf_counter()
        d, g, _ = run.train_step(data, config)
        seconds += time.perf_counter() - start
        if run.step % every == 0:
            with torch.no_grad():
                x = recalibrated(run.ema, gan.latent_dim, run.device)(z)
                # The gap between the reals' and the fakes' mean logit says whether D ranks
                # them apart, which its hinge loss (capped at the margin) does not. In eval
                # mode, so spectral norm's power iteration (a buffer) does not move the run.
                run.discriminator.eval()
                logit_real = float(run.discriminator(data[:96])[0].mean())
                logit_fake = float(run.discriminator(x)[0].mean())
                run.discriminator.train()
            pixels = x.add(1).mul(127.5).clamp(0, 255).round().byte().permute(0, 2, 3, 1)
            q = quality(pixels.numpy(), images, shapes=True)
            print(json.dumps({
                "name": args.name, "step": run.step, "s_per_step": round(seconds / run.step, 3),
                "load": round(os.getloadavg()[0], 1), "loss_d": round(d, 3),
                "loss_g": round(g, 3), "logit_real": round(logit_real, 3),
                "logit_fake": round(logit_fake, 3), "validity": round(q.validity or 0.0, 3),
                "sharpness_ratio": round(q.sharpness_ratio, 3),
                "diversity_ratio": round(q.diversity_ratio, 3),
                "memorisation_ratio": round(q.memorisation_ratio, 3)}), flush=True)
            sample_grid(x[:32], args.out / f"{args.name}_{run.step:05d}.png")


if __name__ == "__main__":
    main()
