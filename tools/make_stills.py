"""README stills from a replay of the demo: frames at chosen times, with what drove them.

    .venv/bin/python tools/make_stills.py demo.mp4 [--out docs/stills]

Reads ``demo.mp4`` and the ``demo.features.csv`` the replay wrote beside it, saves three
frames (eyes open between beats, eyes open just after an R-peak, eyes closed where the calm
control is highest) and prints each one's time, calm control and mean brightness for the
README's captions.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import av
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
RPEAKS = REPO / "installation" / "demo" / "demo_session.rpeaks.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "stills")
    args = parser.parse_args()
    rows = list(csv.DictReader(args.video.with_suffix(".features.csv").open()))
    t = np.array([float(r["t"]) for r in rows])
    calm = np.array([float(r["control.calm"]) for r in rows])
    with RPEAKS.open() as handle:
        peaks = np.array([float(r["time_s"]) for r in csv.DictReader(handle)])
    # A beat in the eyes-open half after the calibration: the frame 120 ms after it, and the
    # last frame before it.
    peak = peaks[(peaks > 14.5) & (peaks < 20.0)][0]
    beat = int(np.flatnonzero(t >= peak + 0.12)[0])
    before = int(np.flatnonzero(t < peak)[-1])
    closed = int(np.flatnonzero(t >= 35.0)[0] + np.argmax(calm[(t >= 35.0) & (t < 50.0)]))
    wanted = {before: "eyes_open_before_beat", beat: "eyes_open_beat", closed: "eyes_closed"}
    args.out.mkdir(parents=True, exist_ok=True)
    with av.open(str(args.video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                pixels = frame.to_ndarray(format="rgb24")
                Image.fromarray(pixels).save(args.out / f"{wanted[index]}.png")
                print(f"{wanted[index]}: t {t[index]:.2f} s, calm {calm[index]:.2f}, "
                      f"brightness {pixels.mean():.1f}")


if __name__ == "__main__":
    main()
