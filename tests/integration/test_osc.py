"""OSC round trip on loopback: a real UDP client overrides controls, features come back out."""

from __future__ import annotations

import queue
import threading
import time

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import ThreadingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from installation.messages import Controls, Features, Status
from installation.osc import OscBridge, OscOut, OscSettings

BODY = Controls(t=1.0, values={"calm": 0.2, "pulse": 0.5})
RANGES = {"calm": (0.0, 1.0), "pulse": (0.0, 1.0)}


def wait_until(test, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.01)
    return False


def test_osc_holds_nudges_and_clears_controls() -> None:
    with OscBridge(OscSettings(listen_port=0), RANGES) as bridge:
        client = SimpleUDPClient("127.0.0.1", bridge.port)
        client.send_message("/control/calm", 0.9)
        # OSC floats are 32-bit, hence the tolerance.
        assert wait_until(lambda: abs(bridge.apply(BODY).get("calm") - 0.9) < 1e-6)
        client.send_message("/control/pulse/nudge", 0.25)
        assert wait_until(lambda: bridge.apply(BODY).get("pulse") == 0.75)
        client.send_message("/control/calm/clear", [])
        assert wait_until(lambda: bridge.apply(BODY).get("calm") == 0.2)
        client.send_message("/control/clear", [])
        assert wait_until(lambda: bridge.apply(BODY) is BODY)


def test_osc_ignores_non_numbers_and_nan() -> None:
    with OscBridge(OscSettings(listen_port=0), RANGES) as bridge:
        client = SimpleUDPClient("127.0.0.1", bridge.port)
        client.send_message("/control/calm", "very")
        client.send_message("/control/calm", float("nan"))
        client.send_message("/control/pulse", 0.1)  # a sentinel that does arrive
        assert wait_until(lambda: abs(bridge.apply(BODY).get("pulse") - 0.1) < 1e-6)
        assert bridge.apply(BODY).get("calm") == 0.2


def test_osc_sends_features_controls_and_status_out() -> None:
    received: queue.Queue[tuple[str, object]] = queue.Queue()
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.put((address, args[0])))
    listener = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    try:
        out = OscOut("127.0.0.1", listener.server_address[1])
        features = {"ecg": Features(stream="ecg", t=1.0, values={"heart_rate": 72.0},
                                    status=Status.OK)}
        out.send(features, BODY)
        got = {}
        while len(got) < 4:
            address, value = received.get(timeout=3.0)
            got[address] = value
        assert got["/status/ecg"] == "ok"
        assert abs(got["/feature/ecg/heart_rate"] - 72.0) < 1e-4
        assert abs(got["/control/calm"] - 0.2) < 1e-6
    finally:
        listener.shutdown()
        listener.server_close()


def test_osc_listens_on_localhost_by_default() -> None:
    assert OscSettings().listen_host == "127.0.0.1"
    with OscBridge(OscSettings(listen_port=0), RANGES) as bridge:
        assert bridge._server.server_address[0] == "127.0.0.1"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_only_the_shows_controls_are_accepted() -> None:
    with OscBridge(OscSettings(listen_port=0), RANGES) as bridge:
        client = SimpleUDPClient("127.0.0.1", bridge.port)
        for i in range(50):
            client.send_message(f"/control/flood{i}", 0.5)
        client.send_message("/control/calm/nudge/extra", 0.5)
        client.send_message("/control/pulse", 0.1)  # a sentinel that does arrive
        assert wait_until(lambda: abs(bridge.apply(BODY).get("pulse") - 0.1) < 1e-6)
        applied = bridge.apply(BODY)
        assert set(applied.values) == set(BODY.values) and applied.get("calm") == 0.2
        assert bridge.ignored == 51


