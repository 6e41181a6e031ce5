"""Stills of the diffusion stage (docs/diffusion.md): a CPPN image before and after img2img.

    .venv/bin/python tools/make_diffusion_stills.py [--out docs/stills] [--size 256x144]

Builds the tiny random pipeline (installation/generator/diffusion/tiny.py) in a temporary
folder, loads it through a show as an artist's model would be, and saves one strip: the
default CPPN image, the same image repainted by a ``[[generator.stages]] kind = "diffusion"``
stage at strengths 0.25, 0.5 and 0.75, and the tiny
model's own txt2img image. It prints, for each, the mean absolute change from the CPPN image
(0..255), the figure quoted in the caption. The weights are random: the picture proves the
code path, not the art; a real model (your sd-turbo folder) is needed for that. Only its VAE
is trained (briefly, on CPPN images), so low strengths keep the CPPN's shapes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from installation.generator.diffusion.tiny import build_tiny_pipeline
from installation.generator.factory import make_generator
from installation.messages import Controls
from installation.show import load_show

REPO = Path(__file__).resolve().parents[1]
SHOW = """
[streams.ecg]
type = "ECG"

[generator]
model = "{model}"
size = [{w}, {h}]
{extra}

[diffusion]
path = "{pipe}"

[[moods]]
name = "still water"
position = [1.0, 0.1]
seed = 11
prompt = "still water at dawn"

[[moods]]
name = "storm"
position = [0.0, 1.0]
seed = 12
prompt = "a storm over the sea"

[[passes]]
shader = "{shader}"
"""
CONTROLS = Controls(t=3.0, values={"calm": 0.7, "energy": 0.4})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "stills")
    parser.add_argument("--size", default="256x144")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_tiny_pipeline(root / "pipe", seed=0)

        def show(model: str, extra: str = ""):
            path = root / f"{model}{len(extra)}.toml"
            path.write_text(SHOW.format(model=model, w=w, h=h, pipe=root / "pipe", extra=extra,
                                        shader=REPO / "shaders" / "pulse.frag"))
            return load_show(path)

        panels = []
        for strength in (0.0, 0.25, 0.5, 0.75):  # at 0 the stage passes the CPPN through
            stage = f'[[generator.stages]]\nkind = "diffusion"\nstrength = {strength}'
            stage_gen = make_generator(show("cppn", stage), device="cpu")
            label = f"img2img, strength {strength}" if strength else "CPPN (the source)"
            panels.append((label, stage_gen(CONTROLS).pixels.copy()))
        cppn = panels[0][1]
        txt2img = make_generator(show("diffusion"), device="cpu")(CONTROLS).pixels.copy()
        panels.append(("txt2img (tiny model alone)", txt2img))
    font = ImageFont.load_default()
    strip = Image.new("RGB", (w * len(panels) + 4 * (len(panels) - 1), h + 16), (0, 0, 0))
    draw = ImageDraw.Draw(strip)
    for i, (label, pixels) in enumerate(panels):
        x = i * (w + 4)
        strip.paste(Image.fromarray(pixels), (x, 16))
        draw.text((x + 2, 2), label, fill=(255, 255, 255), font=font)
        change = float(np.abs(pixels.astype(np.int16) - cppn.astype(np.int16)).mean())
        print(f"{label}: mean |change| from the CPPN image {change:.1f} / 255")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "diffusion_img2img.png"
    strip.save(target, optimize=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
