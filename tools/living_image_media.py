"""The living-image piece's stills, GIF, flash checks and beat-visibility figure.

Run through ``tools/living_image.py media``. Three replays of ``pieces/living-image/show.toml``:

1. the bundled demo recording (``installation/demo/demo_session.xdf``, 60 s, real ECG with
   cardiologist-annotated R-peaks beside it, eyes open then closed);
2. a simulated visit (``sensors.simulate``'s body, ECG only): 20 s present at 75 bpm, then the
   electrodes come off (a flat line) and the image heals for 16 s;
3. a simulated 200 bpm heart for 20 s, the flash limiter's worst case.

Each MP4 goes through ``installation check-flashes`` (WCAG 2.3.1, limiter on). Beat visibility
on the demo follows issue 13: the mean absolute grey-level difference between each frame and
the frame 300 ms before it, beat-locked to the annotated R-peaks, against the same average at
random times (200 random sets of as many times; z-score against them); the lag of the largest
excess is its latency after the R-peak.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from installation.modes.replay import ReplayOptions, replay
from installation.pipeline import Step
from installation.safety.analyse import analyse_video
from installation.show import load_show

REPO = Path(__file__).resolve().parents[1]
PIECE = REPO / "pieces" / "living-image"
MEDIA = PIECE / "media"
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"
FPS = 30.0
SIZE = (640, 360)
LOOK_BACK_S = 0.3
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def simulated_csv(path: Path, script: str, duration: float, seed: int = 0) -> Path:
    """An ECG-only CSV recording of ``sensors.simulate``'s body; flat while it is away."""
    from sensors.simulate import Body, Ecg, parse_script

    body = Body(parse_script(script), seed=seed)
    ecg = Ecg(body, seed)
    times = np.arange(0.0, duration, 1.0 / ecg.srate)
    values = np.concatenate([ecg(chunk) for chunk in np.array_split(times, 200)])[:, 0]
    away = np.array([not body.state(t).present for t in times])
    values[away] = 0.0  # electrodes off: a flat line, which the ECG extractor calls lost
    rows = "\n".join(f"{t:.4f},{v:.5f}" for t, v in zip(times, values, strict=True))
    path.write_text(f"# srate: {ecg.srate:g}\ntime_s,ECG\n{rows}\n")
    return path


class Collector:
    """Per-frame statistics (and chosen frames) of a replay, without keeping every frame."""

    def __init__(self, keep: dict[str, float], gif: tuple[float, float] | None = None) -> None:
        self.keep = keep  # still name -> time
        self.gif = gif
        self.back = round(LOOK_BACK_S * FPS)
        self.ring: list[np.ndarray] = []
        self.change: list[float] = []  # grey levels vs the frame 300 ms before
        self.luma: list[float] = []
        self.times: list[float] = []
        self.modes: list[str] = []
        self.stills: dict[str, np.ndarray] = {}
        self.gif_frames: list[Image.Image] = []

    def __call__(self, step: Step) -> None:
        pixels = step.frame.pixels
        grey = pixels.astype(np.float32) @ LUMA
        self.ring.append(grey)
        if len(self.ring) > self.back + 1:
            self.ring.pop(0)
        old = self.ring[0]
        self.change.append(float(np.abs(grey - old).mean()) if len(self.ring) > self.back
                           else math.nan)
        self.luma.append(float(grey.mean()))
        self.times.append(step.frame.t)
        self.modes.append(step.mode)
        for name, when in self.keep.items():
            if name not in self.stills and step.frame.t >= when:
                self.stills[name] = pixels.copy()
        if self.gif and self.gif[0] <= step.frame.t < self.gif[1] and step.frame.index % 2 == 0:
            small = Image.fromarray(pixels).resize((320, 180), Image.Resampling.BILINEAR)
            self.gif_frames.append(small)


def render(recording: Path, out: Path, collector: Collector, duration: float | None = None
           ) -> dict:
    show = load_show(PIECE / "show.toml")
    options = ReplayOptions(size=SIZE, fps=FPS, duration=duration, progress=False)
    summary = replay(recording, show, out, options, on_step=collector)
    violations, frames = analyse_video(out)
    return {"recording": str(recording.relative_to(REPO)) if recording.is_relative_to(REPO)
            else recording.name, "frames": summary.frames, "wall_s": round(summary.wall_s, 1),
            "speed_x_real_time": round(summary.duration / summary.wall_s, 2),
            "flash_violations": len(violations), "frames_checked": frames}


