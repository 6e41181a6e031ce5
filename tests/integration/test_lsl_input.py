"""Live LSL input on loopback, against simulator processes (real outlets, real inlets)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from _lsl_helpers import Pins, fresh_id, joined, poll_until, start_producer, stop

from installation.inputs.lsl import LslInput, LslSettings, lsl_predicate
from installation.messages import Status
from installation.show import StreamSpec


def _statuses(chunks) -> list[str]:
    return [c.status.value for c in chunks]


def test_simulated_streams_arrive_without_loss_duplication_or_reordering_on_exact_stamps():
    sid = fresh_id("t-complete")
    proc, hello = start_producer(
        "sensors.simulate", "--streams", "ecg,eeg,rr", "--index", "--source-id", sid,
        "--duration", "30",
    )
    inputs = {
        "ecg": LslInput("ecg", StreamSpec(type="ECG", source_id=f"{sid}-ecg")).start(),
        "eeg": LslInput("eeg", StreamSpec(type="EEG", source_id=f"{sid}-eeg")).start(),
        "rr": LslInput("rr", Pins(type="RR", source_id=f"{sid}-rr")).start(),
    }
    try:
        # Run until at least 4 RR intervals have come in (about 4 s of data).
        chunks = poll_until(inputs, lambda c: sum(x.n for x in c["rr"]) >= 4, timeout=15)
    finally:
        for source in inputs.values():
            source.close()
        stop(proc)
    for key, rate in (("ecg", 250.0), ("eeg", 256.0)):
        ts, data = joined(chunks[key])
        index = data[:, -1]
        assert index.shape[0] > 2 * rate, key
        assert np.array_equal(np.diff(index), np.ones(index.shape[0] - 1)), key
        expected = hello["t0"] + index / rate
        assert np.max(np.abs(ts - expected)) < 0.002, key
        assert abs(inputs[key].effective_srate - rate) < 0.01 * rate
        assert inputs[key].info.channel_labels[-1] == "sample_index"
    ts, data = joined(chunks["rr"])
    beats = data[:, 1]
    assert np.array_equal(np.diff(beats), np.ones(beats.shape[0] - 1))
    # Irregular stream: each RR sample is stamped at its beat, and RR = gap between beats (ms).
    assert np.allclose(np.diff(ts) * 1000.0, data[1:, 0], atol=2.0)
    assert inputs["eeg"].info.channel_labels[:2] == ("Fp1", "Fp2")


def test_input_reports_lost_then_ok_within_5_s_when_the_producer_is_killed_and_restarted():
    sid = fresh_id("t-restart")
    args = ("sensors.simulate", "--streams", "ecg", "--source-id", sid, "--duration", "60")
    proc, _ = start_producer(*args)
    source = LslInput("ecg", StreamSpec(type="ECG", source_id=f"{sid}-ecg")).start()
    try:
        ok = poll_until({"s": source}, lambda c: c["s"][-1].status == Status.OK, 10)
        assert ok["s"][-1].status == Status.OK
        proc.kill()
        t_kill = time.monotonic()
        lost = poll_until({"s": source}, lambda c: c["s"][-1].status == Status.LOST, 5)
        assert lost["s"][-1].status == Status.LOST, _statuses(lost["s"])[-3:]
        assert "lost" in lost["s"][-1].reason
        assert time.monotonic() - t_kill < 5
        proc.wait()
        proc, _ = start_producer(*args)
        t_back = time.monotonic()
        back = poll_until(
            {"s": source}, lambda c: c["s"][-1].status == Status.OK and c["s"][-1].n > 0, 5
        )
        assert back["s"][-1].status == Status.OK
        assert time.monotonic() - t_back < 5
        assert source.connections == 2
    finally:
        source.close()
        stop(proc)


def test_a_new_matching_device_takes_over_after_the_first_one_leaves():
    name = fresh_id("visitor")
    first, _ = start_producer("sensors.simulate", "--streams", "ecg", "--name", name,
                              "--source-id", fresh_id("dev-a"), "--duration", "60")
    source = LslInput("ecg", StreamSpec(type="ECG", name=f"{name}-ecg")).start()
    second = None
    try:
        poll_until({"s": source}, lambda c: c["s"][-1].status == Status.OK, 10)
        first_id = source.info.source_id
        stop(first)
        poll_until({"s": source}, lambda c: c["s"][-1].status == Status.LOST, 5)
        second, _ = start_producer("sensors.simulate", "--streams", "ecg", "--name", name,
                                   "--source-id", fresh_id("dev-b"), "--duration", "60")
        back = poll_until({"s": source}, lambda c: c["s"][-1].n > 0, 5)
        assert back["s"][-1].status == Status.OK
        assert source.info.source_id != first_id
    finally:
        source.close()
        stop(first)
        if second is not None:
            stop(second)


def test_pins_keep_a_strangers_stream_of_the_same_type_out():
    stranger, _ = start_producer("sensors.simulate", "--streams", "ecg",
                                 "--source-id", fresh_id("stranger"), "--duration", "30")
    source = LslInput("ecg", StreamSpec(type="ECG", source_id=fresh_id("ours"))).start()
    try:
        chunks = poll_until({"s": source}, lambda c: c["s"][-1].n > 0, 3)
        assert all(c.status == Status.LOST and c.n == 0 for c in chunks["s"])
        assert source.connections == 0
    finally:
        source.close()
        stop(stranger)


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_silent_but_connected_stream_is_stale_and_ok_again_when_data_resumes():
    sid = fresh_id("t-stale")
    proc, _ = start_producer("sensors.simulate", "--streams", "ecg", "--source-id", sid,
                             "--duration", "60")
    settings = LslSettings(min_stale_s=0.3, stale_intervals=25)
    source = LslInput("ecg", StreamSpec(type="ECG", source_id=f"{sid}-ecg"), settings).start()
    try:
        poll_until({"s": source}, lambda c: c["s"][-1].n > 0, 10)
        os.kill(proc.pid, signal.SIGSTOP)  # connection stays open, data stops
        stale = poll_until({"s": source}, lambda c: c["s"][-1].status == Status.STALE, 3)
        assert stale["s"][-1].status == Status.STALE
        assert stale["s"][-1].t_end > 0 and stale["s"][-1].n == 0
        os.kill(proc.pid, signal.SIGCONT)
        back = poll_until({"s": source}, lambda c: c["s"][-1].n > 0, 3)
        assert back["s"][-1].status == Status.OK
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        source.close()
        stop(proc)


def test_predicate_pins_every_given_field_and_quotes_safely():
    spec = StreamSpec(type="ECG", name="Polar H10's ECG", source_id="h10-1", hostname="kiosk")
    fold = "translate(type,'abcdefghijklmnopqrstuvwxyz','ABCDEFGHIJKLMNOPQRSTUVWXYZ')"
    assert lsl_predicate(spec) == (
        f"{fold}='ECG' and name=\"Polar H10's ECG\" and source_id='h10-1' and hostname='kiosk'"
    )
    assert lsl_predicate(StreamSpec(type="eeg")) == f"{fold}='EEG'"


def test_scripted_visitor_leaving_and_returning_reads_lost_then_ok():
    sid = fresh_id("t-visit")
    proc, _ = start_producer("sensors.simulate", "--streams", "ecg", "--source-id", sid,
                             "--script", "5:leave;6:arrive", "--duration", "30")
    source = LslInput("ecg", StreamSpec(type="ECG", source_id=f"{sid}-ecg")).start()
    try:
        seen = poll_until({"s": source}, lambda c: c["s"][-1].n > 0, 4.5)
        assert seen["s"][-1].status == Status.OK
        gone = poll_until({"s": source}, lambda c: c["s"][-1].status == Status.LOST, 5)
        assert gone["s"][-1].status == Status.LOST
        back = poll_until({"s": source}, lambda c: c["s"][-1].n > 0, 5)
        assert back["s"][-1].status == Status.OK
        assert source.connections == 2
    finally:
        source.close()
        stop(proc)
