"""`installation check` refuses shows that would not run: too big, or a frame that never ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# llvmpipe ends a shader's loops after 65,535 turns in all (one counter per invocation,
# nested or not), so each turn does 256 steps: minutes per frame. With one step a turn the
# 640x360 frame ended within the probe's 4 s on a quiet 2-core machine, and nothing hung.
_TURN = "            x = fract(x * 1.0001 + 0.1);\n" * 256
ENDLESS = """#version 330
uniform float u_time;
uniform sampler2D u_garden;  // the default piece's light pass reads the garden,
uniform sampler2D u_tint;    // the petals' colour and the haze
uniform sampler2D u_haze;
in vec2 v_uv;
out vec4 f_color;
void main() {
    float x = v_uv.x;
    // Never ends for u_time >= 0, and the compiler cannot know u_time.
    for (int i = 0; i >= 0; i += (u_time < -1.0 ? 1 : 0)) {
        for (int j = 0; j >= 0; j += (u_time < -1.0 ? 1 : 0)) {
""" + _TURN + """        }
    }
    f_color = vec4(x, x, x, 1.0) + 0.0 * (texture(u_tint, v_uv) + texture(u_haze, v_uv))
              + 0.0 * texture(u_garden, v_uv);
}
"""


def _show(tmp_path: Path, shader: str | None = None, extra: str = "") -> Path:
    (tmp_path / "shaders").mkdir()
    for src in (REPO / "shaders").iterdir():
        (tmp_path / "shaders" / src.name).write_text(src.read_text())
    if shader is not None:
        (tmp_path / "shaders" / "pulse.frag").write_text(shader)
    text = (REPO / "show.toml").read_text()
    if shader is not None:  # the endless pass reads none of the show's uniforms
        text = text.replace("uniforms = {", "# uniforms = {")
    path = tmp_path / "show.toml"
    path.write_text(text + extra)
    return path


def _check(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "installation", "check", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_check_stops_a_first_frame_that_never_ends_and_says_so(tmp_path: Path) -> None:
    show = _show(tmp_path, ENDLESS)
    result = _check(show, "--time-limit", "5")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(show) in lines[0] and "did not finish within 5 s" in lines[0]


def test_check_refuses_a_generator_too_big_for_the_machine(tmp_path: Path) -> None:
    show = _show(tmp_path)
    text = show.read_text().replace("hidden = 32\n", "hidden = 512\n")
    generator = text.index("[generator]")  # the generator's size, not a pass's
    size = text.index("size = [", generator)
    end = text.index("]", size) + 1
    text = text[:size] + "size = [4096, 4096]" + text[end:]
    text = text.replace("layers = 5\n", "layers = 16\n")
    show.write_text(text)
    result = _check(show)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "generator.size" in result.stderr and "GB" in result.stderr
    assert "Traceback" not in result.stderr
