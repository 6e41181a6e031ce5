"""Recording live streams to XDF: a clean `installation record`, and a recorder killed with -9."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pylsl
import pyxdf
from _lsl_helpers import REPO_ROOT, fresh_id, start_producer, stop

from installation.inputs.recording import load_recording
from installation.messages import Features
from installation.record.recorder import Recorder, RecordingTarget, find_streams


def _record_cmd(out, sid, *extra):
    return [sys.executable, "-m", "installation", "record", "-o", str(out), "--type", "ECG",
            "--type", "RR", "--source-id", f"{sid}-ecg", "--source-id", f"{sid}-rr", *extra]


def _by_name(streams, suffix):
    return next(s for s in streams if s["info"]["name"][0].endswith(suffix))


def test_record_command_writes_every_sample_with_footers_and_clock_offsets(tmp_path):
    sid = fresh_id("t-rec")
    producer, _ = start_producer("sensors.simulate", "--streams", "ecg,rr", "--index",
                                 "--source-id", sid, "--duration", "30")
    out = tmp_path / "session.xdf"
    try:
        done = subprocess.run(_record_cmd(out, sid, "--duration", "3"), cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=30)
    finally:
        stop(producer)
    assert done.returncode == 0, done.stderr[-500:]
    streams, _ = pyxdf.load_xdf(str(out))
    assert len(streams) == 2
    ecg, rr = _by_name(streams, "-ecg"), _by_name(streams, "-rr")
    for stream in (ecg, rr):
        assert "footer" in stream
        assert len(stream["clock_times"]) >= 1
    index = ecg["time_series"][:, 1]
    # 3 s of recording, plus what arrived while the other inlet was being opened
    assert 2.9 * 250 < index.shape[0] < 6 * 250
    assert np.array_equal(np.diff(index), np.ones(index.shape[0] - 1))
    assert np.array_equal(np.diff(rr["time_series"][:, 1]), np.ones(rr["time_series"].shape[0] - 1))
    assert f"wrote {out}" in done.stdout
    assert load_recording(out).warnings == ()


def test_recorder_killed_with_sigkill_leaves_a_loadable_file_missing_at_most_a_second(tmp_path):
    sid = fresh_id("t-kill")
    producer, hello = start_producer("sensors.simulate", "--streams", "ecg,rr", "--index",
                                     "--source-id", sid, "--duration", "30")
    out = tmp_path / "killed.xdf"
    recorder = subprocess.Popen(_record_cmd(out, sid), cwd=REPO_ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert recorder.stderr is not None
        # liblsl logs on stderr too; wait for our "recording ..." line.
        while "recording" not in (line := recorder.stderr.readline()):
            assert line, "recorder exited before recording"
        time.sleep(2.5)
        recorder.kill()
        t_kill = pylsl.local_clock()
        recorder.wait(timeout=10)
    finally:
        stop(recorder)
        stop(producer)
    loaded = load_recording(out)
    assert any("footer" in w or "truncated" in w for w in loaded.warnings)
    ecg = loaded.find_stream("ECG")
    index = ecg.data[:, 1]
    assert np.array_equal(np.diff(index), np.ones(ecg.n - 1))
    # The producer stamps sample i at t0 + i / 250: the last one written is < 1 s before the kill.
    last_sent_time = hello["t0"] + index[-1] / 250.0
    assert t_kill - last_sent_time < 1.0
    assert ecg.n > 250


def test_engine_features_are_recorded_as_their_own_stream(tmp_path):
    sid = fresh_id("t-feat")
    producer, _ = start_producer("sensors.simulate", "--streams", "ecg", "--source-id", sid,
                                 "--duration", "30")
    out = tmp_path / "features.xdf"
    try:
        streams = find_streams([RecordingTarget("ECG", source_ids=(f"{sid}-ecg",))], 5.0)
        with Recorder(out, streams) as recorder:
            fid = recorder.add_feature_stream("features", ["heart_rate", "alpha"])
            for k in range(5):
                t = pylsl.local_clock()
                recorder.write_features(fid, Features("ecg", t, {"heart_rate": 60.0 + k}))
                recorder.step()
                time.sleep(0.05)
    finally:
        stop(producer)
    streams, _ = pyxdf.load_xdf(str(out))
    features = _by_name(streams, "features")
    assert features["info"]["type"] == ["Features"]
    values = np.asarray(features["time_series"])
    assert values[:, 0].tolist() == [60.0, 61.0, 62.0, 63.0, 64.0]
    assert np.isnan(values[:, 1]).all()
    ecg = _by_name(streams, "-ecg")
    assert ecg["time_series"].shape[0] > 0


def test_record_without_a_matching_stream_is_a_one_line_user_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "installation", "record", "-o", str(tmp_path / "x.xdf"),
         "--type", "ECG", "--source-id", fresh_id("nobody"), "--wait", "0.5"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() if "INFO|" not in ln and ln.strip()]
    assert len(lines) == 1 and "no LSL stream matching" in lines[0]


def test_record_command_stopped_with_sigterm_closes_the_file_with_footers(tmp_path):
    sid = fresh_id("t-term")
    producer, _ = start_producer("sensors.simulate", "--streams", "ecg,rr", "--source-id", sid,
                                 "--duration", "30")
    out = tmp_path / "term.xdf"
    recorder = subprocess.Popen(_record_cmd(out, sid), cwd=REPO_ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert recorder.stderr is not None
        while "recording" not in (line := recorder.stderr.readline()):
            assert line, "recorder exited before recording"
        time.sleep(1.0)
        recorder.terminate()
        stdout, _ = recorder.communicate(timeout=10)
    finally:
        stop(recorder)
        stop(producer)
    assert recorder.returncode == 0
    assert f"wrote {out}" in stdout
    loaded = load_recording(out)
    assert loaded.warnings == ()
    assert loaded.find_stream("ECG").n > 100
