"""Causal R-peak detector and heart-rate features against MIT-BIH record 100."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from installation.features.cardiac import CardiacExtractor, CardiacSettings
from installation.messages import Chunk, Event, Features, Status, StreamInfo
from tests.wfdb212 import read_wfdb212

FS = 360.0
DATA = Path(__file__).resolve().parents[1] / "data"
INFO = StreamInfo(name="ecg", type="ECG", channel_count=1, nominal_srate=FS)


def _local_ecg() -> tuple[np.ndarray, np.ndarray]:
    x = np.loadtxt(DATA / "mitdb100_MLII_0-60s.csv", comments="#", skiprows=3)
    return np.arange(x.size) / FS, x


def _rpeaks(path: Path, t_max: float) -> np.ndarray:
    with path.open() as fh:
        t = np.array([float(r["time_s"]) for r in csv.DictReader(fh)])
    return t[t < t_max]


def _chunk(ts: np.ndarray, x: np.ndarray, t_end: float | None = None) -> Chunk:
    return Chunk(
        info=INFO,
        timestamps=ts,
        data=x[:, None].astype(float),
        t_end=float(ts[-1]) if t_end is None else t_end,
    )


def _run(
    ts: np.ndarray, x: np.ndarray, step: int, cfg: CardiacSettings | None = None
) -> tuple[list[Event], list[Features]]:
    ex = CardiacExtractor(cfg or CardiacSettings(), stream="ecg")
    events: list[Event] = []
    feats: list[Features] = []
    for i in range(0, ts.size, step):
        f = ex(_chunk(ts[i : i + step], x[i : i + step]))
        events.extend(f.events)
        feats.append(f)
    return events, feats


def _match(events: list[Event], ref: np.ndarray, tol: float = 0.075) -> dict[str, float]:
    """Greedy one-to-one matching of detected to annotated beats."""
    used = np.zeros(ref.size, dtype=bool)
    err, lat = [], []
    for e in events:
        j = int(np.argmin(np.abs(ref - e.t)))
        if abs(ref[j] - e.t) <= tol and not used[j]:
            used[j] = True
            err.append(e.t - ref[j])
            lat.append(e.reported - ref[j])
    tp = len(err)
    fp, fn = len(events) - tp, ref.size - tp
    return {
        "f1": 2 * tp / (2 * tp + fp + fn),
        "fn": fn,
        "fp": fp,
        "err_abs_max": float(np.max(np.abs(err))),
        "lat_median": float(np.median(lat)),
        "lat_p95": float(np.percentile(lat, 95)),
        "lat_max": float(np.max(lat)),
    }


# ---------------------------------------------------------------- accuracy on real data
@pytest.mark.slow
def test_mitdb100_first_300s_f1_latency_and_hr(shared_data: Path) -> None:
    rec = np.loadtxt(shared_data / "mitdb" / "100_MLII_V5_0-300s.csv", delimiter=",", skiprows=1)
    ts, x = rec[:, 0], rec[:, 1]
    ref = _rpeaks(shared_data / "mitdb" / "100.rpeaks.csv", 300.0)
    events, feats = _run(ts, x, step=36)  # 100 ms chunks, as an LSL inlet would deliver

    m = _match(events, ref)
    print(f"\nMIT-BIH 100, 0-300 s: {m}")
    assert m["f1"] >= 0.995
    assert m["err_abs_max"] < 0.030  # stamped with the R-peak's own time
    # The learning window's beats are reported once, late, by design: no live latency.
    learn_s = CardiacSettings().learn_s
    live = _match([e for e in events if e.t > learn_s], ref[ref > learn_s])
    assert live["lat_p95"] <= 0.150
    assert live["lat_max"] <= 0.150  # every beat, not just most

    # 10-s window heart rate, defined as the truth file defines it, from the detected beats
    # and from the heart_rate feature the mapping stage actually sees.
    t_beats = np.array([e.t for e in events])
    rr, later = np.diff(t_beats), t_beats[1:]
    f_t = np.array([f.t for f in feats])
    f_hr = np.array([f.values["heart_rate"] for f in feats])
    f_ok = np.array([f.status is Status.OK for f in feats])
    with (shared_data / "mitdb" / "100.truth_10s.csv").open() as fh:
        windows = [r for r in csv.DictReader(fh) if float(r["window_end_s"]) <= 300.0]
    ok_beats = ok_feature = 0
    for w in windows:
        a, b, truth = float(w["window_start_s"]), float(w["window_end_s"]), float(w["mean_hr_bpm"])
        sel = (later >= a) & (later < b)
        ok_beats += abs(60.0 / rr[sel].mean() - truth) <= 2.0
        fsel = (f_t >= a) & (f_t < b) & f_ok
        ok_feature += abs(f_hr[fsel].mean() - truth) <= 2.0
    print(
        f"HR windows within 2 bpm: beats {ok_beats}/{len(windows)}, "
        f"feature {ok_feature}/{len(windows)}"
    )
    assert ok_beats >= 0.98 * len(windows)
    assert ok_feature >= 0.98 * len(windows)


@pytest.mark.slow
def test_mitdb100_whole_record_f1_latency_and_ten_second_heart_rate(shared_data: Path) -> None:
    rec = read_wfdb212(shared_data / "mitdb" / "100.hea")
    assert rec.fs == FS and rec.names == ("MLII", "V5")
    ts, x = rec.timestamps, rec.channel("MLII")
    assert ts[-1] > 1805.0
    ref = _rpeaks(shared_data / "mitdb" / "100.rpeaks.csv", 1e9)
    assert ref.size == 2273
    events, feats = _run(ts, x, step=36)

    m = _match(events, ref)
    print(f"\nMIT-BIH 100, whole record: {m}")
    assert m["f1"] >= 0.995
    assert m["err_abs_max"] < 0.030
    assert m["lat_median"] <= 0.150 and m["lat_p95"] <= 0.150

    f_t = np.array([f.t for f in feats])
    f_hr = np.array([f.values["heart_rate"] for f in feats])
    f_ok = np.array([f.status is Status.OK for f in feats])
    with (shared_data / "mitdb" / "100.truth_10s.csv").open() as fh:
        windows = list(csv.DictReader(fh))
    assert len(windows) == 180
    ok = 0
    for w in windows:
        a, b, truth = float(w["window_start_s"]), float(w["window_end_s"]), float(w["mean_hr_bpm"])
        sel = (f_t >= a) & (f_t < b) & f_ok
        ok += abs(f_hr[sel].mean() - truth) <= 2.0
    print(f"HR windows within 2 bpm (heart_rate feature): {ok}/{len(windows)}")
    assert ok >= 0.98 * len(windows)
    # Artefact correction: the 33 premature beats never make the reported rate jump.
    ok_hr = f_hr[f_ok]
    assert np.abs(np.diff(ok_hr)).max() < 8.0
    assert all(f.values["hrv_sdnn"] > 0.0 for f in feats if f.t > 120.0)


def test_wfdb_reader_matches_the_csv_export_and_marks_invalid_samples(shared_data: Path) -> None:
    rec = read_wfdb212(shared_data / "mitdb" / "100.hea")
    csv_rec = np.loadtxt(
        shared_data / "mitdb" / "100_MLII_V5_0-300s.csv", delimiter=",", skiprows=1
    )
    np.testing.assert_allclose(rec.signals[: csv_rec.shape[0]], csv_rec[:, 1:], atol=1e-9)
    icu = read_wfdb212(shared_data / "challenge2015" / "v102s.hea")
    assert icu.fs == 250.0 and icu.names == ("II", "V", "PLETH", "RESP")
    assert icu.units == ("mV", "mV", "NU", "NU")
    assert np.isnan(icu.signals).sum(axis=0).tolist() == [3, 2, 17, 1]  # the -2048 samples


def test_local_excerpt_detects_every_beat_after_warm_up() -> None:
    ts, x = _local_ecg()
    ref = _rpeaks(DATA / "mitdb100_rpeaks_0-60s.csv", 60.0)
    events, _ = _run(ts, x, step=360)
    # The beats in the learning window are found once the levels are learnt: true beats,
    # reported late by design, so they count in the score and stay out of the live latency.
    m = _match(events, ref)
    assert m["fn"] == 0 and m["fp"] == 0
    learn_s = CardiacSettings().learn_s
    assert _match([e for e in events if e.t > learn_s], ref[ref > learn_s])["lat_max"] <= 0.150
    early = [e for e in events if e.t <= learn_s]
    assert early and all(learn_s - 0.01 <= e.reported <= learn_s + 0.01 for e in early)


def test_inverted_polarity_is_detected_at_the_same_times() -> None:
    ts, x = _local_ecg()
    ref = _rpeaks(DATA / "mitdb100_rpeaks_0-60s.csv", 60.0)
    events, _ = _run(ts, -x, step=360)
    m = _match(events, ref)  # the learning window's beats too (found late, once learnt)
    assert m["fn"] == 0 and m["fp"] == 0
    assert m["err_abs_max"] < 0.030


def test_beats_are_stamped_at_the_annotated_r_peak_not_the_filter_delay_later() -> None:
    ts, x = _local_ecg()
    ref = _rpeaks(DATA / "mitdb100_rpeaks_0-60s.csv", 60.0)
    events, _ = _run(ts, x, step=36)
    err = np.array([e.t - ref[np.argmin(np.abs(ref - e.t))] for e in events])
    # Located on the causally filtered ECG, the R-peak came a median 8.3 ms (3 samples) late.
    assert abs(float(np.median(err))) <= 0.003


def test_lead_turned_over_mid_recording_is_followed_at_the_same_times() -> None:
    ts, x = _local_ecg()
    ref = _rpeaks(DATA / "mitdb100_rpeaks_0-60s.csv", 60.0)
    events, _ = _run(ts, np.where(ts < 30.0, x, -x), step=360)  # electrode leads swapped
    m = _match(events, ref)
    assert m["fn"] <= 1 and m["fp"] <= 1
    assert m["err_abs_max"] < 0.030  # the R-peak, not the small S wave, on both sides


def _r_and_s_alike(seed: int, fs: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A lead whose S wave is as deep as its R wave is tall (R and S 30 ms apart, sizes
    drawn per beat), sampled at 100 Hz like the NeuroKit resting recording."""
    rng = np.random.default_rng(seed)
    ts = np.arange(int(90 * fs)) / fs
    x = rng.normal(0.0, 0.01, ts.size)
    r = np.cumsum(60 / 70 + rng.normal(0.0, 0.03, 110)) - 0.3
    r = r[r < ts[-1] - 1.0]
    for t in r:
        for c, w, a in ((-0.16, 0.025, 0.12), (0.0, 0.01, rng.normal(1.0, 0.08)),
                        (0.03, 0.01, -rng.normal(1.0, 0.08)), (0.28, 0.05, 0.25)):
            x += a * np.exp(-0.5 * ((ts - t - c) / w) ** 2)
    return ts, x, r


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beats_stay_on_one_wave_where_s_is_as_deep_as_r(seed: int) -> None:
    # Polarity-free, the pick alternated between R and S (30 ms apart) and the beats'
    # shapes were out of step with each other. Kept on one wave, every beat after the
    # first few sits at the same offset from its R-peak.
    ts, x, r = _r_and_s_alike(seed)
    ex = CardiacExtractor(CardiacSettings(), stream="ecg")
    info = StreamInfo(name="ecg", type="ECG", channel_count=1, nominal_srate=100.0)
    t_beats = []
    for i in range(0, ts.size, 10):
        f = ex(Chunk(info=info, timestamps=ts[i : i + 10], data=x[i : i + 10, None],
                     t_end=float(ts[i + 9])))
        t_beats += [e.t for e in f.events if e.name == "beat"]
    late = np.array([t for t in t_beats if t > 10.0])
    offset = np.array([t - r[np.argmin(np.abs(r - t))] for t in late])
    assert late.size >= 0.95 * np.sum(r > 10.0)
    assert np.ptp(offset) <= 0.015  # one wave (R or S), within a 100 Hz sample or so


