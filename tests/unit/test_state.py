"""Per-visitor calibration and the arousal / calm composites, on a real ECG + EDA session."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from installation.features.cardiac import CardiacExtractor
from installation.features.eda import EdaExtractor
from installation.features.state import StateSettings, VisitorState
from installation.messages import Chunk, Features, Status, StreamInfo

ECG = StreamInfo("ecg", "ECG", 1, 100.0)
EDA = StreamInfo("eda", "EDA", 1, 100.0)


def _session(
    shared_data: Path, settings: StateSettings
) -> tuple[np.ndarray, list[Features]]:
    d = np.loadtxt(
        shared_data / "neurokit" / "bio_eventrelated_100hz.csv", delimiter=",", skiprows=1
    )
    ts = np.arange(d.shape[0]) / 100.0
    ecg, eda = CardiacExtractor(stream="ecg"), EdaExtractor(stream="eda")
    state = VisitorState(settings)
    out = []
    for i in range(0, ts.size, 10):
        t = float(ts[i + 9])
        feats = {
            "ecg": ecg(Chunk(ECG, ts[i : i + 10], d[i : i + 10, 0:1], t)),
            "eda": eda(Chunk(EDA, ts[i : i + 10], d[i : i + 10, 1:2], t)),
        }
        out.append(state(feats, t))
    return np.array([f.t for f in out]), out


def test_skin_arousal_rises_after_the_negative_image_and_calm_falls(shared_data: Path) -> None:
    # Skin only: this visitor's heart *slows* after the negative images (the orienting
    # response), which the full composite rightly weighs against the SCR.
    skin = {q: f"eda.{q}" for q in ("eda_tonic", "eda_phasic", "scr_rate")}
    t, out = _session(shared_data, StateSettings(baseline_s=8.0, sources=skin))
    arousal = np.array([f.values["arousal"] for f in out])
    calm = np.array([f.values["calm"] for f in out])
    # Calibrating: the visitor is met at the neutral 0.5 and the state says why.
    calibrating = [f for f in out if f.t < 7.0 and f.status is Status.OK]
    assert calibrating and all(f.reason == "calibrating" for f in calibrating)
    assert all(f.values["arousal"] == 0.5 == f.values["calm"] for f in out if f.t < 7.0)
    assert all(f.status is Status.OK and f.reason == "" for f in out if f.t > 12.0)
    assert np.all((arousal > 0.0) & (arousal < 1.0)) and np.all((calm > 0.0) & (calm < 1.0))
    for onset in (10.24, 129.84):  # the negative images: an SCR follows within 1-5 s
        # From where the response starts: at the 4th image the level still falls from the
        # responses at 118-121 s for a second or two (phasic >= 0 keeps their tail).
        at = arousal[(t >= onset) & (t < onset + 2.0)].min()
        peak = arousal[(t > onset + 1.0) & (t < onset + 5.0)].max()
        calm_at = calm[(t >= onset) & (t < onset + 2.0)].max()
        print(f"\narousal at {onset} s: {at:.2f}, peak within 5 s: {peak:.2f}")
        assert peak > at + 0.05
        assert calm[(t > onset + 1.0) & (t < onset + 5.0)].min() < calm_at


def test_baseline_is_this_visitors_own() -> None:
    """Two visitors with resting rates of 55 and 90 bpm both start at the neutral 0.5."""
    for rate in (55.0, 90.0):
        only_hr = {"heart_rate": "hr.heart_rate"}
        state = VisitorState(StateSettings(baseline_s=20.0, sources=only_hr))
        out = None
        for k in range(200):
            t = k * 0.5
            hr = rate + (15.0 if t > 60.0 else 0.0) + np.sin(k)  # a startle at 60 s
            f = Features("hr", t, {"heart_rate": hr})
            out = state({"hr": f}, t)
            if 30.0 < t < 60.0:
                assert out.values["arousal"] == pytest.approx(0.5, abs=0.25)
        assert out is not None and out.values["arousal"] > 0.8 and out.values["calm"] < 0.2


def test_full_composite_stays_bounded_and_reports_every_z(shared_data: Path) -> None:
    _t, out = _session(shared_data, StateSettings(baseline_s=8.0))
    last = out[-1].values
    for q in ("heart_rate", "hrv_rmssd", "resp_rate", "eda_tonic", "eda_phasic", "scr_rate"):
        assert f"z_{q}" in last and abs(last[f"z_{q}"]) <= 4.0
    assert last["z_heart_rate"] != 0.0 and last["z_eda_tonic"] != 0.0
    assert all(0.0 < f.values["arousal"] < 1.0 and 0.0 < f.values["calm"] < 1.0 for f in out)
    assert last["calibrated"] == 1.0


def test_a_rate_not_yet_known_does_not_enter_the_baseline() -> None:
    # Rates read 0 until the extractor knows them; a baseline of zeros would make every
    # later heartbeat look like extreme arousal.
    state = VisitorState(StateSettings(baseline_s=10.0, sources={"heart_rate": "hr.heart_rate"}))
    out = None
    for k in range(120):
        t = k * 0.25
        hr = 0.0 if t < 5.0 else 70.0 + np.sin(k)
        out = state({"hr": Features("hr", t, {"heart_rate": hr})}, t)
    assert out is not None and out.values["calibrated"] == 1.0
    assert abs(out.values["z_heart_rate"]) < 2.0 and 0.3 < out.values["arousal"] < 0.7


def test_calibration_progress_never_goes_back_when_a_quantity_starts_late() -> None:
    # Heart rate from the start; breathing (derived from the ECG) only known after 25 s.
    sources = {"heart_rate": "ecg.heart_rate", "resp_rate": "ecg.resp_rate"}
    state = VisitorState(StateSettings(baseline_s=15.0, sources=sources))
    progress, reasons = [], []
    for k in range(160):
        t = k * 0.25
        values = {"heart_rate": 70.0 + np.sin(k), "resp_rate": 0.0 if t < 25 else 14 + np.cos(k)}
        out = state({"ecg": Features("ecg", t, values)}, t)
        progress.append(out.values["calibrated"])
        reasons.append(out.reason)
    assert all(b >= a for a, b in itertools.pairwise(progress))
    assert progress[-1] == 1.0 and reasons[-1] == ""
    assert "calibrating" not in reasons[reasons.index(""):]  # done means done
    assert out.values["z_resp_rate"] == 0.0  # its own baseline is still being learnt
