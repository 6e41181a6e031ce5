"""What lets a technician leave the piece alone: systemd watchdog, status file, rotating logs.

Nothing here records biometric data: the status file and the logs carry stream health, mode,
frame rate and errors, never feature values.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SystemdNotifier:
    """Send ``sd_notify`` messages (``READY=1``, ``WATCHDOG=1``, ``STATUS=...``).

    The protocol is one datagram to the socket named by ``$NOTIFY_SOCKET``; it is small enough
    that a dependency (``sdnotify``/``systemd-python``) would cost more than these lines.
    Without ``$NOTIFY_SOCKET`` (not under systemd) every call does nothing.
    """

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, message: str) -> None:
        """Send one message; a dead systemd socket must never stop the show."""
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.encode(), self._address)
        except OSError as error:
            logging.getLogger(__name__).warning("sd_notify failed: %s", error)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def write_status_file(path: Path, status: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically with ``status`` as JSON (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(status, handle, indent=2, default=str)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rotating_log(log_dir: Path | None, name: str = "gallery") -> logging.Logger:
    """The ``installation`` logger, writing to ``log_dir/NAME.log`` (5 x 1 MB) and stderr."""
    logger = logging.getLogger("installation")
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):  # a second show in one process replaces, not adds
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stderr = logging.StreamHandler()
    stderr.setFormatter(formatter)
    logger.addHandler(stderr)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            log_dir / f"{name}.log", maxBytes=1_000_000, backupCount=5
        )
        rotating.setFormatter(formatter)
        logger.addHandler(rotating)
    return logger


@dataclass
class FrameStats:
    """Frame pacing over a sliding window, for the status file."""

    window: int = 300
    _times: list[float] = field(default_factory=list)
    presented: int = 0

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.perf_counter() if now is None else now)
        if len(self._times) > self.window:
            del self._times[: len(self._times) - self.window]
        self.presented += 1

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def interval_ms(self, quantile: float) -> float:
        """A quantile of the recent frame-to-frame intervals, in milliseconds."""
        if len(self._times) < 2:
            return 0.0
        intervals = sorted(b - a for a, b in zip(self._times, self._times[1:], strict=False))
        return 1e3 * intervals[min(len(intervals) - 1, int(quantile * len(intervals)))]
