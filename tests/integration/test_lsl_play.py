"""sensors.play on loopback: every shared XDF is replayed and ingested with pyxdf's counts."""

from __future__ import annotations

import numpy as np
import pytest
from _lsl_helpers import Pins, fresh_id, joined, poll_until, start_producer, stop

from installation.inputs.lsl import LslInput, LslSettings
from installation.inputs.recording import load_recording

SHARED_XDF = [
    "bci4als_Sub2011001_openbci16_mi_markers.xdf",
    "empty_streams.xdf",
    "minimal.xdf",
    "mitdb100_ecg_0-300s_converted.xdf",
]


def test_every_shared_xdf_file_is_in_the_list(shared_data):
    assert sorted(p.name for p in (shared_data / "xdf").glob("*.xdf")) == SHARED_XDF


@pytest.mark.parametrize("filename", SHARED_XDF)
def test_played_recording_is_ingested_with_the_sample_counts_pyxdf_reports(shared_data, filename):
    path = shared_data / "xdf" / filename
    recording = load_recording(path)
    prefix = fresh_id("t-play")
    # At 200x a 7-minute file takes about 2 s; the inlets need room for that burst.
    settings = LslSettings(buffer_s=600, chunk_s=60.0)
    inputs = {
        str(i): LslInput(str(i), Pins(type=s.info.type, source_id=f"{prefix}-{i}"), settings)
        for i, s in enumerate(recording.streams)
    }
    for source in inputs.values():
        source.start()
    proc, hello = start_producer(
        "sensors.play", str(path), "--speed", "200", "--source-id", prefix,
        "--wait-consumers", "15", "--linger", "2",
    )
    try:
        want = {str(i): s.n for i, s in enumerate(recording.streams)}
        chunks = poll_until(
            inputs,
            lambda c: all(sum(x.n for x in c[k]) >= want[k] for k in c) and proc.poll() is not None,
            timeout=30,
        )
    finally:
        for source in inputs.values():
            source.close()
        stop(proc)
    assert [s["n"] for s in hello["streams"]] == [s.n for s in recording.streams]
    for i, stream in enumerate(recording.streams):
        key = str(i)
        ts, data = joined(chunks[key])
        info = inputs[key].info
        assert ts.shape[0] == stream.n, (stream.info.name, ts.shape[0], stream.n)
        assert (info.name, info.channel_count, info.channel_format) == (
            stream.info.name, stream.info.channel_count, stream.info.channel_format
        )
        assert info.nominal_srate == stream.info.nominal_srate
        if stream.info.channel_labels:
            assert info.channel_labels == stream.info.channel_labels
        if stream.n and stream.info.is_numeric:
            np.testing.assert_allclose(data, stream.data, rtol=1e-6)
        elif stream.n:
            assert data.tolist() == stream.data.tolist()
        if stream.n > 1:
            # Play time runs 200x faster; the sample spacing must follow the recording's.
            span = (ts[-1] - ts[0]) * 200
            recorded = stream.timestamps[-1] - stream.timestamps[0]
            assert abs(span - recorded) < 0.05 * recorded + 0.5


def _play_and_collect(args, pins, until, timeout=20):
    source = LslInput("s", pins, LslSettings(buffer_s=600, chunk_s=60.0)).start()
    proc, hello = start_producer("sensors.play", *args, "--wait-consumers", "15")
    try:
        chunks = poll_until({"s": source}, until, timeout=timeout)
    finally:
        source.close()
        stop(proc)
    return hello, source, chunks["s"]


def test_csv_recording_plays_from_the_start_offset(tmp_path):
    path = tmp_path / "ecg.csv"
    t = np.arange(2500) / 250.0
    rows = "\n".join(f"{ti:.6f},{np.sin(2 * np.pi * ti):.6f}" for ti in t)
    path.write_text(f"# name: csv-ecg\n# srate: 250\ntime_s,ECG\n{rows}\n")
    recording = load_recording(path)
    stream = recording.find_stream("ECG")
    want = int(np.sum(stream.timestamps >= 5.0))
    prefix = fresh_id("t-csv")
    hello, source, chunks = _play_and_collect(
        [str(path), "--start", "5", "--speed", "5", "--source-id", prefix],
        Pins(type="ECG", source_id=f"{prefix}-0"),
        lambda c: sum(x.n for x in c["s"]) >= want and c["s"][-1].n == 0,
    )
    ts, data = joined(chunks)
    assert hello["streams"][0]["n"] == want == ts.shape[0]
    np.testing.assert_allclose(data[:, 0], stream.data[-want:, 0], rtol=1e-6)
    assert source.info.nominal_srate == stream.info.nominal_srate


def test_loop_plays_the_recording_again_from_the_start(tmp_path):
    path = tmp_path / "ramp.csv"
    rows = "\n".join(f"{i / 10:.1f},{i}" for i in range(10))
    path.write_text(f"# srate: 10\ntime_s,ECG\n{rows}\n")
    prefix = fresh_id("t-loop")
    _hello, _source, chunks = _play_and_collect(
        [str(path), "--loop", "--speed", "4", "--source-id", prefix],
        Pins(type="ECG", source_id=f"{prefix}-0"),
        lambda c: sum(x.n for x in c["s"]) >= 30,
    )
    ts, data = joined(chunks)
    assert data[:30, 0].tolist() == list(range(10)) * 3
    assert np.all(np.diff(ts) > 0)
