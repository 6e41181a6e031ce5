"""Breathing rate from a belt and from the ECG alone (EDR), against each other on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from installation.features.cardiac import CardiacExtractor
from installation.features.respiration import RespirationExtractor
from installation.messages import Status
from tests.unit.feature_helpers import feed, series


def test_ecg_derived_breathing_rate_matches_the_belt(shared_data: Path) -> None:
    d = np.loadtxt(
        shared_data / "neurokit" / "bio_resting_5min_100hz.csv", delimiter=",", skiprows=1
    )
    ts = np.arange(d.shape[0]) / 100.0
    fe, _ = feed(CardiacExtractor(), ts, d[:, 0], 10, "ECG")
    fb, _ = feed(RespirationExtractor(), ts, d[:, 2], 10, "RSP")
    t, edr, _ = series(fe, "resp_rate")
    _, belt, ok = series(fb, "resp_rate")
    sel = ok & (t > 40.0)
    err = np.abs(edr - belt)[sel]
    print(f"\nEDR vs belt: median |d| {np.median(err):.2f} breaths/min, belt {np.median(belt):.1f}")
    assert 10.0 < np.median(belt[sel]) < 22.0
    assert np.median(err) < 1.5
    # Phase runs 0 -> 1 over each breath and inhaling alternates.
    _, phase, _ = series(fb, "breath_phase")
    _, inh, _ = series(fb, "inhaling")
    assert phase.min() >= 0.0 and phase.max() < 1.0
    assert 0.3 < inh[sel].mean() < 0.7


def test_belt_warms_up_then_flat_is_invalid() -> None:
    ts = np.arange(0, 60, 0.04)
    x = np.sin(2 * np.pi * 0.25 * ts) * (ts < 40.0)
    x[ts >= 40.0] = 0.0
    feats, _ = feed(RespirationExtractor(), ts, x, 5, "RSP")
    t, rate, ok = series(feats, "resp_rate")
    assert feats[0].status is Status.STALE and feats[0].reason == "warming up"
    assert np.all(np.abs(rate[ok & (t < 40.0)] - 15.0) < 0.5)
    assert feats[-1].status is Status.INVALID and feats[-1].reason == "flat signal"
