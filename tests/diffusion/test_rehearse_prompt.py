"""Live prompting: ``/prompt NAME "text"`` over real OSC, in rehearsal and at the bridge."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from pythonosc.udp_client import SimpleUDPClient

from installation.osc import OscBridge, OscSettings
from tests.diffusion.conftest import REPO


def test_the_osc_bridge_hands_prompts_to_its_handler() -> None:
    got: list[tuple[str, str]] = []
    arrived = threading.Event()

    def handler(name: str, text: str) -> None:
        got.append((name, text))
        arrived.set()

    with OscBridge(OscSettings(listen_port=0)) as bridge:
        bridge.prompt_handler = handler
        client = SimpleUDPClient("127.0.0.1", bridge.port)
        client.send_message("/prompt", ["storm", 3.0])  # malformed: ignored with a warning
        client.send_message("/prompt", ["storm", "lightning over a dark sea"])
        assert arrived.wait(10.0)
    assert got == [("storm", "lightning over a dark sea")]


def test_live_prompting_in_a_real_rehearsal_window(tiny_model, xvfb_display: str) -> None:
    # Its own process: a GLX window and the GL tests' EGL context do not mix.
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("rehearse_prompt_scenario.py")),
         str(tiny_model.pipe)],
        cwd=REPO, env={**os.environ, "DISPLAY": xvfb_display, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "scenario held" in result.stdout
