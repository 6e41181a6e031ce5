"""Additive particles drawn by the compute path (installation/render/splat.py) give the picture
GL's own points give, and stay byte-identical."""

from __future__ import annotations

from pathlib import Path

import moderngl
import numpy as np

from installation.render.graph import PassSpec
from installation.render.passes import Renderer

# Seeded positions, sizes 1, 2 and 3.5 px (data.w), small random colours: the sum a frame of
# additive points makes, with trails.
SCATTER = """#version 430
#include "particles.glsl"
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= uint(u_count)) return;
    Particle p = particles[i];
    float r = fract(p.data.z * 7919.0 + float(u_frame_count) * 0.618);
    p.pos.xy = fract(p.pos.xy + vec2(0.013, 0.021) * float(u_frame_count) + 0.1 * r);
    p.data.w = i % 3u == 0u ? 1.0 : (i % 3u == 1u ? 2.0 : 3.5);
    p.color = vec4(0.02 + 0.05 * r, 0.06 * p.data.z, 0.04, 1.0);
    particles[i] = p;
}
"""
# The default point colour, as a piece's own point shader: this pass is drawn as GL points.
POINTS = """#version 330
in vec4 v_color;
out vec4 f_color;
void main() { f_color = v_color; }
"""


def frames(ctx: moderngl.Context, tmp: Path, own_shader: bool, fmt: str = "rgba16f"
           ) -> list[np.ndarray]:
    comp = tmp / "scatter.comp"
    comp.write_text(SCATTER)
    dots = tmp / "dots.frag"
    dots.write_text(POINTS)
    spec = PassSpec(shader=dots if own_shader else None, kind="particles", compute=comp,
                    count=3000, seed=5, fade=0.6, format=fmt)
    with Renderer(ctx, [spec], (96, 54), (4, 4)) as renderer:
        return [renderer.render(i / 30, 1.0, {}, i).pixels for i in range(6)]


def test_additive_particles_summed_by_compute_match_gl_points(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    summed = frames(ctx, tmp_path, own_shader=False)
    points = frames(ctx, tmp_path, own_shader=True)
    for a, b in zip(summed, points, strict=True):
        diff = np.abs(a.astype(int) - b.astype(int))
        # Rounding (fixed point vs half floats) moves a grey level; llvmpipe snaps a point to
        # its subpixel grid, so one within ~1/256 px of a pixel edge may land across it.
        assert (diff <= 1).mean() > 0.95, (diff <= 1).mean()
        assert diff.mean() < 0.4
        assert abs(a.mean() - b.mean()) < 0.01 * b.mean()  # the same light, the same cover
    assert summed[-1].mean() > 20  # the sum lights the picture


PLACED = """#version 430
#include "particles.glsl"
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= uint(u_count)) return;
    Particle p = particles[i];
    // 0: a 3-px point on the centre of pixel (3, 3); 1: a 2-px point on the corner (10, 4);
    // 2: a 1-px point inside pixel (14, 12); 3: outside the target, clipped.
    vec2 at[4] = vec2[](vec2(3.5, 3.5), vec2(10.0, 4.0), vec2(14.2, 12.9), vec2(-0.5, 2.0));
    float size[4] = float[](3.0, 2.0, 1.0, 4.0);
    p.pos = vec4(at[i] / vec2(16.0), 0.0, 0.0);
    p.data.w = size[i];
    p.color = vec4(0.25, 0.5, 1.0, 1.0);
    particles[i] = p;
}
"""


def test_a_summed_point_covers_the_pixels_whose_centres_lie_in_its_square(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    comp = tmp_path / "placed.comp"
    comp.write_text(PLACED)
    spec = PassSpec(kind="particles", compute=comp, count=4)
    with Renderer(ctx, [spec], (16, 16), (4, 4)) as renderer:
        blue = renderer.render(0.0, 1.0, {}, 0).pixels[..., 2]
    expected = np.zeros((16, 16), dtype=bool)
    expected[2:5, 2:5] = True  # [y, x] with y up, as GL counts
    expected[3:5, 9:11] = True
    expected[12, 14] = True
    expected = expected[::-1]  # a frame's first row is the top one
    assert np.array_equal(blue == 255, expected), np.argwhere(blue)
    assert blue[~expected].max() == 0


def test_summed_particles_replay_byte_identically_and_clamp_on_an_8_bit_target(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    first = frames(ctx, tmp_path, own_shader=False, fmt="rgba8")
    second = frames(ctx, tmp_path, own_shader=False, fmt="rgba8")
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    points = frames(ctx, tmp_path, own_shader=True, fmt="rgba8")
    # GL rounds each point's blend into 8 bits, the sum rounds once: a little brighter, the
    # same picture.
    diff = np.abs(first[-1].astype(int) - points[-1].astype(int))
    assert diff.mean() < 1.5 and (diff <= 3).mean() > 0.97
