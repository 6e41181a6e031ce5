"""Additive particles: GL points against the engine's compute path (installation/render/splat).

    .venv/bin/python benchmarks/bench_particles.py [--counts 131072,1048576]
        [--sizes 640x360,1280x720] [--frames 20] [--repeats 5]

One particle pass as Data as Matter draws it (additive, trails, 1-px points), fed by a compute
shader that moves every particle each frame. The same pass is drawn two ways in the same run,
interleaved: as GL points (a point shader that only passes the colour, the path a piece with its
own point shader takes) and summed by the compute path (no point shader). Reported: the median
over repeats of the median ms per frame (``ctx.finish()`` after each frame), and the ratio
points / compute, with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from installation.render.gl_context import create_offscreen_context
from installation.render.graph import PassSpec
from installation.render.passes import Renderer

MOVE = """#version 430
#include "particles.glsl"
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= uint(u_count)) return;
    Particle p = particles[i];
    vec2 c = p.pos.xy - 0.5;
    p.pos.xy = fract(p.pos.xy + u_dt * (vec2(-c.y, c.x) * 0.8 + 0.01 * p.data.z));
    p.color = vec4(0.02, 0.015 + 0.02 * p.data.z, 0.03, 1.0);
    particles[i] = p;
}
"""
POINTS = """#version 330
in vec4 v_color;
out vec4 f_color;
void main() { f_color = v_color; }
"""


def frame_ms(ctx, folder: Path, count: int, size: tuple[int, int], frames: int,
             points: bool) -> float:
    """Median ms per rendered frame of one particle pass."""
    spec = PassSpec(shader=folder / "points.frag" if points else None, kind="particles",
                    compute=folder / "move.comp", count=count, seed=1, fade=0.9)
    times = []
    with Renderer(ctx, [spec], size, (8, 8)) as renderer:
        for i in range(frames + 3):
            began = time.perf_counter()
            renderer.render(i / 30, 1.0, {}, i)
            ctx.finish()
            if i >= 3:  # the first frames compile and allocate
                times.append(1e3 * (time.perf_counter() - began))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="131072,1048576")
    parser.add_argument("--sizes", default="640x360,1280x720")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    ctx = create_offscreen_context()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "move.comp").write_text(MOVE)
        (folder / "points.frag").write_text(POINTS)
        load = [os.getloadavg()[0]]
        for count in (int(c) for c in args.counts.split(",")):
            for size in (tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")):
                runs: dict[str, list[float]] = {"points": [], "compute": []}
                for _ in range(args.repeats):  # interleaved: the load hits both alike
                    runs["points"].append(frame_ms(ctx, folder, count, size, args.frames, True))
                    runs["compute"].append(frame_ms(ctx, folder, count, size, args.frames,
                                                    False))
                p, c = (statistics.median(runs[k]) for k in ("points", "compute"))
                rows.append({"count": count, "size": f"{size[0]}x{size[1]}", "points_ms": p,
                             "compute_ms": c, "ratio": p / c,
                             "runs": {k: [round(v, 2) for v in r] for k, r in runs.items()}})
                print(f"{count:>8} particles {size[0]}x{size[1]}: points {p:7.1f} ms, "
                      f"compute {c:6.1f} ms, {p / c:5.1f}x", flush=True)
        load.append(os.getloadavg()[0])
    info = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "renderer": ctx.info["GL_RENDERER"], "load": load, "rows": rows}
    print(f"{info['renderer']}, load {load[0]:.1f} -> {load[1]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
