"""One show across four processes on LSL loopback: a sensing node and three render nodes.

Real LSL streams (a simulated ECG, the sensing node's controls), real offscreen GL (EGL) in
every render node. Each test pins fresh source_ids (a unique show title gives the control
stream its own), so other LSL tests running on this machine cannot take part.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from _lsl_helpers import pin_default_show
from PIL import Image

from installation.distributed import controls_source_id, parse_tile
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]
FPS = 15
SIZE = (192, 108)
TILES = ("0,0/3,1", "1,0/3,1", "2,0/3,1")
OVERLAP = 4


def _show(tmp_path: Path, source: str) -> Path:
    text = pin_default_show((REPO / "show.toml").read_text(), source)
    text = text.replace('shader = "shaders/', f'shader = "{REPO}/shaders/')
    text = text.replace("size = [640, 360]", f"size = [{SIZE[0]}, {SIZE[1]}]")
    # Generator and simulation passes small, whatever the default piece's sizes are today:
    # four processes share two cores, and a loaded node presents its samples late.
    text = re.sub(r"(?<!\[output\]\n)^size = \[\d+, \d+\]$", "size = [96, 54]", text,
                  flags=re.M)
    text = text.replace("rate = 15", "rate = 10")
    text = text.replace("fps = 30", f"fps = {FPS}")
    text = text.replace('title = "Pulse Garden"', f'title = "Tiles {source}"')
    path = tmp_path / "show.toml"
    path.write_text(text)
    return path


def _start(*args: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=out.open("w"),
                            stderr=subprocess.STDOUT)


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open() as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        return []


def _wait(test, timeout: float, what: str) -> float:
    """Poll ``test()`` every 0.2 s; the time it first held (a hang guard, not a timing test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return time.monotonic()
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=20)


