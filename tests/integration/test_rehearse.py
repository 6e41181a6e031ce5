"""Rehearsal in a real window under Xvfb, playing the bundled real recording.

The window scenarios themselves are in ``rehearse_scenarios.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from installation.clock import PlaybackClock

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"


class FakeWall:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_playback_clock_pauses_seeks_changes_speed_and_loops() -> None:
    wall = FakeWall()
    clock = PlaybackClock(duration=60.0, wall=wall)
    wall.t += 2.0
    assert clock.now() == pytest.approx(2.0)
    clock.toggle_pause()
    wall.t += 5.0
    assert clock.now() == pytest.approx(2.0)
    clock.toggle_pause()
    clock.set_speed(2.0)
    wall.t += 1.0
    assert clock.now() == pytest.approx(4.0)
    clock.seek(58.0)
    wall.t += 1.5  # 3 s of show at x2: past the end, loops to 1.0
    assert clock.now() == pytest.approx(1.0)
    clock.loop = False
    clock.seek(59.0)
    wall.t += 5.0
    assert clock.now() == pytest.approx(60.0)


SCENARIOS = [
    "keys_pause_seek_and_speed",
    "live_streams_drive_the_piece_and_the_hud_plots_them",
    "edited_shader_applies_within_a_second_and_a_broken_one_keeps_running",
    "osc_nudges_a_control_during_rehearsal",
    "saved_mood_lands_in_the_show_and_loads_back",
    "osc_garbage_and_a_flood_never_stop_the_show",
]


@pytest.fixture(scope="module")
def scenario_results(xvfb_display: str) -> dict[str, str]:
    """Every scenario, one after another in one process of their own (a GLX window and the GL
    tests' EGL context do not mix); what each printed, by name."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("rehearse_scenarios.py")), *SCENARIOS],
        cwd=REPO, env=dict(os.environ, DISPLAY=xvfb_display), capture_output=True, text=True,
        timeout=180 * len(SCENARIOS),
    )
    found: dict[str, str] = {}
    name = None
    for line in result.stdout.splitlines(keepends=True):
        if line.startswith(("scenario held: ", "scenario failed: ")):
            name = line.split(": ", 1)[1].strip()
            found[name] = line
        elif name is not None:
            found[name] += line
    # A scenario that killed the process shows up as missing, with the process's last words.
    for missing in set(SCENARIOS) - set(found):
        found[missing] = (f"no result (exit {result.returncode}):\n"
                          + result.stdout[-3000:] + result.stderr[-3000:])
    return found


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rehearsal_in_a_real_window(scenario: str, scenario_results: dict[str, str]) -> None:
    assert scenario_results[scenario].startswith(f"scenario held: {scenario}\n"), (
        scenario_results[scenario][-6000:])
