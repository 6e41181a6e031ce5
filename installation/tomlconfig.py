"""Turn parsed TOML into nested frozen dataclasses, strictly.

The standard library parses TOML but does not validate it, and the libraries that do
(pydantic and friends) would be a heavy dependency for a handful of types. This module maps
a TOML table onto a dataclass by its type hints: unknown keys are errors, types are checked,
numeric bounds come from ``field(metadata=...)``, and every error names the file, the key
path and, where it can be found, the line.

Supported field types: ``bool``, ``int``, ``float``, ``str``, ``Path``, ``Literal[...]``,
``tuple[T, ...]`` and fixed ``tuple[T, T]``, ``dict[str, T]``, nested dataclasses,
and ``X | None``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from installation.errors import ShowError

T = TypeVar("T")


def bounds(
    *, ge: float | None = None, gt: float | None = None, le: float | None = None,
    lt: float | None = None, doc: str = "",
) -> dict[str, Any]:
    """Metadata for a numeric field's allowed range (and its one-line documentation)."""
    return {"ge": ge, "gt": gt, "le": le, "lt": lt, "doc": doc}


class TomlLocator:
    """Finds the line of a key path in TOML text, for error messages.

    ``tomllib`` keeps no positions, so this scans table headers and ``key =`` lines. It is a
    best effort: when a key cannot be found the message simply has no line number.
    """

    _header = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _key = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        array_counts: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._header.match(line)
            if header:
                name = tuple(_split_key(header.group(2)))
                if header.group(1) == "[[":
                    index = array_counts.get(name, 0)
                    array_counts[name] = index + 1
                    table = (*name, str(index))
                else:
                    table = self._resolve(name, array_counts)
                self._lines.setdefault(table, number)
                continue
            key = self._key.match(line)
            if key:
                self._lines.setdefault((*table, *_split_key(key.group(1))), number)

    @staticmethod
    def _resolve(name: tuple[str, ...], arrays: dict[tuple[str, ...], int]) -> tuple[str, ...]:
        # [passes.uniforms] after [[passes]] belongs to the latest passes entry.
        for cut in range(len(name), 0, -1):
            prefix = name[:cut]
            if prefix in arrays:
                return (*prefix, str(arrays[prefix] - 1), *name[cut:])
        return name

    def line(self, path: tuple[str, ...]) -> int | None:
        """Line of the deepest prefix of ``path`` that appears in the text."""
        for cut in range(len(path), 0, -1):
            found = self._lines.get(tuple(path[:cut]))
            if found is not None:
                return found
        return None


def _split_key(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in key.split(".")]


def format_path(path: tuple[str, ...]) -> str:
    """``("mappings", "1", "in_range")`` -> ``mappings[1].in_range``."""
    out = ""
    for part in path:
        if part.isdigit():
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


@dataclasses.dataclass(frozen=True)
class _Context:
    file: Path
    locator: TomlLocator
    base_dir: Path

    def error(self, path: tuple[str, ...], message: str) -> ShowError:
        line = self.locator.line(path)
        where = f"{self.file}:{line}" if line else str(self.file)
        return ShowError(f"{where}: {format_path(path)}: {message}")


def load_dataclass(
    cls: type[T], data: Mapping[str, Any], *, file: Path, text: str, base_dir: Path | None = None
) -> T:
    """Build ``cls`` from a parsed TOML table, validating everything.

    Parameters
    ----------
    cls
        A (frozen) dataclass type whose fields describe the table.
    data
        The table as returned by ``tomllib.loads``.
    file
        The file the text came from, named in errors.
    text
        The TOML text, used only to find line numbers for errors.
    base_dir
        Directory that relative ``Path`` fields are resolved against (default: the file's).

    Raises
    ------
    ShowError
        One line: ``file:line: key.path: what is wrong``.
    """
    context = _Context(file, TomlLocator(text), base_dir or file.parent)
    return _convert(cls, data, (), context)


