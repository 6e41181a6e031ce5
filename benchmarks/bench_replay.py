"""Replay speed against PyAV encoding alone, measured in the same run.

    .venv/bin/python benchmarks/bench_replay.py [--seconds 20] [--repeats 5] [--size 640x360]

For each size: the whole headless replay of the bundled demo (load, features, mapping, torch
generator, GL render, H.264 encode) as a multiple of real time, and, as the baseline, the time
PyAV alone needs to encode the very frames that replay rendered (held in memory, same
encoder settings). Medians of ``--repeats`` runs; the ratio shows the pipeline's own overhead.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from installation.messages import Frame
from installation.modes.replay import ReplayOptions, replay
from installation.render.export import VideoWriter
from installation.show import load_show

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"


def bench_size(size: tuple[int, int], fps: float, seconds: float, repeats: int) -> dict:
    show = load_show(REPO / "show.toml")
    replay_s: list[float] = []
    frames: list[Frame] = []
    options = ReplayOptions(size=size, fps=fps, start=0.0, duration=seconds, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        # Untimed: capture the frames the encoder baseline will encode (holding hundreds of
        # MB of frames would slow the timed runs down).
        replay(DEMO, show, Path(tmp) / "capture.mp4", options,
               on_step=lambda step: frames.append(step.frame))
        for _ in range(repeats):
            began = time.perf_counter()
            replay(DEMO, show, Path(tmp) / "bench.mp4", options)
            replay_s.append(time.perf_counter() - began)
        encode_s: list[float] = []
        for _ in range(repeats):
            began = time.perf_counter()
            with VideoWriter(Path(tmp) / "encode.mp4", size, Fraction(fps).limit_denominator(1001),
                             preset=ReplayOptions.preset) as writer:
                for frame in frames:
                    writer.write(frame)
            encode_s.append(time.perf_counter() - began)
    n = len(frames)
    replay_med, encode_med = statistics.median(replay_s), statistics.median(encode_s)
    return {
        "size": f"{size[0]}x{size[1]}", "fps": fps, "frames": n,
        "replay_s": replay_med, "speed": n / fps / replay_med,
        "replay_ms_per_frame": 1e3 * replay_med / n,
        "encode_s": encode_med, "encode_ms_per_frame": 1e3 * encode_med / n,
        "ratio": replay_med / encode_med, "runs": repeats,
        "replay_all": replay_s, "encode_all": encode_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--size", action="append", default=None,
                        help="WxH, may repeat (default 640x360)")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in (args.size or ["640x360"])]
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
          f"python {platform.python_version()}")
    print("| size | fps | frames | replay (median) | x real time | PyAV encode alone (median) "
          "| replay / encode |")
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        r = bench_size(size, args.fps, args.seconds, args.repeats)
        print(f"| {r['size']} | {r['fps']:g} | {r['frames']} | {r['replay_s']:.2f} s "
              f"({r['replay_ms_per_frame']:.1f} ms/frame) | **{r['speed']:.2f}x** | "
              f"{r['encode_s']:.2f} s ({r['encode_ms_per_frame']:.1f} ms/frame) | "
              f"{r['ratio']:.2f} |")
        print(f"<!-- runs: replay {np.round(r['replay_all'], 2).tolist()} "
              f"encode {np.round(r['encode_all'], 2).tolist()} -->")


if __name__ == "__main__":
    main()