def test_held_and_nudged_values_are_clamped_to_the_controls_range() -> None:
    with OscBridge(OscSettings(listen_port=0), RANGES) as bridge:
        client = SimpleUDPClient("127.0.0.1", bridge.port)
        huge = OscMessageBuilder("/control/calm")
        huge.add_arg(1e300, "d")  # a double: a 32-bit float cannot hold it
        client.send(huge.build())
        assert wait_until(lambda: bridge.apply(BODY).get("calm") == 1.0)
        for _ in range(100):  # a runaway nudge stays within the range
            client.send_message("/control/pulse/nudge", 3.0)
        client.send_message("/control/pulse/nudge", -0.75)
        # The offset stopped at the range's span (1.0), so 1.0 - 0.75 is left of it.
        assert wait_until(lambda: bridge.apply(BODY).get("pulse") == 0.75)


def test_holds_expire_after_hold_s_and_zero_means_forever() -> None:
    clock = FakeClock()
    for hold_s, expected in ((30.0, 0.2), (0.0, 0.9)):
        with OscBridge(OscSettings(listen_port=0, hold_s=hold_s), RANGES, clock=clock) as bridge:
            SimpleUDPClient("127.0.0.1", bridge.port).send_message("/control/calm", 0.9)
            assert wait_until(lambda b=bridge: abs(b.apply(BODY).get("calm") - 0.9) < 1e-6)
            clock.t += 29.0
            assert abs(bridge.apply(BODY).get("calm") - 0.9) < 1e-6
            clock.t += 2.0
            assert abs(bridge.apply(BODY).get("calm") - expected) < 1e-6


def test_bad_messages_are_counted_and_warned_about_a_few_times(caplog) -> None:
    bridge = OscBridge(OscSettings(listen_port=None), RANGES)  # fed directly: no UDP loss
    bad = OscMessageBuilder("/control/calm")
    bad.add_arg("very")
    with caplog.at_level("WARNING", logger="installation.osc"):
        for _ in range(2200):
            bridge.receive(bad.build().dgram)
    assert bridge.ignored == 2200
    assert len([r for r in caplog.records if r.name == "installation.osc"]) == 1


def test_osc_out_skips_what_osc_cannot_carry_and_never_raises() -> None:
    received: queue.Queue[tuple[str, object]] = queue.Queue()
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.put((address, args[0])))
    listener = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        out = OscOut("127.0.0.1", listener.server_address[1])
        huge = {"ecg": Features(stream="ecg", t=1.0, status=Status.OK, values={
            "a": 1e300, "d": -1e39, "e": 2.5})}
        out.send(huge, Controls(t=1.0, values={"calm": 1e300, "pulse": 0.5}))  # no raise
        got = {}
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and len(got) < 3:
            try:
                address, value = received.get(timeout=0.5)
            except queue.Empty:
                continue
            got[address] = value
        assert set(got) == {"/status/ecg", "/feature/ecg/e", "/control/pulse"}
    finally:
        listener.shutdown()
        listener.server_close()
    # Nobody listening at all: still no exception.
    OscOut("127.0.0.1", 9).send(huge, Controls(t=1.0, values={"calm": 0.5}))


def test_a_seeded_flood_of_garbage_keeps_every_control_finite_and_in_range() -> None:
    import numpy as np

    from tests.fuzz_inputs import osc_garbage

    bridge = OscBridge(OscSettings(listen_port=None), RANGES)
    for i, datagram in enumerate(osc_garbage(np.random.default_rng(5), tuple(RANGES), 20_000)):
        bridge.receive(datagram)  # never raises
        if i % 50 == 49:
            values = bridge.apply(BODY).values
            assert all(0.0 <= values[k] <= 1.0 for k in RANGES), values
    assert bridge.ignored > 5_000
    bridge.receive(OscMessageBuilder("/control/clear").build().dgram)
    assert bridge.apply(BODY) is BODY


def test_well_formed_rejects_what_python_osc_would_log_about() -> None:
    from installation.osc import well_formed

    assert well_formed(b"/control/calm\x00\x00\x00,f\x00\x00\x3f\x00\x00\x00")
    assert not well_formed(b"/control/calm\x00\x00\x00,Q\x00\x00")  # unknown type tag
    assert not well_formed(b"#bundle\x00" + bytes(8) + b"\x00\x00\x00\x04abcd")
    assert not well_formed(b"garbage")
