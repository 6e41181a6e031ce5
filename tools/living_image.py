"""Make the living-image piece's assets: its portrait, its model, its stills and clips.

    .venv/bin/python tools/living_image.py portrait   # pieces/living-image/portrait.png
    .venv/bin/python tools/living_image.py train      # pieces/living-image/nca.pt (550 steps)
    .venv/bin/python tools/living_image.py media      # stills, GIF, grid, figures (README)

``portrait`` crops matplotlib's sample photograph of Grace Hopper (public domain: an official
U.S. Navy photograph; matplotlib ships it as ``sample_data/grace_hopper.jpg``) to her face and
cap, 128x128. ``train`` runs ``installation train`` on it (40-cell grid, 550 steps) and copies the
grid and loss curve into ``pieces/living-image/media/``. ``media`` replays the bundled demo
recording and a simulated visit (a visitor who leaves, and a 200 bpm heart) through the
piece, writes the stills, a looping GIF, the flash checks and the beat-visibility figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIECE = REPO / "pieces" / "living-image"
MEDIA = PIECE / "media"
PORTRAIT = PIECE / "portrait.png"
MODEL = PIECE / "nca.pt"
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"


def make_portrait() -> Path:
    import matplotlib.cbook
    from PIL import Image

    source = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    with Image.open(source) as image:
        # The face and the cap, square (the photograph is 512x600).
        face = image.convert("RGB").crop((106, 20, 406, 320))
        face.resize((128, 128), Image.Resampling.LANCZOS).save(PORTRAIT, optimize=True)
    print(f"wrote {PORTRAIT} from {source}")
    return PORTRAIT


def train(minutes: float) -> None:
    if not PORTRAIT.is_file():
        make_portrait()
    # The committed model: 550 deterministic steps on a 40-cell grid (README.md).
    cmd = [str(REPO / ".venv" / "bin" / "installation"), "train", str(PORTRAIT), "--model",
           "nca", "--size", "40", "--steps", "550", "-o", str(MODEL), "--minutes",
           str(minutes), "--device", "cpu"]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    MEDIA.mkdir(parents=True, exist_ok=True)
    samples = MODEL.with_name(MODEL.stem + "_samples")
    for name in ("grid.png", "loss.png"):
        shutil.copy(samples / name, MEDIA / name)
    shutil.rmtree(samples)
    print(f"copied grid.png and loss.png to {MEDIA}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("portrait")
    t = sub.add_parser("train")
    t.add_argument("--minutes", type=float, default=600.0)
    sub.add_parser("media")
    args = parser.parse_args(argv)
    if args.what == "portrait":
        make_portrait()
    elif args.what == "train":
        train(args.minutes)
    else:
        from living_image_media import make_media  # beside this file

        print(json.dumps(make_media(), indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
