"""The flash limiter against an adversarial show driven by a 200 bpm heart.

End to end: a synthetic 200 bpm ECG recording, the real feature extractor, mapping,
generator, GL passes and H.264 encoder; the analyser then reads the video files back.
"""

from __future__ import annotations

from pathlib import Path

import neurokit2 as nk
import numpy as np
import pytest

from installation.messages import Frame
from installation.modes.replay import ReplayOptions, replay
from installation.safety.analyse import analyse_frames, analyse_video
from installation.safety.limiter import FlashLimiter
from installation.show import load_show

HERE = Path(__file__).resolve().parent
SIZE = (320, 180)
FPS = 30.0

SHOW = """
[streams.ecg]
type = "ECG"

[[mappings]]
control = "pulse"
feature = "ecg.beat_pulse"
idle_fade_s = 0.1

[generator]
size = [64, 36]
rate = 10

[[passes]]
shader = "{shader}"
uniforms = {{ u_pulse = "pulse" }}

[safety]
flash_limit = {limit}
"""


@pytest.fixture(scope="module")
def ecg_200bpm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ecg = nk.ecg_simulate(duration=8, sampling_rate=250, heart_rate=200, noise=0.02,
                          random_state=1)
    path = tmp_path_factory.mktemp("ecg") / "ecg_200bpm.csv"
    t = np.arange(len(ecg)) / 250.0
    np.savetxt(path, np.c_[t, ecg], delimiter=",", header="time,ECG", comments="", fmt="%.5f")
    return path


def render(tmp: Path, recording: Path, limit: bool) -> tuple[Path, list]:
    show_path = tmp / f"show_{limit}.toml"
    shader = (HERE / "data" / "strobe.frag").as_posix()
    show_path.write_text(SHOW.format(shader=shader, limit=str(limit).lower()))
    out = tmp / f"limit_{limit}.mp4"
    steps: list = []
    options = ReplayOptions(size=SIZE, fps=FPS, duration=7.0, progress=False, device="cpu")
    replay(recording, load_show(show_path), out, options, on_step=steps.append)
    return out, steps


@pytest.fixture(scope="module")
def unlimited(tmp_path_factory, ecg_200bpm):
    return render(tmp_path_factory.mktemp("off"), ecg_200bpm, limit=False)


@pytest.fixture(scope="module")
def limited(tmp_path_factory, ecg_200bpm):
    return render(tmp_path_factory.mktemp("on"), ecg_200bpm, limit=True)


def test_the_adversarial_show_really_beats_at_200_bpm(unlimited) -> None:
    _, steps = unlimited
    pulse = np.array([s.controls.get("pulse") for s in steps])
    onsets = np.flatnonzero((pulse[1:] > 0.3) & (pulse[:-1] <= 0.3))
    late = onsets[onsets > 3 * FPS]  # after the extractor has locked on
    assert len(late) >= 8
    assert np.median(np.diff(late)) / FPS == pytest.approx(60 / 200, abs=0.05)


def test_without_the_limiter_the_analyser_finds_general_and_red_violations(unlimited) -> None:
    video, _ = unlimited
    violations, frames = analyse_video(video)
    assert frames == 210
    assert {"general", "red"} <= {v.kind for v in violations}


def test_with_the_limiter_the_engine_output_has_no_violation(limited) -> None:
    video, steps = limited
    violations, frames = analyse_video(video)
    assert frames == 210
    assert violations == []
    # Also on the exact frames, before compression.
    frames_in_memory = [(s.frame.t, s.frame.pixels) for s in steps]
    assert analyse_frames(frames_in_memory)[0] == []


def test_the_limiter_still_lets_the_beats_through_at_a_safe_rate(limited) -> None:
    _, steps = limited
    left = np.array([s.frame.pixels[:, :150].mean() for s in steps])
    # The heartbeat is still visible: the left half does flash, just not too often.
    assert left.max() - left.min() > 100


def test_the_limiter_holds_a_noisy_full_frame_strobe_under_three_flashes_per_second() -> None:
    rng = np.random.default_rng(3)
    limiter = FlashLimiter()
    raw, out = [], []
    for i in range(150):  # 5 s of random black/white/red frames at 30 fps
        level = rng.choice([0, 255])
        pixels = np.empty((90, 160, 3), dtype=np.uint8)
        pixels[:] = (level, level * rng.integers(0, 2), level * rng.integers(0, 2))
        frame = Frame(index=i, t=i / 30.0, pixels=pixels)
        raw.append((frame.t, pixels))
        out.append((frame.t, limiter(frame).pixels))
    assert analyse_frames(raw)[0] != []
    assert analyse_frames(out)[0] == []
    assert limiter.limited_frames > 0
