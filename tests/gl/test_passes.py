from __future__ import annotations

from pathlib import Path

import moderngl
import numpy as np
import pytest

from installation.errors import ShaderError
from installation.messages import GeneratedImage
from installation.render.passes import PassSpec, Renderer, declared_uniforms

from .conftest import REPO, solid_image, synthetic_image

SHOW_FRAME = """#version 330
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_frame;
uniform sampler2D u_prev_frame;
uniform float u_frame_mix;
uniform float u_gain;  // declared, and used
uniform float u_unused;
void main() {
    vec3 c = mix(texture(u_prev_frame, v_uv).rgb, texture(u_frame, v_uv).rgb, u_frame_mix);
    f_color = vec4(c * u_gain, 1.0);
}
"""

TRAIL = """#version 330
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform sampler2D u_feedback;
uniform float u_amount;
void main() {
    vec3 c = texture(u_input, v_uv).rgb;
    f_color = vec4(mix(c, texture(u_feedback, v_uv + vec2(0.01, 0.0)).rgb, u_amount), 1.0);
}
"""


@pytest.fixture
def shaders(tmp_path: Path) -> Path:
    (tmp_path / "show.frag").write_text(SHOW_FRAME)
    (tmp_path / "trail.frag").write_text(TRAIL)
    return tmp_path


def test_declared_uniforms_skips_comments() -> None:
    src = "uniform float a, b[2];\n// uniform float c;\n/* uniform vec2 d; */ uniform vec3 e;"
    assert declared_uniforms(src) == {"a": "float", "b": "float", "e": "vec3"}


def test_undeclared_uniform_is_a_shader_error(ctx: moderngl.Context, shaders: Path) -> None:
    spec = PassSpec(shaders / "show.frag", {"u_gian": "gain"})
    with pytest.raises(ShaderError, match=r"show\.frag: .*u_gian.*'gain'"):
        Renderer(ctx, [spec], (16, 8), (8, 4))


def test_declared_but_unused_uniform_is_fine(ctx: moderngl.Context, shaders: Path) -> None:
    spec = PassSpec(shaders / "show.frag", {"u_gain": "gain", "u_unused": "x"})
    with Renderer(ctx, [spec], (16, 8), (8, 4)) as renderer:
        renderer.upload(solid_image(8, 4, (100, 100, 100)))
        frame = renderer.render(0.0, 1.0, {"gain": 1.0, "x": 3.0}, 0)
    assert frame.pixels.shape == (8, 16, 3)


def test_wrong_uniform_type_is_a_shader_error(ctx: moderngl.Context, tmp_path: Path) -> None:
    (tmp_path / "v.frag").write_text(
        "#version 330\nout vec4 f_color;\nuniform vec2 u_v;\n"
        "void main() { f_color = vec4(u_v, 0, 1); }\n"
    )
    with pytest.raises(ShaderError, match=r"u_v.*declared as vec2"):
        Renderer(ctx, [PassSpec(tmp_path / "v.frag", {"u_v": "v"})], (8, 8), (4, 4))


def test_orientation_top_row_first(ctx: moderngl.Context, shaders: Path) -> None:
    pixels = np.zeros((4, 8, 3), dtype=np.uint8)
    pixels[:2] = (255, 0, 0)  # top half red
    pixels[2:] = (0, 0, 255)  # bottom half blue
    spec = PassSpec(shaders / "show.frag", {"u_gain": "gain"})
    with Renderer(ctx, [spec], (16, 8), (8, 4)) as renderer:
        renderer.upload(GeneratedImage(0.0, 0, pixels))
        out = renderer.render(0.0, 1.0, {"gain": 1.0}, 0).pixels
    assert tuple(out[0, 8]) == (255, 0, 0)
    assert tuple(out[-1, 8]) == (0, 0, 255)


def test_crossfade_shows_prev_then_latest(ctx: moderngl.Context, shaders: Path) -> None:
    spec = PassSpec(shaders / "show.frag", {"u_gain": "gain"})
    with Renderer(ctx, [spec], (16, 8), (8, 4)) as renderer:
        renderer.upload(solid_image(8, 4, (200, 20, 20)))
        renderer.upload(solid_image(8, 4, (20, 20, 200)))
        controls = {"gain": 1.0}
        prev = renderer.render(0.0, 0.0, controls, 0).pixels
        latest = renderer.render(0.0, 1.0, controls, 1).pixels
        half = renderer.render(0.0, 0.5, controls, 2).pixels
    assert np.all(prev == (200, 20, 20))
    assert np.all(latest == (20, 20, 200))
    assert np.all(np.abs(half.astype(int) - (110, 20, 110)) <= 1)


