from __future__ import annotations

from pathlib import Path

import moderngl
import pytest

from installation.errors import ShaderError
from installation.render.passes import PassSpec, Renderer
from installation.render.shader_source import load_shader

MAIN = """#version 330
#include "lib/helpers.glsl"
in vec2 v_uv;
out vec4 f_color;
void main() {
    f_color = vec4(helper(v_uv), 0.0, 1.0);
}
"""
HELPERS = """// helpers
#include "more.glsl"
#include "more.glsl"
vec2 helper(vec2 uv) {
    return more(uv);
}
"""
MORE = """#version 330
vec2 more(vec2 uv) { return uv * 0.5; }
"""


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def test_include_relative_once_and_version_first(tmp_path: Path) -> None:
    write(tmp_path, {"main.frag": MAIN, "lib/helpers.glsl": HELPERS, "lib/more.glsl": MORE})
    source = load_shader(tmp_path / "main.frag")
    lines = source.text.splitlines()
    assert lines[0] == "#version 330"
    assert source.text.count("#version") == 1
    assert source.text.count("vec2 more(") == 1  # included once
    assert [p.name for p in source.files] == ["main.frag", "helpers.glsl", "more.glsl"]


def test_included_compiles(ctx: moderngl.Context, tmp_path: Path) -> None:
    write(tmp_path, {"main.frag": MAIN, "lib/helpers.glsl": HELPERS, "lib/more.glsl": MORE})
    Renderer(ctx, [PassSpec(tmp_path / "main.frag")], (8, 8), (4, 4)).release()


@pytest.mark.parametrize(
    ("broken", "expected_line"),
    [("lib/more.glsl", 2), ("lib/helpers.glsl", 5), ("main.frag", 6)],
)
def test_error_names_real_file_and_line(
    ctx: moderngl.Context, tmp_path: Path, broken: str, expected_line: int
) -> None:
    files = {"main.frag": MAIN, "lib/helpers.glsl": HELPERS, "lib/more.glsl": MORE}
    lines = files[broken].splitlines()
    # An undeclared name inside a function body: Mesa reports it on its own line.
    bad = "float oops = undeclared_name; "
    line = lines[expected_line - 1]
    lines[expected_line - 1] = (
        line.replace("return", bad + "return") if "return" in line else bad + line
    )
    files[broken] = "\n".join(lines) + "\n"
    write(tmp_path, files)
    with pytest.raises(ShaderError) as info:
        Renderer(ctx, [PassSpec(tmp_path / "main.frag")], (8, 8), (4, 4))
    message = str(info.value)
    assert f"{Path(broken).name}:{expected_line}: " in message
    assert "error" in message
    assert "\n" not in message


def test_missing_include_names_including_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"main.frag": '#version 330\n\n#include "nope.glsl"\n'})
    with pytest.raises(ShaderError, match=r"main\.frag:3: .*nope\.glsl"):
        load_shader(tmp_path / "main.frag")


def test_missing_shader_file(tmp_path: Path) -> None:
    with pytest.raises(ShaderError, match=r"absent\.frag"):
        load_shader(tmp_path / "absent.frag")


def test_include_cycle(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.frag": '#version 330\n#include "a.glsl"\n',
            "a.glsl": '#include "b.glsl"\n',
            "b.glsl": '\n#include "a.glsl"\n',
        },
    )
    with pytest.raises(ShaderError, match=r"b\.glsl:2: #include cycle"):
        load_shader(tmp_path / "main.frag")


def test_malformed_include(tmp_path: Path) -> None:
    write(tmp_path, {"main.frag": "#version 330\n#include <x.glsl>\n"})
    with pytest.raises(ShaderError, match=r"main\.frag:2: #include needs"):
        load_shader(tmp_path / "main.frag")


def test_old_glsl_line_numbering(ctx: moderngl.Context, tmp_path: Path) -> None:
    # Before GLSL 3.30, "#line N" numbered the *next* line N + 1; the offset must follow.
    write(
        tmp_path,
        {
            "main.frag": '#version 150\n#include "inc.glsl"\nout vec4 f_color;\n'
            "void main() { f_color = vec4(1.0) }\n",
            "inc.glsl": "float f(float x) { return x; }\n",
        },
    )
    with pytest.raises(ShaderError, match=r"main\.frag:4: "):
        Renderer(ctx, [PassSpec(tmp_path / "main.frag")], (8, 8), (4, 4))