def _convert(tp: Any, value: Any, path: tuple[str, ...], ctx: _Context) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, path, ctx)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        if len(options) == 1:
            return _convert(options[0], value, path, ctx)
        for option in options:
            try:
                return _convert(option, value, path, ctx)
            except ShowError:
                continue
        raise ctx.error(path, f"no allowed form matches {_kind(value)}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            raise ctx.error(path, f"must be one of {choices}, got {value!r}")
        return value
    if origin is tuple:
        return _convert_tuple(tp, value, path, ctx)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, dict):
            raise ctx.error(path, f"expected a table, got {_kind(value)}")
        _, item_type = get_args(tp) or (str, Any)
        return types.MappingProxyType(
            {str(k): _convert(item_type, v, (*path, str(k)), ctx) for k, v in value.items()}
        )
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ctx.error(path, f"expected true or false, got {_kind(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(path, f"expected an integer, got {_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ctx.error(path, f"expected a number, got {_kind(value)}")
        if value != value or value in (float("inf"), float("-inf")):
            raise ctx.error(path, f"must be finite, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ctx.error(path, f"expected a string, got {_kind(value)}")
        return value
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise ctx.error(path, f"expected a file path string, got {_kind(value)}")
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (ctx.base_dir / candidate)
    raise TypeError(f"tomlconfig cannot convert to {tp!r}")  # a bug in the schema, not in the show


def _convert_tuple(tp: Any, value: Any, path: tuple[str, ...], ctx: _Context) -> tuple:
    args = get_args(tp)
    if not isinstance(value, list):
        raise ctx.error(path, f"expected an array, got {_kind(value)}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, (*path, str(i)), ctx) for i, v in enumerate(value))
    if len(value) != len(args):
        raise ctx.error(path, f"expected an array of {len(args)} values, got {len(value)}")
    pairs = enumerate(zip(args, value, strict=True))
    return tuple(_convert(a, v, (*path, str(i)), ctx) for i, (a, v) in pairs)


def _convert_dataclass(cls: Any, value: Any, path: tuple[str, ...], ctx: _Context) -> Any:
    if not isinstance(value, dict):
        raise ctx.error(path, f"expected a table, got {_kind(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = get_type_hints(cls)
    unknown = sorted(set(value) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields))
        raise ctx.error((*path, unknown[0]), f"unknown key (known keys here: {known})")
    kwargs = {}
    for name, spec in fields.items():
        key_path = (*path, name)
        if name not in value:
            missing = (
                spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            )
            if missing:
                raise ctx.error(key_path, "is required")
            continue
        converted = _convert(hints[name], value[name], key_path, ctx)
        _check_bounds(spec.metadata, converted, key_path, ctx)
        kwargs[name] = converted
    try:
        return cls(**kwargs)
    except ValueError as error:  # cross-field checks in __post_init__
        raise ctx.error(path, str(error)) from None


def _check_bounds(
    meta: Mapping[str, Any], value: Any, path: tuple[str, ...], ctx: _Context
) -> None:
    if isinstance(value, tuple):
        items = value
    elif isinstance(value, Mapping):
        items = tuple(value.values())
    else:
        items = (value,)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float):
            continue
        # TOML has inf and nan: no setting of a show means either, and they would reach
        # shaders, timers and allocations unchecked.
        if isinstance(item, float) and not math.isfinite(item):
            raise ctx.error(path, f"must be a finite number, got {item}")
        for key, test, words in (
            ("ge", lambda v, b: v >= b, ">="),
            ("gt", lambda v, b: v > b, ">"),
            ("le", lambda v, b: v <= b, "<="),
            ("lt", lambda v, b: v < b, "<"),
        ):
            limit = meta.get(key)
            if limit is not None and not test(item, limit):
                raise ctx.error(path, f"must be {words} {limit}, got {item}")


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    return f"{names.get(type(value), type(value).__name__)} ({value!r})"[:80]


def field_docs(cls: type) -> list[tuple[str, str, Any, str]]:
    """``(name, type, default, doc)`` for each field: the basis of the reference docs."""
    out = []
    hints = get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        default = spec.default
        if default is dataclasses.MISSING and spec.default_factory is not dataclasses.MISSING:
            default = spec.default_factory()
        out.append((spec.name, str(hints[spec.name]), default, spec.metadata.get("doc", "")))
    return out
