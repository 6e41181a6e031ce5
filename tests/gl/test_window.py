"""The piece in a real window: pyglet + moderngl under a virtual X display (Xvfb)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def xvfb(xvfb_display: str) -> str:
    """The session's Xvfb (tests/conftest.py), a 480x270 screen."""
    return xvfb_display


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
