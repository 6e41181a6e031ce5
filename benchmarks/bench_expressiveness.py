"""Is the body in the picture? Beat visibility, states, novelty and cost of every piece.

    .venv/bin/python benchmarks/bench_expressiveness.py                # everything, all pieces
    .venv/bin/python benchmarks/bench_expressiveness.py --pieces pulse-garden --only beats
    .venv/bin/python benchmarks/bench_expressiveness.py --from-json benchmarks/results/x.json

Each piece replays real recordings headless, in lock-step on the fixed-step clock, through its
whole pipeline (features, mapping, generator, every pass, the flash limiter), and the frames
are measured as a visitor would see them:

* **Beat visibility** (recordings with annotated R-peaks): the beat-locked average of mean
  frame luminance (Rec. 709 luma of the sRGB values, 0..255) from -0.3 to +0.8 s around the
  true R-peaks. Its *rise* (peak after the beat minus the mean before it) is compared with the
  same statistic at random times (500 sets of as many random times): **z** = (rise at the beats
  - mean rise at random times) / their standard deviation. The same for motion energy (mean
  absolute difference between consecutive frames). **Swing**: the beat-locked range of mean
  luminance as a fraction of its mean. **Image change at the beat**: the mean absolute pixel
  difference (grey levels, 0..255, RGB, at half resolution) between each frame after the
  R-peak and the frame 300 ms before it, beat-locked, minus the same measure at random times;
  its maximum over 0..0.7 s, and the lag of that maximum. **Latency**: the lag of the
  luminance peak after the R-peak.
* **States look different**: per frame, simple statistics (hue as the two components of the
  saturation-weighted mean hue, saturation, luminance, motion, spatial frequency = mean
  absolute Laplacian of the grey thumbnail over its mean). Frames where the visitor's state is
  calibrated are split at the median of ``state.calm``; the AUC of each statistic between the
  low and high halves (direction-free: max(AUC, 1 - AUC)), and the best of them.
* **Never frozen, never repetitive**: the fraction of frames with near-zero motion (mean
  absolute change < 0.5 grey levels on an 80x45 box-averaged thumbnail, so shader grain does
  not count as motion), and the smallest normalised distance between two frames more than
  60 s apart (64x36 thumbnails, 1 per second; ||a - b|| / sqrt(||a - mean a||^2 + ||b - mean
  b||^2): 0 is an exact repeat, about 1 two unrelated pictures), over an 8-minute real
  recording and over 10 minutes of an empty room (the idle piece).
* **Cost**: frames per second of the whole pipeline at each size (median of repeats), with
  the old default piece (``benchmarks/baseline/pulse-garden-v1``) measured in the same run,
  interleaved, as the baseline of the ratio.

Recordings: ``demo`` (the bundled 60 s: MIT-BIH 100 ECG + BioSPPy EEG, eyes open then
closed), ``mitdb8`` (8 minutes built here from the shared data: MIT-BIH 100 ECG 0-480 s, with
the cardiologists' beat annotations, and BioSPPy EEG, 240 s eyes open then 240 s eyes closed)
and ``idle`` (10 minutes of nobody). Add a piece with one line in ``PIECES``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import platform
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from installation.clock import FixedStepClock  # noqa: E402
from installation.inputs.recording import RecordingSource, load_recording  # noqa: E402
from installation.messages import Status  # noqa: E402
from installation.modes.replay import resolve_streams  # noqa: E402
from installation.pipeline import Pipeline  # noqa: E402
from installation.render.gl_context import create_offscreen_context  # noqa: E402
from installation.show import load_show  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
CACHE = RESULTS / "cache"


@dataclass(frozen=True)
class Piece:
    name: str
    show: Path
    beat_visible: bool  # is the heartbeat meant to be seen? (the beat targets apply)


PIECES = (
    Piece("pulse-garden", REPO / "show.toml", beat_visible=True),
    Piece("data-as-matter", REPO / "pieces" / "data-as-matter" / "show.toml", beat_visible=True),
    Piece("dreaming", REPO / "pieces" / "dreaming" / "show.toml", beat_visible=True),
    # The heartbeat wounds the portrait: seen as a change of the image more than as light.
    Piece("living-image", REPO / "pieces" / "living-image" / "show.toml", beat_visible=True),
)
BASELINE = Piece("pulse-garden-v1", REPO / "benchmarks" / "baseline" / "pulse-garden-v1" /
                 "show.toml", beat_visible=True)

LAGS_S = (-0.3, 0.8)  # beat-locked window
CHANGE_REF_S = 0.3  # image change: against the frame this long before the R-peak
CHANGE_MAX_S = 0.7
FROZEN_GREY = 0.5
REPEAT_GAP_S = 60.0


# -- recordings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recorded:
    name: str
    path: Path | None  # None: the empty room
    peaks: np.ndarray  # true R-peak times (s), empty where none
    duration: float


def demo_recording() -> Recorded:
    path = REPO / "installation" / "demo" / "demo_session.xdf"
    with path.with_name("demo_session.rpeaks.csv").open() as f:
        peaks = np.array([float(r["time_s"]) for r in csv.DictReader(f)])
    return Recorded("demo", path, peaks, 60.0)


def mitdb8_recording(seconds: float = 480.0) -> Recorded:
    """8 minutes of real ECG (MIT-BIH 100) and real EEG (BioSPPy, eyes open then closed)."""
    from installation.messages import StreamInfo
    from installation.record.xdf_writer import XdfWriter
    from tests.wfdb212 import read_wfdb212

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"mitdb100_biosppy_{int(seconds)}s.xdf"
    record = read_wfdb212(SHARED / "mitdb" / "100.hea")
    ecg_fs = record.fs
    rows = np.loadtxt(SHARED / "mitdb" / "100.rpeaks.csv", delimiter=",", skiprows=1, dtype=str)
    peaks = np.array([int(s) / ecg_fs for s, _t, _sym in rows])
    peaks = peaks[peaks < seconds]
    if not path.exists():
        ecg = record.channel("MLII")[: round(seconds * ecg_fs)]
        table = np.loadtxt(SHARED / "biosppy" / "eeg_eo_then_ec_spliced.csv", delimiter=",",
                           skiprows=1)
        eeg_fs = 125.0
        splice = int(np.flatnonzero(table[:, 2] == 1)[0])
        half = round(seconds / 2 * eeg_fs)
        eeg = table[splice - half: splice + half, 1]
        tmp = path.with_suffix(".part")
        with XdfWriter(tmp) as w:
            ecg_id = w.add_stream(StreamInfo("MITBIH-100-ECG", "ECG", 1, ecg_fs, "float32",
                                             ("MLII",), source_id="mitdb-100"))
            eeg_id = w.add_stream(StreamInfo("BioSPPy-EEG", "EEG", 1, eeg_fs, "float32",
                                             ("EEG",), source_id="biosppy-eeg"))
            for sid in (ecg_id, eeg_id):
                w.write_clock_offset(sid, 100.0, 0.0)
            for k in range(int(seconds / 0.5)):
                for sid, sig, fs in ((ecg_id, ecg, ecg_fs), (eeg_id, eeg, eeg_fs)):
                    i0, i1 = round(k * 0.5 * fs), round((k + 1) * 0.5 * fs)
                    w.write_samples(sid, 100.0 + np.arange(i0, i1) / fs,
                                    sig[i0:i1].astype(np.float32))
        tmp.rename(path)
    return Recorded("mitdb8", path, peaks, seconds)


def idle_recording(seconds: float = 600.0) -> Recorded:
    return Recorded("idle", None, np.zeros(0), seconds)


# -- rendering and measuring --------------------------------------------------------------------
def _box(pixels: np.ndarray, w: int, h: int) -> np.ndarray:
    """Box-average an (H, W, 3) uint8 frame down to (h, w, 3) float32 (edges that do not fill
    a whole box are cropped)."""
    big_h, big_w = pixels.shape[:2]
    fy, fx = max(1, big_h // h), max(1, big_w // w)
    block = pixels[: h * fy, : w * fx]
    return block.reshape(h, fy, w, fx, 3).mean(axis=(1, 3), dtype=np.float32)


@dataclass
class Series:
    """Per-frame measurements of one run (what the analysis needs, nothing more)."""

    t: list[float] = field(default_factory=list)
    lum: list[float] = field(default_factory=list)
    motion: list[float] = field(default_factory=list)  # consecutive frames, half resolution
    thumb_motion: list[float] = field(default_factory=list)  # 80x45 box thumbnails
    hue_cos: list[float] = field(default_factory=list)
    hue_sin: list[float] = field(default_factory=list)
    saturation: list[float] = field(default_factory=list)
    spatial: list[float] = field(default_factory=list)
    calm: list[float] = field(default_factory=list)  # state.calm, NaN when not calibrated
    change: list[list[float]] = field(default_factory=list)  # per frame, vs k frames before
    thumbs: list[np.ndarray] = field(default_factory=list)  # 1 per second, 64x36
    fps: float = 30.0
    wall_s: float = 0.0


def _frame_stats(pixels: np.ndarray, series: Series) -> None:
    rgb = pixels.astype(np.float32)
    series.lum.append(float((rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)).mean()))
    small = _box(pixels, 80, 45) / 255.0
    mx, mn = small.max(axis=2), small.min(axis=2)
    sat = np.where(mx > 1e-6, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    # Hue angle per pixel (hexcone), averaged as a vector weighted by saturation.
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    angle = np.arctan2(np.sqrt(3.0) * (g - b), 2.0 * r - g - b)
    weight = sat.sum() + 1e-9
    series.hue_cos.append(float((np.cos(angle) * sat).sum() / weight))
    series.hue_sin.append(float((np.sin(angle) * sat).sum() / weight))
    series.saturation.append(float(sat.mean()))
    grey = _box(pixels, 160, 90).mean(axis=2)
    lap = np.abs(4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2]
                 - grey[1:-1, 2:])
    series.spatial.append(float(lap.mean() / (grey.mean() + 1.0)))


def run_piece(piece: Piece, recorded: Recorded, size: tuple[int, int], fps: float,
              ctx, progress: Callable[[str], None] | None = None) -> Series:
    """Replay ``recorded`` through ``piece`` and measure every frame."""
    show = load_show(piece.show)
    if recorded.path is not None:
        recording = load_recording(recorded.path)
        streams = resolve_streams(show, recording)
        keys = list(streams)
        source = RecordingSource(recording, [streams[k] for k in keys])

        def chunks(t: float) -> dict:
            return dict(zip(keys, source.read_until(t), strict=True))
    else:
        def chunks(t: float) -> dict:
            return {}  # nobody there: no stream delivers anything
    pipeline = Pipeline(show, ctx, size, fps, device="cpu")
    series = Series(fps=fps)
    half = (size[0] // 2, size[1] // 2)
    kmax = round(CHANGE_MAX_S * fps) + round(CHANGE_REF_S * fps)
    kmin = round(CHANGE_REF_S * fps)
    history: deque[np.ndarray] = deque(maxlen=kmax + 1)
    prev_thumb: np.ndarray | None = None
    clock = FixedStepClock(fps=fps, start=0.0)
    n = int(recorded.duration * fps)
    began = time.perf_counter()
    try:
        for index in range(n):
            t = clock.now()
            step = pipeline.step(chunks(t), t, index)
            px = step.frame.pixels
            series.t.append(t)
            _frame_stats(px, series)
            halfres = _box(px, *half)
            series.motion.append(float(np.abs(halfres - history[-1]).mean()) if history else 0.0)
            thumb = _box(px, 80, 45)
            series.thumb_motion.append(float(np.abs(thumb - prev_thumb).mean())
                                       if prev_thumb is not None else 0.0)
            prev_thumb = thumb
            history.append(halfres)
            series.change.append([float(np.abs(halfres - history[-1 - k]).mean())
                                  if len(history) > k else np.nan
                                  for k in range(kmin, kmax + 1)])
            state = step.features.get("state")
            calibrated = (state is not None and state.status is Status.OK
                          and state.reason != "calibrating")
            series.calm.append(float(state.values["calm"]) if calibrated else np.nan)
            if index % round(fps) == 0:
                series.thumbs.append(_box(px, 64, 36).astype(np.uint8))
            clock.tick()
            if progress is not None and index % round(30 * fps) == 0:
                progress(f"{piece.name}/{recorded.name}: {t:.0f}/{recorded.duration:.0f} s")
    finally:
        pipeline.release()
    series.wall_s = time.perf_counter() - began
    return series


# -- analysis -----------------------------------------------------------------------------------
def _locked(values: np.ndarray, index: np.ndarray, lags: np.ndarray) -> np.ndarray:
    return values[index[:, None] + lags[None, :]].mean(axis=0)


def _rise(avg: np.ndarray, lags: np.ndarray) -> float:
    return float(avg[lags >= 0].max() - avg[lags < 0].mean())


def beat_visibility(series: Series, peaks: np.ndarray, seed: int = 0, sets: int = 500
                    ) -> dict[str, float]:
    t = np.asarray(series.t)
    fps = series.fps
    lags = np.arange(round(LAGS_S[0] * fps), round(LAGS_S[1] * fps) + 1)
    lo, hi = t[0] + 2.0 + CHANGE_REF_S, t[-1] - LAGS_S[1] - 0.1
    beats = peaks[(peaks > lo) & (peaks < hi)]
    if len(beats) < 5:
        return {}
    index = np.searchsorted(t, beats)
    lum, motion = np.asarray(series.lum), np.asarray(series.motion)
    rng = np.random.default_rng(seed)
    lo_i, hi_i = int(np.searchsorted(t, lo)), int(np.searchsorted(t, hi))
    random_sets = rng.integers(lo_i, hi_i, size=(sets, len(beats)))
    out: dict[str, float] = {"beats": float(len(beats))}
    for name, values in (("lum", lum), ("motion", motion)):
        avg = _locked(values, index, lags)
        rises = np.array([_rise(_locked(values, r, lags), lags) for r in random_sets])
        out[f"z_{name}"] = (_rise(avg, lags) - rises.mean()) / (rises.std() + 1e-12)
        if name == "lum":
            out["swing"] = float((avg.max() - avg.min()) / lum.mean())
            out["latency_s"] = float(lags[lags >= 0][np.argmax(avg[lags >= 0])] / fps)
            out["lum_mean"] = float(lum.mean())
    change = np.asarray(series.change)  # [frame, k - kmin]
    kmin = round(CHANGE_REF_S * fps)
    ref = np.searchsorted(t, beats - CHANGE_REF_S)
    ks = np.arange(change.shape[1])
    at_beats = np.nanmean(change[ref[:, None] + ks[None, :] + kmin, ks[None, :]], axis=0)
    rand_ref = rng.integers(lo_i - kmin, hi_i - kmin, size=4000)
    at_random = np.nanmean(change[rand_ref[:, None] + ks[None, :] + kmin, ks[None, :]], axis=0)
    excess = at_beats - at_random
    best = int(np.nanargmax(excess))
    out["change_excess"] = float(excess[best])
    out["change_lag_s"] = float((best + kmin) / fps - CHANGE_REF_S)
    out["change_at_beat"] = float(at_beats[best])
    out["change_random"] = float(at_random[best])
    return out


def _auc(low: np.ndarray, high: np.ndarray) -> float:
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([low, high]))
    u = ranks[len(low):].sum() - len(high) * (len(high) + 1) / 2
    auc = u / (len(low) * len(high))
    return float(max(auc, 1.0 - auc))


STATS = ("hue_cos", "hue_sin", "saturation", "lum", "motion", "spatial")


def state_auc(series: Series) -> dict[str, float]:
    calm = np.asarray(series.calm)
    ok = np.isfinite(calm)
    if ok.sum() < 60:
        return {}
    median = float(np.median(calm[ok]))
    low, high = ok & (calm <= median), ok & (calm > median)
    if low.sum() < 30 or high.sum() < 30:
        return {}
    out = {f"auc_{s}": _auc(np.asarray(getattr(series, s))[low],
                            np.asarray(getattr(series, s))[high]) for s in STATS}
    best = max(STATS, key=lambda s: out[f"auc_{s}"])
    out["auc_best"] = out[f"auc_{best}"]
    out["auc_best_stat"] = best  # type: ignore[assignment]
    out["calm_median"] = median
    out["calm_low_mean"] = float(calm[low].mean())
    out["calm_high_mean"] = float(calm[high].mean())
    return out


def novelty(series: Series) -> dict[str, float]:
    moving = np.asarray(series.thumb_motion[1:])
    thumbs = np.asarray(series.thumbs, dtype=np.float32).reshape(len(series.thumbs), -1)
    out = {"frozen_fraction": float((moving < FROZEN_GREY).mean()),
           "motion_median": float(np.median(moving))}
    gap = int(REPEAT_GAP_S)  # thumbnails are 1 per second
    if len(thumbs) > gap + 1:
        centred = thumbs - thumbs.mean(axis=1, keepdims=True)
        energy = (centred ** 2).sum(axis=1)
        best = np.inf
        where = (0, 0)
        for i in range(len(thumbs) - gap - 1):
            j = np.arange(i + gap + 1, len(thumbs))
            d = np.sqrt(((thumbs[j] - thumbs[i]) ** 2).sum(axis=1)
                        / (energy[i] + energy[j] + 1e-6))
            k = int(np.argmin(d))
            if d[k] < best:
                best, where = float(d[k]), (i, int(j[k]))
        out["min_repeat_distance"] = best
        out["min_repeat_at_s"] = [float(where[0]), float(where[1])]  # type: ignore[assignment]
    return out


# -- cost ---------------------------------------------------------------------------------------
def frame_cost(piece: Piece, size: tuple[int, int], ctx, seconds: float, fps: float = 30.0,
               start: float = 30.0) -> tuple[float, float]:
    """Mean wall and CPU ms per ``Pipeline.step`` (generator, passes, limiter) on the demo.

    The CPU time is the whole process's (every llvmpipe and torch thread): on a shared
    machine the wall time measures the neighbours as much as the piece, the CPU time much
    less so. On an idle machine the wall time lies between CPU / cores and CPU.
    """
    show = load_show(piece.show)
    recording = load_recording(REPO / "installation" / "demo" / "demo_session.xdf")
    streams = resolve_streams(show, recording)
    keys = list(streams)
    source = RecordingSource(recording, [streams[k] for k in keys])
    pipeline = Pipeline(show, ctx, size, fps, device="cpu")
    for t in np.arange(0.1, start, 0.1):
        pipeline.extract(dict(zip(keys, source.read_until(float(t)), strict=True)), float(t))
    clock = FixedStepClock(fps=fps, start=start)
    times, cpu = [], []
    try:
        for index in range(int(seconds * fps)):
            t = clock.now()
            chunk = dict(zip(keys, source.read_until(t), strict=True))
            began, began_cpu = time.perf_counter(), time.process_time()
            pipeline.step(chunk, t, index)
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            clock.tick()
    finally:
        pipeline.release()
    warm = int(fps)  # the first second compiles shaders and warms torch up
    return 1e3 * statistics.fmean(times[warm:]), 1e3 * statistics.fmean(cpu[warm:])


def cost_table(pieces: list[Piece], sizes: list[tuple[int, int]], ctx, seconds: float,
               repeats: int, log: Callable[[str], None],
               default_sizes: tuple[tuple[int, int], ...] = ()) -> dict:
    """ms per frame of each piece at each size, interleaved with the baseline piece.

    ``default_sizes`` are measured for the default piece (and the baseline) only: the 960x540
    target is the default piece's.
    """
    out: dict = {}
    for size in [*sizes, *(s for s in default_sizes if s not in sizes)]:
        key = f"{size[0]}x{size[1]}"
        at_size = (pieces if size in sizes
                   else [p for p in pieces if p.show == PIECES[0].show])
        runs: dict[str, list[float]] = {p.name: [] for p in [BASELINE, *at_size]}
        cpu: dict[str, list[float]] = {p.name: [] for p in [BASELINE, *at_size]}
        for r in range(repeats):  # interleaved, so load changes hit every piece alike
            for p in [BASELINE, *at_size]:
                ms, cpu_ms = frame_cost(p, size, ctx, seconds)
                runs[p.name].append(ms)
                cpu[p.name].append(cpu_ms)
                log(f"cost {key} {p.name} run {r + 1}: {ms:.1f} ms/frame ({cpu_ms:.1f} CPU)")
        base = statistics.median(runs[BASELINE.name])
        base_cpu = statistics.median(cpu[BASELINE.name])
        out[key] = {name: {"ms_median": statistics.median(v), "runs_ms": v,
                           "fps": 1e3 / statistics.median(v),
                           "cost_vs_baseline": statistics.median(v) / base,
                           "cpu_ms_median": statistics.median(cpu[name]),
                           "cpu_runs_ms": cpu[name],
                           "cpu_vs_baseline": statistics.median(cpu[name]) / base_cpu}
                    for name, v in runs.items()}
    return out


# -- report -------------------------------------------------------------------------------------
def report(results: dict) -> str:
    lines = [f"machine: {results['machine']}; {results['date']}; load average at start "
             f"{results.get('load', '?')}", ""]
    beats = results.get("beats", {})
    if beats:
        lines += ["| piece | recording | beats | z (luminance) | z (motion) | swing | image change"
                  " at beat - random (grey levels) | at lag | luminance peak after R | mean"
                  " luminance | meets target |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for piece, by_rec in beats.items():
            for rec, b in by_rec.items():
                if not b:
                    continue
                ok = b["z_lum"] >= 20 and (b["swing"] >= 0.25 or b["change_excess"] >= 10)
                lines.append(
                    f"| {piece} | {rec} | {b['beats']:.0f} | {b['z_lum']:.1f} | {b['z_motion']:.1f}"
                    f" | {b['swing']:.0%} | {b['change_excess']:.1f} ({b['change_at_beat']:.1f}"
                    f" vs {b['change_random']:.1f}) | {b['change_lag_s']:.2f} s |"
                    f" {b['latency_s']:.2f} s | {b['lum_mean']:.0f} |"
                    f" {'yes' if ok else 'no'} |")
        lines.append("")
    states = results.get("states", {})
    if states:
        lines += ["| piece | recording | AUC best (statistic) | hue cos / sin | saturation |"
                  " luminance | motion | spatial freq. |", "|---|---|---|---|---|---|---|---|"]
        for piece, by_rec in states.items():
            for rec, s in by_rec.items():
                if not s:
                    continue
                lines.append(
                    f"| {piece} | {rec} | **{s['auc_best']:.3f}** ({s['auc_best_stat']}) |"
                    f" {s['auc_hue_cos']:.2f} / {s['auc_hue_sin']:.2f} | {s['auc_saturation']:.2f}"
                    f" | {s['auc_lum']:.2f} | {s['auc_motion']:.2f} | {s['auc_spatial']:.2f} |")
        lines.append("")
    nov = results.get("novelty", {})
    if nov:
        lines += ["| piece | recording | frozen frames | median motion (grey levels, 80x45) |"
                  " min distance > 60 s apart (at s) |", "|---|---|---|---|---|"]
        for piece, by_rec in nov.items():
            for rec, n in by_rec.items():
                at = n.get("min_repeat_at_s", ["-", "-"])
                dist = n.get("min_repeat_distance", float("nan"))
                lines.append(f"| {piece} | {rec} | {n['frozen_fraction']:.2%} |"
                             f" {n['motion_median']:.2f} | {dist:.3f} ({at[0]:.0f}, {at[1]:.0f}) |")
        lines.append("")
    cost = results.get("cost", {})
    if cost:
        lines += ["| size | piece | ms/frame (median) | fps | x old default piece's cost |"
                  " runs (ms) | CPU ms/frame (median) | x old piece's CPU |",
                  "|---|---|---|---|---|---|---|---|"]
        for size, by_piece in cost.items():
            for piece, c in by_piece.items():
                cpu = (f" {c['cpu_ms_median']:.1f} | {c['cpu_vs_baseline']:.2f} |"
                       if "cpu_ms_median" in c else " - | - |")  # older JSONs have none
                lines.append(f"| {size} | {piece} | {c['ms_median']:.1f} | **{c['fps']:.1f}** |"
                             f" {c['cost_vs_baseline']:.2f} |"
                             f" {', '.join(f'{v:.1f}' for v in c['runs_ms'])} |" + cpu)
    return "\n".join(lines)


def merge(runs: list[dict]) -> dict:
    """Several runs' results as one (per piece and recording); the machine lines are joined."""
    out: dict = {"machine": "", "date": "", "load": ""}
    for key in ("machine", "date", "load"):
        out[key] = "; ".join(dict.fromkeys(str(r.get(key, "?")) for r in runs))
    for run in runs:
        for part in ("beats", "states", "novelty"):
            for piece, by_rec in run.get(part, {}).items():
                out.setdefault(part, {}).setdefault(piece, {}).update(by_rec)
        for size, by_piece in run.get("cost", {}).items():
            out.setdefault("cost", {}).setdefault(size, {}).update(by_piece)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", default=",".join(p.name for p in (*PIECES, BASELINE)),
                        help="comma-separated piece names (and pulse-garden-v1, the baseline)")
    parser.add_argument("--only", default="beats,states,novelty,cost",
                        help="which parts: beats, states, novelty, cost")
    parser.add_argument("--recordings", default="demo,mitdb8,idle")
    parser.add_argument("--size", default="640x360", help="analysis size (demo)")
    parser.add_argument("--long-size", default="320x180",
                        help="analysis size of the long runs (mitdb8, idle): they are 18x longer")
    parser.add_argument("--long-fps", type=float, default=10.0,
                        help="frame rate of the long runs (the pieces are time-based: u_dt)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--long-s", type=float, default=480.0, help="mitdb8 length")
    parser.add_argument("--idle-s", type=float, default=600.0, help="empty room length")
    parser.add_argument("--cost-sizes", default="640x360,1280x720")
    parser.add_argument("--default-sizes", default="960x540",
                        help="sizes measured for the default piece (and the baseline) only")
    parser.add_argument("--cost-seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--from-json", type=Path, nargs="+",
                        help="only re-report saved results (several files: merged, e.g. one"
                             " run per piece)")
    args = parser.parse_args()
    if args.from_json:
        merged = merge([json.loads(path.read_text()) for path in args.from_json])
        if args.json:
            args.json.write_text(json.dumps(merged, indent=1, default=float))
        print(report(merged))
        return
    known = {p.name: p for p in (*PIECES, BASELINE)}
    pieces = [known[name] for name in args.pieces.split(",")]
    parts = set(args.only.split(","))
    size = tuple(int(v) for v in args.size.split("x"))
    long_size = tuple(int(v) for v in args.long_size.split("x"))

    def log(message: str) -> None:
        print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    ctx = create_offscreen_context()
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    results: dict = {"machine": f"{platform.machine()}, {ctx.info['GL_RENDERER']}",
                     "date": f"{dt.date.today()}", "load": load, "size": list(size),
                     "long_size": list(long_size), "long_fps": args.long_fps,
                     "fps": args.fps, "beats": {}, "states": {}, "novelty": {}}
    makers = {"demo": demo_recording, "mitdb8": lambda: mitdb8_recording(args.long_s),
              "idle": lambda: idle_recording(args.idle_s)}
    if parts & {"beats", "states", "novelty"}:
        for name in args.recordings.split(","):
            recorded = makers[name]()
            for piece in pieces:
                run_size, run_fps = ((size, args.fps) if name == "demo"
                                     else (long_size, args.long_fps))
                series = run_piece(piece, recorded, run_size, run_fps, ctx, log)
                log(f"{piece.name}/{recorded.name}: {len(series.t)} frames in"
                    f" {series.wall_s:.0f} s")
                if "beats" in parts and len(recorded.peaks):
                    results["beats"].setdefault(piece.name, {})[name] = \
                        beat_visibility(series, recorded.peaks)
                if "states" in parts and recorded.path is not None:
                    results["states"].setdefault(piece.name, {})[name] = state_auc(series)
                if "novelty" in parts and recorded.duration >= 2 * REPEAT_GAP_S:
                    results["novelty"].setdefault(piece.name, {})[name] = novelty(series)
                if args.json:
                    args.json.write_text(json.dumps(results, indent=1, default=float))
    if "cost" in parts:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.cost_sizes.split(",")]
        default_sizes = tuple(tuple(int(v) for v in s.split("x"))
                              for s in args.default_sizes.split(",") if s)
        results["cost"] = cost_table([p for p in pieces if p is not BASELINE], sizes, ctx,
                                     args.cost_seconds, args.repeats, log, default_sizes)
    ctx.release()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    print(report(results))


if __name__ == "__main__":
    main()
