"""Hot reload: a typo keeps the last good program and shows the error; a fix applies."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from installation.render.passes import PassSpec, Renderer
from installation.render.reload import ShaderWatcher, draw_error

from .conftest import solid_image

SHADER = """#version 330
in vec2 v_uv;
out vec4 f_color;
void main() {{ f_color = vec4({colour}, 1.0); }}
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    # Filesystems with coarse mtimes: make each save visibly newer.
    stamp = 1_700_000_000 + bump
    os.utime(path, (stamp, stamp))


def colour_of(renderer: Renderer) -> tuple[int, ...]:
    frame = renderer.render(t=0.0, frame_mix=1.0, controls={}, index=0)
    return tuple(int(v) for v in frame.pixels[4, 4])


def test_broken_shader_keeps_the_last_good_program_and_a_fix_applies(ctx, tmp_path) -> None:
    shader = tmp_path / "live.frag"
    write(shader, SHADER.format(colour="vec3(1.0, 0.0, 0.0)"), 0)
    clock = FakeClock()
    with Renderer(ctx, [PassSpec(shader)], size=(32, 18), gen_size=(8, 8)) as renderer:
        renderer.upload(solid_image(8, 8, (0, 0, 0)))
        watcher = ShaderWatcher(renderer, clock=clock)
        assert colour_of(renderer) == (255, 0, 0)

        write(shader, SHADER.format(colour="vec3(0.0, 1.0, 0.0") + "typo", 1)
        clock.now += 0.3
        assert watcher.poll() is False
        assert watcher.error is not None and "live.frag:" in watcher.error
        assert colour_of(renderer) == (255, 0, 0)  # still the last good program

        write(shader, SHADER.format(colour="vec3(0.0, 0.0, 1.0)"), 2)
        clock.now += 0.3
        assert watcher.poll() is True
        assert watcher.error is None
        assert colour_of(renderer) == (0, 0, 255)


def test_an_unchanged_file_is_not_recompiled_and_polls_are_rate_limited(ctx, tmp_path
                                                                         ) -> None:
    shader = tmp_path / "still.frag"
    write(shader, SHADER.format(colour="vec3(0.5)"), 0)
    clock = FakeClock()
    with Renderer(ctx, [PassSpec(shader)], size=(16, 16), gen_size=(8, 8)) as renderer:
        watcher = ShaderWatcher(renderer, interval_s=0.25, clock=clock)
        write(shader, SHADER.format(colour="vec3(0.25)"), 5)
        clock.now += 0.1
        assert watcher.poll() is False  # too soon: not even looked at
        clock.now += 0.2  # 0.3 s after the edit: applied, within the 1 s promise
        assert watcher.poll() is True
        clock.now += 0.3
        assert watcher.poll() is False
        assert watcher.reloads == 1


def test_error_overlay_draws_a_red_bar_with_the_message(ctx, tmp_path) -> None:
    shader = tmp_path / "grey.frag"
    write(shader, SHADER.format(colour="vec3(0.2)"), 0)
    with Renderer(ctx, [PassSpec(shader)], size=(320, 180), gen_size=(8, 8)) as renderer:
        frame = renderer.render(t=0.0, frame_mix=1.0, controls={}, index=0)
    shown = draw_error(frame, "shaders/pulse.frag:12: error: syntax error")
    top = shown.pixels[:20]
    red = (top[..., 0] > 150) & (top[..., 1] < 30)
    white = (top > 240).all(axis=-1)
    assert red.mean() > 0.5 and white.sum() > 50  # a red bar with text on it
    assert np.array_equal(shown.pixels[60:], frame.pixels[60:])


def test_show_watcher_applies_a_valid_edit_and_reports_a_broken_one(tmp_path) -> None:
    from installation.render.reload import ShowWatcher

    show = tmp_path / "show.toml"
    shader = tmp_path / "a.frag"
    write(shader, SHADER.format(colour="vec3(0.5)"), 0)
    body = '[[passes]]\nshader = "a.frag"\n[output]\nfps = {fps}\n'
    write(show, body.format(fps=30), 0)
    clock = FakeClock()
    watcher = ShowWatcher(show, clock=clock)
    write(show, body.format(fps=25), 1)
    clock.now += 0.3
    reloaded = watcher.poll()
    assert reloaded is not None and reloaded.output.fps == 25.0
    write(show, body.format(fps=25) + "typo_key = 1\n", 2)
    clock.now += 0.3
    assert watcher.poll() is None
    assert watcher.error is not None and "typo_key" in watcher.error and ":5:" in watcher.error
