"""The repertoire (pieces/*): each piece shows the heartbeat, tells calm from agitation, replays
byte-identically and stays within the flash limits at 200 bpm.

The heartbeat test drives the real pipeline (detector, mapping with its delay, generator, every
pass, the limiter) with real ECG (MIT-BIH 100) and measures the frames against the
cardiologists' R-peak annotations, as benchmarks/bench_expressiveness.py does at full size.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import moderngl
import neurokit2 as nk
import numpy as np
import pytest

from installation.generator.factory import make_generator
from installation.messages import Chunk, Controls, StreamInfo
from installation.modes.replay import ReplayOptions, replay
from installation.pipeline import Pipeline
from installation.render.passes import Renderer
from installation.safety.analyse import analyse_video
from installation.show import load_show, pass_specs

REPO = Path(__file__).resolve().parents[2]
PIECES = {
    "pulse-garden": REPO / "show.toml",
    "data-as-matter": REPO / "pieces" / "data-as-matter" / "show.toml",
    "dreaming": REPO / "pieces" / "dreaming" / "show.toml",
}
# The living image's calm and arousal are not the others' controls (its own tests, test_nca.py,
# prove the wounds and the healing); its felt beat, the flash checks and byte-identical
# replays are tested here with the rest.
EVERY_PIECE = {**PIECES, "living-image": REPO / "pieces" / "living-image" / "show.toml"}
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"
ECG_CSV = REPO / "tests" / "data" / "mitdb100_MLII_0-60s.csv"
PEAKS_CSV = REPO / "tests" / "data" / "mitdb100_rpeaks_0-60s.csv"
ECG = StreamInfo("MIT-BIH 100", "ECG", 1, 360.0)
FS = 360.0
SIZE = (160, 90)
FPS = 30.0
LUMA = np.array([0.2126, 0.7152, 0.0722])


def luminance(pixels: np.ndarray) -> float:
    return float((pixels.astype(np.float64) @ LUMA).mean())


def render_controls(ctx: moderngl.Context, path: Path, controls: dict[str, float],
                    frames: int, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """The piece's passes fed by its own generator, with fixed controls."""
    show = load_show(path)
    generator = make_generator(show, device="cpu")
    out = []
    with Renderer(ctx, pass_specs(show), size, show.generator.size) as renderer:
        for i in range(frames):
            if i % 3 == 0:
                renderer.upload(generator(Controls(t=i / FPS, values=controls,
                                                   stream_status={})))
            out.append(renderer.render(i / FPS, 1.0, controls, i).pixels)
    return out