def test_amplitude_drop_and_baseline_wander_are_tracked() -> None:
    ts, x = _local_ecg()
    ref = _rpeaks(DATA / "mitdb100_rpeaks_0-60s.csv", 60.0)
    gain = np.where(ts < 30.0, 1.0, 0.2)  # e.g. the strap slips: QRS five times smaller
    wander = 1.0 * np.sin(2 * np.pi * 0.3 * ts)  # breathing-like baseline, 1 mV
    events, _ = _run(ts, gain * x + wander, step=360)
    m = _match(events, ref)  # the learning window's beats too (found late, once learnt)
    assert m["fn"] <= 2 and m["fp"] == 0


@pytest.mark.parametrize("step", [1, 7])
def test_results_do_not_depend_on_chunk_size(step: int) -> None:
    ts, x = _local_ecg()
    n = int(20 * FS)  # 1-sample chunks are slow-ish in Python: 20 s is plenty
    ref_events, _ = _run(ts[:n], x[:n], step=int(FS))
    events, _ = _run(ts[:n], x[:n], step=step)
    assert len(ref_events) >= 20
    assert [(e.t, e.reported) for e in events] == [(e.t, e.reported) for e in ref_events]


# ---------------------------------------------------------------- features and dropouts
def test_features_before_and_after_beats() -> None:
    ts, x = _local_ecg()
    ex = CardiacExtractor(CardiacSettings(), stream="ecg")
    first = ex(_chunk(ts[:36], x[:36]))
    assert first.status is Status.STALE and first.reason == "warming up"
    assert first.values["heart_rate"] == 70.0 and first.values["beat_pulse"] == 0.0
    assert first.t == ts[35]
    feats = [ex(_chunk(ts[i : i + 36], x[i : i + 36])) for i in range(36, int(10 * FS), 36)]
    last = feats[-1]
    assert last.status is Status.OK
    assert 70.0 < last.values["heart_rate"] < 80.0
    assert 0.7 < last.values["rr"] < 0.9
    assert 0.0 <= last.values["beat_phase"] < 1.0
    assert last.values["beat_count"] == sum(len(f.events) for f in [first, *feats])
    # The pulse peaks in the chunk reporting a beat and decays with pulse_tau_s.
    with_beat = next(f for f in feats if f.events and f.status is Status.OK)
    since = with_beat.t - with_beat.events[-1].t
    assert with_beat.values["beat_pulse"] == pytest.approx(np.exp(-since / 0.25))


