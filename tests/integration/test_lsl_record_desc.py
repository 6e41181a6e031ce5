"""Recording a live stream keeps the sender's whole description, as LabRecorder does."""

from __future__ import annotations

import numpy as np
import pylsl
import pyxdf
from _lsl_helpers import fresh_id

from installation.record.recorder import Recorder, RecordingTarget, find_streams


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
