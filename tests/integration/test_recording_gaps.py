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


def test_a_gap_shorter_than_pyxdfs_default_break_still_reads_stale(tmp_path):
    # pyxdf by default fits one line across any gap under max(1 s, 500 samples) (1.4 s at
    # 360 Hz) and so smooths it away; live calls 0.5 s of silence stale.
    path = tmp_path / "short-gap.xdf"
    last = _ecg_with_gap(path, 10.0, 10.8, 20.0)
    frames, chunks = _replay_statuses(path)
    stale = [t for t, c in zip(frames, chunks, strict=True) if c.status is Status.STALE]
    after = LslSettings().silence.after(RATE)
    assert stale and last + after - 1e-6 < stale[0] <= last + after + 1.0 / FPS + 1e-6
    assert stale[-1] <= 10.8 + 1e-6


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




def _push_with_gap(outlet, ecg: np.ndarray, gap_after_s: float, gap_s: float,
                   end_s: float) -> None:
    """Push real ECG in real time, in chunks stamped at push time, silent for ``gap_s`` after
    ``gap_after_s`` of it (the outlet stays open: a sensor that stops sending)."""
    import pylsl

    cut, total = int(gap_after_s * RATE), int(end_s * RATE)
    pushed, began = 0, pylsl.local_clock()
    while pushed < total:
        elapsed = pylsl.local_clock() - began
        due = min(int((elapsed if pushed < cut else elapsed - gap_s) * RATE), total)
        if pushed < cut:
            due = min(due, cut)
        if due > pushed:
            n = due - pushed
            stamps = pylsl.local_clock() - np.arange(n)[::-1] / RATE
            outlet.push_chunk(ecg[pushed:due, None].tolist(), stamps.tolist())
            pushed = due
        time.sleep(1.0 / FPS)


def test_live_and_replay_of_what_live_saw_go_stale_at_the_same_frame(tmp_path):
    """The gallery's view of a dropout, recorded and replayed, agrees with itself to a frame.

    A real ECG is pushed over LSL loopback with a 2-s pause; the gallery's input is polled
    once a frame; what it received is written to an XDF with our writer and replayed.
    Both must turn stale at the first frame past the same instant (the last sample's stamp
    plus the shared silence rule), and a visitor leaves at the same frame in both.
    """
    import threading

    import pylsl

    ecg = np.loadtxt(DATA / "mitdb100_MLII_0-60s.csv", comments="#", skiprows=3)
    sid = fresh_id("t-gap-live")
    info = pylsl.StreamInfo("ecg-gap-live", "ECG", 1, RATE, "double64", sid)
    outlet = pylsl.StreamOutlet(info)
    source = LslInput("ecg", StreamSpec(type="ECG", source_id=sid)).start()
    live: list = []
    try:
        connected = poll_until({"s": source}, lambda c: c["s"][-1].status is Status.OK, 15)
        assert connected["s"][-1].status is Status.OK
        pusher = threading.Thread(target=_push_with_gap, args=(outlet, ecg, 2.0, 2.0, 3.5))
        pusher.start()
        deadline = time.monotonic() + 30  # hang guard only
        while (pusher.is_alive() or not live or live[-1].n) and time.monotonic() < deadline:
            live.append(source.poll())  # once a frame, as the gallery's loop does
            time.sleep(1.0 / FPS)
        pusher.join(timeout=10)
        for _ in range(int(0.2 * FPS)):
            live.append(source.poll())
            time.sleep(1.0 / FPS)
    finally:
        source.close()
        del outlet
    after = LslSettings().silence.after(RATE)
    first = next(i for i, c in enumerate(live) if c.n)
    stale = next(i for i, c in enumerate(live) if i > first and c.status is Status.STALE)
    last = float(next(c for c in reversed(live[:stale]) if c.n).timestamps[-1])
    # Live: the first frame past last + after, not a frame later, however late polls came.
    assert live[stale].t_end - last > after
    assert live[stale - 1].t_end - last <= after + 1e-3
    # What live received, written as the gallery's recorder would, then replayed.
    got = [c for c in live if c.n]
    stamps = np.concatenate([c.timestamps for c in got])
    data = np.concatenate([c.data for c in got])
    path = tmp_path / "live-gap.xdf"
    with XdfWriter(path) as writer:
        writer.write_samples(writer.add_stream(got[0].info), stamps, data)
    recording = load_recording(path)
    replay_source = RecordingSource(recording, {"ecg": recording.find_stream("ECG")})
    origin = float(recording.find_stream("ECG").timestamps[0]) - float(stamps[0])
    frames = float(stamps[0]) + np.arange(int((stamps[-1] - stamps[0]) * FPS) + 2) / FPS
    replayed = [replay_source.read(float(t) + origin)["ecg"] for t in frames]
    r_stale = next(i for i, c in enumerate(replayed) if c.status is Status.STALE)
    replay_offset = frames[r_stale] - last
    live_offset = live[stale].t_end - last
    live_frame = live[stale].t_end - live[stale - 1].t_end  # the frame live really had
    assert after < replay_offset <= after + 1.0 / FPS + 1e-6
    assert abs(live_offset - replay_offset) <= max(1.0 / FPS, live_frame) + 1e-3
    # The visitor leaves leave_s after that onset in both, at the next frame each one has.
    onsets = {"live": (live, [c.t_end for c in live], stale),
              "replay": (replayed, list(frames), r_stale)}
    for name, (chunks, times, onset) in onsets.items():
        presence = Presence(required=("ecg",), arrive_s=0.5, leave_s=1.0)
        left = None
        for k, (t, chunk) in enumerate(zip(times, chunks, strict=True)):
            changed = presence.update({"ecg": worn(chunk.status, Status.OK)}, float(t))
            if changed and presence.mode == "idle" and left is None and k >= onset:
                left = k
        assert left is not None, name
        waited = times[left] - times[onset]
        assert 1.0 - 1e-3 <= waited <= 1.0 + (times[left] - times[left - 1]) + 1e-3, name
