"""What the dream stage costs in the Dreaming piece: images/s of its generator chain.

    .venv/bin/python benchmarks/bench_dreaming.py [--images 40] [--repeats 3]

The piece's own generator (CPPN source at its size, then the `dream` stage in feedback on
`contours.pt`), called as the lock-step replay and the live worker call it, with the depth
control (the dream's intensity) at 0 (no dreaming: the CPPN and the feedback zoom alone) and at
1 (the full dream), a heartbeat every 8 images. Median of the repeats, each the mean of
``--images`` calls after 3 warm-up calls; the two depths are interleaved so that the shared
machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the installation command sets it

from installation.generator.factory import make_generator  # noqa: E402
from installation.messages import Controls  # noqa: E402
from installation.show import load_show  # noqa: E402

SHOW = REPO / "pieces" / "dreaming" / "show.toml"


def ms_per_image(depth: float, images: int) -> float:
    generator = make_generator(load_show(SHOW), device="cpu")

    def controls(i: int) -> Controls:
        return Controls(t=i / 10, values={"calm": 0.4, "energy": 0.5, "depth": depth,
                                          "pulse": 1.0 if i % 8 == 0 else 0.0})

    for i in range(3):
        generator(controls(i))
    began = time.perf_counter()
    for i in range(3, 3 + images):
        generator(controls(i))
    return 1e3 * (time.perf_counter() - began) / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    show = load_show(SHOW)
    stage = show.generator.stages[0]
    runs: dict[float, list[float]] = {0.0: [], 1.0: []}
    for _ in range(args.repeats):
        for depth in runs:
            runs[depth].append(ms_per_image(depth, args.images))
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    w, h = show.generator.size
    print(f"Dreaming generator at {w}x{h}, dream {stage.octaves} octave(s) x {stage.steps}"
          f" step(s), feedback; load average {load}")
    for depth, values in runs.items():
        ms = statistics.median(values)
        print(f"depth {depth:.0f}: {ms:.1f} ms/image median ({1e3 / ms:.1f} images/s; runs"
              f" {', '.join(f'{v:.1f}' for v in values)}); the show asks for"
              f" {show.generator.rate:g} images/s")


if __name__ == "__main__":
    main()
