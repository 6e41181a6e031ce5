"""Where a piece's frame time goes: sensing, generator, each pass, read-back, the flash limiter.

    .venv/bin/python benchmarks/bench_piece_passes.py [--show show.toml] [--size 960x540]
        [--seconds 3]

Replays the bundled demo through the piece's pipeline (after a 30 s feature warm-up) and
times each stage of every frame, with ``ctx.finish()`` after each pass so a pass's time is
its own (this serialises the GL work: the total is a little above ``Pipeline.step``'s; use
``bench_expressiveness.py --only cost`` for the piece's cost). Prints the mean and median
milliseconds of each stage; the generator's mean is its per-frame share at its rate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from installation.clock import FixedStepClock  # noqa: E402
from installation.inputs.recording import RecordingSource, load_recording  # noqa: E402
from installation.modes.replay import resolve_streams  # noqa: E402
from installation.pipeline import Pipeline  # noqa: E402
from installation.render.gl_context import create_offscreen_context  # noqa: E402
from installation.show import load_show  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=Path, default=REPO / "show.toml")
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    ctx = create_offscreen_context()
    show = load_show(args.show)
    recording = load_recording(REPO / "installation" / "demo" / "demo_session.xdf")
    streams = resolve_streams(show, recording)
    keys = list(streams)
    source = RecordingSource(recording, [streams[k] for k in keys])
    pipeline = Pipeline(show, ctx, (width, height), 30.0, device="cpu")
    for t in np.arange(0.1, 30.0, 0.1):
        pipeline.extract(dict(zip(keys, source.read_until(float(t)), strict=True)), float(t))
    names = dict(zip(pipeline.renderer.draw_order, pipeline.renderer.order, strict=True))
    times: dict[str, list[float]] = {}
    mark = [0.0]

    def after_pass(index: int) -> None:
        ctx.finish()
        now = time.perf_counter()
        times.setdefault(f"pass {index} ({names[index]})", []).append(
            now - mark[0])
        mark[0] = now

    pipeline.renderer.after_pass = after_pass
    clock = FixedStepClock(fps=30.0, start=30.0)
    warm = 30  # the first second compiles shaders and warms torch up
    for index in range(int(args.seconds * 30) + warm):
        t = clock.now()
        chunk = dict(zip(keys, source.read_until(t), strict=True))
        t0 = time.perf_counter()
        controls = pipeline.mapper(pipeline.extract(chunk, t), t)
        t1 = time.perf_counter()
        generated = pipeline.generation(controls, t)
        if generated is not None:
            pipeline.renderer.upload(generated)
        ctx.finish()
        t2 = mark[0] = time.perf_counter()
        frame = pipeline.renderer.render(t=t, frame_mix=0.5, controls=controls.values,
                                         index=index)
        t3 = time.perf_counter()
        if pipeline.limiter is not None:
            pipeline.limiter(frame)
        t4 = time.perf_counter()
        if index < warm:
            for values in times.values():
                values.clear()
            clock.tick()
            continue
        for name, value in (("sensing + mapping", t1 - t0), ("generator + upload", t2 - t1),
                            ("passes + read-back", t3 - t2), ("flash limiter", t4 - t3),
                            ("total", t4 - t0)):
            times.setdefault(name, []).append(value)
        clock.tick()
    pipeline.release()
    for name, values in times.items():
        print(f"{name:28s} mean {1e3 * statistics.fmean(values):6.1f} ms"
              f"  median {1e3 * statistics.median(values):6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
