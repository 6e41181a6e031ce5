"""Generate docs/show-reference.md from the show's dataclasses.

Run ``python tools/gen_show_reference.py`` after changing installation/show.py;
tests/unit/test_show_reference.py fails while the file is out of date.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from installation.show import _ShowFile
from installation.tomlconfig import field_docs

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "show-reference.md"

HEADER = """# show.toml reference

Generated from `installation/show.py` by `tools/gen_show_reference.py`; do not edit by hand.
Every key is optional unless its default says *required*. Unknown keys are errors that name
the file, the line and the key path. Relative paths are resolved against the show file's
folder. The default [`show.toml`](../show.toml) is the worked example.
"""


def type_name(tp: Any) -> str:
    """A TOML-flavoured name for a field's type."""
    origin = get_origin(tp)
    if origin is Literal:
        return " \\| ".join(f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in get_args(tp) if a is not type(None))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"array of {type_name(args[0])}"
        return "[" + ", ".join(type_name(a) for a in args) + "]"
    if origin is dict:
        return f"table of {type_name(get_args(tp)[1])}"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
    if tp in names:
        return names[tp]
    if dataclasses.is_dataclass(tp):
        return "table"
    return getattr(tp, "__name__", str(tp))


def default_text(value: Any) -> str:
    if value is dataclasses.MISSING:
        return "*required*"
    if value is None:
        return "*unset*"
    if dataclasses.is_dataclass(value):
        return "its own table"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[" + ", ".join(default_text(v).strip("`") for v in value) + "]`"
    if isinstance(value, dict | types.MappingProxyType):
        return "`{}`" if not value else f"`{dict(value)}`"
    return f"`{value}`"


def section(cls: type, header: str) -> list[str]:
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    summary = doc.split(":", 1)[1].strip() if doc.startswith("``[") else doc
    hints = get_type_hints(cls)
    summary = " ".join(summary.split())
    lines = [f"## `{header}`", "", summary[:1].upper() + summary[1:], "",
             "| key | type | default | meaning |", "|---|---|---|---|"]
    for name, _, default, text in field_docs(cls):
        meaning = " ".join(text.split()).replace("|", "\\|")
        lines.append(f"| `{name}` | {type_name(hints[name])} | {default_text(default)}"
                     f" | {meaning} |")
    return [*lines, ""]


def nested(cls: type, prefix: str) -> list[str]:
    """Sections of the sub-tables (e.g. ``[generator.nca]``) and arrays of tables (e.g.
    ``[[generator.stages]]``) inside a table."""
    out: list[str] = []
    hints = get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        tp = hints[spec.name]
        if dataclasses.is_dataclass(tp):
            out += section(tp, f"[{prefix}.{spec.name}]")
        elif get_origin(tp) is tuple and dataclasses.is_dataclass(get_args(tp)[0]):
            out += section(get_args(tp)[0], f"[[{prefix}.{spec.name}]]")
    return out


def render() -> str:
    """The whole reference as markdown text."""
    out = [HEADER]
    hints = get_type_hints(_ShowFile)
    for spec in dataclasses.fields(_ShowFile):
        tp = hints[spec.name]
        origin = get_origin(tp)
        if dataclasses.is_dataclass(tp):
            out += section(tp, f"[{spec.name}]")
            out += nested(tp, spec.name)
        elif origin is dict:
            out += section(get_args(tp)[1], f"[{spec.name}.KEY]")
        elif origin is tuple:
            out += section(get_args(tp)[0], f"[[{spec.name}]]")
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python tools/gen_show_reference.py")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
