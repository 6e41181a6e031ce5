"""Scoring a beat-timed pulse against annotated R-peaks (benchmarks and tests share it).

A replay drives the causal ECG extractor and one ``pulse_at`` scheduler per ``at_s`` with a
fixed-step clock, exactly as ``installation replay`` does (a chunk per frame holding the
samples up to the frame time): a pulse is *presented* at the time of the frame it starts on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from installation.features.cardiac import CardiacExtractor
from installation.messages import Chunk, Features, Status, StreamInfo
from installation.pulse_at import BeatPulse, Fire

__all__ = ["PulseScore", "replay_features", "schedule", "score"]


def replay_features(
    x: np.ndarray, fs: float, fps: float = 30.0, t_max: float | None = None,
) -> list[Features]:
    """Cardiac features at every frame of a fixed-step replay of one ECG lead."""
    info = StreamInfo(name="ecg", type="ECG", channel_count=1, nominal_srate=fs)
    ts = np.arange(x.size) / fs
    end = ts[-1] if t_max is None else min(t_max, ts[-1])
    ex = CardiacExtractor(stream="ecg")
    frames = np.arange(0.0, end, 1.0 / fps)
    cuts = np.searchsorted(ts, frames, side="right")
    out, a = [], 0
    for t, b in zip(frames, cuts, strict=True):
        chunk = Chunk(info, ts[a:b], x[a:b, None].astype(np.float64), float(t))
        out.append(ex(chunk))
        a = b
    return out


def schedule(features: Iterable[Features], at_s: float, latency_s: float = 0.0) -> list[Fire]:
    """Run one ``pulse_at`` scheduler over per-frame features; the pulses it started."""
    pulse = BeatPulse(at_s, latency_s)
    for f in features:
        if f.status is Status.OK:
            pulse(f.values, f.t)
    return list(pulse.fires)


@dataclass(frozen=True)
class PulseScore:
    """How close the pulses came to ``R-peak + at_s`` (errors in seconds, signed)."""

    errors: np.ndarray  # one per annotated beat that got a pulse
    missed: int  # annotated beats without a pulse within half an interval
    extra: int  # pulses matched to no beat
    fallback: int  # pulses from the fall-back path
    fires: int

    def abs_percentile(self, q: float) -> float:
        return float(np.percentile(np.abs(self.errors), q)) if self.errors.size else math.nan

    @property
    def fallback_rate(self) -> float:
        return self.fallback / self.fires if self.fires else math.nan


def score(
    fires: Sequence[Fire], beats: np.ndarray, at_s: float, keep: np.ndarray | None = None,
) -> PulseScore:
    """Match each annotated beat (``keep``: which of them count) to the pulse nearest its
    target ``beat + at_s``, within half the local interval, one pulse per beat."""
    t = np.array([f.t for f in fires])
    used = np.zeros(t.size, dtype=bool)
    keep = np.ones(beats.size, dtype=bool) if keep is None else keep
    errors, missed = [], 0
    for i, b in enumerate(beats):
        rr = np.diff(beats[max(i - 1, 0) : i + 2]).min(initial=0.8) if beats.size > 1 else 0.8
        target = b + at_s
        j = int(np.argmin(np.abs(t - target))) if t.size else -1
        if j < 0 or used[j] or abs(t[j] - target) > 0.5 * rr:
            missed += int(keep[i])
            continue
        used[j] = True
        if keep[i]:
            errors.append(t[j] - target)
    lo, hi = beats[keep].min(initial=np.inf), beats[keep].max(initial=-np.inf)
    inside = (t >= lo) & (t <= hi + 0.5)
    return PulseScore(
        errors=np.array(errors), missed=missed, extra=int((~used & inside).sum()),
        fallback=sum(f.how == "fallback" for f, ok in zip(fires, inside, strict=True) if ok),
        fires=int(inside.sum()),
    )
