"""What the one runtime loop itself costs per frame, with every part doing nothing.

    .venv/bin/python benchmarks/bench_loop.py [--frames 200000] [--repeats 5]

``run(pipeline, source, clock, sink)`` over a fixed-step clock, with a pipeline, source and sink
that return at once: the figure is the loop's own overhead (clock, jump check, read, step,
sink fan-out), to set against a frame's budget (33 ms at 30 fps). Median of the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import ClassVar

from installation.clock import FixedStepClock
from installation.runtime import SinkPart, Sinks, run


class _Pipeline:
    history_s = 0.0
    features: ClassVar[dict] = {}

    def step(self, chunks, t, index, adjust=None):
        return self

    def extract(self, chunks, t):
        return {}

    def reset_sensing(self) -> None:
        pass


class _Source:
    def read(self, t: float) -> dict:
        return {}

    def seek(self, t: float) -> None:
        pass

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for name, sink in (("one sink", SinkPart()), ("five sink parts",
                                                  Sinks(*[SinkPart() for _ in range(5)]))):
        runs = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            run(_Pipeline(), _Source(), FixedStepClock(fps=30.0), sink, frames=args.frames)
            runs.append(1e6 * (time.perf_counter() - began) / args.frames)
        print(f"{name:16s} median {statistics.median(runs):.2f} us/frame "
              f"(runs {', '.join(f'{r:.2f}' for r in runs)})")


if __name__ == "__main__":
    main()