def beat_run(ctx: moderngl.Context, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """10 s of real ECG through the piece's pipeline: frame times and mean luminance."""
    signal = np.loadtxt(ECG_CSV, comments="#", skiprows=3)
    pipeline = Pipeline(load_show(path), ctx, SIZE, FPS, device="cpu")
    t_s, lum = [], []
    try:
        for i in range(1, int(10.0 * FPS)):
            t = i / FPS
            a, b = round((t - 1 / FPS) * FS), round(t * FS)
            chunk = Chunk(ECG, np.arange(a, b) / FS, signal[a:b, None].astype(np.float64), t)
            step = pipeline.step({"ecg": chunk}, t, i)
            t_s.append(t)
            lum.append(luminance(step.frame.pixels))
    finally:
        pipeline.release()
    return np.asarray(t_s), np.asarray(lum)


@pytest.mark.parametrize("name", list(EVERY_PIECE))
def test_the_heartbeat_is_seen_at_the_felt_moment(ctx: moderngl.Context, name: str) -> None:
    t, lum = beat_run(ctx, EVERY_PIECE[name])
    peaks = np.loadtxt(PEAKS_CSV, delimiter=",", skiprows=1, usecols=1)
    peaks = peaks[(peaks > 3.0) & (peaks < t[-1] - 1.0)]
    lags = np.arange(-9, 25)  # -0.3 .. +0.8 s at 30 fps
    index = np.searchsorted(t, peaks)
    locked = lum[index[:, None] + lags[None, :]].mean(axis=0)
    swing = (locked.max() - locked.min()) / lum.mean()
    latency = lags[np.argmax(locked)] / FPS
    print(f"{name}: swing {swing:.0%}, latency {latency:.3f} s")
    # The bar for a visible heartbeat: a swing of at least 25% in mean luminance.
    assert swing >= 0.25, f"{name}: beat-locked swing {swing:.0%}"
    # Shown when it is felt, ~0.23 s after the R-peak, not before the R-peak nor a beat late.
    assert 0.15 <= latency <= 0.35, f"{name}: brightest {latency:.3f} s after the R-peak"


def _saturation(frames: list[np.ndarray]) -> float:
    """Mean HSV saturation over the last frames."""
    last = np.asarray(frames[-5:], dtype=np.float64) / 255.0
    high, low = last.max(axis=-1), last.min(axis=-1)
    return float(np.where(high > 1e-6, (high - low) / np.maximum(high, 1e-6), 0.0).mean())


def _warmth(frames: list[np.ndarray]) -> float:
    """Red minus blue over the last frames: positive when warm."""
    last = np.asarray(frames[-5:], dtype=np.float64)
    return float((last[..., 0] - last[..., 2]).mean())


@pytest.mark.parametrize("name", list(PIECES))
def test_calm_and_agitation_look_different_at_a_glance(ctx: moderngl.Context, name: str) -> None:
    base = {"pulse": 0.0, "energy": 0.4, "breath_hz": 0.25}
    calm = render_controls(ctx, PIECES[name], {**base, "calm": 1.0, "depth": 0.0}, 45)
    agitated = render_controls(ctx, PIECES[name], {**base, "calm": 0.0, "depth": 1.0}, 45)
    warm_minus_cool = _warmth(agitated) - _warmth(calm)
    saturation = [_saturation(f) for f in (calm, agitated)]
    motion = [np.abs(np.diff(np.asarray(f[-6:], dtype=np.float64), axis=0)).mean()
              for f in (calm, agitated)]
    # The palette turns (warm vs cool), the colour deepens, or the movement clearly differs.
    assert (warm_minus_cool > 15 or abs(saturation[1] - saturation[0]) > 0.08
            or max(motion) > 1.8 * min(motion)), (
        f"{name}: warm-cool {warm_minus_cool:.1f}, saturation {saturation}, motion {motion}")


@pytest.mark.parametrize("name", list(EVERY_PIECE))
def test_a_piece_replays_byte_identically(ctx: moderngl.Context, name: str) -> None:
    controls = {"pulse": 0.6, "calm": 0.4, "energy": 0.5, "breath_hz": 0.25, "depth": 0.6}
    first = render_controls(ctx, EVERY_PIECE[name], controls, 12, size=(96, 54))
    second = render_controls(ctx, EVERY_PIECE[name], controls, 12, size=(96, 54))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[-1], first[-4])  # and it moves


@pytest.fixture(scope="module")
def heart_200bpm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ecg = nk.ecg_simulate(duration=9, sampling_rate=250, heart_rate=200, noise=0.02,
                          random_state=3)
    path = tmp_path_factory.mktemp("ecg") / "heart_200bpm.csv"
    t = np.arange(len(ecg)) / 250.0
    np.savetxt(path, np.c_[t, ecg], delimiter=",", header="time,ECG", comments="", fmt="%.5f")
    return path


@pytest.mark.parametrize("name", list(EVERY_PIECE))
def test_a_200_bpm_heart_passes_the_flash_check_with_the_limiter(
    name: str, heart_200bpm: Path, tmp_path: Path,
) -> None:
    show = load_show(EVERY_PIECE[name])
    assert show.safety.flash_limit
    video = tmp_path / f"{name}.mp4"
    replay(heart_200bpm, show, video, ReplayOptions(size=SIZE, fps=FPS, duration=8.0,
                                                    progress=False))
    violations, frames = analyse_video(video)
    assert frames == 240
    assert violations == [], [v.describe() for v in violations]


@pytest.mark.parametrize("name", list(EVERY_PIECE))
def test_the_bundled_recording_passes_the_flash_check_with_the_limiter(
    name: str, tmp_path: Path,
) -> None:
    # 12 s around the eyes closing (the calm swing) keeps the test short; the whole minute at
    # the show's size is checked by tools/make_piece_media.py (each piece's summary.json).
    show = load_show(EVERY_PIECE[name])
    assert show.safety.flash_limit
    video = tmp_path / f"{name}.mp4"
    replay(DEMO, show, video, ReplayOptions(size=SIZE, fps=FPS, start=22.0, duration=12.0,
                                            progress=False))
    violations, frames = analyse_video(video)
    assert frames == 360
    assert violations == [], [v.describe() for v in violations]


def test_the_pulse_garden_piece_is_the_default_show() -> None:
    # pieces/pulse-garden/show.toml is the root show.toml with its shader paths from there.
    root = load_show(REPO / "show.toml")
    piece = load_show(REPO / "pieces" / "pulse-garden" / "show.toml")

    def resolved(show):
        return [dataclasses.replace(s, shader=s.shader.resolve()) for s in pass_specs(show)]

    assert resolved(root) == resolved(piece)
    assert root.mappings == piece.mappings and root.generator == piece.generator
    assert root.idle == piece.idle and root.visitor == piece.visitor
