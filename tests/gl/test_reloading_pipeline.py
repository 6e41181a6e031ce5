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
