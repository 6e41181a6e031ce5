"""Render the generator stills of docs/generator.md: a GAN image before and after the dream
stage, and a strip of the dream's feedback mode.

    .venv/bin/python tools/generator_stills.py --gan model.pt [--out docs/stills/generator]

``--gan`` is a checkpoint from ``installation train --model gan`` (the quality benchmark leaves
its own in ``/tmp/bench_quality/<dataset>/gan.pt``). Every image comes from a real chain built
by ``make_generator`` from a show written to a temporary folder, with the controls of a calm
and then an aroused visitor, so the stills show what a show with these stages shows.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see installation/cli.py

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from installation.generator.factory import make_generator
from installation.messages import Controls
from installation.show import load_show

REPO = Path(__file__).resolve().parents[1]
SIZE = (256, 144)
DREAM = ('[[generator.stages]]\nkind = "dream"\nlayer = {layer}\nsteps = 6\n'
         'step_size = 0.02\nintensity_control = "energy"\n{extra}\n')


def chain(folder: Path, gan: Path, stages: str, seed: int):
    (folder / "p.frag").write_text("void main() {}\n")
    show = folder / f"show_{abs(hash(stages))}.toml"
    show.write_text(f'[generator]\nmodel = "gan"\npath = "{gan}"\nsize = [{SIZE[0]}, '
                    f"{SIZE[1]}]\nseed = {seed}\n{stages}\n[[passes]]\nshader = \"p.frag\"\n")
    return make_generator(load_show(show), device="cpu")


def controls(i: int, energy: float) -> Controls:
    return Controls(t=i / 15.0, values={"calm": 0.5, "energy": energy,
                                        "pulse": 1.0 if i % 12 == 0 else 0.0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gan", type=Path, required=True, help="GAN checkpoint")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "stills" / "generator")
    parser.add_argument("--layer", type=int, default=2, help="discriminator layer to dream on")
    parser.add_argument("--seed", type=int, default=4,
                        help="the show's seed (where the walk starts)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain = chain(folder, args.gan, "", args.seed)
        dream = chain(folder, args.gan, DREAM.format(layer=args.layer, extra=""), args.seed)
        for i in range(30):  # let the walk settle the same way in both
            before = plain(controls(i, 1.0)).pixels.copy()
            after = dream(controls(i, 1.0)).pixels.copy()
        Image.fromarray(before).save(args.out / "dream_before.png")
        Image.fromarray(after).save(args.out / "dream_after.png")
        feedback = chain(folder, args.gan, DREAM.format(
            layer=args.layer, extra='feedback = true\nzoom_control = "pulse"\n'), args.seed)
        strip = []
        for i in range(96):
            pixels = feedback(controls(i, 0.8)).pixels
            if i % 16 == 15:
                strip.append(pixels.copy())
        row = np.concatenate(strip[:6], axis=1)
        Image.fromarray(row).resize((row.shape[1] // 2, row.shape[0] // 2),
                                    Image.Resampling.LANCZOS).save(args.out / "dream_feedback.png")
    print(f"wrote {args.out}/dream_before.png, dream_after.png, dream_feedback.png")


if __name__ == "__main__":
    main()
