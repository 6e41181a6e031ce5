"""Per-visitor session recording: the real demo session through SessionRecorder into pyxdf."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import pyxdf
from _session_helpers import REPO_ROOT, demo_steps, recording_show

from installation.messages import Chunk, Status
from installation.record.recorder import RecordError
from installation.record.session import STATUS_CODES, SessionRecorder, SessionSettings
from installation.record.xdf_writer import BOUNDARY_UUID
from installation.show import RecordSpec

HELPER = REPO_ROOT / "tests" / "integration" / "_session_helpers.py"
STARTED = time.mktime((2026, 11, 23, 10, 41, 7, 0, 0, -1))


def _load(path: Path) -> dict[str, list[dict]]:
    # Clock synchronisation on (the file's zero offsets must make it a no-op), dejittering off
    # (it would rewrite regular streams' stamps by design).
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=False)
    by_name: dict[str, list[dict]] = {}
    for s in streams:
        by_name.setdefault(s["info"]["name"][0], []).append(s)
    return by_name


def _joined(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray]:
    full = [c for c in chunks if c.n]
    return np.concatenate([c.timestamps for c in full]), np.concatenate([c.data for c in full])


def _labels(stream: dict) -> list[str]:
    return [c["label"][0] for c in stream["info"]["desc"][0]["channels"][0]["channel"]]


def test_demo_session_round_trips_raw_samples_features_and_controls_exactly(tmp_path):
    show = recording_show(tmp_path)
    steps = list(demo_steps(show, duration=25.0))
    rec = SessionRecorder.for_show(show, started=STARTED)
    assert rec is not None
    for step in steps:
        rec.write_step(step.chunks, step.features, step.controls)
    rec.close()

    assert rec.path == tmp_path / "recs" / "visitor-2026-11-23T10-41-07.xdf"
    loaded = _load(rec.path)
    # Raw samples: every one, time stamps and values exact, header from the chunk's info.
    for key, name in (("ecg", "MITBIH-100-ECG"), ("eeg", "BioSPPy-EEG")):
        (stream,) = loaded[name]
        ts, data = _joined([s.chunks[key] for s in steps])
        assert np.array_equal(stream["time_stamps"], ts)
        assert np.array_equal(stream["time_series"].astype(np.float64), data)
        info = steps[0].chunks[key].info
        assert stream["info"]["type"] == [info.type]
        assert stream["info"]["source_id"] == [info.source_id]
        assert stream["info"]["hostname"] == [info.hostname]
        assert stream["info"]["channel_format"] == [info.channel_format]
        assert float(stream["info"]["nominal_srate"][0]) == info.nominal_srate
        assert _labels(stream) == list(info.channel_labels)
        engine = stream["info"]["desc"][0]["engine"][0]
        assert engine["show_key"] == [key] and "local LSL clock" in engine["timestamps"][0]
        assert set(stream["clock_values"]) == {0.0}
    (markers,) = loaded["demo-markers"]
    ts, data = _joined([s.chunks["markers"] for s in steps])
    assert markers["time_stamps"].tolist() == ts.tolist()
    assert [row[0] for row in markers["time_series"]] == data[:, 0].tolist()

    # Features: one sample per change of t, sorted names then status; values as computed.
    for key in ("ecg", "eeg", "state"):
        (stream,) = loaded[f"features-{key}"]
        assert stream["info"]["type"] == ["Features"]
        assert float(stream["info"]["nominal_srate"][0]) == 0.0
        messages = {s.features[key].t: s.features[key] for s in steps}
        names = sorted(next(iter(messages.values())).values)
        assert _labels(stream) == [*names, "status"]
        assert stream["time_stamps"].tolist() == list(messages)
        expected = [[m.values.get(n, np.nan) for n in names] + [STATUS_CODES[m.status]]
                    for m in messages.values()]
        np.testing.assert_array_equal(stream["time_series"], np.array(expected))
        codes = stream["info"]["desc"][0]["engine"][0]["status_codes"][0]
        assert {k: int(v[0]) for k, v in codes.items()} == {s.value: c
                                                             for s, c in STATUS_CODES.items()}
    (controls,) = loaded["controls"]
    names = sorted(steps[0].controls.values)
    assert _labels(controls) == names
    assert controls["time_stamps"].tolist() == [s.t for s in steps]
    np.testing.assert_array_equal(
        controls["time_series"], [[s.controls.values[n] for n in names] for s in steps]
    )
    # A Boundary chunk every 10 s of the 25 s session.
    assert rec.path.read_bytes().count(BOUNDARY_UUID) == 2


def test_features_stream_drops_unknown_names_and_writes_missing_ones_as_nan(tmp_path):
    show = recording_show(tmp_path)
    steps = list(demo_steps(show, duration=3.0, markers=False))
    rec = SessionRecorder(tmp_path / "s.xdf", SessionSettings(streams=False))
    first, second = steps[-2], steps[-1]
    rec.write_step({}, {"ecg": first.features["ecg"]}, first.controls)
    values = dict(second.features["ecg"].values)
    dropped = values.pop("heart_rate")
    values["new_feature"] = 1.0
    changed = dataclasses.replace(second.features["ecg"], values=values, status=Status.STALE)
    rec.write_step({}, {"ecg": changed}, second.controls)
    rec.close()
    (stream,) = _load(rec.path)["features-ecg"]
    labels = _labels(stream)
    assert "new_feature" not in labels
    row = stream["time_series"][1]
    assert np.isnan(row[labels.index("heart_rate")]) and np.isfinite(dropped)
    assert row[labels.index("status")] == STATUS_CODES[Status.STALE]
    assert stream["time_series"].shape == (2, len(first.features["ecg"].values) + 1)


def test_sensor_reconnecting_as_another_device_becomes_a_second_stream(tmp_path):
    show = recording_show(tmp_path)
    steps = list(demo_steps(show, duration=6.0, markers=False))
    rec = SessionRecorder(tmp_path / "s.xdf", SessionSettings(features=False))
    other = dataclasses.replace(steps[0].chunks["ecg"].info, source_id="strap-2")
    sent = {"mitdb-100-MLII": [], "strap-2": []}
    for i, step in enumerate(steps):
        chunk = step.chunks["ecg"]
        if i >= len(steps) // 2:  # the strap was swapped half way through
            chunk = dataclasses.replace(chunk, info=other)
        rec.write_step({"ecg": chunk}, {}, step.controls)
        sent[chunk.info.source_id].append(chunk)
    rec.close()
    streams = _load(rec.path)["MITBIH-100-ECG"]
    assert sorted(s["info"]["source_id"][0] for s in streams) == ["mitdb-100-MLII", "strap-2"]
    for stream in streams:
        ts, data = _joined(sent[stream["info"]["source_id"][0]])
        assert np.array_equal(stream["time_stamps"], ts)
        assert np.array_equal(stream["time_series"].astype(np.float64), data)


def test_int_stream_receiving_nan_goes_on_in_a_double_stream_without_rounding(tmp_path):
    show = recording_show(tmp_path)
    step = next(iter(demo_steps(show, duration=1.0, markers=False)))
    chunk = step.chunks["ecg"]
    info = dataclasses.replace(chunk.info, channel_format="int16")
    ints = dataclasses.replace(chunk, info=info, data=np.round(chunk.data * 1000))
    later = dataclasses.replace(ints, timestamps=ints.timestamps + 1.0,
                                data=np.where(np.arange(ints.n)[:, None] == 3, np.nan, ints.data))
    rec = SessionRecorder(tmp_path / "s.xdf", SessionSettings(features=False))
    rec.write_step({"ecg": ints}, {}, step.controls)
    rec.write_step({"ecg": later}, {}, step.controls)
    rec.close()
    streams = _load(rec.path)["MITBIH-100-ECG"]
    assert [s["info"]["channel_format"][0] for s in streams] == ["int16", "double64"]
    np.testing.assert_array_equal(streams[0]["time_series"], ints.data)
    np.testing.assert_array_equal(streams[1]["time_series"], later.data)


def test_an_existing_recording_is_never_overwritten(tmp_path):
    show = recording_show(tmp_path)
    first = SessionRecorder.for_show(show, started=STARTED)
    second = SessionRecorder.for_show(show, started=STARTED)
    assert first is not None and second is not None
    first.close()
    second.close()
    assert first.path != second.path
    assert second.path.name == "visitor-2026-11-23T10-41-07-2.xdf"


def test_disabled_show_records_nothing(tmp_path):
    show = recording_show(tmp_path, RecordSpec(enabled=False, dir=Path("recs")))
    assert SessionRecorder.for_show(show, started=STARTED) is None
    assert list(tmp_path.iterdir()) == []


def test_absolute_record_dir_is_used_as_is_and_created(tmp_path):
    target = tmp_path / "elsewhere" / "deep"
    show = recording_show(tmp_path / "show", RecordSpec(enabled=True, dir=target))
    rec = SessionRecorder.for_show(show, started=STARTED)
    assert rec is not None and rec.active
    rec.close()
    assert rec.path.parent == target and rec.path.is_file()


def test_record_dir_that_cannot_be_created_is_a_one_line_error_naming_it(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    show = recording_show(tmp_path, RecordSpec(enabled=True, dir=Path("a_file/recs")))
    with pytest.raises(RecordError, match=re.escape(str(tmp_path / "a_file" / "recs"))) as e:
        SessionRecorder.for_show(show, started=STARTED)
    assert "\n" not in str(e.value) and "record.dir" in str(e.value)


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder in which no file can be created, for this user."""
    if os.geteuid() == 0:
        # Permissions do not stop root; procfs refuses new files to everyone.
        yield Path("/proc")
        return
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def test_unwritable_folder_logs_one_error_and_the_show_goes_on(
    tmp_path, unwritable_folder, caplog
):
    show = recording_show(tmp_path, RecordSpec(enabled=True, dir=unwritable_folder))
    steps = list(demo_steps(show, duration=1.0, markers=False))
    with caplog.at_level(logging.ERROR, logger="installation.record.session"):
        rec = SessionRecorder.for_show(show, started=STARTED)
        assert rec is not None and not rec.active
        for step in steps:
            rec.write_step(step.chunks, step.features, step.controls)
        rec.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(unwritable_folder) in errors[0].getMessage()
    assert not rec.path.exists()


