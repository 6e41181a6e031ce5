"""How a heart source is judged: beat F1 and latency, coverage and the confident-wrong rate.

Shared by the tests and the benchmarks, so both quote the same figures.

* **Coverage**: the fraction of time (feature frames) the status is ``ok``, over the time where
  truth exists.
* **Confident-wrong rate** (issue 15): the fraction of that same time where the status is
  ``ok`` while the heart rate is more than 5 bpm from the annotation truth in a 10-s window.
  As for the "within 2 bpm" figure, the reading of a window is the mean of its ``ok`` frames;
  a window that reads wrong counts all its ``ok`` time as confident-wrong.
* ``cw_frames``: stricter, per frame: ``ok`` while more than 5 bpm from the rate the
  annotations give at that instant (60 / mean of the last 5 annotated intervals, as the
  feature itself is defined), so a brief wrong stretch inside a right window counts too.
* ``cw_of_ok``: the window count over the ``ok`` time only (how often an ``ok`` is wrong).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from installation.messages import Event, Features, Status

__all__ = ["beat_match", "hr_truth_windows", "read_beats", "trust"]

WRONG_BPM = 5.0


def read_beats(path: Path, t_max: float = np.inf) -> np.ndarray:
    """Annotated beat times (``time_s`` column of a ``*.rpeaks.csv``)."""
    with path.open() as fh:
        t = np.array([float(r["time_s"]) for r in csv.DictReader(fh)])
    return t[t < t_max]


def beat_match(events: Sequence[Event], ref: np.ndarray, tol: float = 0.075,
               within: np.ndarray | None = None) -> dict[str, float]:
    """Greedy one-to-one matching of detected to annotated beats (within ``tol`` s).

    ``within``: optional ``(k, 2)`` time spans; only beats inside them count.
    """
    t = np.array([e.t for e in events])
    rep = np.array([e.reported for e in events])
    if within is not None:
        keep = np.zeros(t.size, bool)
        keep_r = np.zeros(ref.size, bool)
        for a, b in within:
            keep |= (t >= a) & (t < b)
            keep_r |= (ref >= a) & (ref < b)
        t, rep, ref = t[keep], rep[keep], ref[keep_r]
    used = np.zeros(ref.size, dtype=bool)
    lat = []
    for ti, ri in zip(t, rep, strict=True):
        if ref.size == 0:
            break
        j = int(np.argmin(np.abs(ref - ti)))
        if abs(ref[j] - ti) <= tol and not used[j]:
            used[j] = True
            lat.append(ri - ref[j])
    tp = len(lat)
    fp, fn = t.size - tp, ref.size - tp
    return {"f1": 2 * tp / max(1, 2 * tp + fp + fn), "tp": tp, "fp": fp, "fn": fn,
            "latency_median_ms": float(np.median(lat)) * 1e3 if lat else float("nan"),
            "latency_p95_ms": float(np.percentile(lat, 95)) * 1e3 if lat else float("nan")}


def hr_truth_windows(beats: np.ndarray, start: float, end: float,
                     window_s: float = 10.0) -> list[tuple[float, float, float]]:
    """``(a, b, mean HR)`` per full 10-s window, as the shared data's truth files define it:
    60 / mean of the RR intervals (<= 3 s) whose later beat lies in the window."""
    rr, later = np.diff(beats), beats[1:]
    out = []
    a = start
    while a + window_s <= end + 1e-9:
        sel = (later >= a) & (later < a + window_s) & (rr <= 3.0)
        if sel.sum() >= 3:
            out.append((a, a + window_s, float(60.0 / rr[sel].mean())))
        a += window_s
    return out


def instant_truth(beats: np.ndarray, t: np.ndarray, n_rr: int = 5) -> np.ndarray:
    """The annotated rate at each time in ``t``: 60 / mean of the last ``n_rr`` intervals
    (<= 3 s) whose later beat is before it; NaN where there are fewer."""
    rr, later = np.diff(beats), beats[1:]
    out = np.full(t.size, np.nan)
    idx = np.searchsorted(later, t, side="right")
    for i, k in enumerate(idx):
        recent = rr[max(0, k - n_rr):k]
        if recent.size == n_rr and recent.max() <= 3.0:
            out[i] = 60.0 / recent.mean()
    return out


def trust(feats: Sequence[Features], windows: Sequence[tuple[float, float, float]],
          mask: np.ndarray | None = None, mask_t: np.ndarray | None = None,
          beats: np.ndarray | None = None) -> dict[str, float]:
    """Coverage and confident-wrong rate of the ``heart_rate`` feature against ``windows``.

    ``mask`` / ``mask_t``: optionally count only the frames where ``mask`` (sampled at
    ``mask_t``) is true, e.g. the noisy segments of a stress test. ``beats``: the annotated
    beats, for the per-frame ``cw_frames``.
    """
    t = np.array([f.t for f in feats])
    hr = np.array([f.values["heart_rate"] for f in feats])
    ok = np.array([f.status is Status.OK for f in feats])
    wrong = np.zeros(t.size, bool)
    has = np.zeros(t.size, bool)
    for a, b, v in windows:
        sel = (t >= a) & (t < b)
        has |= sel
        if (sel & ok).any():
            wrong[sel] = abs(float(hr[sel & ok].mean()) - v) > WRONG_BPM
    if mask is not None and mask_t is not None:
        has &= np.interp(t, mask_t, mask.astype(float)) > 0.5
    n = max(1, int(has.sum()))
    n_ok = int((ok & has).sum())
    cw = int((ok & has & wrong).sum())
    out = {"coverage": n_ok / n, "confident_wrong": cw / n,
           "cw_of_ok": cw / max(1, n_ok), "frames": int(has.sum())}
    if beats is not None:
        inst = instant_truth(beats, t - 0.1)  # the detector reports ~0.1 s after the beat
        sel = has & np.isfinite(inst)
        out["cw_frames"] = int((sel & ok & (np.abs(hr - inst) > WRONG_BPM)).sum()) / max(
            1, int(sel.sum()))
    return out
