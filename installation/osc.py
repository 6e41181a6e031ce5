"""OSC in and out (python-osc), so TouchDesigner, Max, a MIDI bridge or a phone can join a
rehearsal (``installation rehearse --osc-in PORT --osc-out PORT``; ``--osc-in 0``: no input).

In (default ``127.0.0.1:9000``), only for the show's own controls (those its mappings and
``[idle]`` produce):

* ``/control/NAME f`` holds control NAME at ``f``;
* ``/control/NAME/nudge f`` adds ``f`` to whatever the body gives (cumulative);
* ``/control/NAME/clear`` and ``/control/clear`` hand control back to the body.

A held or nudged value is clamped to the control's range (the span of its mappings'
``out_range`` and idle values). Holds and nudges expire ``hold_s`` seconds after the last
message for that control (default 60 s; 0: never), so a sender that died does not hold the
piece for good. Anything else (an unknown name, another address, not exactly one finite
number, a malformed datagram) is ignored and counted; a warning says how many, at most once
every few seconds.

Out (only when a target port is given): ``/feature/STREAM/NAME f`` for every finite feature,
``/control/NAME f`` for every control, ``/status/STREAM s`` for stream health, each frame.
Sending never raises: nobody listening, or a value OSC cannot carry, must not end a show.

Both bind to 127.0.0.1: features are a visitor's body.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from installation.messages import Chunk, Controls, Features
from installation.runtime import SinkPart
from installation.show import Show

__all__ = ["OscBridge", "OscOut", "OscSettings", "control_ranges"]

_log = logging.getLogger(__name__)
FLOAT32_MAX = 3.4028234663852886e38
WARN_EVERY_S = 5.0


@dataclass(frozen=True)
class OscSettings:
    """Where OSC listens and sends, and how long an override lasts.

    Parameters
    ----------
    listen_port
        UDP port for control input; 0 picks a free one (see :attr:`OscBridge.port`);
        ``None``: no input.
    send_port
        Where features and controls go each frame; ``None``: nowhere.
    hold_s
        Seconds a hold or nudge lasts after the last message for its control; 0: forever.
    """

    listen_host: str = "127.0.0.1"
    listen_port: int | None = 9000
    send_host: str = "127.0.0.1"
    send_port: int | None = None
    hold_s: float = 60.0


def control_ranges(show: Show) -> dict[str, tuple[float, float]]:
    """The show's controls and the range each can take (what OSC may set)."""
    ranges: dict[str, tuple[float, float]] = {}

    def widen(name: str, *values: float) -> None:
        lo, hi = ranges.get(name, (math.inf, -math.inf))
        ranges[name] = (min(lo, *values), max(hi, *values))

    for mapping in show.mappings:
        widen(mapping.control, *mapping.out_range, mapping.idle)
    for name, value in show.idle.controls.items():
        widen(name, value)
    if show.idle.breath_control:
        widen(show.idle.breath_control, 0.0, show.idle.breath_depth)
    return ranges


_TYPE_TAGS = frozenset("ihfdsbrmtTFN[]")
_MAX_NESTING = 8


