"""What the first-frame probe adds to a start: replay, rehearsal and the gallery run it.

    .venv/bin/python benchmarks/bench_probe.py [--repeats 5]

Per show (the default piece and every piece in ``pieces/``): wall time of
:func:`installation.first_frame.probe_passes` (a child process that compiles the passes and
draws one frame at the output size), median of ``--repeats``; and a 1-s replay of the demo
recording with the probe (``probe_limit_s`` default) and without (``probe_limit_s = 0``),
the cases interleaved in each repeat so the machine's load hits them alike. Also a bare
``python -c pass`` in the same run as a baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"


def _without_probe(show: Path) -> Path:
    text = show.read_text().replace("[output]\n", "[output]\nprobe_limit_s = 0\n", 1)
    # Relative shader paths must still resolve: the copy sits beside the original.
    path = show.parent / f".bench-probe-off-{show.parent.name}.toml"
    path.write_text(text)
    return path


def _timed(command: list[str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from installation.first_frame import probe_passes
    from installation.show import load_show

    shows = [REPO / "show.toml", *sorted(REPO.glob("pieces/*/show.toml"))]
    times: dict[str, list[float]] = {"python -c pass": []}
    off_shows: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        replay = [sys.executable, "-m", "installation", "replay", str(DEMO), "-o", str(out),
                  "--duration", "1", "-q", "--no-report", "--show"]
        try:
            default_off = _without_probe(REPO / "show.toml")
            off_shows.append(default_off)
            for _ in range(args.repeats):
                times["python -c pass"].append(_timed([sys.executable, "-c", "pass"]))
                for path in shows:
                    show = load_show(path)
                    began = time.perf_counter()
                    hang = probe_passes(show, 120.0)
                    took = time.perf_counter() - began
                    assert hang is None, hang
                    times.setdefault(f"probe {path.relative_to(REPO)}", []).append(took)
                times.setdefault("replay 1 s, probe on", []).append(
                    _timed([*replay, str(REPO / "show.toml")]))
                times.setdefault("replay 1 s, probe off", []).append(
                    _timed([*replay, str(default_off)]))
        finally:
            for path in off_shows:
                path.unlink(missing_ok=True)
    base = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:42s} median {median:6.3f} s  ({median / base:5.1f}x python -c pass)  "
              f"runs {', '.join(f'{v:.2f}' for v in values)}")
    on = statistics.median(times["replay 1 s, probe on"])
    off = statistics.median(times["replay 1 s, probe off"])
    print(f"replay start-up with the probe / without: {on / off:.2f} ({on - off:+.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
