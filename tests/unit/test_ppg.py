"""PPG pulse peaks: heart rate agrees with the ECG recorded beside it, on two real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from installation.features.cardiac import CardiacExtractor
from installation.features.ppg import PpgExtractor
from installation.messages import Status
from tests.unit.feature_helpers import feed, series
from tests.wfdb212 import read_wfdb212


def _agreement(ts: np.ndarray, ecg: np.ndarray, ppg: np.ndarray, step: int) -> tuple:
    fe, _ = feed(CardiacExtractor(), ts, ecg, step, "ECG")
    fp, ep = feed(PpgExtractor(), ts, ppg, step, "PPG")
    _, hr_e, ok_e = series(fe, "heart_rate")
    _t, hr_p, ok_p = series(fp, "heart_rate")
    both = ok_e & ok_p
    return np.abs(hr_e - hr_p)[both], both, fp, ep


@pytest.mark.slow
def test_challenge2015_false_alarm_record_ecg_and_ppg_agree_and_never_lose_the_beat(
    shared_data: Path,
) -> None:
    # v102s stores signals beyond the 12-bit range; the reader unwraps them (see wfdb212).
    rec = read_wfdb212(shared_data / "challenge2015" / "v102s.hea", unwrap=True)
    diff, both, fp, ep = _agreement(rec.timestamps, rec.channel("II"), rec.channel("PLETH"), 25)
    print(f"\nv102s ECG-PPG |dHR| median {np.median(diff):.2f}, p95 {np.percentile(diff, 95):.2f}")
    assert np.median(diff) <= 3.0
    assert both.mean() > 0.9
    after_warm_up = [f for f in fp if f.t > 10.0]
    assert not any("no beat" in f.reason for f in after_warm_up)  # no false "no heartbeat"
    # The finger moves at ~250-259 s (pulses missed, shapes torn: see the plot in
    # docs/signal-quality.md): the judge may call that stretch noisy, and nothing else.
    assert all(f.status is Status.OK or f.reason == "non-finite samples"
               or (f.reason == "noisy" and 249.0 < f.t < 262.0) for f in after_warm_up)
    assert sum(f.status is Status.OK for f in after_warm_up) > 0.95 * len(after_warm_up)
    lat = np.array([e.reported - e.t for e in ep])
    assert np.all(lat >= 0) and np.median(lat) < 0.3


@pytest.mark.slow
def test_neurokit_resting_recording_ecg_and_ppg_agree(shared_data: Path) -> None:
    d = np.loadtxt(
        shared_data / "neurokit" / "bio_resting_5min_100hz.csv", delimiter=",", skiprows=1
    )
    ts = np.arange(d.shape[0]) / 100.0
    diff, both, _, _ = _agreement(ts, d[:, 0], d[:, 1], 10)
    print(f"\nresting ECG-PPG |dHR| median {np.median(diff):.2f}")
    assert np.median(diff) <= 3.0
    assert both.mean() > 0.9


def test_biosppy_finger_ppg_at_1000_hz_gives_a_steady_plausible_rate(shared_data: Path) -> None:
    x = np.loadtxt(shared_data / "biosppy" / "ppg.txt", comments="#")
    ts = np.arange(x.size) / 1000.0
    feats, events = feed(PpgExtractor(), ts, x, 100, "PPG")
    t, hr, ok = series(feats, "heart_rate")
    assert ok[t > 8.0].all()
    assert 50.0 < np.median(hr[ok]) < 110.0
    rr = np.diff([e.t for e in events])
    assert np.all(rr > 0.3)
    assert np.ptp(hr[ok & (t > 8.0)]) < 15.0  # artefact-corrected: no jumps


def test_flat_ppg_is_invalid_never_heart_rate_zero() -> None:
    ts = np.arange(0, 20, 0.01)
    feats, events = feed(PpgExtractor(), ts, np.full(ts.size, 0.5), 10, "PPG")
    assert not events
    assert feats[-1].status is Status.INVALID and feats[-1].reason == "flat signal"
    assert feats[-1].values["heart_rate"] == 70.0
