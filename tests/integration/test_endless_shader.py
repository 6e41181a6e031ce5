"""A shader that never ends cannot hang replay or the gallery: the first-frame probe.

A GPU draw that never returns cannot be interrupted in-process, so replay, rehearsal and the
gallery draw one frame of the passes in a child process first. Replay exits 2 naming the
shader; the gallery turns the pass off and goes on. Real GL (EGL/llvmpipe), real shaders.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from test_check_untrusted import ENDLESS, _show

from installation.first_frame import hanging_passes, probe_passes
from installation.modes.gallery import probe_gallery
from installation.modes.supervision import SystemdNotifier
from installation.render.gl_context import create_offscreen_context
from installation.render.passes import Renderer
from installation.show import load_show, pass_specs

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"
LIMIT = "probe_limit_s = 4\n"


def _endless_show(tmp_path: Path, limit: str = LIMIT) -> Path:
    # The real output size: llvmpipe cuts any one loop off after 65,535 turns, so on a tiny
    # frame even this shader ends; at 640x360 it runs for minutes.
    path = _show(tmp_path, ENDLESS)
    text = path.read_text().replace("[output]\n", "[output]\n" + limit, 1)
    path.write_text(text)
    return path


def test_replay_of_a_show_with_an_endless_shader_exits_2_naming_the_shader(
    tmp_path: Path,
) -> None:
    show = _endless_show(tmp_path)
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "installation", "replay", str(DEMO), "--show", str(show),
         "-o", str(tmp_path / "out.mp4"), "--duration", "1", "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,  # hang guard
    )
    assert time.monotonic() - began < 60
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "shaders/pulse.frag" in lines[0] and "within 4 s" in lines[0]
    assert "output.probe_limit_s" in lines[0]
    assert not (tmp_path / "out.mp4").exists()


def test_the_probe_passes_a_show_whose_shaders_end(tmp_path: Path) -> None:
    show = load_show(_show(tmp_path))
    assert probe_passes(show, 60.0) is None


def test_gallery_turns_off_the_endless_pass_and_its_frame_then_renders(
    tmp_path: Path, caplog
) -> None:
    show = load_show(_endless_show(tmp_path))
    light = next(i for i, p in enumerate(show.passes) if p.shader.name == "pulse.frag")
    # systemd's side of the notify socket, for real: the probe extends the start timeout.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify.sock")
    listener.bind(address)
    listener.settimeout(5.0)
    notifier = SystemdNotifier(address)
    try:
        with caplog.at_level(logging.ERROR, logger="test-gallery"):
            off = probe_gallery(show, notifier, logging.getLogger("test-gallery"))
        said = listener.recv(256).decode()
    finally:
        notifier.close()
        listener.close()
    assert off == {light}
    assert said.startswith("EXTEND_TIMEOUT_USEC=")
    assert int(said.split("=")[1]) >= 4_000_000
    lines = [r.getMessage() for r in caplog.records if r.name == "test-gallery"]
    assert len(lines) == 1 and "shaders/pulse.frag" in lines[0] and "turned off" in lines[0]
    # With that pass off, the real frame at the real size comes: the garden passed through.
    ctx = create_offscreen_context()
    try:
        renderer = Renderer(ctx, pass_specs(show), size=show.output.size,
                            gen_size=show.generator.size)
        renderer.turned_off |= off
        frame = renderer.render(t=0.0, frame_mix=0.0, controls={}, index=0)
        renderer.release()
    finally:
        ctx.release()
    assert frame.pixels.shape == (show.output.size[1], show.output.size[0], 3)
    assert np.isfinite(frame.pixels).all()


def test_hanging_passes_finds_a_second_endless_pass_behind_the_first(tmp_path: Path) -> None:
    path = _endless_show(tmp_path)
    # The garden (read by the light) never ends either: each probe finds one.
    garden = ENDLESS.replace("uniform sampler2D u_garden;", "uniform sampler2D u_state;").replace(
        "texture(u_garden, v_uv)", "texture(u_state, v_uv)").replace(
        " + texture(u_haze, v_uv)", "")  # the garden reads its state and the tint
    (tmp_path / "shaders" / "garden.frag").write_text(garden)
    show = load_show(path)
    hangs = hanging_passes(show, 4.0)
    assert [Path(h.shader).name for h in hangs] == ["garden.frag", "pulse.frag"]
    assert [h.index for h in hangs] == [0, 3]  # garden, tint, haze, light
