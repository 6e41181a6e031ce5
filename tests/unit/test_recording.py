"""Loading recordings (.xdf, .csv) and replaying them as chunks."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from installation.errors import RecordingError
from installation.inputs.recording import (
    Recording,
    RecordingSource,
    load_recording,
)
from installation.messages import Status, StreamInfo
from installation.record.xdf_writer import XdfWriter

DATA = Path(__file__).resolve().parents[1] / "data"
DEMO_DIR = Path(__file__).resolve().parents[2] / "installation" / "demo"


def _counts(rec: Recording) -> dict[str, int]:
    return {s.info.name: s.n for s in rec.streams}


def _one_line_naming(err: pytest.ExceptionInfo[RecordingError], name: str) -> None:
    message = str(err.value)
    assert name in message
    assert "\n" not in message


# -- XDF ------------------------------------------------------------------------------------


def test_minimal_xdf_loads_both_streams_on_engine_clock() -> None:
    rec = load_recording(DATA / "minimal.xdf")
    assert _counts(rec) == {"SendDataC": 9, "SendDataString": 9}
    eeg = rec.find_stream("eeg")
    assert eeg.data.dtype == np.float64 and eeg.data.shape == (9, 3)  # int16 -> float64
    assert eeg.info.channel_format == "int16"
    assert eeg.timestamps[0] == pytest.approx(0.0)
    # pyxdf applies the -0.1 s clock offset: raw 5.1 s becomes 5.0 s.
    assert rec.t0 == pytest.approx(5.0)
    marker = rec.find_stream("StringMarker")
    assert marker.data.dtype == object and marker.data.shape == (9, 1)
    assert rec.warnings == ()


def test_empty_streams_are_kept_with_zero_samples() -> None:
    rec = load_recording(DATA / "empty_streams.xdf")
    assert _counts(rec) == {
        "ctrl": 1,
        "Empty marker stream: test stream 0 counter": 0,
        "Empty data stream: test stream 0 counter": 0,
        "Data stream: test stream 0 counter": 10,
    }
    data = rec.find_stream("data")  # most samples wins among three 'data' streams
    np.testing.assert_array_equal(data.data[:, 0], np.arange(10.0))
    empty = rec.find_stream("data", "Empty data stream: test stream 0 counter")
    assert empty.data.shape == (0, 1) and empty.effective_srate == 0.0
    assert rec.find_stream("control").data[0, 0] == '{"state": 2}'


def test_shared_real_xdf_files_load_with_documented_sample_counts(shared_data: Path) -> None:
    xdf = shared_data / "xdf"
    bci = load_recording(xdf / "bci4als_Sub2011001_openbci16_mi_markers.xdf")
    assert _counts(bci) == {"obci_eeg1": 53_600, "MarkerStream": 182}
    eeg = bci.find_stream("EEG")
    assert eeg.data.shape == (53_600, 16)
    # Dejitter segments break at the live stale delay (0.5 s here) since issue 17, so its
    # dropouts stay gaps; pyxdf's default breaks (max(1 s, 500 samples)) gave 125.083.
    assert eeg.effective_srate == pytest.approx(124.901, abs=1e-3)
    ecg = load_recording(xdf / "mitdb100_ecg_0-300s_converted.xdf").find_stream("ECG")
    assert ecg.n == 108_000 and ecg.info.channel_labels == ("MLII", "V5")
    assert ecg.effective_srate == pytest.approx(360.0)


@pytest.mark.parametrize("fraction", [0.35, 0.5, 0.77, 0.9, 0.999])
def test_truncated_xdf_loads_complete_chunks_and_warns(tmp_path: Path, fraction: float) -> None:
    raw = (DATA / "empty_streams.xdf").read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(raw[: int(len(raw) * fraction)])
    rec = load_recording(cut)
    assert any("truncated" in w and "cut.xdf" in w for w in rec.warnings)
    full = _counts(load_recording(DATA / "empty_streams.xdf"))
    for name, n in _counts(rec).items():
        assert n <= full[name]


def test_xdf_cut_before_any_stream_header_raises_naming_the_file(tmp_path: Path) -> None:
    cut = tmp_path / "early.xdf"
    cut.write_bytes((DATA / "empty_streams.xdf").read_bytes()[:30])
    with pytest.raises(RecordingError, match="truncated") as err:
        load_recording(cut)
    _one_line_naming(err, "early.xdf")


def test_truncated_samples_chunk_keeps_earlier_samples(tmp_path: Path) -> None:
    path = tmp_path / "rec.xdf"
    with XdfWriter(path) as w:
        sid = w.add_stream(StreamInfo("sig", "ECG", 1, 100.0))
        for k in range(4):
            w.write_samples(sid, 10 + np.arange(k * 25, (k + 1) * 25) / 100, np.ones(25))
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.rindex(b"<?xml") - 50])  # inside the last Samples chunk
    rec = load_recording(path)
    assert rec.find_stream("ECG").n == 75
    assert len(rec.warnings) == 1 and "rec.xdf" in rec.warnings[0]


def test_xdf_without_footers_warns_that_recording_was_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "open.xdf"
    w = XdfWriter(path)
    sid = w.add_stream(StreamInfo("sig", "ECG", 1, 100.0))
    w.write_samples(sid, [1.0, 1.01], [0.0, 1.0])
    rec = load_recording(path)  # writer still open: no footers yet
    w.close()
    assert rec.find_stream("ECG").n == 2
    assert any("footer" in m and "'sig'" in m for m in rec.warnings)


def test_garbage_file_raises_one_line_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.xdf"
    bad.write_bytes(b"\x00\xffnot xdf at all\n" * 10)
    with pytest.raises(RecordingError) as err:
        load_recording(bad)
    _one_line_naming(err, "garbage.xdf")
    bad.write_bytes(b"XDF:" + bytes(range(256)) * 4)  # right magic, no valid chunk
    with pytest.raises(RecordingError) as err:
        load_recording(bad)
    _one_line_naming(err, "garbage.xdf")


def test_missing_file_and_unknown_extension_raise_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordingError) as err:
        load_recording(tmp_path / "nope.xdf")
    _one_line_naming(err, "nope.xdf")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(RecordingError) as err:
        load_recording(other)
    _one_line_naming(err, "notes.txt")


def test_find_stream_error_lists_the_streams_the_file_has() -> None:
    rec = load_recording(DATA / "minimal.xdf")
    with pytest.raises(RecordingError) as err:
        rec.find_stream("ECG")
    message = str(err.value)
    assert "minimal.xdf" in message and "'ECG'" in message
    assert "'SendDataC' (EEG)" in message and "'SendDataString' (StringMarker)" in message
    with pytest.raises(RecordingError, match="named 'other'"):
        rec.find_stream("EEG", "other")


def test_xdf_written_by_our_writer_round_trips_through_load_recording(tmp_path: Path) -> None:
    path = tmp_path / "own.xdf"
    ts = 100.0 + np.arange(500) / 250.0
    values = np.sin(np.arange(1000.0)).reshape(500, 2).astype(np.float32)
    with XdfWriter(path) as w:
        sid = w.add_stream(StreamInfo("eeg", "EEG", 2, 250.0, "float32", ("O1", "O2")))
        mid = w.add_stream(StreamInfo("mk", "Markers", 1, 0.0, "string"))
        w.write_samples(mid, [99.5], ["start"])
        w.write_samples(sid, ts, values)
    rec = load_recording(path)
    eeg = rec.find_stream("eeg")
    assert rec.t0 == pytest.approx(99.5)
    np.testing.assert_allclose(eeg.timestamps, ts - 99.5, atol=1e-9)
    np.testing.assert_array_equal(eeg.data, values.astype(np.float64))
    assert eeg.info.channel_labels == ("O1", "O2")
    assert rec.duration == pytest.approx(ts[-1] + 1 / 250.0 - 99.5)


# -- CSV ------------------------------------------------------------------------------------


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_groups_columns_by_type_and_keeps_nan(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "session.csv",
        "# srate: 4\n"
        "time_s,ECG,EEG_Fp1,EEG_Fp2,ppg\n"
        "10.0,1.0,2.0,3.0,4.0\n"
        "10.25,,2.5,nan,4.5\n"
        "10.5,1.5,NaN,3.5,5.0\n",
    )
    rec = load_recording(path)
    assert [(s.info.name, s.info.type, s.info.channel_labels) for s in rec.streams] == [
        ("session-ECG", "ECG", ("ECG",)),
        ("session-EEG", "EEG", ("Fp1", "Fp2")),
        ("session-PPG", "PPG", ("ppg",)),
    ]
    eeg = rec.find_stream("EEG")
    np.testing.assert_array_equal(eeg.timestamps, [0.0, 0.25, 0.5])
    assert np.isnan(eeg.data[1, 1]) and np.isnan(eeg.data[2, 0])
    assert np.isnan(rec.find_stream("ECG").data[1, 0])
    assert eeg.info.nominal_srate == 4.0 and rec.t0 == 10.0


def test_csv_untyped_columns_take_the_type_comment_and_median_rate(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "mit.csv",
        "# type: ECG\n# name: patient\ntime,MLII_mV,V5_mV\n0,1,2\n0.5,1,2\n1.0,1,2\n2.0,1,2\n",
    )
    ecg = load_recording(path).find_stream("ecg")
    assert ecg.info.name == "patient-ECG"
    assert ecg.info.channel_labels == ("MLII_mV", "V5_mV")
    assert ecg.info.nominal_srate == 2.0  # median interval 0.5 s


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("seconds,ECG\n0,1\n", "line 1"),
        ("time,ECG\n0,1\n1,abc\n", "line 3"),
        ("# type: ECG\ntime,ECG\n0,1\n1,2\n0.5,3\n", "line 5"),
        ("time,ECG\n0,1\n1,2,3\n", "line 3"),
        ("time,mystery\n0,1\n", "'mystery'"),
    ],
    ids=["no-time-column", "non-numeric", "time-goes-back", "ragged-row", "untyped-column"],
)
def test_csv_errors_name_the_file_and_line_or_column(
    tmp_path: Path, text: str, needle: str
) -> None:
    with pytest.raises(RecordingError) as err:
        load_recording(_write_csv(tmp_path / "broken.csv", text))
    _one_line_naming(err, "broken.csv")
    assert needle in str(err.value)


def test_csv_of_real_ecg_loads_like_its_xdf_conversion(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "mitdb" / "100_MLII_V5_0-300s.csv"
    with open(src) as f:
        rows = [next(f) for _ in range(3601)]  # header + 10 s
    path = _write_csv(tmp_path / "mit.csv", "# type: ECG\n# srate: 360\n" + "".join(rows))
    ecg = load_recording(path).find_stream("ECG")
    assert ecg.n == 3600 and ecg.info.nominal_srate == 360.0
    expected = np.array([[float(v) for v in r] for r in csv.reader(rows[1:])])[:, 1:]
    np.testing.assert_array_equal(ecg.data, expected)


# -- replay ---------------------------------------------------------------------------------


def _replay_recording() -> Recording:
    return load_recording(DATA / "empty_streams.xdf")


@pytest.fixture(scope="module")
def replay_recording() -> Recording:
    """Loaded once for every hypothesis example (sources only read it: chunks are read-only
    views), not 60 times."""
    return _replay_recording()


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.floats(-5.0, 30.0, allow_nan=False), min_size=1, max_size=25))
def test_read_until_delivers_each_sample_exactly_once(
    replay_recording: Recording, steps: list[float]
) -> None:
    rec = replay_recording
    source = RecordingSource(rec, rec.streams)
    got: dict[str, list[float]] = {s.info.name: [] for s in rec.streams}
    previous = -np.inf
    for t in [*sorted(steps), 1e9]:
        for chunk in source.read_until(t):
            assert chunk.t_end == t
            assert np.all(chunk.timestamps > previous) and np.all(chunk.timestamps <= t)
            assert chunk.data.shape == (chunk.n, chunk.info.channel_count)
            got[chunk.info.name].extend(chunk.timestamps.tolist())
        previous = t
    for s in rec.streams:
        assert got[s.info.name] == s.timestamps.tolist()


def test_first_read_includes_samples_before_time_zero_and_chunks_are_views() -> None:
    rec = load_recording(DATA / "minimal.xdf")
    source = RecordingSource(rec, [rec.find_stream("EEG")])
    (chunk,) = source.read_until(0.0)
    assert chunk.n == 1 and chunk.status is Status.OK
    assert np.shares_memory(chunk.data, rec.find_stream("EEG").data)
    assert not chunk.data.flags.writeable


def test_streams_without_samples_or_past_their_end_report_lost() -> None:
    rec = _replay_recording()
    source = RecordingSource(rec)
    by_name = {c.info.name: c for c in source.read_until(1.0)}
    empty = by_name["Empty data stream: test stream 0 counter"]
    assert empty.status is Status.LOST and empty.reason
    assert by_name["Data stream: test stream 0 counter"].status is Status.OK
    last = float(rec.find_stream("data").timestamps[-1])
    late = {c.info.name: c for c in source.read_until(last + 1.5)}
    assert late["Data stream: test stream 0 counter"].status is Status.LOST
    assert "ended" in late["Data stream: test stream 0 counter"].reason


def test_seek_restarts_replay_after_the_given_time() -> None:
    rec = _replay_recording()
    data = rec.find_stream("data")
    source = RecordingSource(rec, [data])
    source.read_until(100.0)
    source.seek(float(data.timestamps[4]))
    (chunk,) = source.read_until(100.0)
    np.testing.assert_array_equal(chunk.timestamps, data.timestamps[5:])


# -- bundled demo ---------------------------------------------------------------------------


def test_demo_recording_has_ecg_eeg_and_markers_on_one_clock() -> None:
    rec = load_recording(DEMO_DIR / "demo_session.xdf")
    assert rec.warnings == ()
    assert (DEMO_DIR / "demo_session.xdf").stat().st_size < 2_000_000
    ecg, eeg, mk = rec.find_stream("ECG"), rec.find_stream("EEG"), rec.find_stream("Markers")
    assert (ecg.info.name, ecg.n, ecg.info.channel_labels) == ("MITBIH-100-ECG", 21_600, ("MLII",))
    assert (eeg.info.name, eeg.n, eeg.info.channel_labels) == ("BioSPPy-EEG", 7_500, ("EEG",))
    assert ecg.effective_srate == pytest.approx(360.0)
    assert eeg.effective_srate == pytest.approx(125.0)
    assert ecg.timestamps[0] == pytest.approx(0.0, abs=1e-9)
    assert eeg.timestamps[0] == pytest.approx(0.0, abs=1e-9)
    assert rec.duration == pytest.approx(60.0)
    assert mk.data[:, 0].tolist() == ["eyes_open", "eyes_closed"]
    np.testing.assert_allclose(mk.timestamps, [0.0, 30.0], atol=1e-9)
    states = (DEMO_DIR / "demo_session.states.csv").read_text().splitlines()
    assert states == ["start_s,end_s,state", "0.0,30.0,eyes_open", "30.0,60.0,eyes_closed"]
    rpeaks = np.loadtxt(DEMO_DIR / "demo_session.rpeaks.csv", delimiter=",", skiprows=1, usecols=0)
    assert len(rpeaks) == 74 and 0 < rpeaks[0] < rpeaks[-1] < 60.0
