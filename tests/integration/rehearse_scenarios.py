"""Rehearsal scenarios, each run in a fresh process by ``test_rehearse.py``.

A pyglet/GLX window cannot share a process with the EGL context the GL tests keep for the
session, so every window scenario gets its own interpreter. Each function asserts what it
proves; ``python rehearse_scenarios.py NAME`` exits 0 only when it held.
"""

from __future__ import annotations

import math
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

import numpy as np
import pytest
from _lsl_helpers import pin_default_show
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from installation.modes.rehearse import Rehearsal, RehearsalOptions
from installation.osc import OscSettings, control_ranges
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"


def make_artist_show(folder: Path) -> Path:
    """A copy of the default piece the scenario can edit, as an artist would."""
    (folder / "shaders").mkdir()
    for shader in (REPO / "shaders").glob("*.*"):
        (folder / "shaders" / shader.name).write_text(shader.read_text())
    text = (REPO / "show.toml").read_text().replace("size = [640, 360]", "size = [160, 90]")
    # The generator and the simulation pass small too: the scenarios test the rehearsal, not
    # the piece, and every frame a loaded machine spends on the garden delays the next key.
    text = re.sub(r"(?<!\[output\]\n)^size = \[\d+, \d+\]$", "size = [96, 54]", text,
                  flags=re.M)
    (folder / "show.toml").write_text(text)
    return folder / "show.toml"


def keys_pause_seek_and_speed(artist_show: Path) -> None:
    rehearsal = Rehearsal(load_show(artist_show), DEMO, RehearsalOptions())
    try:
        for _ in range(3):
            rehearsal.step()
        rehearsal.press("pause")
        paused_at = rehearsal.clock.now()
        time.sleep(0.2)
        rehearsal.step()
        assert rehearsal.clock.now() == paused_at
        rehearsal.press("forward")
        rehearsal.press("forward")
        assert rehearsal.clock.now() == pytest.approx(paused_at + 10.0)
        frame = rehearsal.step()
        assert frame.t == pytest.approx(paused_at + 10.0)
        rehearsal.press("back")
        assert rehearsal.clock.now() == pytest.approx(paused_at + 5.0)
        rehearsal.press("faster")
        assert rehearsal.clock.speed == 2.0
        rehearsal.press("slower")
        rehearsal.press("slower")
        assert rehearsal.clock.speed == 0.5
        rehearsal.press("hud")
        assert rehearsal.hud is False
        rehearsal.press("quit")
        assert rehearsal.quit
    finally:
        rehearsal.close()


def edited_shader_applies_within_a_second_and_a_broken_one_keeps_running(
    artist_show: Path,
) -> None:
    rehearsal = Rehearsal(load_show(artist_show), DEMO, RehearsalOptions())
    rehearsal.press("hud")  # HUD off: compare the picture itself
    shader = artist_show.parent / "shaders" / "pulse.frag"
    original = shader.read_text()
    try:
        rehearsal.press("pause")
        before = rehearsal.step().pixels.astype(float)
        # The artist turns the final colour negative.
        shader.write_text(original.replace("f_color = vec4(clamp(col, 0.0, 1.0), 1.0);",
                                           "f_color = vec4(1.0 - clamp(col, 0.0, 1.0), 1.0);"))
        deadline = time.monotonic() + 1.0
        changed = False
        while time.monotonic() < deadline and not changed:
            after = rehearsal.step().pixels.astype(float)
            changed = np.abs(after - before).mean() > 40
        assert changed, "an edited shader did not apply within 1 s"
        good = after

        shader.write_text(original.replace("void main() {", "void main() { float broken = ;"))
        time.sleep(0.3)
        shown = rehearsal.step()
        for _ in range(3):
            shown = rehearsal.step()
        assert rehearsal.shader_watch.error is not None
        assert "pulse.frag" in rehearsal.shader_watch.error
        # The last good program is still drawing (the picture under the overlay)...
        drawn = rehearsal.last_step.frame.pixels.astype(float)
        # (feedback trails keep evolving even while paused, so compare distances).
        assert np.abs(drawn - good).mean() < 0.3 * np.abs(drawn - before).mean()
        # ...and the presented frame carries the error on a red bar at the top.
        top_row = shown.pixels[1].astype(float)
        assert top_row[:, 0].mean() > 120 and top_row[:, 1].mean() < 60  # red bar
    finally:
        rehearsal.close()


def osc_nudges_a_control_during_rehearsal(artist_show: Path) -> None:
    options = RehearsalOptions(osc=OscSettings(listen_port=0))
    rehearsal = Rehearsal(load_show(artist_show), DEMO, options)
    try:
        rehearsal.step()
        SimpleUDPClient("127.0.0.1", rehearsal.osc.port).send_message("/control/calm", 0.97)
        deadline = time.monotonic() + 3.0
        calm = 0.0
        while time.monotonic() < deadline and abs(calm - 0.97) > 1e-3:
            rehearsal.step()
            calm = rehearsal.last_step.controls.get("calm")
        assert calm == pytest.approx(0.97, abs=1e-3)
    finally:
        rehearsal.close()


def saved_mood_lands_in_the_show_and_loads_back(artist_show: Path) -> None:
    rehearsal = Rehearsal(load_show(artist_show), DEMO, RehearsalOptions())
    try:
        rehearsal.step()
        rehearsal.step()
        expected = rehearsal.pipeline.generator.latent.float().numpy()
        rehearsal.press("mood")
        saved = rehearsal.saved_moods[-1]
    finally:
        rehearsal.close()
    assert np.allclose(np.load(saved), expected)
    show = load_show(artist_show)  # the appended [[moods]] entry is valid show.toml
    mood = show.moods[-1]
    assert mood.name == "mood-1" and mood.latent == saved
    assert all(0.0 <= v <= 1.0 for v in mood.position)


