"""The WCAG 2.3.1 flash analyser on known-bad and known-good synthetic videos."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from installation.cli import main
from installation.messages import Frame
from installation.render.export import VideoWriter
from installation.safety.analyse import analyse_frames, analyse_video
from installation.safety.flashes import CellGrid, TransitionTracker

SIZE = (320, 180)
FPS = 30


def strobe_frames(hz: float, seconds: float, on=(255, 255, 255), off=(0, 0, 0),
                  box: tuple[int, int, int, int] | None = None):
    """Frames of a square-wave strobe at ``hz`` cycles/s, full frame or inside ``box``."""
    w, h = SIZE
    for i in range(int(seconds * FPS)):
        t = i / FPS
        pixels = np.full((h, w, 3), 60, dtype=np.uint8)
        x, y, bw, bh = box or (0, 0, w, h)
        lit = int(t * hz * 2) % 2 == 0
        pixels[y:y + bh, x:x + bw] = on if lit else off
        yield t, pixels


def write_video(path: Path, frames) -> Path:
    with VideoWriter(path, SIZE, Fraction(FPS), crf=18, preset="ultrafast") as writer:
        for i, (t, pixels) in enumerate(frames):
            writer.write(Frame(index=i, t=t, pixels=pixels))
    return path


def test_a_5hz_full_frame_strobe_video_is_a_general_flash_violation(tmp_path: Path) -> None:
    video = write_video(tmp_path / "strobe.mp4", strobe_frames(5.0, 3.0))
    violations, frames = analyse_video(video)
    assert frames == 90
    assert [v.kind for v in violations] == ["general"]
    v = violations[0]
    # Transitions every 0.1 s from t = 0.1: the 7th (more than 3 flashes) is at 0.7 s.
    assert v.start_s == pytest.approx(0.7) and v.end_s >= 2.9
    assert 4.5 <= v.rate <= 5.5


def test_a_saturated_red_strobe_is_a_red_flash_violation() -> None:
    frames = strobe_frames(5.0, 2.0, on=(200, 0, 0), off=(40, 0, 0))
    violations, _ = analyse_frames(frames)
    assert "red" in {v.kind for v in violations}


def test_two_flashes_per_second_pass() -> None:
    violations, _ = analyse_frames(strobe_frames(2.0, 3.0))
    assert violations == []


def test_a_strobe_smaller_than_a_quarter_of_a_10_degree_field_passes() -> None:
    # A 10 degree field is a third of each side (107 x 60 here); a quarter of it is ~1600 px.
    violations, _ = analyse_frames(strobe_frames(10.0, 2.0, box=(100, 80, 30, 30)))
    assert violations == []


def test_a_strobe_over_half_a_10_degree_field_fails_and_is_located() -> None:
    violations, _ = analyse_frames(strobe_frames(10.0, 2.0, box=(200, 100, 80, 60)))
    assert len(violations) == 1
    x, y, w, h = violations[0].region
    assert x < 280 and x + w > 200 and y < 160 and y + h > 100


def test_small_luminance_changes_are_not_transitions() -> None:
    tracker = TransitionTracker((1, 1), step=0.1, darker_below=0.8)
    values = [0.30, 0.36, 0.31, 0.38, 0.30]  # wobbles of < 0.1
    assert not any(tracker.update(np.array([[v]])).any() for v in values)


def test_changes_between_bright_states_above_080_are_not_transitions() -> None:
    tracker = TransitionTracker((1, 1), step=0.1, darker_below=0.8)
    values = [0.82, 1.0, 0.82, 1.0, 0.82]
    assert not any(tracker.update(np.array([[v]])).any() for v in values)


def test_relative_luminance_follows_the_wcag_formula() -> None:
    grid = CellGrid((8, 8), grid=(1, 1))
    grey = np.full((8, 8, 3), 128, dtype=np.uint8)
    # sRGB 128 -> ((128/255 + 0.055) / 1.055) ** 2.4 = 0.2158605
    assert grid.measure(grey).luminance[0, 0] == pytest.approx(0.2158605, abs=1e-5)


def test_check_flashes_command_exits_1_on_violations_and_0_without(tmp_path: Path, capsys
                                                                   ) -> None:
    bad = write_video(tmp_path / "bad.mp4", strobe_frames(6.0, 2.0))
    good = write_video(tmp_path / "good.mp4", strobe_frames(1.0, 2.0))
    assert main(["check-flashes", str(bad)]) == 1
    assert "general flash" in capsys.readouterr().out
    assert main(["check-flashes", str(good)]) == 0
    assert "no flash violations" in capsys.readouterr().out
    assert main(["check-flashes", str(tmp_path / "missing.mp4")]) == 2