def test_zero_length_chunk_only_advances_time() -> None:
    ts, x = _local_ecg()
    ex = CardiacExtractor(CardiacSettings(), stream="ecg")
    for i in range(0, int(5 * FS), 36):
        ex(_chunk(ts[i : i + 36], x[i : i + 36]))
    f = ex(Chunk(info=INFO, timestamps=np.empty(0), data=np.empty((0, 1)), t_end=5.0))
    assert f.t == 5.0 and not f.events
    f = ex(Chunk(info=INFO, timestamps=np.empty(0), data=np.empty((0, 1)), t_end=9.0))
    assert f.status is Status.STALE and f.reason.startswith("no beat for")
    assert f.values["heart_rate"] > 60.0  # last trusted rate held, never 0


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [(np.nan, "non-finite samples"), (np.inf, "non-finite samples"), ("flat", "flat signal")],
)
def test_dropout_goes_invalid_then_recovers(corrupt: float | str, reason: str) -> None:
    ts, x = _local_ecg()
    x = x.copy()
    bad = (ts >= 20.0) & (ts < 25.0)
    x[bad] = 0.42 if corrupt == "flat" else corrupt
    ex = CardiacExtractor(CardiacSettings(), stream="ecg")
    statuses: dict[float, Features] = {}
    events: list[Event] = []
    for i in range(0, ts.size, 36):
        f = ex(_chunk(ts[i : i + 36], x[i : i + 36]))
        statuses[round(f.t, 1)] = f
        events.extend(f.events)
    during = [f for t, f in statuses.items() if 21.0 <= t < 25.0]
    assert all(f.status is Status.INVALID and f.reason == reason for f in during)
    assert not any(20.0 < e.t < 25.0 for e in events)  # no phantom beats from the dropout
    after = [f for t, f in statuses.items() if t >= 30.0]
    assert all(f.status is Status.OK for f in after)
    ref = _rpeaks(DATA / "mitdb100_rpeaks_0-60s.csv", 60.0)
    m = _match([e for e in events if e.t > 26.0], ref[ref > 26.0])
    assert m["fn"] == 0 and m["fp"] == 0


