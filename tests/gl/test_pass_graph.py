"""The pass graph on real GL: named targets, several inputs, sizes, steps, ping-pong,
previous frames, particles, integrals, and reloads that change the graph."""

from __future__ import annotations

from pathlib import Path

import moderngl
import numpy as np
import pytest

from installation.errors import ShaderError
from installation.render.graph import PassSpec
from installation.render.passes import Renderer
from installation.render.reload import ShaderWatcher

from .conftest import solid_image

HEAD = "#version 330\nin vec2 v_uv;\nout vec4 f_color;\n"


def frag(tmp: Path, name: str, body: str) -> Path:
    path = tmp / name
    path.write_text(HEAD + body)
    return path


def render(renderer: Renderer, frames: int = 1, controls: dict | None = None,
           dt: float = 0.1) -> np.ndarray:
    out = None
    for i in range(frames):
        out = renderer.render(i * dt, 1.0, controls or {}, i).pixels
    assert out is not None
    return out


def test_a_pass_reads_two_targets_drawn_at_different_sizes(ctx: moderngl.Context,
                                                           tmp_path: Path) -> None:
    # "coarse" is 4x2 pixels, nearest-filtered: its left half red, right half black.
    coarse = frag(tmp_path, "coarse.frag", "uniform vec2 u_resolution;\n"
                  "void main() { f_color = vec4(v_uv.x < 0.5 ? 1.0 : 0.0, 0.0, 0.0, 1.0)"
                  " + vec4(0.0, 0.0, u_resolution.x / 255.0, 0.0); }\n")
    mix = frag(tmp_path, "mix.frag", "uniform sampler2D u_a;\nuniform sampler2D u_img;\n"
               "void main() { f_color = vec4(texture(u_a, v_uv).rb, texture(u_img, v_uv).g, 1.0);"
               " }\n")
    passes = [
        PassSpec(coarse, name="coarse", size=(4, 2), filter="nearest"),
        PassSpec(mix, name="out", inputs={"u_a": "coarse", "u_img": "frame"}),
    ]
    with Renderer(ctx, passes, (16, 8), (4, 4)) as renderer:
        renderer.upload(solid_image(4, 4, (0, 77, 0)))
        out = render(renderer)
    assert np.all(out[:, :8, 0] == 255) and np.all(out[:, 8:, 0] == 0)
    assert np.all(out[..., 1] == 4)  # u_resolution is the pass's own size: 4 wide
    assert np.all(out[..., 2] == 77)  # the generated image, read by name