def well_formed(datagram: bytes, depth: int = 0) -> bool:
    """Whether python-osc can parse ``datagram`` without logging about it: a message whose
    type tags it knows, or a bundle (nested at most a few deep) of such messages.

    Written by hand because python-osc logs every unknown type tag and bundle element on
    the root logger, one line each: a flood of garbage would become a flood of lines.
    """
    if datagram.startswith(b"#bundle\x00"):
        if depth >= _MAX_NESTING or len(datagram) < 16:
            return False
        pos = 16
        while pos < len(datagram):
            if pos + 4 > len(datagram):
                return False
            size = int.from_bytes(datagram[pos:pos + 4], "big", signed=True)
            pos += 4
            if size <= 0 or pos + size > len(datagram):
                return False
            if not well_formed(datagram[pos:pos + size], depth + 1):
                return False
            pos += size
        return True
    if not datagram.startswith(b"/"):
        return False
    end = datagram.find(b"\x00")
    if end < 0:
        return False
    tags_at = (end // 4 + 1) * 4
    if tags_at >= len(datagram):
        return True  # no arguments
    tags_end = datagram.find(b"\x00", tags_at)
    tags = datagram[tags_at:tags_end if tags_end >= 0 else len(datagram)]
    return (tags.startswith(b",") and tags_end >= 0
            and all(chr(c) in _TYPE_TAGS for c in tags[1:]))


class _Server(BlockingOSCUDPServer):
    """One thread handles the datagrams in turn (a flood queues in the socket instead of
    spawning a thread per message); a datagram python-osc would choke or log on is counted
    as bad instead, and an error in its parsing is counted, not printed as a traceback."""

    on_error: Callable[[str], None] = staticmethod(lambda _why: None)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if not well_formed(request[0]):
            self.on_error(f"malformed datagram ({request[0][:32]!r})")
            return False
        return True

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        self.on_error(f"undecodable datagram ({sys.exc_info()[1]!r})")


class OscBridge:
    """Receives control overrides on a server thread; :meth:`apply` puts them on the controls.

    Parameters
    ----------
    settings
        Addresses and the hold timeout.
    controls
        The controls OSC may set, with their ranges (:func:`control_ranges`).
    clock
        Monotonic seconds for the hold timeout, swappable for tests.
    """

    def __init__(self, settings: OscSettings, controls: Mapping[str, tuple[float, float]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.controls = dict(controls)
        self.clock = clock
        self.ignored = 0  # bad messages over the whole run
        self._lock = threading.Lock()
        self._hold: dict[str, tuple[float, float]] = {}  # name -> (value, last message time)
        self._nudge: dict[str, tuple[float, float]] = {}
        self._unwarned = 0
        self._last_bad = ""
        self._warned_at = -math.inf
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # strict_timing off: a bundle time-tagged far ahead must not park the thread.
        self._dispatcher = Dispatcher(strict_timing=False)
        self._dispatcher.set_default_handler(self._on_message)
        if settings.listen_port is not None:
            self._server = _Server((settings.listen_host, settings.listen_port),
                                   self._dispatcher)
            self._server.on_error = self._bad
            self._thread = threading.Thread(target=self._server.serve_forever, name="osc-in",
                                            daemon=True)

    @property
    def port(self) -> int:
        """The port OSC input listens on (0 when there is no input)."""
        return 0 if self._server is None else int(self._server.server_address[1])

    def start(self) -> OscBridge:
        if self._thread is not None:
            self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            if self._thread is not None and self._thread.is_alive():
                self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OscBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- in -------------------------------------------------------------------------------
    def receive(self, datagram: bytes) -> None:
        """Handle one datagram as if it had arrived on the socket (tools, fuzzers)."""
        if not well_formed(datagram):
            self._bad(f"malformed datagram ({datagram[:32]!r})")
            return
        try:
            self._dispatcher.call_handlers_for_packet(datagram, ("127.0.0.1", 0))
        except Exception as error:  # what the server's handle_error counts
            self._bad(f"undecodable datagram ({error!r})")

    def _on_message(self, address: object, *args: object) -> None:
        parts = address.split("/") if isinstance(address, str) else []
        # "", "control", NAME[, "nudge" | "clear"], or "", "control", "clear"
        if len(parts) not in (3, 4) or parts[0] != "" or parts[1] != "control":
            self._bad(f"unknown address {address!r}")
            return
        if len(parts) == 3 and parts[2] == "clear":
            with self._lock:
                self._hold.clear()
                self._nudge.clear()
            return
        name, verb = parts[2], parts[3] if len(parts) == 4 else "set"
        if name not in self.controls or verb not in ("set", "nudge", "clear"):
            self._bad(f"{address!r}: not a control of this show or not set/nudge/clear")
            return
        if verb == "clear":
            with self._lock:
                self._hold.pop(name, None)
                self._nudge.pop(name, None)
            return
        value = _finite(args)
        if value is None:
            self._bad(f"{address!r}: expected one finite number, got {args!r:.80}")
            return
        lo, hi = self.controls[name]
        now = self.clock()
        with self._lock:
            if verb == "set":
                self._hold[name] = (float(min(hi, max(lo, value))), now)
            else:
                # Bounded so that a stream of nudges cannot wind the offset up without end.
                span = hi - lo
                total = self._nudge.get(name, (0.0, now))[0] + value
                self._nudge[name] = (float(min(span, max(-span, total))), now)

    def _bad(self, why: str) -> None:
        # One line per few seconds, however many bad messages arrive.
        with self._lock:
            self.ignored += 1
            self._unwarned += 1
            self._last_bad = why
            now = self.clock()
            if now - self._warned_at < WARN_EVERY_S:
                return
            count, self._unwarned, self._warned_at = self._unwarned, 0, now
        _log.warning("OSC: ignored %d bad message(s) (last: %s)", count, why)

    def apply(self, controls: Controls) -> Controls:
        """``controls`` with the OSC holds and nudges applied (the body's values otherwise)."""
        with self._lock:
            self._expire()
            if not self._hold and not self._nudge:
                return controls
            values = dict(controls.values)
            for name, (value, _) in self._hold.items():
                values[name] = value
            for name, (delta, _) in self._nudge.items():
                lo, hi = self.controls[name]
                base = values.get(name, lo)
                values[name] = min(hi, max(lo, base + delta)) if math.isfinite(base) else lo
        return Controls(t=controls.t, values=values, stream_status=controls.stream_status)

    def _expire(self) -> None:
        if self.settings.hold_s <= 0:
            return
        cutoff = self.clock() - self.settings.hold_s
        for table in (self._hold, self._nudge):
            for name in [n for n, (_, at) in table.items() if at < cutoff]:
                del table[name]


class OscOut(SinkPart):
    """Sends every frame's features, controls and stream status; never raises."""

    def __init__(self, host: str, port: int) -> None:
        self._client = SimpleUDPClient(host, port)
        self._failures = 0

    def show(self, step: object, chunks: Mapping[str, Chunk]) -> None:
        self.send(step.features, step.controls)  # type: ignore[attr-defined]

    def send(self, features: Mapping[str, Features], controls: Controls) -> None:
        """Send every finite feature, every control and every stream's status."""
        try:
            for key, feature in features.items():
                self._client.send_message(f"/status/{key}", feature.status.value)
                for name, value in feature.values.items():
                    if _sendable(value):
                        self._client.send_message(f"/feature/{key}/{name}", float(value))
            for name, value in controls.values.items():
                if _sendable(value):
                    self._client.send_message(f"/control/{name}", float(value))
        except Exception as error:  # nobody listening, a full buffer: never stop the show
            self._failures += 1
            if self._failures <= 3 or self._failures % 1000 == 0:
                _log.warning("OSC send failed (%d so far): %s", self._failures, error)


def _sendable(value: object) -> bool:
    # OSC floats are 32-bit: a larger value cannot be packed ("float too large to pack").
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and abs(number) <= FLOAT32_MAX


def _finite(args: tuple[object, ...]) -> float | None:
    if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], int | float):
        return None
    try:
        value = float(args[0])
    except OverflowError:  # an OSC int64 beyond float range cannot happen; a Python int can
        return None
    return value if math.isfinite(value) else None
