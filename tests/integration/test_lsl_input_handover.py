"""A live input opens one inlet per stream: samples queued in it are never thrown away by a
second inlet to the same stream (the cause of the flaky Polar bridge test: on a loaded
machine the first RR values were lost)."""

from __future__ import annotations

import time

import pylsl
from _lsl_helpers import Pins, fresh_id

from installation.inputs.lsl import LslInput


def test_samples_sent_before_the_first_poll_all_arrive_through_one_inlet() -> None:
    source = fresh_id("handover")
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo("handover", "RR", 1, 0.0,
                                                 pylsl.cf_float32, source))
    inp = LslInput("rr", Pins(type="RR", source_id=source)).start()
    try:
        assert outlet.wait_for_consumers(20.0), "the input never connected"
        for k in range(5):
            outlet.push_sample([float(k)])
        # Nobody polls for a while (a slow first frame, a busy machine): the resolver keeps
        # running meanwhile and must not open the same stream again.
        time.sleep(2.5)
        for k in range(5, 10):
            outlet.push_sample([float(k)])
        got: list[float] = []
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and len(got) < 10:
            chunk = inp.poll()
            got += chunk.data[:, 0].tolist()
            time.sleep(0.02)
    finally:
        inp.close()
    assert got == [float(k) for k in range(10)]
    assert inp.connections == 1


def test_a_lost_stream_reports_no_rate() -> None:
    import threading

    import numpy as np

    from installation.messages import Status

    source = fresh_id("lost-rate")
    outlets = [pylsl.StreamOutlet(pylsl.StreamInfo("lost-rate", "ECG", 1, 100.0,
                                                   pylsl.cf_float32, source))]
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            outlets[0].push_chunk(np.zeros((10, 1), dtype=np.float32).tolist())
            time.sleep(0.1)

    producer = threading.Thread(target=produce)
    producer.start()
    inp = LslInput("ecg", Pins(type="ECG", source_id=source)).start()
    try:
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and inp.effective_srate < 50.0:
            inp.poll()
            time.sleep(0.05)
        assert inp.effective_srate > 50.0
        stop.set()
        producer.join()
        outlets.clear()  # the producer goes away
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and inp.status is not Status.LOST:
            inp.poll()
            time.sleep(0.05)
        assert inp.status is Status.LOST
        assert inp.effective_srate == 0.0
    finally:
        inp.close()
