"""Gallery frame pacing and memory growth over a soak of simulated visitors.

    .venv/bin/python benchmarks/bench_gallery.py [--minutes 10] [--size 640x360]

Runs ``installation gallery`` on a private Xvfb with the default show pinned to a simulated
sensor, while visitors arrive and leave (``sensors.simulate`` started for 40 s, stopped for
20 s, over and over). Samples the kiosk's status file (frame-interval p50/p99 over the last
300 frames) and its resident memory every 5 s; memory growth is the slope of a least-squares
line over the second half of the run (the first half includes warm-up and allocator growth),
scaled to MB per hour, with its standard error. Memory rises and falls with each visit, so the
slope is also given over one value per 60-s visitor cycle (the cycle's median, and its minimum:
the floor between visits, the steadiest measure), which removes that rhythm. ``--samples``
saves every sample as JSON; ``--from-samples`` re-reports a saved run without running it again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24",
                               "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        return server, f":{pipe.readline().strip()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--samples", type=Path, help="write every (t, RSS, status) here")
    parser.add_argument("--from-samples", type=Path, help="report a saved run instead")
    args = parser.parse_args()
    if args.from_samples is not None:
        samples = [tuple(s) for s in json.loads(args.from_samples.read_text())]
        report(samples, args.minutes, args.size, visitors=len(samples) and samples[-1][2]["visits"])
        return
    width, height = (int(v) for v in args.size.split("x"))
    source = f"soak-{uuid.uuid4().hex[:8]}"
    xvfb, display = start_xvfb()
    with tempfile.TemporaryDirectory() as tmp:
        show = Path(tmp) / "show.toml"
        text = (REPO / "show.toml").read_text()
        text = text.replace('type = "ECG"\n', f'type = "ECG"\nsource_id = "{source}-ecg"\n', 1)
        text = text.replace('type = "EEG"\n', f'type = "EEG"\nsource_id = "{source}-eeg"\n', 1)
        text = text.replace('shader = "shaders/', f'shader = "{REPO}/shaders/')
        text = text.replace("size = [640, 360]", f"size = [{width}, {height}]")
        show.write_text(text)
        status_file = Path(tmp) / "status.json"
        seconds = args.minutes * 60
        gallery = subprocess.Popen(
            [sys.executable, "-m", "installation", "gallery", str(show), "--windowed",
             "--status-file", str(status_file), "--max-seconds", str(seconds + 5)],
            cwd=REPO, env=dict(os.environ, DISPLAY=display), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        samples: list[tuple[float, float, dict]] = []
        sim = None
        began = time.monotonic()
        visitors = 0
        try:
            while (elapsed := time.monotonic() - began) < seconds:
                phase = elapsed % 60.0
                if phase < 40.0 and sim is None:
                    sim = subprocess.Popen(
                        [sys.executable, "-m", "sensors.simulate", "--streams", "ecg,eeg",
                         "--source-id", source, "--seed", str(visitors)],
                        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    visitors += 1
                elif phase >= 40.0 and sim is not None:
                    sim.terminate()
                    sim.wait()
                    sim = None
                try:
                    status = json.loads(status_file.read_text())
                    samples.append((elapsed, rss_mb(gallery.pid), status))
                except (FileNotFoundError, json.JSONDecodeError):
                    pass
                time.sleep(5.0)
        finally:
            if sim is not None:
                sim.kill()
            gallery.terminate()
            gallery.wait(timeout=30)
            xvfb.terminate()
    if args.samples is not None:
        args.samples.write_text(json.dumps(samples))
    report(samples, args.minutes, args.size, visitors)


def report(samples: list, minutes: float, size: str, visitors: int) -> None:
    """Print pacing and memory growth of a soak's samples (t, RSS MB, status)."""
    seconds = minutes * 60
    width, height = (int(v) for v in size.split("x"))
    late = [s for s in samples if s[0] >= seconds / 2]
    t = np.array([s[0] for s in late]) / 3600.0
    rss = np.array([s[1] for s in late])
    slope, slope_se = _slope(t, rss)
    cycles: dict[int, list[float]] = {}
    for elapsed, mb, _status in late:
        cycles.setdefault(int(elapsed // 60.0), []).append(mb)
    whole = [k for k, v in cycles.items() if len(v) >= 10]  # complete 60-s cycles only
    cycle_slope, cycle_se = _slope(np.array(whole) / 60.0,
                                   np.array([statistics.median(cycles[k]) for k in whole]))
    floors: dict[int, list[float]] = {}
    for elapsed, mb, _status in samples:
        floors.setdefault(int(elapsed // 60.0), []).append(mb)
    # The floor between visits over the whole run after the first cycle (warm-up).
    full = [k for k, v in floors.items() if len(v) >= 10 and k >= 1]
    floor_slope, floor_se = _slope(np.array(full) / 60.0, np.array([min(floors[k]) for k in full]))
    p50 = statistics.median(s[2]["interval_ms_p50"] for s in samples[2:])
    p99 = statistics.median(s[2]["interval_ms_p99"] for s in samples[2:])
    worst = max(s[2]["interval_ms_p99"] for s in samples[2:])
    modes = sorted({s[2]["mode"] for s in samples})
    print(f"gallery soak: {minutes:g} min at {width}x{height}, {visitors} visitors, "
          f"visits {samples[-1][2].get('visits')}, modes seen {modes}, "
          f"frames {samples[-1][2]['frames']}, faults {samples[-1][2]['faults']}, "
          f"generator restarts {samples[-1][2].get('generator_restarts')}")
    print(f"frame interval p50 {p50:.1f} ms, p99 {p99:.1f} ms (medians of 5-s samples; "
          f"worst p99 {worst:.1f} ms); fps {statistics.median(s[2]['fps'] for s in samples):.1f}")
    print(f"RSS {late[0][1]:.0f} -> {late[-1][1]:.0f} MB over the second half; "
          f"growth {slope:+.1f} +/- {slope_se:.1f} MB/h (least squares, 5-s samples); "
          f"{cycle_slope:+.1f} +/- {cycle_se:.1f} MB/h over {len(whole)} cycle medians")
    print(f"floor between visits (per-cycle minimum, cycles 1..{max(full) if full else 0}): "
          f"{min(floors[full[0]]):.0f} -> {min(floors[full[-1]]):.0f} MB; "
          f"growth {floor_slope:+.1f} +/- {floor_se:.1f} MB/h")


def _slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and its standard error."""
    if len(x) < 3:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (slope * x + intercept)
    se = np.sqrt(np.sum(residuals**2) / (len(x) - 2) / np.sum((x - x.mean()) ** 2))
    return float(slope), float(se)


if __name__ == "__main__":
    main()
