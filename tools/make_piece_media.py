"""Stills, a looping clip and the flash checks of each piece, from headless replays.

    .venv/bin/python tools/make_piece_media.py                   # every piece
    .venv/bin/python tools/make_piece_media.py dreaming --skip-flashes

For each piece this replays the bundled real recording (``installation/demo/demo_session.xdf``)
through ``installation.modes.replay.replay`` at the show's output size, exactly as
``installation replay`` does, and writes into ``pieces/NAME/media/``:

* ``before_beat.png``: eyes open, the last frame before an R-peak;
* ``beat.png``: the same beat at the moment the piece shows it (the brightest frame within
  0.5 s after the R-peak);
* ``agitated.png`` / ``calm.png``: the frames where the visitor's calm control is lowest (eyes
  open, after calibration) and highest (eyes closed);
* ``loop.gif``: four heartbeats from the eyes-open half, cut at R-peaks so that the loop's seam
  falls on a beat, at half size, 15 frames per second;
* ``summary.json``: what the stills show (time, calm, mean brightness) and the flash checks.

Then it runs the WCAG 2.3.1 analysis of ``installation check-flashes`` on the demo render and on
a render of a simulated 200 bpm heart (``tools/make_sim_recording.py``), both with the show's
flash limiter on, and reports the verdicts. Renders go to a temporary folder (``--keep`` keeps
them).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from make_sim_recording import build as build_sim_recording  # noqa: E402

from installation.modes.replay import ReplayOptions, replay  # noqa: E402
from installation.pipeline import Step  # noqa: E402
from installation.safety.analyse import analyse_video  # noqa: E402
from installation.show import Show, load_show  # noqa: E402

DEMO = REPO / "installation" / "demo" / "demo_session.xdf"
RPEAKS = DEMO.with_name("demo_session.rpeaks.csv")
# The default piece lives at the repo root (the README's main command renders it).
PIECES = {
    "pulse-garden": REPO / "show.toml",
    "data-as-matter": REPO / "pieces" / "data-as-matter" / "show.toml",
    "dreaming": REPO / "pieces" / "dreaming" / "show.toml",
}
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def _peaks() -> np.ndarray:
    with RPEAKS.open() as handle:
        return np.array([float(r["time_s"]) for r in csv.DictReader(handle)])


class _Collector:
    """Per-frame brightness and calm, and the frames kept for stills and the clip."""

    def __init__(self, keep: set[int]) -> None:
        self.keep = keep
        self.t: list[float] = []
        self.lum: list[float] = []
        self.calm: list[float] = []
        self.calibrated: list[bool] = []
        self.frames: dict[int, np.ndarray] = {}

    def __call__(self, step: Step) -> None:
        index = len(self.t)
        pixels = step.frame.pixels
        self.t.append(step.frame.t)
        self.lum.append(float((pixels.astype(np.float32) @ LUMA).mean()))
        self.calm.append(float(step.controls.values.get("calm", np.nan)))
        state = step.features.get("state")
        self.calibrated.append(bool(state is not None and state.status.value == "ok"
                                    and state.reason != "calibrating"))
        if index in self.keep:
            self.frames[index] = pixels.copy()


def _clip_range(peaks: np.ndarray, fps: float) -> tuple[int, int]:
    # Four beats from the eyes-open half (after calibration), from one R-peak to the fifth.
    chosen = peaks[(peaks > 19.0) & (peaks < 29.0)][:5]
    return round(chosen[0] * fps), round(chosen[-1] * fps)


def _write_gif(frames: list[np.ndarray], path: Path, fps: float, every: int) -> None:
    images = []
    for pixels in frames[::every]:
        half = Image.fromarray(pixels).resize((pixels.shape[1] // 2, pixels.shape[0] // 2),
                                              Image.LANCZOS)
        images.append(half.quantize(colors=255, method=Image.Quantize.MEDIANCUT,
                                    dither=Image.Dither.NONE))
    images[0].save(path, save_all=True, append_images=images[1:], loop=0,
                   duration=round(1000 * every / fps), optimize=True, disposal=1)


def make_media(name: str, show: Show, out: Path, work: Path, flashes: bool,
               flash_seconds: float) -> dict:
    fps = show.output.fps
    peaks = _peaks()
    first, last = _clip_range(peaks, fps)
    # One replay: the still frames are only known after it, so keep every frame of the clip
    # and of the chosen beat, and every sixth frame as candidates (all of them, 60 s at
    # 640x360, would be 1.2 GB).
    candidates = set(range(first, last + 1))
    beat_peak = float(peaks[(peaks > 20.0) & (peaks < 22.0)][0])
    beat_at = round(beat_peak * fps)
    candidates |= set(range(beat_at - 3, beat_at + 16))
    candidates |= set(range(0, int(60 * fps), 6))
    collect = _Collector(candidates)
    video = work / f"{name}.mp4"
    replay(DEMO, show, video, ReplayOptions(size=show.output.size, fps=fps, progress=False),
           on_step=collect)
    t = np.asarray(collect.t)
    lum = np.asarray(collect.lum)
    calm = np.asarray(collect.calm)
    ok = np.asarray(collect.calibrated)
    before = int(np.flatnonzero(t < beat_peak)[-1])
    after = [i for i in range(before + 1, before + int(0.5 * fps)) if i in collect.frames]
    beat = max(after, key=lambda i: lum[i])
    sparse = np.array(sorted(i for i in collect.frames if i % 6 == 0))
    open_half = sparse[(t[sparse] > 16.0) & (t[sparse] < 29.0) & ok[sparse]]
    closed_half = sparse[(t[sparse] > 31.0) & ok[sparse]]
    agitated = int(open_half[np.argmin(calm[open_half])])
    calmest = int(closed_half[np.argmax(calm[closed_half])])
    out.mkdir(parents=True, exist_ok=True)
    stills = {"before_beat": before, "beat": beat, "agitated": agitated, "calm": calmest}
    summary: dict = {"piece": name, "show": str(show.path.relative_to(REPO)), "stills": {}}
    for label, index in stills.items():
        Image.fromarray(collect.frames[index]).save(out / f"{label}.png", optimize=True)
        summary["stills"][label] = {"t": round(float(t[index]), 3),
                                    "calm": round(float(calm[index]), 3),
                                    "brightness": round(float(lum[index]), 1)}
    summary["stills"]["beat"]["after_r_peak_s"] = round(float(t[beat] - beat_peak), 3)
    clip = [collect.frames[i] for i in range(first, last)]
    _write_gif(clip, out / "loop.gif", fps, every=2)
    summary["loop"] = {"from_s": round(first / fps, 3), "to_s": round(last / fps, 3),
                       "bytes": (out / "loop.gif").stat().st_size}
    if flashes:
        violations, frames = analyse_video(video)
        summary["flashes_demo"] = {"frames": frames, "violations": len(violations)}
        sim = build_sim_recording(work / "heart200.xdf", "0:hr=200", flash_seconds + 1.0)
        sim_video = work / f"{name}_200bpm.mp4"
        replay(sim, show, sim_video, ReplayOptions(size=show.output.size, fps=fps,
                                                   duration=flash_seconds, progress=False))
        violations, frames = analyse_video(sim_video)
        summary["flashes_200bpm"] = {"frames": frames, "violations": len(violations),
                                     "described": [v.describe() for v in violations]}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pieces", nargs="*", default=list(PIECES), help=", ".join(PIECES))
    parser.add_argument("--skip-flashes", action="store_true")
    parser.add_argument("--flash-seconds", type=float, default=30.0,
                        help="seconds of the 200 bpm heart to render and check (30)")
    parser.add_argument("--keep", type=Path, help="keep the renders in this folder")
    args = parser.parse_args()
    unknown = [p for p in args.pieces if p not in PIECES]
    if unknown:
        parser.error(f"unknown piece(s) {unknown}; known: {', '.join(PIECES)}")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.pieces:
            show = load_show(PIECES[name])
            assert show.safety.flash_limit, f"{name}: media are made with the flash limiter on"
            summary = make_media(name, show, REPO / "pieces" / name / "media", work,
                                 not args.skip_flashes, args.flash_seconds)
            print(json.dumps(summary, indent=1), flush=True)


if __name__ == "__main__":
    main()
