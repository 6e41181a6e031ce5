"""Recording a live stream keeps the sender's whole description, as LabRecorder does."""

from __future__ import annotations

import time

import numpy as np
import pylsl
import pyxdf
from _lsl_helpers import fresh_id

from installation.inputs.lsl import LslInput
from installation.messages import Controls, Status
from installation.record.recorder import Recorder, RecordingTarget, find_streams
from installation.record.session import SessionRecorder, SessionSettings
from installation.show import StreamSpec


def _outlet_with_nested_desc(source_id: str) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo("desc-eeg", "EEG", 2, 100.0, "float32", source_id)
    desc = info.desc()
    desc.append_child_value("manufacturer", "ACME Neuro")
    channels = desc.append_child("channels")
    for label, unit, kind in (("C3", "microvolts", "EEG"), ("C4", "microvolts", "EEG")):
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", kind)
    acquisition = desc.append_child("acquisition")
    acquisition.append_child_value("model", "Cap-32")
    acquisition.append_child_value("compensated_lag", "0.012")
    custom = desc.append_child("montage").append_child("reference")
    custom.append_child_value("site", "linked mastoids")
    custom.append_child("electrode").append_child_value("impedance_kohm", "4.5")
    return pylsl.StreamOutlet(info)


def test_recorder_keeps_nested_desc_and_lsl_header_fields(tmp_path):
    sid = fresh_id("t-desc")
    outlet = _outlet_with_nested_desc(sid)
    out = tmp_path / "desc.xdf"
    found = find_streams([RecordingTarget("EEG", source_ids=(sid,))], 5.0)
    with Recorder(out, found) as recorder:
        for k in range(20):
            outlet.push_sample([float(k), -float(k)])
            recorder.step()
        deadline = pylsl.local_clock() + 3.0
        while recorder.sample_counts["desc-eeg"] < 20 and pylsl.local_clock() < deadline:
            recorder.step()
    expected = outlet.get_info()
    del outlet

    (stream,) = pyxdf.load_xdf(str(out), dejitter_timestamps=False)[0]
    info = stream["info"]
    desc = info["desc"][0]
    assert desc["manufacturer"] == ["ACME Neuro"]
    channels = desc["channels"][0]["channel"]
    assert len(desc["channels"]) == 1  # the labels were not added a second time
    assert [(c["label"][0], c["unit"][0], c["type"][0]) for c in channels] == [
        ("C3", "microvolts", "EEG"), ("C4", "microvolts", "EEG")
    ]
    assert desc["acquisition"][0] == {"model": ["Cap-32"], "compensated_lag": ["0.012"]}
    reference = desc["montage"][0]["reference"][0]
    assert reference["site"] == ["linked mastoids"]
    assert reference["electrode"][0]["impedance_kohm"] == ["4.5"]
    # The LSL header fields LabRecorder keeps.
    assert info["uid"] == [expected.uid()] and expected.uid()
    assert info["session_id"] == [expected.session_id()]
    assert float(info["created_at"][0]) == expected.created_at() > 0
    assert float(info["version"][0]) == expected.version() / 100
    np.testing.assert_array_equal(stream["time_series"][:, 0], np.arange(20.0))


def test_record_file_header_carries_the_datetime_the_recording_started(tmp_path):
    sid = fresh_id("t-dt")
    outlet = _outlet_with_nested_desc(sid)
    out = tmp_path / "dated.xdf"
    started = time.mktime((2026, 11, 23, 10, 41, 7, 0, 0, -1))
    found = find_streams([RecordingTarget("EEG", source_ids=(sid,))], 5.0)
    with Recorder(out, found, started=started) as recorder:
        outlet.push_sample([1.0, 2.0])
        recorder.step()
    del outlet
    _, header = pyxdf.load_xdf(str(out))
    stamp = header["info"]["datetime"][0]
    assert stamp == time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
    assert stamp.startswith("2026-11-23T10:41:07")


def test_per_visit_recording_keeps_the_live_senders_whole_description(tmp_path):
    sid = fresh_id("t-visit-desc")
    outlet = _outlet_with_nested_desc(sid)
    source = LslInput("eeg", StreamSpec(type="EEG", source_id=sid)).start()
    rec = SessionRecorder(tmp_path / "visit.xdf", SessionSettings(features=False))
    try:
        deadline = time.monotonic() + 15.0  # hang guard
        sent = received = 0
        while received < 20 and time.monotonic() < deadline:
            chunk = source.poll()
            if chunk.status is Status.OK and sent < 20:
                outlet.push_sample([float(sent), -float(sent)])
                sent += 1
            if chunk.n:
                received += chunk.n
                rec.write_step({"eeg": chunk}, {}, Controls(t=float(chunk.t_end), values={}))
            time.sleep(0.02)
        assert received == 20
    finally:
        rec.close()
        source.close()
        del outlet
    (stream,) = [s for s in pyxdf.load_xdf(str(rec.path))[0] if s["info"]["name"][0] == "desc-eeg"]
    desc = stream["info"]["desc"][0]
    assert desc["manufacturer"] == ["ACME Neuro"]
    assert len(desc["channels"]) == 1
    channels = desc["channels"][0]["channel"]
    assert [(c["label"][0], c["unit"][0]) for c in channels] == [
        ("C3", "microvolts"), ("C4", "microvolts")]
    assert desc["acquisition"][0]["model"] == ["Cap-32"]
    assert desc["montage"][0]["reference"][0]["electrode"][0]["impedance_kohm"] == ["4.5"]
    assert desc["engine"][0]["show_key"] == ["eeg"]  # our own note is still there