def live_streams_drive_the_piece_and_the_hud_plots_them(artist_show: Path) -> None:
    # The show pinned to a simulator of its own; no recording: live LSL, as in the gallery.
    source = f"rehearse-live-{uuid.uuid4().hex[:8]}"
    artist_show.write_text(pin_default_show(artist_show.read_text(), source))
    sim = subprocess.Popen(
        [sys.executable, "-m", "sensors.simulate", "--streams", "ecg,eeg", "--hr", "75",
         "--source-id", source, "--duration", "60"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rehearsal = Rehearsal(load_show(artist_show), None, RehearsalOptions())
    try:
        pulses, deadline = [], time.monotonic() + 30.0
        while time.monotonic() < deadline:
            rehearsal.step()
            step = rehearsal.last_step
            if step.mode == "visitor":
                pulses.append(step.controls.get("pulse"))
            if len(pulses) > 150:  # 5 s of a visitor at 30 fps
                break
            time.sleep(1 / 30)
        assert len(pulses) > 150, f"no visitor within 30 s: {rehearsal.last_step.features}"
        assert max(pulses) > 0.5 and min(pulses) < 0.2  # the simulated heart beats through
        # The HUD plots the features the piece listens to, not only the controls.
        assert any("ecg.heart_rate" in h for _, h in rehearsal.view.hud.history)
        rehearsal.press("forward")  # no seeking live: a notice, not a crash
        assert "live" in rehearsal.notice
        rehearsal.press("pause")  # freezes the picture...
        frozen = rehearsal.step()
        time.sleep(0.2)
        assert np.array_equal(rehearsal.step().pixels, frozen.pixels)
        rehearsal.press("pause")
        assert not np.array_equal(rehearsal.step().pixels, frozen.pixels)
    finally:
        rehearsal.close()
        sim.kill()
        sim.wait()


def osc_garbage_and_a_flood_never_stop_the_show(artist_show: Path) -> None:
    sys.path.insert(0, str(REPO))
    from tests.fuzz_inputs import osc_garbage

    received: list[tuple[str, tuple]] = []  # what --osc-out sends, as a listener sees it
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.append((address, args)))
    listener = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    options = RehearsalOptions(osc=OscSettings(listen_port=0,
                                               send_port=listener.server_address[1]))
    rehearsal = Rehearsal(load_show(artist_show), DEMO, options)
    ranges = control_ranges(rehearsal.pipeline.show)
    garbage = osc_garbage(np.random.default_rng(17), tuple(ranges), 30_000)
    target = ("127.0.0.1", rehearsal.osc.port)

    def flood() -> None:  # 10,000 messages per second, in bursts of 100
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        began = time.perf_counter()
        for i in range(0, len(garbage), 100):
            for datagram in garbage[i:i + 100]:
                sock.sendto(datagram, target)
            time.sleep(max(0.0, began + (i + 100) / 10_000 - time.perf_counter()))

    def frame_is_sane() -> None:
        controls = rehearsal.last_step.controls.values
        assert all(math.isfinite(v) for v in controls.values()), controls
        for name, (lo, hi) in ranges.items():
            assert lo - 1e-9 <= controls.get(name, lo) <= hi + 1e-9, (name, controls)

    flooder = threading.Thread(target=flood)
    try:
        rehearsal.step()
        flooder.start()
        during = []
        while flooder.is_alive():
            during.append(rehearsal.step().index)
            frame_is_sane()
        flooder.join()
        for _ in range(10):  # and after it
            during.append(rehearsal.step().index)
            frame_is_sane()
        assert len(during) >= 12 and during == sorted(set(during))  # frames kept coming
        assert rehearsal.osc.ignored > 0
        # The bridge still answers a well-formed hold.
        client = SimpleUDPClient(*target)
        client.send_message("/control/clear", [])
        client.send_message("/control/calm", 0.97)
        deadline, calm = time.monotonic() + 5.0, 0.0
        while time.monotonic() < deadline and abs(calm - 0.97) > 1e-3:
            rehearsal.step()
            frame_is_sane()
            calm = rehearsal.last_step.controls.get("calm")
        assert calm == pytest.approx(0.97, abs=1e-3)
        time.sleep(0.3)
        sent = [args[0] for address, args in received if address.startswith("/control/")]
        assert sent and all(math.isfinite(v) for v in sent)
    finally:
        rehearsal.close()
        listener.shutdown()
        listener.server_close()


SCENARIOS = {f.__name__: f for f in (
    osc_garbage_and_a_flood_never_stop_the_show,
    keys_pause_seek_and_speed,
    live_streams_drive_the_piece_and_the_hud_plots_them,
    edited_shader_applies_within_a_second_and_a_broken_one_keeps_running,
    osc_nudges_a_control_during_rehearsal,
    saved_mood_lands_in_the_show_and_loads_back,
)}

def run_scenarios(names: list[str]) -> None:
    """Each scenario on a fresh copy of the show, one after another in this process (one
    interpreter start, torch and GL set-up for all); one result line per scenario."""
    for name in names:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                SCENARIOS[name](make_artist_show(Path(tmp)))
        except BaseException:  # reported to the test, which fails on it
            print(f"scenario failed: {name}\n{traceback.format_exc()}", flush=True)
        else:
            print(f"scenario held: {name}", flush=True)


if __name__ == "__main__":
    run_scenarios(sys.argv[1:])
