"""[[passes]] as a graph in show.toml: checked at load, every error naming file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from installation.errors import ShowError
from installation.render.graph import GraphError, PassSpec, plan_passes
from installation.show import load_show, pass_specs

HEAD = """
[streams.ecg]
type = "ECG"

[[mappings]]
control = "pulse"
feature = "ecg.beat_pulse"
"""

GRAPH = HEAD + """
[[passes]]
name = "sim"
shader = "a.frag"
inputs = { u_state = "sim", u_image = "frame" }
steps = 4
size = [160, 90]
wrap = "repeat"
format = "rgba32f"

[[passes]]
name = "dots"
kind = "particles"
compute = "p.comp"
count = 1000
fade = 0.9
inputs = { u_field = "sim" }

[[passes]]
shader = "a.frag"
inputs = { u_sim = "sim", u_dots = "dots", u_last = "out.prev" }
uniforms = { u_pulse = "pulse" }
integrals = { u_phase = "pulse" }
name = "out"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "a.frag").write_text("// fragment\n")
    (tmp_path / "p.comp").write_text("// compute\n")
    path = tmp_path / "show.toml"
    path.write_text(text)
    return path


def error_of(path: Path) -> tuple[int, str]:
    with pytest.raises(ShowError) as caught:
        load_show(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}:")
    return int(re.match(rf"{re.escape(str(path))}:(\d+):", message).group(1)), message


def line_of(path: Path, text: str, after: int = 0) -> int:
    lines = path.read_text().splitlines()
    return next(n for n, t in enumerate(lines, 1) if n > after and t.startswith(text))


def test_a_graph_show_loads_into_renderer_passes(tmp_path: Path) -> None:
    show = load_show(write(tmp_path, GRAPH))
    specs = pass_specs(show)
    assert [s.name for s in specs] == ["sim", "dots", "out"]
    assert specs[0].steps == 4 and specs[0].size == (160, 90) and specs[0].wrap == "repeat"
    assert specs[1].kind == "particles" and specs[1].compute == tmp_path / "p.comp"
    assert dict(specs[2].inputs) == {"u_sim": "sim", "u_dots": "dots", "u_last": "out.prev"}
    assert plan_passes(specs).order == (0, 1, 2)


def test_a_plain_list_of_passes_is_still_a_chain(tmp_path: Path) -> None:
    show = load_show(write(tmp_path, HEAD + '[[passes]]\nshader = "a.frag"\n'
                           '[[passes]]\nshader = "a.frag"\n'))
    plan = plan_passes(pass_specs(show))
    assert plan.names == ("pass0", "pass1")
    assert plan.reads[1]["u_input"].name == "pass0" and plan.reads[0]["u_input"].name == "frame"


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ('u_field = "sim"', 'u_field = "simm"', "passes[1].inputs.u_field",
         "unknown target 'simm'"),
        ('name = "dots"', 'name = "sim"', "passes[1].name", "already written by passes[0]"),
        ('u_state = "sim", u_image = "frame"', 'u_state = "sim", u_image = "out"',
         "passes[0].inputs.u_image", "cycle (sim -> out -> sim)"),
        ('compute = "p.comp"\n', "", "passes[1].compute", "needs a compute shader"),
        ('compute = "p.comp"', 'compute = "q.comp"', "passes[1].compute", "file not found"),
        ("count = 1000", "count = 0", "passes[1].count", "must be 1.."),
        ('name = "out"', 'name = "out"\nscale = 0.5', "passes[2].scale", "output size"),
        ('name = "dots"', 'name = "2dots"', "passes[1].name", "letters, digits"),
        ('name = "dots"', 'name = "frame"', "passes[1].name", "reserved"),
        ("steps = 4", "steps = 0", "passes[0].steps", "must be >= 1"),
        ('wrap = "repeat"', 'wrap = "mirror"', "passes[0].wrap", "must be one of"),
        ("fade = 0.9", "fade = 1.0", "passes[1].fade", "must be < 1.0"),
        ('kind = "particles"\n', "", "passes[1].compute", "only particle passes"),
    ],
)
def test_graph_errors_name_the_file_line_and_key(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    assert old in GRAPH
    path = write(tmp_path, GRAPH.replace(old, new, 1))
    line, message = error_of(path)
    assert key in message and words in message, message
    # The line is the key's own line, or the entry's [[passes]] header when the key is absent.
    index = int(key.split("[")[1].split("]")[0])
    header = [n for n, t in enumerate(path.read_text().splitlines(), 1) if t == "[[passes]]"]
    leaf = key.split(".")[1].split("[")[0] if key.count(".") else ""
    start = header[index]
    end = header[index + 1] if index + 1 < len(header) else 10**9
    own = [n for n, t in enumerate(path.read_text().splitlines(), 1)
           if start <= n < end and t.startswith(f"{leaf} ")]
    assert line == (own[0] if own else start)


def test_the_cycle_error_names_every_pass_in_it() -> None:
    specs = [PassSpec(Path("a"), name="a", inputs={"u": "c"}),
             PassSpec(Path("a"), name="b", inputs={"u": "a"}),
             PassSpec(Path("a"), name="c", inputs={"u": "b"})]
    with pytest.raises(GraphError, match=r"cycle \(a -> c -> b -> a\).*'c\.prev'"):
        plan_passes(specs)
    specs[0] = PassSpec(Path("a"), name="a", inputs={"u": "c.prev"})
    assert plan_passes(specs).order == (0, 1, 2)
