"""Gallery mode under Xvfb with a simulated visitor over real LSL on loopback.

A visitor arrives (the simulator starts), their sensor process is killed and restarted, then
they leave: the kiosk's status file must follow idle -> visitor -> idle, and frames must keep
reaching the window throughout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import pyxdf
from _lsl_helpers import pin_default_show

REPO = Path(__file__).resolve().parents[2]


def pinned_show(tmp_path: Path, source: str, record: Path | None = None) -> Path:
    """The default show, pinned to this test's simulator so no other stream can take over;
    with ``record``, each visit is recorded there."""
    text = (REPO / "show.toml").read_text()
    if record is not None:
        text += f'\n[record]\nenabled = true\ndir = "{record}"\n'
    text = pin_default_show(text, source)
    text = text.replace('shader = "shaders/', f'shader = "{REPO}/shaders/')
    text = text.replace("size = [640, 360]", "size = [160, 90]")
    # The generator and the garden pass small too: the tests follow the visitor, not the piece.
    text = re.sub(r"(?<!\[output\]\n)^size = \[\d+, \d+\]$", "size = [96, 54]", text,
                  flags=re.M)
    path = tmp_path / "show.toml"
    path.write_text(text)
    return path


def simulator(source: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sensors.simulate", "--streams", "ecg,eeg", "--hr", "75",
         "--source-id", source, "--duration", "120"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wait_for(read: Callable[[], dict | None], test: Callable[[dict], bool], timeout: float,
             what: str) -> dict:
    deadline = time.monotonic() + timeout
    status: dict | None = None
    while time.monotonic() < deadline:
        status = read()
        if status is not None and test(status):
            return status
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last status: {status}")


def test_gallery_follows_a_visitor_through_a_sensor_restart(
    tmp_path: Path, xvfb_display: str
) -> None:
    source = f"gallery-test-{uuid.uuid4().hex[:8]}"
    status_file = tmp_path / "status.json"

    def read() -> dict | None:
        try:
            return json.loads(status_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    env = dict(os.environ, DISPLAY=xvfb_display)
    gallery = subprocess.Popen(
        [sys.executable, "-m", "installation", "gallery",
         str(pinned_show(tmp_path, source, record=tmp_path / "visits")),
         "--windowed", "--status-file", str(status_file), "--log-dir", str(tmp_path / "logs"),
         "--max-seconds", "150"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    sim = None
    try:
        # Nobody there yet: the piece runs by itself.
        idle = wait_for(read, lambda s: s["frames"] > 10, 60, "first frames")
        assert idle["mode"] == "idle"
        assert {v["status"] for v in idle["streams"].values()} == {"lost"}

        sim = simulator(source)  # a visitor arrives
        arrived = wait_for(read, lambda s: s["mode"] == "visitor", 20, "visitor mode")

        sim.send_signal(signal.SIGKILL)  # their sensor process dies...
        sim.wait()
        dropped = wait_for(read, lambda s: s["streams"]["ecg"]["status"] != "ok", 10,
                           "ecg no longer ok")
        sim = simulator(source)  # ...and comes back
        back = wait_for(read, lambda s: s["mode"] == "visitor"
                        and s["frames"] > dropped["frames"]
                        and s["streams"]["ecg"]["status"] == "ok", 20, "visitor again")

        time.sleep(3.0)  # they stay a while (and their visit is recorded)
        sim.terminate()  # the visitor leaves
        sim.wait()
        sim = None
        left = wait_for(read, lambda s: s["mode"] == "idle" and s["frames"] > back["frames"],
                        20, "idle after leaving")
        assert left["faults"] == 0
        assert idle["frames"] < arrived["frames"] < dropped["frames"] < back["frames"] \
            < left["frames"]
    finally:
        if sim is not None:
            sim.kill()
        gallery.send_signal(signal.SIGTERM)
        out, _ = gallery.communicate(timeout=30)
    assert gallery.returncode == 0, out
    log = (tmp_path / "logs" / "gallery.log").read_text()
    assert "mode -> visitor" in log and "mode -> idle" in log
    final = read()
    assert final is not None and final["running"] is False
    # The show opted in to recording: one XDF per visit, each with the raw ECG the engine
    # saw and the controls it drove, readable by pyxdf.
    files = sorted((tmp_path / "visits").glob("*.xdf"))
    assert final["visits"] >= 1 and len(files) == final["visits"]
    for file in files:
        streams, _ = pyxdf.load_xdf(str(file))
        by_type = {s["info"]["type"][0]: s for s in streams}
        assert np.all(np.diff(by_type["ECG"]["time_stamps"]) > 0)
        assert len(by_type["Controls"]["time_stamps"]) > 0
    # The visit after the sensor's restart lasted several seconds (the first one ended when
    # the sensor was killed right after arriving).
    assert len(by_type["ECG"]["time_stamps"]) > 2 * 250
    assert len(by_type["Controls"]["time_stamps"]) > 2 * 25


def test_gallery_writes_nothing_biometric_unless_the_show_opts_in(
    tmp_path: Path, xvfb_display: str
) -> None:
    source = f"gallery-privacy-{uuid.uuid4().hex[:8]}"
    show = pinned_show(tmp_path, source)
    sim = simulator(source)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "installation", "gallery", str(show), "--windowed",
             "--max-seconds", "12"],
            cwd=tmp_path, env=dict(os.environ, DISPLAY=xvfb_display), capture_output=True,
            text=True, timeout=90,
        )
    finally:
        sim.kill()
        sim.wait()
    assert run.returncode == 0, run.stderr
    assert "mode -> visitor" in run.stderr  # someone really was there
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {"show.toml"}


def test_gallery_refuses_to_start_with_a_recordings_folder_it_cannot_create(
    tmp_path: Path,
) -> None:
    # /proc refuses new folders even to root: a set-up error, said at start in one line.
    show = pinned_show(tmp_path, "never-started", record=Path("/proc/no-such-dir/visits"))
    run = subprocess.run(
        [sys.executable, "-m", "installation", "gallery", str(show), "--windowed",
         "--max-seconds", "5"],
        cwd=tmp_path, env=dict(os.environ, DISPLAY=""), capture_output=True, text=True,
        timeout=60,
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert "record.dir" in lines[0] and "/proc/no-such-dir/visits" in lines[0]
