"""OSC in and out (python-osc), so TouchDesigner, Max, a MIDI bridge or a phone can join in.

In (default ``127.0.0.1:9000``):

* ``/control/NAME f`` holds control NAME at ``f`` until cleared;
* ``/control/NAME/nudge f`` adds ``f`` to whatever the body gives (cumulative, until cleared);
* ``/control/NAME/clear`` and ``/control/clear`` hand control back to the body;
* ``/prompt NAME "text"`` gives mood NAME a new diffusion prompt (rehearsal; issue 12).

Out (default ``127.0.0.1:9001``, only when a target is configured): ``/feature/STREAM/NAME f``
for every feature, ``/control/NAME f`` for every control, ``/status/STREAM s`` for stream health.

Both bind to localhost unless the show opts in: features are a visitor's body.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from installation.messages import Controls, Features

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OscSettings:
    """Where OSC listens and sends."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 9000
    send_host: str = "127.0.0.1"
    send_port: int | None = None  # None: send nothing


class OscBridge:
    """Receives control overrides on a server thread; applies them and sends features out.

    Parameters
    ----------
    settings
        Addresses. Port 0 listens on a free port (see :attr:`port`), for tests.
    """

    def __init__(self, settings: OscSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._hold: dict[str, float] = {}
        self._nudge: dict[str, float] = {}
        dispatcher = Dispatcher()
        dispatcher.map("/control/clear", self._on_clear_all)
        dispatcher.map("/control/*", self._on_control)
        # diffusion (issue 12): live prompting; whoever owns the generator sets the handler.
        self.prompt_handler: Callable[[str, str], None] | None = None
        dispatcher.map("/prompt", self._on_prompt)
        self._server = ThreadingOSCUDPServer((settings.listen_host, settings.listen_port),
                                             dispatcher)
        self._thread = threading.Thread(target=self._server.serve_forever, name="osc-in",
                                        daemon=True)
        self._client = (SimpleUDPClient(settings.send_host, settings.send_port)
                        if settings.send_port is not None else None)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> OscBridge:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OscBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- in -------------------------------------------------------------------------------
    def _on_control(self, address: str, *args: object) -> None:
        parts = address.strip("/").split("/")  # control, NAME[, nudge|clear]
        if len(parts) < 2 or not parts[1]:
            return
        name, verb = parts[1], parts[2] if len(parts) > 2 else "set"
        with self._lock:
            if verb == "clear":
                self._hold.pop(name, None)
                self._nudge.pop(name, None)
                return
            value = _finite(args)
            if value is None:
                _log.warning("OSC %s: expected one finite number, got %r", address, args)
            elif verb == "set":
                self._hold[name] = value
            elif verb == "nudge":
                self._nudge[name] = self._nudge.get(name, 0.0) + value

    def _on_prompt(self, address: str, *args: object) -> None:
        if len(args) != 2 or not all(isinstance(a, str) for a in args):
            _log.warning('OSC %s: expected NAME "text" (two strings), got %r', address, args)
            return
        handler = self.prompt_handler
        if handler is None:
            _log.warning("OSC %s: no generator here takes prompts", address)
            return
        handler(str(args[0]), str(args[1]))

    def _on_clear_all(self, _address: str, *_args: object) -> None:
        with self._lock:
            self._hold.clear()
            self._nudge.clear()

    def apply(self, controls: Controls) -> Controls:
        """``controls`` with the OSC holds and nudges applied (the body's values otherwise)."""
        with self._lock:
            if not self._hold and not self._nudge:
                return controls
            values = dict(controls.values)
            values.update(self._hold)
            for name, delta in self._nudge.items():
                values[name] = values.get(name, 0.0) + delta
        return Controls(t=controls.t, values=values, stream_status=controls.stream_status)

    # -- out ------------------------------------------------------------------------------
    def send(self, features: Mapping[str, Features], controls: Controls) -> None:
        """Send every feature, control and stream status (no-op without a send port)."""
        if self._client is None:
            return
        try:
            for key, feature in features.items():
                self._client.send_message(f"/status/{key}", feature.status.value)
                for name, value in feature.values.items():
                    self._client.send_message(f"/feature/{key}/{name}", float(value))
            for name, value in controls.values.items():
                self._client.send_message(f"/control/{name}", float(value))
        except OSError as error:  # nobody listening must never stop the show
            _log.warning("OSC send failed: %s", error)


def _finite(args: tuple[object, ...]) -> float | None:
    if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], int | float):
        return None
    value = float(args[0])
    return value if math.isfinite(value) else None
