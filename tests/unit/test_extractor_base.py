"""The extractor base: declared feature names, reset on a change of shape, impossible amplitudes."""

from __future__ import annotations

import warnings
from pathlib import Path

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


# ---------------------------------------------------------------- on real recordings
def _replay(kind: str, stream, x: np.ndarray, step: int) -> list[Features]:
    ex = make_feature_extractor(kind, kind.lower())
    ts = stream.timestamps[: x.shape[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        return [ex(Chunk(stream.info, ts[i:i + step], x[i:i + step], float(ts[i:i + step][-1])))
                for i in range(0, ts.size, step)]


@pytest.mark.slow
def test_minus_1e38_on_every_channel_of_a_real_eeg_is_invalid_and_leaves_no_trace(
    shared_data: Path,
) -> None:
    # Issue 17's case: a 2-s block of -1e38 on all channels of the real 16-channel OpenBCI
    # recording was "ok" with every channel good, and alpha_rel fell from 0.98 to 0.06.
    from installation.inputs.recording import load_recording

    rec = load_recording(shared_data / "xdf" / "bci4als_Sub2011001_openbci16_mi_markers.xdf")
    eeg = rec.find_stream("EEG")
    n = 60 * 125
    clean = np.asarray(eeg.data[:n], dtype=np.float64)
    hit = clean.copy()
    hit[(eeg.timestamps[:n] >= 30.0) & (eeg.timestamps[:n] < 32.0)] = -1e38
    ref, feats = _replay("EEG", eeg, clean, 13), _replay("EEG", eeg, hit, 13)
    during = [f for f in feats if 30.2 <= f.t < 32.0]
    assert during and all(f.status is Status.INVALID for f in during), during[0]
    assert all(f.reason == "implausible amplitude" for f in during)
    assert all(np.isfinite(v) for f in feats for v in f.values.values())
    # Nothing of the block is left once the analysis window has moved past it: every value
    # of the run without the block is the same (per-channel names of channels seen good
    # during the block may linger, at their held values).
    for a, b in zip(ref, feats, strict=True):
        if a.t > 36.0:
            assert b.status is a.status and b.reason == a.reason, b.t
            assert {k: b.values[k] for k in a.values} == pytest.approx(dict(a.values), rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("huge", [1e308, -1e308, 5e4])
def test_impossible_values_in_a_real_ecg_are_invalid_and_the_beats_come_back(
    shared_data: Path, huge: float
) -> None:
    # +-1e308 overflowed the filters in features/cardiac.py; 5e4 is finite but 50 V in a
    # stream that declares millivolts (the converted MIT-BIH 100 XDF's own header).
    from installation.inputs.recording import load_recording

    rec = load_recording(shared_data / "xdf" / "mitdb100_ecg_0-300s_converted.xdf")
    ecg = rec.find_stream("ECG")
    assert ecg.info.channel_units == ("millivolts", "millivolts")
    n = 160 * 360
    clean = np.asarray(ecg.data[:n], dtype=np.float64)
    hit = clean.copy()
    hit[(ecg.timestamps[:n] >= 100.0) & (ecg.timestamps[:n] < 102.0)] = huge
    ref, feats = _replay("ECG", ecg, clean, 36), _replay("ECG", ecg, hit, 36)
    during = [f for f in feats if 100.2 <= f.t < 102.0]
    assert during and all(f.status is Status.INVALID for f in during), during[0]
    assert all(f.reason == "implausible amplitude" for f in during)
    assert all(np.isfinite(v) for f in feats for v in f.values.values())
    assert all(f.status is Status.OK for f in feats if f.t > 110.0)
    # The beats after the block are the clean run's beats, and the rate reads as it does.
    beats = [e.t for f in feats for e in f.events if e.name == "beat" and e.t > 110.0]
    clean_beats = [e.t for f in ref for e in f.events if e.name == "beat" and e.t > 110.0]
    assert beats == pytest.approx(clean_beats, abs=1e-6) and len(beats) > 50
    assert feats[-1].values["heart_rate"] == pytest.approx(ref[-1].values["heart_rate"], abs=0.5)


def test_an_lsl_header_declares_its_channel_units() -> None:
    import pylsl

    from installation.inputs.lsl import stream_info_from_lsl

    info = pylsl.StreamInfo("ecg", "ECG", 2, 250.0, "float32", "units-test")
    channels = info.desc().append_child("channels")
    for label, unit in (("II", "millivolts"), ("V", "")):
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        if unit:
            ch.append_child_value("unit", unit)
    ours = stream_info_from_lsl(info)
    assert ours.channel_labels == ("II", "V") and ours.channel_units == ("millivolts", "")
    bare = stream_info_from_lsl(pylsl.StreamInfo("eeg", "EEG", 4, 125.0, "float32", "bare"))
    assert bare.channel_labels == () and bare.channel_units == ()