def test_first_upload_fills_previous_too(ctx: moderngl.Context, shaders: Path) -> None:
    spec = PassSpec(shaders / "show.frag", {"u_gain": "gain"})
    with Renderer(ctx, [spec], (16, 8), (8, 4)) as renderer:
        renderer.upload(solid_image(8, 4, (50, 60, 70)))
        out = renderer.render(0.0, 0.0, {"gain": 1.0}, 0).pixels
    assert np.all(out == (50, 60, 70))


def test_controls_and_chained_input(ctx: moderngl.Context, shaders: Path) -> None:
    passes = [
        PassSpec(shaders / "show.frag", {"u_gain": "gain"}),
        PassSpec(shaders / "trail.frag", {"u_amount": "trail"}),
    ]
    with Renderer(ctx, passes, (16, 8), (8, 4)) as renderer:
        renderer.upload(solid_image(8, 4, (200, 100, 50)))
        out = renderer.render(0.0, 1.0, {"gain": 0.5, "trail": 0.0}, 0).pixels
    assert np.all(np.abs(out.astype(int) - (100, 50, 25)) <= 1)


def test_feedback_changes_output(ctx: moderngl.Context, shaders: Path) -> None:
    passes = [
        PassSpec(shaders / "show.frag", {"u_gain": "gain"}),
        PassSpec(shaders / "trail.frag", {"u_amount": "trail"}),
    ]
    images = [synthetic_image(32, 16, seed=s, index=i) for i, s in enumerate((0.0, 2.0, 4.0))]

    def run(trail: float) -> np.ndarray:
        with Renderer(ctx, passes, (64, 32), (32, 16)) as renderer:
            for i, image in enumerate(images):
                renderer.upload(image)
                out = renderer.render(i / 30, 1.0, {"gain": 1.0, "trail": trail}, i).pixels
        return out

    without, with_trail = run(0.0), run(0.6)
    assert np.abs(without.astype(int) - with_trail.astype(int)).mean() > 5


def test_render_is_deterministic_and_returns_copies(ctx: moderngl.Context, shaders: Path) -> None:
    passes = [
        # The old default piece (a one-pass chain): its grain and feedback exercise replays.
        PassSpec(REPO / "benchmarks" / "baseline" / "pulse-garden-v1" / "shaders" / "pulse.frag",
                 _PULSE_UNIFORMS),
        PassSpec(shaders / "trail.frag", {"u_amount": "trail"}),
    ]
    controls = {"pulse": 0.7, "calm": 0.3, "energy": 0.6, "trail": 0.5}

    def run() -> list[np.ndarray]:
        frames = []
        with Renderer(ctx, passes, (96, 54), (32, 32)) as renderer:
            for i in range(4):
                renderer.upload(synthetic_image(32, 32, seed=i, index=i))
                frames.append(renderer.render(i / 30, 0.5, controls, i).pixels)
        return frames

    first, second = run(), run()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], first[1])  # the caller's arrays were not overwritten


def test_upload_checks_size(ctx: moderngl.Context, shaders: Path) -> None:
    with (
        Renderer(ctx, [PassSpec(shaders / "show.frag")], (16, 8), (8, 4)) as renderer,
        pytest.raises(ValueError, match="generated image"),
    ):
        renderer.upload(solid_image(4, 8, (0, 0, 0)))


def test_reload_keeps_running_passes_on_error(ctx: moderngl.Context, shaders: Path) -> None:
    spec = PassSpec(shaders / "show.frag", {"u_gain": "gain"})
    with Renderer(ctx, [spec], (16, 8), (8, 4)) as renderer:
        renderer.upload(solid_image(8, 4, (80, 80, 80)))
        (shaders / "show.frag").write_text(SHOW_FRAME.replace("1.0);\n}", "1.0)\n}"))
        with pytest.raises(ShaderError, match=r"show\.frag:\d+: "):
            renderer.reload()
        out = renderer.render(0.0, 1.0, {"gain": 1.0}, 0).pixels
        assert np.all(out == 80)
        (shaders / "show.frag").write_text(SHOW_FRAME.replace("c * u_gain", "1.0 - c"))
        renderer.reload()
        assert np.all(renderer.render(0.0, 1.0, {"gain": 1.0}, 1).pixels == 175)


_PULSE_UNIFORMS = {"u_pulse": "pulse", "u_calm": "calm", "u_energy": "energy"}
