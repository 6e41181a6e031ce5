"""A pass over its time budget is turned off for the run; the frame goes on without it."""

from __future__ import annotations

import logging
from pathlib import Path

import moderngl
import numpy as np

from installation.render.passes import PassSpec, Renderer

from .conftest import synthetic_image

INVERT = """#version 330
uniform sampler2D u_input;
in vec2 v_uv;
out vec4 f_color;
void main() { f_color = vec4(1.0 - texture(u_input, v_uv).rgb, 1.0); }
"""
HALF = """#version 330
uniform sampler2D u_input;
in vec2 v_uv;
out vec4 f_color;
void main() { f_color = vec4(0.5 * texture(u_input, v_uv).rgb, 1.0); }
"""


def _passes(tmp_path: Path) -> list[PassSpec]:
    (tmp_path / "invert.frag").write_text(INVERT)
    (tmp_path / "half.frag").write_text(HALF)
    return [PassSpec(tmp_path / "invert.frag"), PassSpec(tmp_path / "half.frag")]


def _frames(renderer: Renderer, n: int) -> list[np.ndarray]:
    renderer.upload(synthetic_image(16, 8))
    return [renderer.render(t=i / 30, frame_mix=1.0, controls={}, index=i).pixels
            for i in range(n)]


def test_a_pass_over_budget_is_dropped_with_one_line_and_the_last_pass_is_kept(
    ctx: moderngl.Context, tmp_path: Path, caplog
) -> None:
    passes = _passes(tmp_path)
    # Every pass takes longer than a nanosecond: the first is turned off, the last is kept.
    with caplog.at_level(logging.WARNING, logger="installation.render.passes"), \
            Renderer(ctx, passes, (16, 8), (16, 8), pass_budget_s=1e-9) as renderer:
        frames = _frames(renderer, 3)
        assert renderer.turned_off == {0}
    with Renderer(ctx, passes[1:], (16, 8), (16, 8)) as only_half:
        expected = _frames(only_half, 3)
    for got, want in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("turned off" in m for m in lines) == 1, lines
    assert sum("kept" in m for m in lines) == 1, lines
    assert "invert.frag" in next(m for m in lines if "turned off" in m)


def test_passes_within_budget_all_run(ctx: moderngl.Context, tmp_path: Path) -> None:
    passes = _passes(tmp_path)
    with Renderer(ctx, passes, (16, 8), (16, 8), pass_budget_s=30.0) as budgeted:
        frames = _frames(budgeted, 2)
        assert budgeted.turned_off == set()
    with Renderer(ctx, passes, (16, 8), (16, 8)) as plain:
        expected = _frames(plain, 2)
    for got, want in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(got, want)
