"""OSC round trip on loopback: a real UDP client overrides controls, features come back out."""

from __future__ import annotations

import queue
import threading
import time

from pythonosc.dispatcher import Dispatcher
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