def test_the_graph_draws_a_pass_after_the_passes_it_reads_whatever_the_file_order(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    add = frag(tmp_path, "add.frag", "uniform sampler2D u_x;\n"
               "void main() { f_color = texture(u_x, v_uv) + vec4(0.25, 0.0, 0.0, 1.0); }\n")
    base = frag(tmp_path, "base.frag", "void main() { f_color = vec4(0.5, 0.0, 0.0, 1.0); }\n")
    passes = [
        PassSpec(add, name="later_in_graph", inputs={"u_x": "base"}),
        PassSpec(base, name="base", inputs={}),
        PassSpec(add, name="out", inputs={"u_x": "later_in_graph"}),
    ]
    with Renderer(ctx, passes, (8, 8), (4, 4)) as renderer:
        assert renderer.order == ("base", "later_in_graph", "out")
        assert np.all(render(renderer)[..., 0] == 255)  # 0.5 + 0.25 + 0.25


def test_a_simulation_pass_steps_n_times_per_frame_on_its_own_state(ctx: moderngl.Context,
                                                                    tmp_path: Path) -> None:
    # Each step adds one to its own previous state (float target: no 8-bit rounding).
    count = frag(tmp_path, "count.frag", "uniform sampler2D u_state;\nuniform int u_step;\n"
                 "void main() { vec4 s = texture(u_state, v_uv);\n"
                 "  f_color = vec4(s.r + 1.0, float(u_step), 0.0, 1.0); }\n")
    show = frag(tmp_path, "show.frag", "uniform sampler2D u_sim;\n"
                "void main() { vec4 s = texture(u_sim, v_uv);"
                " f_color = vec4(s.r / 255.0, s.g / 255.0, 0.0, 1.0); }\n")
    passes = [
        PassSpec(count, name="sim", inputs={"u_state": "sim"}, steps=5, format="rgba32f",
                 size=(3, 3)),
        PassSpec(show, name="out", inputs={"u_sim": "sim"}),
    ]
    with Renderer(ctx, passes, (6, 6), (4, 4)) as renderer:
        assert np.all(render(renderer, 1)[..., 0] == 5)
        assert np.all(render(renderer, 1)[..., 1] == 4)  # the last step was u_step = 4
        assert np.all(render(renderer, 3)[..., 0] == 25)  # 5 more per frame
        renderer.reset()
        assert np.all(render(renderer, 1)[..., 0] == 5)


def test_a_pass_reads_another_passes_previous_frame_even_when_that_one_steps_several_times(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    count = frag(tmp_path, "count.frag", "uniform sampler2D u_state;\n"
                 "void main() { f_color = vec4(texture(u_state, v_uv).r + 1.0, 0.0, 0.0, 1.0);"
                 " }\n")
    both = frag(tmp_path, "both.frag", "uniform sampler2D u_now;\nuniform sampler2D u_before;\n"
                "void main() { f_color = vec4(texture(u_now, v_uv).r / 255.0,"
                " texture(u_before, v_uv).r / 255.0, 0.0, 1.0); }\n")
    passes = [
        PassSpec(count, name="sim", inputs={"u_state": "sim"}, steps=3, format="rgba32f"),
        PassSpec(both, name="out", inputs={"u_now": "sim", "u_before": "sim.prev"}),
    ]
    with Renderer(ctx, passes, (4, 4), (4, 4)) as renderer:
        first = render(renderer, 1)
        second = render(renderer, 1)
    assert first[0, 0, 0] == 3 and first[0, 0, 1] == 0
    assert second[0, 0, 0] == 6 and second[0, 0, 1] == 3


def test_two_passes_feed_each_other_through_the_previous_frame(ctx: moderngl.Context,
                                                               tmp_path: Path) -> None:
    # a = b(last frame) + 1, b = a(this frame) * 2: a cycle, broken by ".prev".
    a = frag(tmp_path, "a.frag", "uniform sampler2D u_b;\n"
             "void main() { f_color = vec4(texture(u_b, v_uv).r + 1.0, 0.0, 0.0, 1.0); }\n")
    b = frag(tmp_path, "b.frag", "uniform sampler2D u_a;\n"
             "void main() { f_color = vec4(texture(u_a, v_uv).r * 2.0, 0.0, 0.0, 1.0); }\n")
    show = frag(tmp_path, "show.frag", "uniform sampler2D u_b;\n"
                "void main() { f_color = vec4(texture(u_b, v_uv).r / 255.0, 0.0, 0.0, 1.0); }\n")
    passes = [
        PassSpec(a, name="a", inputs={"u_b": "b.prev"}, format="rgba32f"),
        PassSpec(b, name="b", inputs={"u_a": "a"}, format="rgba32f"),
        PassSpec(show, name="out", inputs={"u_b": "b"}),
    ]
    with Renderer(ctx, passes, (4, 4), (4, 4)) as renderer:
        values = [int(render(renderer, 1)[0, 0, 0]) for _ in range(4)]
    assert values == [2, 6, 14, 30]


def test_a_cycle_or_an_unknown_target_is_a_shader_error_naming_the_passes(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    a = frag(tmp_path, "a.frag", "uniform sampler2D u_x;\n"
             "void main() { f_color = texture(u_x, v_uv); }\n")
    cycle = [PassSpec(a, name="a", inputs={"u_x": "b"}), PassSpec(a, name="b", inputs={"u_x": "a"})]
    with pytest.raises(ShaderError, match=r"a\.frag: passes\[0\]\.inputs\.u_x: .*cycle \(a -> b"
                       r" -> a\).*'b\.prev'"):
        Renderer(ctx, cycle, (4, 4), (4, 4))
    unknown = [PassSpec(a, name="a", inputs={"u_x": "nope"})]
    with pytest.raises(ShaderError, match=r"unknown target 'nope'"):
        Renderer(ctx, unknown, (4, 4), (4, 4))


def test_an_unbound_sampler_or_an_input_the_shader_lacks_is_an_error(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    a = frag(tmp_path, "a.frag", "uniform sampler2D u_x;\n"
             "void main() { f_color = texture(u_x, v_uv); }\n")
    with pytest.raises(ShaderError, match=r"a\.frag: sampler u_x is not bound"):
        Renderer(ctx, [PassSpec(a, inputs={})], (4, 4), (4, 4))
    with pytest.raises(ShaderError, match=r"a\.frag: inputs\.u_y: no 'uniform sampler2D u_y;'"):
        Renderer(ctx, [PassSpec(a, inputs={"u_x": "frame", "u_y": "frame"})], (4, 4), (4, 4))


def test_an_integral_is_the_controls_running_sum_over_engine_time(ctx: moderngl.Context,
                                                                  tmp_path: Path) -> None:
    shader = frag(tmp_path, "phase.frag", "uniform float u_phase;\n"
                  "void main() { f_color = vec4(u_phase / 10.0, 0.0, 0.0, 1.0); }\n")
    spec = PassSpec(shader, integrals={"u_phase": "rate"})
    with Renderer(ctx, [spec], (4, 4), (4, 4)) as renderer:
        # dt = 0.1 s; the first frame has no dt. rate 2/s for 5 frames, then 6/s for 5.
        values = [renderer.render(i * 0.1, 1.0, {"rate": 2.0 if i < 5 else 6.0}, i).pixels[0, 0, 0]
                  for i in range(10)]
    expected = np.cumsum([0] + [2.0] * 4 + [6.0] * 5) * 0.1 / 10.0 * 255
    assert np.allclose(values, np.round(expected), atol=1)


PARTICLES_COMP = """#version 430
#include "particles.glsl"
uniform float u_speed;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= uint(u_count)) return;
    Particle p = particles[i];
    if (u_frame_count == 0 && u_step == 0) {
        // A column of particles on the centres of pixel column 1 (of 16), one per row.
        p.pos = vec4(0.09375, (float(i) + 0.5) / float(u_count), 0.0, 0.0);
    }
    p.pos.x += u_speed * u_dt;
    p.color = vec4(0.25, 0.5 * p.data.z, 1.0, 1.0);
    particles[i] = p;
}
"""


def test_particles_move_by_a_compute_shader_and_are_drawn_as_blended_points(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    comp = tmp_path / "move.comp"
    comp.write_text(PARTICLES_COMP)
    show = frag(tmp_path, "show.frag", "uniform sampler2D u_p;\n"
                "void main() { f_color = texture(u_p, v_uv); }\n")
    passes = [
        PassSpec(name="dots", kind="particles", compute=comp, count=16, steps=2, filter="nearest",
                 uniforms={"u_speed": "speed"}, fade=0.5),
        PassSpec(show, name="out", inputs={"u_p": "dots"}),
    ]
    with Renderer(ctx, passes, (16, 16), (4, 4)) as renderer:
        first = renderer.render(0.0, 1.0, {"speed": 0.0}, 0).pixels
        # dt 0.125 s at 1 unit/s: 2 px of 16 per frame, in 2 compute steps.
        second = renderer.render(0.125, 1.0, {"speed": 1.0}, 1).pixels
    # Frame 1: one column lit at x = 1 (blue); frame 2: at x = 3, with x = 1 faded by half.
    assert np.all(first[:, 1, 2] == 255) and first[:, 2:, 2].max() == 0
    assert np.all(second[:, 3, 2] == 255)
    assert np.all(np.abs(second[:, 1, 2].astype(int) - 128) <= 1)
    # Per-particle seeded randoms (data.z) differ between particles.
    assert len(set(second[:, 3, 1].tolist())) > 4


def test_particles_replay_byte_identically(ctx: moderngl.Context, tmp_path: Path) -> None:
    comp = tmp_path / "swirl.comp"
    comp.write_text("""#version 430
#include "particles.glsl"
uniform sampler2D u_frame;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= uint(u_count)) return;
    Particle p = particles[i];
    vec2 c = p.pos.xy - 0.5;
    vec3 img = textureLod(u_frame, p.pos.xy, 0.0).rgb;
    p.pos.xy += u_dt * (vec2(-c.y, c.x) * 3.0 + (img.rg - 0.5) * 0.2);
    p.pos.xy = fract(p.pos.xy);
    p.color = vec4(img * 0.05 + 0.01, 1.0);
    particles[i] = p;
}
""")

    def run() -> list[np.ndarray]:
        passes = [PassSpec(kind="particles", compute=comp, count=5000, seed=3, fade=0.9,
                           point_size=2.0)]
        with Renderer(ctx, passes, (64, 36), (8, 8)) as renderer:
            renderer.upload(solid_image(8, 8, (200, 40, 90)))
            return [renderer.render(i / 30, 1.0, {}, i).pixels for i in range(20)]

    a, b = run(), run()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[5], a[19])  # it moves
    assert a[-1].mean() > 5  # additive points with trails light it up


def test_a_reload_that_changes_the_graph_keeps_the_state_of_unchanged_targets(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    count = frag(tmp_path, "count.frag", "uniform sampler2D u_state;\n"
                 "void main() { f_color = vec4(texture(u_state, v_uv).r + 1.0, 0.0, 0.0, 1.0);"
                 " }\n")
    show = frag(tmp_path, "show.frag", "uniform sampler2D u_sim;\n"
                "void main() { f_color = vec4(texture(u_sim, v_uv).r / 255.0, 0.0, 0.0, 1.0);"
                " }\n")
    sim = PassSpec(count, name="sim", inputs={"u_state": "sim"}, format="rgba32f")
    with Renderer(ctx, [sim, PassSpec(show, name="out", inputs={"u_sim": "sim"})],
                  (4, 4), (4, 4)) as renderer:
        assert render(renderer, 3)[0, 0, 0] == 3
        twice = frag(tmp_path, "twice.frag", "uniform sampler2D u_sim;\n"
                     "void main() { f_color = vec4(texture(u_sim, v_uv).r * 2.0 / 255.0, 0.0,"
                     " 0.0, 1.0); }\n")
        broken = frag(tmp_path, "broken.frag", "void main() { f_color = vec4(1.0) }\n")
        with pytest.raises(ShaderError, match=r"broken\.frag:\d+: "):
            renderer.reload([sim, PassSpec(broken, name="extra", inputs={}),
                             PassSpec(twice, name="out2", inputs={"u_sim": "sim"})])
        assert render(renderer, 1)[0, 0, 0] == 4  # the old graph runs on, its state intact
        renderer.reload([sim, PassSpec(show, name="mid", inputs={"u_sim": "sim"}),
                         PassSpec(twice, name="out2", inputs={"u_sim": "sim"})])
        assert render(renderer, 1)[0, 0, 0] == 10  # (4 + 1) * 2: the simulation went on


def test_the_watcher_reloads_a_particle_pass_when_its_compute_shader_changes(
    ctx: moderngl.Context, tmp_path: Path,
) -> None:
    comp = tmp_path / "p.comp"
    comp.write_text(PARTICLES_COMP)
    clock_now = [0.0]
    with Renderer(ctx, [PassSpec(kind="particles", compute=comp, count=4,
                                 uniforms={"u_speed": "speed"})], (8, 8), (4, 4)) as renderer:
        watcher = ShaderWatcher(renderer, clock=lambda: clock_now[0])
        comp.write_text(PARTICLES_COMP.replace("vec4(0.25,", "vec4(1.0,"))
        clock_now[0] += 1.0
        assert watcher.poll(force=True) is True
        comp.write_text(PARTICLES_COMP.replace("p.pos.x +=", "p.pos.x +=="))
        clock_now[0] += 1.0
        assert watcher.poll(force=True) is False
        assert watcher.error is not None and "p.comp:" in watcher.error
        assert render(renderer, 1)[..., 0].max() == 255  # the reloaded program still runs
