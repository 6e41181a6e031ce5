"""BrainFlow's synthetic board through sensors.brainflow_bridge, ingested by the live input."""

from __future__ import annotations

import numpy as np
import pytest
from _lsl_helpers import Pins, fresh_id, joined, poll_until, start_producer, stop

from installation.inputs.lsl import LslInput
from installation.show import StreamSpec

pytest.importorskip("brainflow")


def test_synthetic_board_streams_eeg_ppg_and_accelerometer_at_the_board_rate():
    prefix = fresh_id("t-bf")
    proc, hello = start_producer("sensors.brainflow_bridge", "--board", "SYNTHETIC_BOARD",
                                 "--source-id", prefix, "--duration", "30")
    assert set(hello["source_ids"]) == {"eeg", "ppg", "accel"}
    inputs = {
        "eeg": LslInput("eeg", StreamSpec(type="EEG", source_id=f"{prefix}-eeg")).start(),
        "ppg": LslInput("ppg", Pins(type="PPG", source_id=f"{prefix}-ppg")).start(),
        "accel": LslInput("accel", Pins(type="Accelerometer", source_id=f"{prefix}-accel")).start(),
    }
    try:
        chunks = poll_until(inputs, lambda c: sum(x.n for x in c["eeg"]) >= 3 * 250, timeout=15)
    finally:
        for source in inputs.values():
            source.close()
        stop(proc)
    eeg = inputs["eeg"].info
    assert eeg.channel_count == 16 and eeg.channel_labels[:3] == ("Fz", "C3", "Cz")
    assert eeg.nominal_srate == 250.0
    assert abs(inputs["eeg"].effective_srate - 250.0) < 12.5
    ts, data = joined(chunks["eeg"])
    assert np.all(np.diff(ts) > 0) and np.isfinite(data).all() and data.std() > 0
    assert inputs["ppg"].info.channel_count == 2
    assert inputs["accel"].info.channel_labels == ("X", "Y", "Z")
    for key in ("ppg", "accel"):
        assert sum(c.n for c in chunks[key]) > 250
