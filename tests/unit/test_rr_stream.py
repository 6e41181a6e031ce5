"""RR-interval streams (chest straps): real annotated intervals in, heart features out."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from installation.features.rr import RrExtractor
from installation.messages import Chunk, Status, StreamInfo

DATA = Path(__file__).resolve().parents[1] / "data"
INFO = StreamInfo(name="rr", type="RR", channel_count=1, nominal_srate=0.0)


def _beats() -> np.ndarray:
    with (DATA / "mitdb100_rpeaks_0-60s.csv").open() as fh:
        return np.array([float(r["time_s"]) for r in csv.DictReader(fh)])


def _strap(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """One RR sample per beat, stamped at the beat, in ms (scale 1000) or s (scale 1)."""
    b = _beats()
    return b[1:], np.diff(b) * scale


@pytest.mark.parametrize("scale", [1000.0, 1.0])
def test_rr_in_ms_or_s_gives_the_annotated_rate(scale: float) -> None:
    ts, rr = _strap(scale)
    ex = RrExtractor()
    f = None
    for i in range(0, ts.size, 2):  # straps deliver in bursts
        f = ex(Chunk(INFO, ts[i : i + 2], rr[i : i + 2, None], float(ts[i : i + 2][-1])))
    assert f is not None and f.status is Status.OK
    assert f.values["heart_rate"] == pytest.approx(60.0 / np.mean(rr[-5:] / scale), abs=4.0)
    assert f.values["hrv_sdnn"] > 0.0 and f.values["hrv_rmssd"] > 0.0
    assert f.values["beat_count"] == ts.size


def test_silence_goes_stale_then_recovers_and_garbage_is_invalid() -> None:
    ts, rr = _strap(1000.0)
    ex = RrExtractor()
    for i in range(20):
        ex(Chunk(INFO, ts[i : i + 1], rr[i : i + 1, None], float(ts[i])))
    quiet = ex(Chunk(INFO, np.empty(0), np.empty((0, 1)), float(ts[19]) + 8.0))
    assert quiet.status is Status.STALE and quiet.reason.startswith("no beat")
    assert quiet.values["heart_rate"] > 60.0
    bad = ex(Chunk(INFO, np.array([ts[19] + 9.0]), np.array([[np.nan]]), ts[19] + 9.0))
    assert bad.status is Status.INVALID and bad.reason == "non-finite RR"
    neg = ex(Chunk(INFO, np.array([ts[19] + 9.5]), np.array([[-3.0]]), ts[19] + 9.5))
    assert neg.status is Status.INVALID and neg.reason == "RR out of range"
    t0 = ts[19] + 12.0
    for k in range(6):
        f = ex(Chunk(INFO, np.array([t0 + 0.8 * k]), np.array([[800.0]]), t0 + 0.8 * k))
    assert f.status is Status.OK and f.values["heart_rate"] == pytest.approx(75.0, abs=3.0)
