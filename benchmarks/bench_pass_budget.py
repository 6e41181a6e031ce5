"""What the per-pass time budget costs: the default pass rendered with and without its timer query.

    .venv/bin/python benchmarks/bench_pass_budget.py [--frames 30] [--repeats 7]

``Renderer(..., pass_budget_s=...)`` wraps each pass in a GL timer query and waits for its
result (the budget needs the pass's real cost). Renders the default piece's pass at 640x360
from a 256x144 image, interleaving the two renderers per repeat (same load), and prints the
median milliseconds per frame of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from installation.messages import GeneratedImage
from installation.render.gl_context import create_offscreen_context
from installation.render.passes import PassSpec, Renderer

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    ctx = create_offscreen_context()
    spec = [PassSpec(REPO / "shaders" / "pulse.frag",
                     {"u_pulse": "pulse", "u_calm": "calm", "u_energy": "energy"})]
    renderers = {"no budget": Renderer(ctx, spec, (640, 360), (256, 144)),
                 "budget 2 s": Renderer(ctx, spec, (640, 360), (256, 144), pass_budget_s=2.0)}
    pixels = np.random.default_rng(0).integers(0, 256, (144, 256, 3), dtype=np.uint8)
    for renderer in renderers.values():
        renderer.upload(GeneratedImage(pixels=pixels, t=0.0, index=0))
    ms: dict[str, list[float]] = {name: [] for name in renderers}
    for _ in range(args.repeats):
        for name, renderer in renderers.items():
            began = time.perf_counter()
            for i in range(args.frames):
                renderer.render(t=i / 30, frame_mix=1.0, controls={"pulse": 0.5}, index=i)
            ms[name].append((time.perf_counter() - began) / args.frames * 1e3)
    for name, values in ms.items():
        print(f"{name}: {statistics.median(values):.1f} ms/frame (median of {args.repeats})")
    ratio = statistics.median(ms["budget 2 s"]) / statistics.median(ms["no budget"])
    print(f"ratio budget / no budget: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
