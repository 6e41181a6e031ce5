"""EDA: SCRs follow the negative images of NeuroKit's event-related recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from installation.features.eda import EdaExtractor
from installation.messages import Status
from tests.unit.feature_helpers import feed, series

ONSETS = (10.24, 49.58, 92.24, 129.84)  # images: negative, neutral, neutral, negative


def _run(shared_data: Path) -> tuple:
    d = np.loadtxt(
        shared_data / "neurokit" / "bio_eventrelated_100hz.csv", delimiter=",", skiprows=1
    )
    ts = np.arange(d.shape[0]) / 100.0
    return ts, d[:, 1], *feed(EdaExtractor(), ts, d[:, 1], 10, "EDA")


def test_scr_follows_each_negative_image_within_one_to_five_seconds(shared_data: Path) -> None:
    _ts, _x, _feats, events = _run(shared_data)
    scr = [e for e in events if e.name == "scr"]
    for onset in (ONSETS[0], ONSETS[3]):
        after = [e for e in scr if 1.0 <= e.t - onset <= 5.0]
        assert after, f"no SCR 1-5 s after the image at {onset} s"
        assert max(e.value for e in after) >= 0.5  # µS: a clear response
        assert all(e.reported > e.t for e in after)  # reported at the peak, after the onset
    # The neutral images evoke nothing comparable.
    for onset in (ONSETS[1], ONSETS[2]):
        assert not [e for e in scr if 1.0 <= e.t - onset <= 5.0 and e.value >= 0.5]
    assert 3 <= len(scr) <= 20  # about 3-8 per minute, the usual spontaneous rate


def test_tonic_follows_the_level_and_phasic_is_centred(shared_data: Path) -> None:
    ts, x, feats, _ = _run(shared_data)
    t, tonic, ok = series(feats, "eda_tonic")
    _, phasic, _ = series(feats, "eda_phasic")
    late = ok & (t > 40.0)
    assert ok[t > 3.0].all()
    assert np.all(np.abs(tonic[late] - np.interp(t[late], ts, x)) < 3.0)
    assert abs(np.median(phasic[late])) < 0.5
    assert feats[-1].values["scr_rate"] > 0.0


def test_electrode_off_is_invalid() -> None:
    ts = np.arange(0, 10, 0.01)
    x = np.where(ts < 5.0, 5.0 + 0.1 * np.sin(ts), 0.0)
    feats, _ = feed(EdaExtractor(), ts, x, 10, "EDA")
    assert feats[-1].status is Status.INVALID and "flat" in feats[-1].reason
