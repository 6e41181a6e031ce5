"""Rehearsal's hot reload as one part: a broken edit keeps the last good pipeline running and
is logged once; a good edit swaps a new pipeline in and tells the live inputs."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import moderngl
import pytest

from installation.pipeline import Pipeline
from installation.render.reload import ReloadingPipeline
from installation.show import Show, load_show

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def artist_show(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "shaders", tmp_path / "shaders")
    (tmp_path / "show.toml").write_text((REPO / "show.toml").read_text())
    return tmp_path / "show.toml"


def test_a_broken_shader_is_logged_once_and_a_show_edit_swaps_the_pipeline(
    ctx: moderngl.Context, artist_show: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    shows: list[Show] = []
    reloading = ReloadingPipeline(
        load_show(artist_show), lambda s: Pipeline(s, ctx, (32, 18), 10.0, device="cpu"),
        on_show=shows.append)
    shader = artist_show.parent / "shaders" / "pulse.frag"
    good = shader.read_text()
    try:
        first = reloading.current
        reloading.step({}, 0.1, 0)
        shader.write_text(good.replace("void main() {", "void main() { float broken = ;"))
        with caplog.at_level(logging.ERROR, logger="installation.render.reload"):
            for _ in range(4):
                reloading.shaders.poll(force=True)
                reloading.poll()
                reloading.step({}, 0.2, 1)  # the last good program keeps drawing
        assert reloading.error is not None and "pulse.frag" in reloading.error
        assert [r.getMessage() for r in caplog.records].count(
            f"{reloading.error} (the last good version keeps running)") == 1
        shader.write_text(good)
        reloading.shaders.poll(force=True)
        assert reloading.error is None and reloading.current is first

        artist_show.write_text(artist_show.read_text().replace("smoothing_s = 3.0",
                                                               "smoothing_s = 1.0"))
        reloading.poll(force=True)
        assert reloading.current is not first and reloading.reloads == 1
        assert shows and shows[-1].mappings[1].smoothing_s == 1.0

        artist_show.write_text(artist_show.read_text() + "\n[nonsense]\n")
        kept = reloading.current
        reloading.poll(force=True)
        assert reloading.current is kept and "show.toml" in (reloading.error or "")
        reloading.step({}, 0.3, 2)
    finally:
        reloading.release()


def test_an_edit_that_never_ends_a_frame_is_refused_and_the_last_good_pipeline_draws(
    ctx: moderngl.Context, artist_show: Path,
) -> None:
    # The light pass, edited into a loop that never ends (test_check_untrusted.ENDLESS, plus
    # the uniforms the show binds), at the rehearsal's real size: llvmpipe ends any one loop
    # after 65,535 turns, so only a full-size frame really hangs.
    from tests.integration.test_check_untrusted import ENDLESS

    artist_show.write_text(artist_show.read_text().replace(
        "[output]\n", "[output]\nprobe_limit_s = 4\n", 1))
    endless = ENDLESS.replace("uniform float u_time;", "uniform float u_time;\n"
                              "uniform float u_pulse;\nuniform float u_calm;\n"
                              "uniform float u_energy;").replace(
        "+ 0.0 * texture(u_garden, v_uv);",
        "+ 0.0 * texture(u_garden, v_uv) + 0.0 * (u_pulse + u_calm + u_energy);")
    show = load_show(artist_show)
    reloading = ReloadingPipeline(
        show, lambda s: Pipeline(s, ctx, s.output.size, 10.0, device="cpu"))
    shader = artist_show.parent / "shaders" / "pulse.frag"
    try:
        before = reloading.step({}, 0.1, 0).frame.pixels.copy()
        shader.write_text(endless)
        assert reloading.shaders.poll(force=True) is False  # returns: the probe's limit
        assert reloading.error is not None
        assert "pulse.frag" in reloading.error and "within 4 s" in reloading.error
        after = reloading.step({}, 0.1, 1).frame.pixels  # the last good program, not a hang
        assert after.shape == before.shape and after.std() > 0
    finally:
        reloading.release()