def _run_helper(folder: Path, *args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HELPER), str(folder), *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_disk_full_mid_session_logs_one_error_and_keeps_what_was_written(tmp_path):
    # A 200 kB file size limit: writes fail with EFBIG part way, as on a full disk.
    proc = _run_helper(tmp_path, "--fsize-limit", "200000")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-1000:]
    lines = [json.loads(line) for line in out.splitlines()]
    path = Path(lines[0]["path"])
    assert lines[-1] == {"closed": True}
    active = [line["active"] for line in lines[1:-1]]
    assert active[0] and not active[-1]  # it wrote, then turned itself off, and went on
    assert len(active) == 60 * 30
    assert err.count("failed, recording is off") == 1 and str(path) in err
    loaded = _load(path)
    assert loaded["controls"][0]["time_stamps"].shape[0] == active.index(False)


def test_recorder_killed_with_sigkill_leaves_a_file_missing_at_most_a_second(tmp_path):
    proc = _run_helper(tmp_path, "--realtime")
    assert proc.stdout is not None
    path = Path(json.loads(proc.stdout.readline())["path"])
    seen = 0.0
    while seen < 3.0:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "helper exited"
        seen = json.loads(line).get("t", seen)
    proc.kill()
    rest, _ = proc.communicate(timeout=10)
    # Every frame it reported (after writing it) is in the file, so at most the frame being
    # written when it died is lost: 1/30 s.
    reported = max([seen] + [json.loads(line)["t"] for line in rest.splitlines()])
    loaded = _load(path)
    assert "footer" not in loaded["controls"][0]
    last_control = loaded["controls"][0]["time_stamps"][-1]
    assert reported <= last_control < reported + 1.0
    ecg = loaded["MITBIH-100-ECG"][0]["time_stamps"]
    assert reported - 1.0 < ecg[-1] <= last_control
