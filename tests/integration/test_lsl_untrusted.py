"""Live LSL input against a network that misbehaves: failed opens, third-party type spellings."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pylsl
import pytest
from _lsl_helpers import REPO_ROOT, fresh_id, joined, poll_until, start_producer, stop

import installation.inputs.lsl as lsl_module
from installation.inputs.lsl import LslInput
from installation.inputs.recording import load_recording
from installation.messages import Status
from installation.show import StreamSpec


class _TimesOutOnce(pylsl.StreamInlet):
    """A real inlet whose first ``open_stream`` times out, as on a loaded machine."""

    failures_left = 1
    opened = 0

    def open_stream(self, timeout: float = pylsl.FOREVER) -> None:
        type(self).opened += 1
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            raise pylsl.util.TimeoutError("the operation failed due to a timeout.")
        super().open_stream(timeout)


def test_a_stream_whose_first_open_times_out_is_retried_and_reads_ok(monkeypatch):
    monkeypatch.setattr(lsl_module.pylsl, "StreamInlet", _TimesOutOnce)
    _TimesOutOnce.failures_left, _TimesOutOnce.opened = 1, 0
    sid = fresh_id("t-flaky-open")
    proc, _ = start_producer("sensors.simulate", "--streams", "ecg", "--source-id", sid,
                             "--duration", "60")
    source = LslInput("ecg", StreamSpec(type="ECG", source_id=f"{sid}-ecg")).start()
    try:
        # 5 s is a hang guard from the first failure: the retry comes after open_retry_s.
        first = poll_until({"s": source}, lambda c: _TimesOutOnce.opened >= 1, 15)
        assert _TimesOutOnce.opened >= 1, [c.reason for c in first["s"][-2:]]
        ok = poll_until({"s": source}, lambda c: c["s"][-1].status == Status.OK
                        and c["s"][-1].n > 0, 5)
        assert ok["s"][-1].status == Status.OK, ok["s"][-1].reason
        assert _TimesOutOnce.failures_left == 0 and _TimesOutOnce.opened == 2
        assert source.connections == 1
    finally:
        source.close()
        stop(proc)


@pytest.fixture
def mne_ecg_player():
    """mne-lsl's PlayerLSL streaming real ECG as LSL type ``ecg`` (lower case), pinned."""
    pytest.importorskip("mne_lsl", reason="needs the test extra: pip install -e '.[test]'")
    sid = fresh_id("t-mne")
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "tests/integration/_mne_player.py"), sid],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the mne-lsl player exited before its outlet was up")
    hello = json.loads(line)
    assert hello["type"] == "ecg"
    yield sid
    stop(proc)


def test_a_show_asking_for_upper_case_ecg_reads_mne_lsl_players_ecg_stream(mne_ecg_player):
    from _mne_player import ecg_mv

    source = LslInput("ecg", StreamSpec(type="ECG", source_id=mne_ecg_player)).start()
    try:
        chunks = poll_until({"s": source}, lambda c: sum(x.n for x in c["s"]) >= 360, 10)
    finally:
        source.close()
    assert source.info.type == "ecg"
    _, data = joined(chunks["s"])
    assert data.shape[0] >= 360, [c.reason for c in chunks["s"][-2:]]
    # Bit-equal to a contiguous run of the recording (the player loops the 60 s file).
    reference = ecg_mv()
    looped = np.concatenate([reference, reference])
    starts = [i for i in np.flatnonzero(reference == data[0, 0])
              if np.array_equal(looped[i:i + 360], data[:360, 0])]
    assert starts, data[:5, 0]


def test_record_type_upper_case_ecg_records_mne_lsl_players_ecg_stream(mne_ecg_player, tmp_path):
    out = tmp_path / "mne.xdf"
    done = subprocess.run(
        [sys.executable, "-m", "installation", "record", "-o", str(out), "--type", "ECG",
         "--source-id", mne_ecg_player, "--duration", "2", "--wait", "10"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-500:]
    recording = load_recording(out)
    stream = recording.find_stream("ECG")
    assert stream.info.type == "ecg" and stream.info.source_id == mne_ecg_player
    assert stream.timestamps.shape[0] > 360
