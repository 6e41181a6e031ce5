"""The piece in a real window: pyglet + moderngl under a virtual X display (Xvfb)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A private Xvfb on a free display number, e.g. ``":3"``."""
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is required in CI (apt-get install -y xvfb)")
        pytest.skip("Xvfb is not installed (apt-get install -y xvfb)")
    read, write = os.pipe()
    # -displayfd: Xvfb picks a free display number itself and writes it once it is ready.
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "480x270x24", "+extension", "GLX",
         "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def probe(display: str, *args: str) -> dict:
    env = dict(os.environ, DISPLAY=display)
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("window_probe.py")),
                           *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_default_piece_plays_fullscreen_in_a_window(xvfb: str) -> None:
    result = probe(xvfb)
    assert result["framebuffer"] == [480, 270]  # the whole (virtual) screen
    assert result["mouse_visible"] is False
    assert result["shown_mean"] > 10  # a picture, not a black screen
    # 16:9 frame on a 16:9 screen: the picture fills it and matches the frame, scaled.
    assert abs(result["shown_quarter"] - result["frame_quarter"]) < 8
    assert abs(result["shown_mean"] - result["frame_mean"]) < 8


def test_asking_for_a_screen_that_does_not_exist_is_a_one_line_error(xvfb: str) -> None:
    result = probe(xvfb, "bad-screen")
    assert result["error"].startswith("output.screen 3: there are 1 screen(s)")
