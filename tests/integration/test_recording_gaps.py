"""A gap inside a recorded stream reads as the live input reads the same silence.

The recording is real (MIT-BIH record 100, tests/data); the gap is cut into it and written as
an XDF with our writer, then replayed headless and played live over LSL (``sensors.play``).
"""

from __future__ import annotations

import time

import numpy as np
from _lsl_helpers import fresh_id, poll_until, start_producer, stop

from installation.inputs.lsl import LslInput, LslSettings
from installation.inputs.recording import RecordingSource, load_recording
from installation.messages import Status, StreamInfo
from installation.presence import Presence, worn
from installation.record.xdf_writer import XdfWriter
from installation.show import StreamSpec

DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "data"
RATE = 360.0
FPS = 30.0


def _ecg_with_gap(path, keep_until_s: float, resume_s: float, end_s: float) -> float:
    """Write real ECG with the samples in ``(keep_until_s, resume_s)`` cut out; return the
    stamp of the last sample before the gap."""
    ecg = np.loadtxt(DATA / "mitdb100_MLII_0-60s.csv", comments="#", skiprows=3)
    stamps = 1000.0 + np.arange(ecg.shape[0]) / RATE
    rel = stamps - stamps[0]
    keep = (rel <= keep_until_s) | ((rel >= resume_s) & (rel <= end_s))
    with XdfWriter(path) as writer:
        sid = writer.add_stream(StreamInfo("ecg-gap", "ECG", 1, RATE, "double64", ("MLII",),
                                           source_id="gap-test"))
        writer.write_samples(sid, stamps[keep], ecg[keep][:, None])
    return float(rel[rel <= keep_until_s][-1])


def _replay_statuses(path):
    recording = load_recording(path)
    source = RecordingSource(recording, {"ecg": recording.find_stream("ECG")})
    frames = np.arange(int(recording.duration * FPS) + 1) / FPS
    return frames, [source.read(float(t))["ecg"] for t in frames]


def test_a_gap_in_a_recording_goes_stale_at_the_frame_the_live_rule_does(tmp_path):
    path = tmp_path / "gap.xdf"
    last = _ecg_with_gap(path, 10.0, 40.0, 50.0)
    frames, chunks = _replay_statuses(path)
    after = LslSettings().silence.after(RATE)
    off = [t for t, c in zip(frames, chunks, strict=True) if c.status is not Status.OK]
    # The live input's rule on the same stamps: stale once silent for longer than `after`.
    assert last + after - 1e-6 < off[0] <= last + after + 1.0 / FPS + 1e-6
    assert "gap in the recording" in next(c.reason for c in chunks if c.status is Status.STALE)
    back = [t for t, c in zip(frames, chunks, strict=True) if t > off[0] and c.status is Status.OK]
    assert 40.0 <= back[0] <= 40.0 + 1.0 / FPS
    # Visitor presence on it: leaves leave_s after the stream went stale, not seconds later.
    presence = Presence(required=("ecg",), arrive_s=1.0, leave_s=2.0)
    left = None
    for t, chunk in zip(frames, chunks, strict=True):
        changed = presence.update({"ecg": worn(chunk.status, Status.OK)}, float(t))
        if changed and presence.mode == "idle" and left is None and t > 1.0:
            left = float(t)
    assert left is not None and abs(left - (off[0] + 2.0)) <= 1.0 / FPS


def test_replayed_and_live_played_gap_both_report_stale_and_then_ok(tmp_path):
    path = tmp_path / "gap-live.xdf"
    last = _ecg_with_gap(path, 3.0, 9.0, 12.0)
    frames, chunks = _replay_statuses(path)
    replay_off = next(t for t, c in zip(frames, chunks, strict=True) if c.status is Status.STALE)
    sid = fresh_id("t-gap")
    proc, _ = start_producer("sensors.play", str(path), "--source-id", sid,
                             "--wait-consumers", "10")
    source = LslInput("ecg", StreamSpec(type="ECG", source_id=f"{sid}-0")).start()
    try:
        seen = poll_until({"s": source}, lambda c: c["s"][-1].n > 0, 15)
        assert seen["s"][-1].n > 0
        t0 = time.monotonic()
        gap = poll_until({"s": source}, lambda c: c["s"][-1].status is Status.STALE, 12)
        went_stale = gap["s"][-1]
        assert went_stale.status is Status.STALE, [c.status.value for c in gap["s"][-3:]]
        back = poll_until({"s": source}, lambda c: c["s"][-1].status is Status.OK, 12)
        assert back["s"][-1].status is Status.OK
        assert time.monotonic() - t0 < 30  # hang guard
    finally:
        source.close()
        stop(proc)
    # Both read the same silence the same way: replay at the rule's frame, live within the gap.
    assert replay_off - last <= LslSettings().silence.after(RATE) + 1.0 / FPS
    assert went_stale.reason.startswith("no samples for")


