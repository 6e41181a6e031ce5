"""The rehearsal's parts, each on its own: transport, HUD, error bar, mood saving."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from installation.clock import PlaybackClock
from installation.messages import Controls, Features, Frame, Status
from installation.rehearsal.hud import Hud, font_size, visitor_line
from installation.rehearsal.moods import save_mood
from installation.rehearsal.transport import Transport
from installation.render.reload import error_bar
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]


class Wall:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_transport_seeks_changes_speed_and_loops_a_recording() -> None:
    wall = Wall()
    clock = PlaybackClock(duration=60.0, wall=wall)
    transport = Transport(clock)
    wall.t = 10.0
    transport.press("forward")
    assert clock.now() == pytest.approx(15.0) and clock.jumps == 1
    transport.press("back")
    transport.press("back")
    assert clock.now() == pytest.approx(5.0)
    transport.press("faster")
    transport.press("faster")
    assert clock.speed == 4.0
    transport.press("loop")
    assert clock.loop is False
    assert "x4" in transport.describe(30.0) and "playing" in transport.describe(30.0)


def test_live_transport_freezes_and_explains_what_it_cannot_do() -> None:
    transport = Transport(None)
    transport.press("forward")
    assert "live" in transport.notice and not transport.frozen
    transport.press("pause")
    assert transport.frozen and "FROZEN" in transport.describe(30.0)


def test_the_visitor_line_says_presence_and_calibration() -> None:
    nobody = Features("state", 1.0, {}, Status.LOST, "nobody here")
    learning = Features("state", 1.0, {"calibrated": 0.4, "calm": 0.5}, Status.OK,
                        "calibrating")
    done = Features("state", 1.0, {"calibrated": 1.0, "calm": 0.7}, Status.OK, "")
    assert visitor_line("idle", nobody) == "idle  nobody here"
    assert visitor_line("visitor", learning) == "visitor  calibrating 40%"
    assert visitor_line("visitor", done) == "visitor  calibrated"


def _text_rows(pixels: np.ndarray) -> np.ndarray:
    return np.flatnonzero((pixels[:, :, 0] > 200).any(axis=1))


def test_hud_text_is_scaled_to_the_frame_and_sits_below_an_error_bar() -> None:
    frame = Frame(0, 0.0, np.zeros((360, 640, 3), np.uint8))
    hud = Hud()
    hud.record(0.0, {"calm": 0.5}, {}, [])
    drawn = hud.draw(frame, ["12.0/60.0 s"], ["calm"]).pixels
    rows = _text_rows(drawn[:, :200])
    first_line = rows[rows < rows[0] + font_size(360) + 2]
    assert font_size(360) == 15 and np.ptp(first_line) + 1 >= 10  # not the 8 px bitmap font
    # A shader error: the red bar on top, the HUD below it, neither covering the other.
    with_error, bar = error_bar(frame, "shaders/pulse.frag:12: error: syntax error")
    both = hud.draw(with_error, ["12.0/60.0 s"], ["calm"], top=bar).pixels
    assert both[2, 400, 0] == 170 and both[2, 400, 1] == 0  # the bar, right of the HUD
    assert (both[bar + 2:bar + 40, :100] != (170, 0, 0)).any(axis=2).all()  # HUD, not bar
    assert (both[:bar, :, 0] >= 170).all()  # the HUD does not cover the bar's message


def test_a_saved_mood_lands_beside_the_show_and_loads_back(tmp_path: Path) -> None:
    import torch

    shutil.copytree(REPO / "shaders", tmp_path / "shaders")
    (tmp_path / "show.toml").write_text((REPO / "show.toml").read_text())
    show = load_show(tmp_path / "show.toml")
    latent = torch.linspace(-1, 1, show.generator.latent_dim)
    path = save_mood(show, latent, Controls(t=3.0, values={"calm": 0.25, "energy": 0.75}), 3.0)
    assert path == tmp_path / "moods" / "mood-1.npy"
    assert np.allclose(np.load(path), latent.numpy())
    mood = load_show(tmp_path / "show.toml").moods[-1]
    assert mood.name == "mood-1" and mood.position == pytest.approx((0.25, 0.75))