@pytest.mark.slow
def test_three_render_nodes_show_one_canvas_follow_a_restart_and_ignore_a_stranger(
    tmp_path: Path,
) -> None:
    import pylsl

    source = f"tiles-{uuid.uuid4().hex[:10]}"
    show_path = _show(tmp_path, source)
    show = load_show(show_path)
    sim = _start("-m", "sensors.simulate", "--streams", "ecg", "--hr", "72", "--source-id",
                 source, "--duration", "300", out=tmp_path / "sim.log")
    # A stranger: a Controls stream of another show (another source_id), same channel count.
    stranger_info = pylsl.StreamInfo("stranger controls", "Controls", 64, 0.0,
                                     pylsl.cf_double64, f"stranger-{source}")
    stranger = pylsl.StreamOutlet(stranger_info)
    sense = _start("-m", "installation", "sense", str(show_path), out=tmp_path / "sense0.log")
    logs = [tmp_path / f"frames{i}.csv" for i in range(3)]
    dumps = [tmp_path / f"tile{i}" for i in range(3)]
    nodes = [_start("-m", "installation", "render", str(show_path), "--tile", tile,
                    "--overlap", str(OVERLAP), "--offscreen", "--frames-log", str(log),
                    "--dump-dir", str(dump), "--dump-every", "5", "--max-seconds", "240",
                    out=tmp_path / f"render{i}.log")
             for i, (tile, log, dump) in enumerate(zip(TILES, logs, dumps, strict=True))]
    procs = [sim, sense, *nodes]
    try:
        def all_ok(n: int) -> bool:
            for log in logs:
                rows = [r for r in _rows(log) if r["status"] == "ok"]
                if len(rows) < n:
                    return False
            return True

        def feed_stranger() -> None:
            stranger.push_sample([1e6] + [999999.0] * 63)

        deadline = time.monotonic() + 120
        while not all_ok(1):
            feed_stranger()
            assert time.monotonic() < deadline, "render nodes never followed the sensing node"
            time.sleep(0.1)
        # Pixel-identical tiles need the same frame history in every node (the default
        # show's trails feed back): compare from when the last node joined plus 4 s.
        joined = max(float(next(r for r in _rows(log) if r["status"] == "ok")["show_t"])
                     for log in logs)
        while not all_ok(90):
            feed_stranger()
            assert time.monotonic() < deadline, "render nodes never followed the sensing node"
            time.sleep(0.1)

        # Kill the sensing node: every render node goes idle (lost) and keeps rendering.
        first_run_end = max(float(r["show_t"]) for log in logs for r in _rows(log))
        sense.kill()
        sense.wait(timeout=20)
        killed = time.monotonic()
        marks = [len(_rows(log)) for log in logs]

        def all_lost() -> bool:
            return all(any(r["status"] == "lost" for r in _rows(log)[m:])
                       for log, m in zip(logs, marks, strict=True))

        lost_at = _wait(all_lost, 60, "the render nodes to notice the lost sensing node")
        assert lost_at - killed <= 5.0
        time.sleep(2.0)
        frames_while_lost = [len(_rows(log)) for log in logs]
        time.sleep(1.0)
        assert all(len(_rows(log)) > n for log, n in zip(logs, frames_while_lost, strict=True))

        # Restart it: every node is back within 5 s of its first sample.
        restart_log = tmp_path / "sense1.log"
        sense = _start("-m", "installation", "sense", str(show_path), out=restart_log)
        procs[1] = sense
        _wait(lambda: "sense: source_id" in restart_log.read_text(), 120,
              "the restarted sensing node")
        announced = time.monotonic()
        marks = [len(_rows(log)) for log in logs]

        def all_back() -> bool:
            return all(any(r["status"] == "ok" for r in _rows(log)[m:])
                       for log, m in zip(logs, marks, strict=True))

        back_at = _wait(all_back, 60, "the render nodes to follow the restarted sensing node")
        assert back_at - announced <= 5.0
        for _ in range(20):
            feed_stranger()
            time.sleep(0.1)
    finally:
        for proc in procs:
            _kill(proc)

    rows = [_rows(log) for log in logs]
    # The stranger's samples never reached a node.
    for node in rows:
        assert all(float(r["show_t"]) < 1e5 and int(r["seq"]) < 999999 for r in node)
    # Skew from frame stamps: the same sample is presented at about the same LSL time.
    first_seen = [{} for _ in rows]
    for seen, node in zip(first_seen, rows, strict=True):
        for r in node:
            if r["status"] == "ok" and int(r["seq"]) >= 0:
                seen.setdefault(int(r["seq"]), float(r["presented"]))
    common = set(first_seen[0]) & set(first_seen[1]) & set(first_seen[2])
    # Enough samples seen by all three for a median (how many depends on the machine's load:
    # a loaded node drops samples it cannot present in time, and that is not a skew).
    assert len(common) >= 10
    skew = [max(s[q] for s in first_seen) - min(s[q] for s in first_seen) for q in common]
    # The nodes present the same sample together, not seconds apart. The one-frame target is
    # a speed figure, measured by benchmarks/bench_photon.py on a quiet machine (BENCHMARKS.md):
    # here four engine processes share the CI machine's cores with whatever else runs, and a
    # starved node presents late (0.28 s median at load 10 on 2 cores).
    assert float(np.median(skew)) <= 1.0
    # Overlapping tile edges are identical, pixel for pixel, at the same LSL time, where the
    # two nodes rendered the same frames before. The default piece's garden (Gray-Scott) has a
    # long memory, so "before" is the whole run since every node was rendering: a node that
    # skipped a sample under load has its own garden from then on, and its later tiles are not
    # compared (a 3 s window let such a skip through).
    rendered = [{float(r["show_t"]) for r in node if r["status"] in ("ok", "unseen")}
                for node in rows]
    all_in = max(min(node) for node in rendered)
    every = sorted(u for u in set().union(*rendered) if u >= all_in)

    def same_history(node: int, t: float) -> bool:
        return all(u in rendered[node] for u in every if u <= t)

    boxes = [parse_tile(tile, OVERLAP).box(SIZE) for tile in TILES]
    compared = 0
    for i in range(2):
        a_box, b_box = boxes[i], boxes[i + 1]
        lo, hi = b_box[0], a_box[2]  # canvas columns both tiles hold
        assert hi - lo == 2 * OVERLAP
        names = {p.name for p in dumps[i].glob("t*.png")} & {
            p.name for p in dumps[i + 1].glob("t*.png")}
        names = {n for n in names if joined + 4.0 <= float(n[1:-4]) < first_run_end
                 and same_history(i, float(n[1:-4])) and same_history(i + 1, float(n[1:-4]))}
        for name in sorted(names):
            a = np.asarray(Image.open(dumps[i] / name))
            b = np.asarray(Image.open(dumps[i + 1] / name))
            np.testing.assert_array_equal(a[:, lo - a_box[0]: hi - a_box[0]],
                                          b[:, lo - b_box[0]: hi - b_box[0]])
            assert a.std() > 1.0  # a picture, not a blank
            compared += 1
    assert compared >= 5
    assert controls_source_id(show).startswith("installation-tiles-")