def beat_visibility(collector: Collector, beats: np.ndarray, seed: int = 0) -> dict:
    """Beat-locked image change vs random times (see the module docstring)."""
    change = np.asarray(collector.change)
    t = np.asarray(collector.times)
    n = change.size
    lags = np.arange(0, round(0.8 * FPS))  # 0..800 ms after the R-peak
    usable = beats[(beats > 2.0) & (beats < t[-1] - 1.0)]
    idx = np.searchsorted(t, usable)

    def locked(starts: np.ndarray) -> np.ndarray:
        rows = np.clip(starts[:, None] + lags[None, :], 0, n - 1)
        return np.nanmean(change[rows], axis=0)

    beat_curve = locked(idx)
    rng = np.random.default_rng(seed)
    lo, hi = np.searchsorted(t, 2.0), np.searchsorted(t, t[-1] - 1.0)
    random_curves = np.stack([locked(rng.integers(lo, hi, idx.size)) for _ in range(200)])
    random_mean = random_curves.mean(axis=0)
    excess = beat_curve - random_mean
    best = int(np.argmax(excess))
    z = excess[best] / random_curves[:, best].std()
    luma = np.asarray(collector.luma)
    luma_rows = np.clip(idx[:, None] + lags[None, :], 0, n - 1)
    luma_curve = luma[luma_rows].mean(axis=0)
    return {
        "beats": int(idx.size),
        "latency_ms": round(1000.0 * lags[best] / FPS),
        "change_after_beat_grey": round(float(beat_curve[best]), 2),
        "change_at_random_grey": round(float(random_mean[best]), 2),
        "excess_grey": round(float(excess[best]), 2),
        "z": round(float(z), 1),
        "luminance_swing": round(float(np.ptp(luma_curve) / luma_curve.mean()), 3),
    }


def save_gif(frames: list[Image.Image], path: Path, fps: float) -> None:
    # One shared palette (from a frame in the middle) keeps the file small and steady.
    palette = frames[len(frames) // 2].quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    quantised = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    quantised[0].save(path, save_all=True, append_images=quantised[1:], loop=0,
                      duration=round(1000.0 / fps), optimize=True)


def make_media() -> dict:
    import os

    import torch

    cores = os.cpu_count() or 1
    if os.getloadavg()[0] >= cores:
        # A busy shared machine: torch's spinning second thread costs more than it gives.
        torch.set_num_threads(1)
    MEDIA.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        demo = Collector({"growing_1s": 1.0, "grown_6s": 6.0}, gif=(4.0, 12.0))
        report["demo"] = render(DEMO, tmp / "demo.mp4", demo)
        beats = np.loadtxt(DEMO.with_suffix(".rpeaks.csv"), delimiter=",", skiprows=1,
                           usecols=0)
        report["demo"]["beat_visibility"] = beat_visibility(demo, beats)
        change = np.nan_to_num(np.asarray(demo.change))
        for name in demo.keep:
            Image.fromarray(demo.stills[name]).save(MEDIA / f"{name}.png")
        save_gif(demo.gif_frames, MEDIA / "living_image.gif", FPS / 2)
        report["demo"]["gif_bytes"] = (MEDIA / "living_image.gif").stat().st_size
        report["demo"]["largest_change_t"] = round(float(demo.times[int(change.argmax())]), 2)

        visit = Collector({"wounded_18s": 18.0, "healing_23s": 23.0, "healed_35s": 35.0},
                          gif=None)
        csv = simulated_csv(tmp / "visit.csv", "0:hr=75,arousal=0.6;20:leave", 36.0)
        report["visit"] = render(csv, tmp / "visit.mp4", visit)
        left = next((t for t, m in zip(visit.times, visit.modes, strict=True)
                     if t > 20.0 and m == "idle"), None)
        report["visit"]["visitor_left_at_s"] = None if left is None else round(left, 2)
        for name in visit.keep:
            Image.fromarray(visit.stills[name]).save(MEDIA / f"{name}.png")

        fast = Collector({})
        csv = simulated_csv(tmp / "heart200.csv", "0:hr=200,arousal=1.0", 20.0)
        report["heart_200bpm"] = render(csv, tmp / "heart200.mp4", fast)
    (MEDIA / "figures.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
