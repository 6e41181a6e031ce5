"""Live LSL input against a network that misbehaves: failed opens, third-party type spellings."""

from __future__ import annotations

import pylsl
from _lsl_helpers import fresh_id, poll_until, start_producer, stop

import installation.inputs.lsl as lsl_module
from installation.inputs.lsl import LslInput
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