def test_lost_status_passes_through() -> None:
    ex = CardiacExtractor(CardiacSettings(), stream="ecg")
    lost = Chunk(INFO, np.empty(0), np.empty((0, 1)), 3.0, Status.LOST, "inlet closed")
    f = ex(lost)
    assert f.status is Status.LOST and f.reason == "inlet closed"


def test_rate_is_measured_not_taken_from_the_header() -> None:
    ts, x = _local_ecg()
    ref = _rpeaks(DATA / "mitdb100_rpeaks_0-60s.csv", 60.0)
    # Header claims 250 Hz; the samples are 360 Hz. Then the stream switches to every 2nd
    # sample (180 Hz): state resets and detection resumes at the new rate.
    info = StreamInfo(name="ecg", type="ECG", channel_count=1, nominal_srate=250.0)
    ex = CardiacExtractor(CardiacSettings(), stream="ecg")
    events: list[Event] = []
    half = int(30 * FS)
    ts2 = np.concatenate([ts[:half], ts[half::2]])
    x2 = np.concatenate([x[:half], x[half::2]])
    for i in range(0, ts2.size, 30):
        f = ex(Chunk(info, ts2[i : i + 30], x2[i : i + 30, None], float(ts2[i : i + 30][-1])))
        events.extend(f.events)
    m = _match([e for e in events if e.t > 33.0], ref[ref > 33.0])
    assert m["fn"] == 0 and m["fp"] == 0 and m["err_abs_max"] < 0.030


