"""How fast the command line answers a mistake: ``installation check nothere.toml``.

    .venv/bin/python benchmarks/bench_startup.py [--repeats 7]

Wall time of the whole process (interpreter start, imports, the one-line error), median of
``--repeats`` runs, against a bare ``python -c pass`` measured in the same run. The target
(issue 14) is under 1 s: the show file is read before torch, scipy, moderngl or liblsl load.
Also ``installation --help`` and, for scale, ``import torch`` alone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "installation check nothere.toml": [sys.executable, "-m", "installation", "check",
                                        "nothere.toml"],
    "installation --help": [sys.executable, "-m", "installation", "--help"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):  # interleaved: machine load hits every case alike
        for name, command in CASES.items():
            began = time.perf_counter()
            subprocess.run(command, cwd=REPO, capture_output=True, check=False)
            times[name].append(time.perf_counter() - began)
    base = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:36s} median {median:6.3f} s  ({median / base:5.1f}x python -c pass)  "
              f"runs {', '.join(f'{v:.2f}' for v in values)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
