"""Every extractor against hostile input: never raises, never NaN, says why, recovers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from installation.features.registry import EXTRACTOR_TYPES, make_feature_extractor
from installation.messages import Chunk, Features, Status, StreamInfo

KINDS = list(EXTRACTOR_TYPES)


def _wave(kind: str, ts: np.ndarray, n_ch: int) -> np.ndarray:
    """A plausible signal of each kind (so 'recovery' has something to recover to)."""
    if kind == "RR":
        return np.full((ts.size, n_ch), 800.0)
    if kind == "EEG":
        rng = np.random.default_rng(0)
        return 20 * np.sin(2 * np.pi * 10 * ts)[:, None] + rng.normal(size=(ts.size, n_ch))
    if kind == "EDA":
        x = 5.0 + 0.5 * np.sin(2 * np.pi * 0.05 * ts)
    elif kind == "RSP":
        x = np.sin(2 * np.pi * 0.25 * ts)
    else:  # ECG, PPG: a spiky 72 bpm pulse train
        x = np.sin(np.pi * ((ts * 1.2) % 1.0)) ** 16
    return np.repeat(x[:, None], n_ch, axis=1)


def _check(f: Features) -> None:
    assert all(math.isfinite(v) for v in f.values.values()), f
    assert math.isfinite(f.t)
    if f.status is not Status.OK:
        assert f.reason, f
    for e in f.events:
        assert math.isfinite(e.t) and math.isfinite(e.reported)


_PIECES = st.sampled_from(
    ["good", "nan", "inf", "flat", "saturated", "gap", "jump_back", "zero", "slow_rate", "huge"]
)


@settings(max_examples=50, deadline=None)
@given(kind=st.sampled_from(KINDS), plan=st.lists(_PIECES, min_size=1, max_size=12),
       fs=st.sampled_from([125.0, 250.0, 51.0]), n_ch=st.integers(1, 3))
def test_hostile_chunks_never_raise_nor_leak_nan(
    kind: str, plan: list[str], fs: float, n_ch: int
) -> None:
    ex = make_feature_extractor(kind, kind.lower())
    info = StreamInfo(kind.lower(), kind, n_ch, 125.0)  # header says 125 Hz whatever comes
    t = 0.0
    for piece in plan:
        rate = 51.0 if piece == "slow_rate" else fs
        n = 0 if piece == "zero" else int(rate * 1.5)
        if piece == "gap":
            t += 7.0
        if piece == "jump_back":
            t = max(0.0, t - 3.0)
        ts = t + np.arange(n) / rate
        x = _wave(kind, ts, n_ch)
        if piece == "nan":
            x[::3] = np.nan
        elif piece == "inf":
            x[:, 0] = np.inf
        elif piece == "flat":
            x[:] = 1.0
        elif piece == "saturated":
            x = np.clip(x * 50.0, -1.0, 1.0)
        elif piece == "huge":
            x = x * 1e12
        t = t + n / rate
        for i in range(0, max(n, 1), max(1, int(rate / 10))):
            sl = slice(i, i + max(1, int(rate / 10)))
            _check(ex(Chunk(info, ts[sl], x[sl], t if n == 0 else float(ts[sl][-1]))))


# A constant RR stream is a perfectly regular heart, not a fault: no ("RR", "flat").
@pytest.mark.parametrize(
    ("kind", "fault"),
    [(k, f) for k in KINDS for f in ("nan", "flat") if (k, f) != ("RR", "flat")],
)
def test_fault_is_reported_then_recovers(kind: str, fault: str) -> None:
    fs = 100.0 if kind != "RR" else 1.25
    ts = np.arange(0.0, 90.0, 1.0 / fs)
    x = _wave(kind, ts, 2 if kind == "EEG" else 1)
    bad = (ts >= 40.0) & (ts < 48.0)
    x[bad] = np.nan if fault == "nan" else x[bad][0]
    ex = make_feature_extractor(kind, kind.lower())
    info = StreamInfo(kind.lower(), kind, x.shape[1], fs)
    step = max(1, int(fs / 10))
    during, after = [], []
    for i in range(0, ts.size, step):
        f = ex(Chunk(info, ts[i : i + step], x[i : i + step], float(ts[i : i + step][-1])))
        _check(f)
        if 44.0 <= f.t < 48.0:
            during.append(f)
        if f.t >= 85.0:
            after.append(f)
    assert all(f.status is not Status.OK and f.reason for f in during), (kind, fault)
    assert after and all(f.status is Status.OK for f in after), (kind, fault, after[-1])
