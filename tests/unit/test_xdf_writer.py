"""XdfWriter output must read back through pyxdf exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyxdf

from installation.messages import StreamInfo
from installation.record.xdf_writer import BOUNDARY_UUID, XdfWriter


def _load_raw(path: Path) -> dict[str, dict]:
    streams, _ = pyxdf.load_xdf(path, synchronize_clocks=False, dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


@pytest.mark.parametrize("fmt", ["float32", "double64", "int8", "int16", "int32", "int64"])
def test_numeric_stream_round_trips_values_timestamps_and_labels(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(1)
    n = 257
    ts = 1000.0 + np.cumsum(rng.uniform(0.001, 0.01, n))
    if fmt in ("float32", "double64"):
        data = rng.normal(size=(n, 3)).astype(np.float32 if fmt == "float32" else np.float64)
    else:
        data = rng.integers(-100, 100, size=(n, 3))
    path = tmp_path / "num.xdf"
    info = StreamInfo("sig", "EEG", 3, 250.0, fmt, ("Fp1", "Fp2", "Cz"), "src-1", "host-a")
    with XdfWriter(path) as w:
        sid = w.add_stream(info)
        w.write_samples(sid, ts[:100], data[:100])
        w.write_samples(sid, ts[100:], data[100:])

    s = _load_raw(path)["sig"]
    np.testing.assert_array_equal(s["time_stamps"], ts)
    np.testing.assert_array_equal(s["time_series"], data)
    assert s["info"]["channel_format"] == [fmt]
    info_xml = s["info"]
    assert info_xml["type"] == ["EEG"]
    assert info_xml["source_id"] == ["src-1"] and info_xml["hostname"] == ["host-a"]
    assert float(info_xml["nominal_srate"][0]) == 250.0
    labels = [c["label"][0] for c in info_xml["desc"][0]["channels"][0]["channel"]]
    assert labels == ["Fp1", "Fp2", "Cz"]
    assert s["footer"]["info"]["sample_count"] == [str(n)]
    assert float(s["footer"]["info"]["first_timestamp"][0]) == ts[0]
    assert float(s["footer"]["info"]["last_timestamp"][0]) == ts[-1]


def test_string_stream_round_trips_unicode_and_markup(tmp_path: Path) -> None:
    path = tmp_path / "str.xdf"
    values = ["eyes_open", "ünïcödé ♥", "<xml>&amp;</xml>", "", "x" * 300]
    ts = [1.0, 2.0, 2.5, 3.0, 10.0]
    with XdfWriter(path) as w:
        sid = w.add_stream(StreamInfo("mk", "Markers", 1, 0.0, "string"))
        w.write_samples(sid, ts[:2], values[:2])
        w.write_samples(sid, ts[2:], [[v] for v in values[2:]])
    s = _load_raw(path)["mk"]
    assert [row[0] for row in s["time_series"]] == values
    np.testing.assert_array_equal(s["time_stamps"], ts)


def test_clock_offsets_are_stored_and_applied_by_pyxdf(tmp_path: Path) -> None:
    path = tmp_path / "clk.xdf"
    ts = 50.0 + np.arange(200) / 100.0
    with XdfWriter(path) as w:
        sid = w.add_stream(StreamInfo("sig", "ECG", 1, 100.0, "double64"))
        for k in range(3):
            w.write_clock_offset(sid, 50.0 + k, -0.25)
            w.write_boundary()
            w.write_samples(sid, ts[k * 50 : (k + 1) * 50], np.arange(50.0))
        w.write_samples(sid, ts[150:], np.arange(50.0))
    raw = _load_raw(path)["sig"]
    assert raw["clock_times"] == [50.0, 51.0, 52.0]
    assert raw["clock_values"] == [-0.25] * 3
    offsets = raw["footer"]["info"]["clock_offsets"][0]["offset"]
    assert [float(o["value"][0]) for o in offsets] == [-0.25] * 3
    synced, _ = pyxdf.load_xdf(path, dejitter_timestamps=False)
    np.testing.assert_allclose(synced[0]["time_stamps"], ts - 0.25, atol=1e-9)


def test_file_layout_has_magic_header_and_boundary_uuid(tmp_path: Path) -> None:
    path = tmp_path / "layout.xdf"
    with XdfWriter(path) as w:
        w.write_boundary()
    raw = path.read_bytes()
    assert raw[:4] == b"XDF:"
    assert raw.endswith(b"\x01\x12\x05\x00" + BOUNDARY_UUID)  # 1-byte length 18, tag 5


def test_every_write_is_flushed_so_a_killed_writer_leaves_a_readable_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "killed.xdf"
    w = XdfWriter(path)
    sid = w.add_stream(StreamInfo("sig", "ECG", 1, 10.0, "float32"))
    w.write_samples(sid, [1.0, 1.1, 1.2], [1.0, 2.0, 3.0])
    # Read while the writer is still open (no footer yet), as after a kill -9.
    s = _load_raw(path)["sig"]
    np.testing.assert_array_equal(s["time_series"][:, 0], [1.0, 2.0, 3.0])
    assert "footer" not in s
    w.close()
    w.close()  # closing twice is harmless
    assert "footer" in _load_raw(path)["sig"]


def test_empty_stream_gets_a_footer_with_zero_samples(tmp_path: Path) -> None:
    path = tmp_path / "empty.xdf"
    with XdfWriter(path) as w:
        w.add_stream(StreamInfo("nothing", "EEG", 2, 100.0))
    s = _load_raw(path)["nothing"]
    assert s["time_series"].shape == (0, 2)
    assert s["footer"]["info"]["sample_count"] == ["0"]


def test_desc_mapping_is_written_as_nested_xml(tmp_path: Path) -> None:
    path = tmp_path / "desc.xdf"
    desc = {
        "channels": {"channel": [{"label": "MLII", "unit": "millivolts"}]},
        "acquisition": {"manufacturer": "PhysioNet"},
    }
    with XdfWriter(path) as w:
        w.add_stream(StreamInfo("ecg", "ECG", 1, 360.0, channel_labels=("ignored",)), desc)
    d = _load_raw(path)["ecg"]["info"]["desc"][0]
    assert d["channels"][0]["channel"][0]["unit"] == ["millivolts"]
    assert d["channels"][0]["channel"][0]["label"] == ["MLII"]
    assert d["acquisition"][0]["manufacturer"] == ["PhysioNet"]


def test_bad_input_is_refused(tmp_path: Path) -> None:
    with XdfWriter(tmp_path / "bad.xdf") as w:
        with pytest.raises(ValueError, match="channel_format"):
            w.add_stream(StreamInfo("x", "EEG", 1, 1.0, "float16"))
        sid = w.add_stream(StreamInfo("x", "EEG", 1, 1.0, "int16"))
        with pytest.raises(ValueError, match="exactly"):
            w.write_samples(sid, [0.0], [0.5])
        with pytest.raises(ValueError, match="finite"):
            w.write_samples(sid, [np.nan], [1])
        with pytest.raises(ValueError, match="unknown"):
            w.write_samples(99, [0.0], [1])
    with pytest.raises(ValueError, match="closed"):
        w.write_samples(sid, [0.0], [1])
    with pytest.raises(ValueError, match="closed"):
        w.write_boundary()


def test_declared_units_are_written_and_read_back_by_the_recording_input(tmp_path: Path) -> None:
    from installation.inputs.recording import load_recording

    path = tmp_path / "units.xdf"
    info = StreamInfo("chest", "ECG", 2, 250.0, channel_labels=("MLII", "V5"),
                      channel_units=("millivolts", "millivolts"))
    with XdfWriter(path) as w:
        sid = w.add_stream(info)
        w.write_samples(sid, np.arange(10) / 250.0, np.zeros((10, 2)))
    channels = _load_raw(path)["chest"]["info"]["desc"][0]["channels"][0]["channel"]
    assert [(c["label"][0], c["unit"][0]) for c in channels] == [
        ("MLII", "millivolts"), ("V5", "millivolts")]
    (read,) = load_recording(path).streams
    assert read.info.channel_units == ("millivolts", "millivolts")
    with pytest.raises(ValueError, match="one unit per channel"), XdfWriter(
            tmp_path / "bad.xdf") as w:
        w.add_stream(StreamInfo("x", "ECG", 2, 250.0, channel_units=("mV",)))
