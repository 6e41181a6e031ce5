"""Frame time of the default piece: generator running + GL render + flash limiter.

    .venv/bin/python benchmarks/bench_render.py [--seconds 6] [--repeats 3] [--size 960x540 ...]

The bundled demo recording drives the whole pipeline (features, mapping, the torch
generator at its show rate, every GL pass, read-back and the flash limiter) in lock-step,
without encoding. Reported per size: the median frame time over ``--repeats`` runs, the
frames per second it sustains (from the mean frame time, which includes the frames where
the generator runs), and the limiter's own share (timed on the same frames).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import moderngl
import numpy as np
import torch

from installation.clock import FixedStepClock
from installation.inputs.recording import RecordingSource, load_recording
from installation.modes.replay import resolve_streams
from installation.pipeline import Pipeline
from installation.render.gl_context import create_offscreen_context
from installation.safety.limiter import FlashLimiter
from installation.show import load_show

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"


def run_once(ctx: moderngl.Context, size: tuple[int, int], seconds: float, fps: float,
             start: float = 30.0) -> tuple[float, float, float]:
    """Mean and median ms per frame of ``Pipeline.step``, and the limiter's median."""
    show = load_show(REPO / "show.toml")
    recording = load_recording(DEMO)
    streams = resolve_streams(show, recording)
    keys = list(streams)
    source = RecordingSource(recording, [streams[k] for k in keys])
    pipeline = Pipeline(show, ctx, size, fps, device="cpu")
    # Features need history, as in replay: run them, unrendered and untimed, up to start.
    for t in np.arange(0.1, start, 0.1):
        pipeline.extract(dict(zip(keys, source.read_until(float(t)), strict=True)), float(t))
    clock = FixedStepClock(fps=fps, start=start)
    step_ms, frames = [], []
    try:
        for index in range(int(seconds * fps)):
            t = clock.now
            chunks = dict(zip(keys, source.read_until(t), strict=True))
            began = time.perf_counter()
            step = pipeline.step(chunks, t, index)
            step_ms.append(1e3 * (time.perf_counter() - began))
            frames.append(step.frame)
            clock.tick()
    finally:
        pipeline.release()
    limiter = FlashLimiter()
    limit_ms = []
    for frame in frames:
        began = time.perf_counter()
        limiter(frame)
        limit_ms.append(1e3 * (time.perf_counter() - began))
    # The first frames compile shaders and warm torch up: leave them out.
    warm = int(fps)
    return (statistics.fmean(step_ms[warm:]), statistics.median(step_ms[warm:]),
            statistics.median(limit_ms[warm:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--size", action="append", default=None,
                        help="WxH, may repeat (default 960x540 and 1920x1080)")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in (args.size or ["960x540", "1920x1080"])]
    ctx = create_offscreen_context()
    print(f"machine: {platform.processor() or platform.machine()}, GL: "
          f"{ctx.info['GL_RENDERER']}, {torch.get_num_threads()} torch threads")
    print("| size | mean frame time | sustained fps | median frame | limiter alone |"
          " runs (mean ms/frame) |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        runs = [run_once(ctx, size, args.seconds, args.fps) for _ in range(args.repeats)]
        mean = statistics.median(r[0] for r in runs)
        median = statistics.median(r[1] for r in runs)
        limit = statistics.median(r[2] for r in runs)
        print(f"| {size[0]}x{size[1]} | {mean:.1f} ms | **{1e3 / mean:.1f}** | {median:.1f} ms"
              f" | {limit:.1f} ms | {np.round([r[0] for r in runs], 1).tolist()} |")
    ctx.release()


if __name__ == "__main__":
    main()
