"""The extractor base: declared feature names, reset on a change of shape, impossible amplitudes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from installation.features.base import amplitude_limit
from installation.features.catalog import FEATURES, STREAM_TYPES
from installation.features.registry import EXTRACTORS, make_feature_extractor
from installation.messages import Chunk, Features, Status, StreamInfo
from tests.unit.test_extractors_bad_input import _wave

LABELS = ("Fp1", "Fp2", "O1", "O2")


def _run(kind: str, seconds: float = 30.0, fs: float = 100.0, n_ch: int = 1,
         info: StreamInfo | None = None, x: np.ndarray | None = None) -> list[Features]:
    if kind == "RR":
        fs = 1.25
    ts = np.arange(0.0, seconds, 1.0 / fs)
    x = _wave(kind, ts, n_ch) if x is None else x
    info = info or StreamInfo(kind.lower(), kind, n_ch, fs,
                              channel_labels=LABELS[:n_ch] if kind == "EEG" else ())
    ex = make_feature_extractor(kind, kind.lower())
    step = max(1, int(fs / 10))
    return [ex(Chunk(info, ts[i:i + step], x[i:i + step], float(ts[i:i + step][-1])))
            for i in range(0, ts.size, step)]


def test_there_is_one_list_of_stream_types() -> None:
    from installation.features.registry import EXTRACTOR_TYPES
    from installation.show import STREAM_TYPES as SHOW_TYPES

    assert EXTRACTOR_TYPES is STREAM_TYPES and SHOW_TYPES is STREAM_TYPES
    assert tuple(EXTRACTORS) == STREAM_TYPES == tuple(FEATURES)


@pytest.mark.parametrize("kind", STREAM_TYPES)
def test_each_extractor_produces_exactly_the_feature_names_it_declares(kind: str) -> None:
    n_ch = 4 if kind == "EEG" else 1
    feats = _run(kind, n_ch=n_ch)
    assert feats[-1].status is Status.OK, feats[-1]
    produced = set().union(*(f.values for f in feats))
    declared = EXTRACTORS[kind].produces()
    assert all(declared.has(name) for name in produced), sorted(
        n for n in produced if not declared.has(n))
    assert set(declared.names) <= produced
    if kind == "EEG":  # per-channel names follow the stream's own labels
        assert {"alpha_rel_Fp1", "gamma_rel_O2"} <= produced


def test_a_change_of_channel_count_starts_the_extractor_afresh() -> None:
    ex = make_feature_extractor("EEG", "eeg")
    fs = 125.0
    ts = np.arange(0.0, 20.0, 1.0 / fs)
    x = _wave("EEG", ts, 4)
    for i in range(0, ts.size, 13):
        f = ex(Chunk(StreamInfo("eeg", "EEG", 4, fs), ts[i:i + 13], x[i:i + 13],
                     float(ts[i:i + 13][-1])))
    assert f.status is Status.OK and f.values["good_channels"] == 4.0
    # Another headset on the same key: 2 channels. Its first second is a new warm-up, not a
    # window mixing two devices.
    t2 = ts[-1] + 1.0 / fs + ts
    x2 = _wave("EEG", t2, 2)
    first = ex(Chunk(StreamInfo("eeg", "EEG", 2, fs), t2[:13], x2[:13], float(t2[12])))
    assert first.status is Status.STALE and first.reason == "warming up"
    for i in range(13, t2.size, 13):
        f = ex(Chunk(StreamInfo("eeg", "EEG", 2, fs), t2[i:i + 13], x2[i:i + 13],
                     float(t2[i:i + 13][-1])))
    assert f.status is Status.OK and f.values["good_channels"] == 2.0


@pytest.mark.parametrize("kind", STREAM_TYPES)
@pytest.mark.parametrize("huge", [1e308, -1e308, -1e38])
def test_physically_impossible_amplitudes_are_invalid_and_nothing_overflows(
    kind: str, huge: float
) -> None:
    # Issue 17: -1e38 on every EEG channel for 2 s was "ok" with every channel good, and
    # 1e308 in an ECG gave overflow warnings in the filters.
    fs = 1.25 if kind == "RR" else 100.0
    ts = np.arange(0.0, 60.0, 1.0 / fs)
    n_ch = 4 if kind == "EEG" else 1
    x = _wave(kind, ts, n_ch)
    bad = (ts >= 30.0) & (ts < 32.0)
    x[bad] = huge
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        feats = _run(kind, 60.0, fs, n_ch, x=x)
    during = [f for f in feats if 30.2 <= f.t < 32.0]
    assert during and all(f.status is Status.INVALID for f in during), during[0]
    assert all(f.reason == "implausible amplitude" for f in during)
    assert all(np.isfinite(v) for f in feats for v in f.values.values())
    assert feats[-1].status is Status.OK, feats[-1]  # and it recovers


def test_the_declared_unit_sets_what_is_possible() -> None:
    assert amplitude_limit("ECG", "mV") == 1e4
    assert amplitude_limit("EEG", "microvolts") == 1e7
    assert amplitude_limit("EEG", "µV") == amplitude_limit("EEG", "uV")
    assert amplitude_limit("EDA", "µS") == 1e4
    assert amplitude_limit("PPG", "") == amplitude_limit("ECG", "a.u.") == 1e10
    # 2 V in a stream declared in volts is a wild packet; 2 V of raw counts is not.
    ts = np.arange(0.0, 20.0, 0.01)
    x = np.sin(np.pi * ((ts * 1.2) % 1.0)) ** 16 + np.where((ts > 10) & (ts < 11), 40.0, 0.0)
    in_volts = StreamInfo("ecg", "ECG", 1, 100.0, channel_units=("V",))
    feats = _run("ECG", 20.0, info=in_volts, x=x[:, None])
    assert any(f.reason == "implausible amplitude" for f in feats if 10.0 < f.t < 11.0)
    counts = StreamInfo("ecg", "ECG", 1, 100.0)
    feats = _run("ECG", 20.0, info=counts, x=x[:, None])
    assert not any(f.reason == "implausible amplitude" for f in feats)