# ---------------------------------------------------------------- property test
_sample = st.one_of(
    st.floats(-5.0, 5.0),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e6]),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 200), st.sampled_from(["random", "flat", "nan", "mixed"])),
        min_size=1,
        max_size=30,
    ),
    st.floats(100.0, 1000.0),
    st.lists(_sample, min_size=1, max_size=50),
)
def test_never_raises_and_values_stay_finite(
    plan: list[tuple[int, str]], fs: float, pool: list[float]
) -> None:
    ex = CardiacExtractor(CardiacSettings(), stream="ecg")
    rng = np.random.default_rng(len(plan))
    t = 0.0
    for n, kind in plan:
        ts = t + np.arange(n) / fs
        if kind == "random":
            x = rng.normal(size=n)
        elif kind == "flat":
            x = np.full(n, 3.0)
        elif kind == "nan":
            x = np.full(n, np.nan)
        else:
            x = np.resize(np.asarray(pool, dtype=float), n)
        t = t + n / fs
        f = ex(Chunk(INFO, ts, x[:, None], t))
        assert all(np.isfinite(v) for v in f.values.values())
        assert 0.0 <= f.values["beat_phase"] < 1.0
        assert all(np.isfinite(e.t) and e.reported >= e.t for e in f.events)


def test_missing_channel_is_invalid_not_an_error() -> None:
    ex = CardiacExtractor(CardiacSettings(channel=2), stream="ecg")
    f = ex(Chunk(INFO, np.arange(10) / FS, np.zeros((10, 1)), 9 / FS))
    assert f.status is Status.INVALID and "channel 2" in f.reason
