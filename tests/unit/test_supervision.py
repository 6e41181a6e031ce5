"""Kiosk supervision: sd_notify datagrams, status file, frame stats."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from installation.modes.supervision import FrameStats, SystemdNotifier, write_status_file


def test_notifier_sends_datagrams_to_the_notify_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(address)
    server.settimeout(2.0)
    notifier = SystemdNotifier(address)
    notifier.notify("READY=1")
    notifier.notify("WATCHDOG=1")
    assert server.recv(64) == b"READY=1"
    assert server.recv(64) == b"WATCHDOG=1"
    notifier.close()
    server.close()


def test_notifier_outside_systemd_does_nothing() -> None:
    notifier = SystemdNotifier("")
    assert not notifier.enabled
    notifier.notify("WATCHDOG=1")  # no socket, no error


def test_notifier_survives_a_vanished_socket(tmp_path: Path) -> None:
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))
    notifier.notify("WATCHDOG=1")  # logged, not raised: systemd going away must not stop a show


def test_status_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "run" / "status.json"
    write_status_file(path, {"mode": "idle", "fps": 30.0})
    write_status_file(path, {"mode": "visitor", "fps": 29.5})
    assert json.loads(path.read_text()) == {"mode": "visitor", "fps": 29.5}
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]


def test_frame_stats_measure_fps_over_the_window() -> None:
    stats = FrameStats(window=10)
    for i in range(20):
        stats.tick(now=i / 30)
    assert stats.presented == 20
    assert abs(stats.fps - 30.0) < 1e-6
    assert abs(stats.interval_ms(0.5) - 1e3 / 30) < 1e-6


def test_frame_stats_p99_catches_a_stall() -> None:
    stats = FrameStats(window=200)
    t = 0.0
    for i in range(150):
        t += 0.5 if i in (50, 100) else 1 / 30  # 2 stalls in 149 intervals: above p99
        stats.tick(now=t)
    assert stats.interval_ms(0.5) < 40
    assert stats.interval_ms(0.99) == 500.0
