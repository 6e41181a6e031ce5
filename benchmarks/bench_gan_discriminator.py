"""Can the GAN's discriminator, alone, learn to tell the training shapes from blurred copies?

    .venv/bin/python benchmarks/bench_gan_discriminator.py [--policy "color,translation"]
        [--norm spectral] [--lr 1e-3] [--steps 400]

A check of the discriminator and its augmentation without a generator in the loop: the
format-2 ``Discriminator`` (``gan.py``) is trained with the plain hinge loss, Adam (betas
0.5, 0.999), batch 16, on the 240 procedural shapes (``quality.make_shapes``) against the
same shapes blurred twice by a 5x5 binomial kernel, every image passed through
``diff_augment(policy)`` as in training. Every 50 steps it prints the hinge loss and the mean
logit (eval mode, unaugmented) on 96 sharp and 96 blurred images: a gap near 0 means the
discriminator cannot tell them apart, so in a GAN it could not push the generator towards
edges either. One thread, seeded: the figures repeat exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import torch
from torch.nn import functional as F  # noqa: N812

from installation.generator.dataset import load_folder
from installation.generator.diffaug import diff_augment
from installation.generator.gan import Discriminator, GanConfig
from installation.generator.quality import make_shapes


def blur(x: torch.Tensor) -> torch.Tensor:
    """Two passes of a 5x5 binomial kernel (edge-padded) per channel."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (k[:, None] * k[None, :] / 256.0).expand(3, 1, 5, 5)
    for _ in range(2):
        x = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel, groups=3)
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="color,translation")
    parser.add_argument("--norm", default="spectral", choices=("spectral", "none", "batch"))
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        make_shapes(Path(tmp), count=240, size=64, seed=0)
        images, _ = load_folder(Path(tmp), 64)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    torch.manual_seed(0)
    disc = Discriminator(GanConfig(d_norm=args.norm))
    opt = torch.optim.Adam(disc.parameters(), lr=args.lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    sharp_eval, blurred_eval = data[:96], blur(data[:96])
    for step in range(1, args.steps + 1):
        real = data[torch.randint(0, len(data), (16,), generator=gen)]
        fake = blur(real)
        real, fake = diff_augment(real, args.policy, gen), diff_augment(fake, args.policy, gen)
        loss = F.relu(0.9 - disc(real)[0]).mean() + F.relu(0.9 + disc(fake)[0]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            disc.eval()
            with torch.no_grad():
                a = float(disc(sharp_eval)[0].mean())
                b = float(disc(blurred_eval)[0].mean())
            disc.train()
            print(json.dumps({"policy": args.policy, "norm": args.norm, "lr": args.lr,
                              "step": step, "loss": round(float(loss.detach()), 3),
                              "logit_sharp": round(a, 3), "logit_blurred": round(b, 3),
                              "gap": round(a - b, 3), "load": round(os.getloadavg()[0], 1)}),
                  flush=True)


if __name__ == "__main__":
    main()
