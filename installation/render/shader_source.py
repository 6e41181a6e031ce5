"""Load shader files the artist owns: ``#include`` resolution and error-line mapping.

A shader in ``shaders/`` may ``#include "common.glsl"`` (relative to the including file;
a name not found there comes from the engine's own GLSL library, ``installation/render/glsl/``,
e.g. ``#include "particles.glsl"``).
The includes are expanded here, and ``#line`` directives are inserted so that the driver's
line numbers can be mapped back to the real file and line, the way moderngl-window's
``opengl/program.py::ShaderSource`` does. GLSL's ``#line`` takes a *source-string number*,
not a file name, so :class:`ShaderSource` keeps a table from that number to the file and
rewrites the driver's error log into ``path:line: message``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from installation.errors import ShaderError

# Line numbers given to the driver are file_index * _LINE_STRIDE + line. Mesa reports the
# source-string number of many semantic errors as 0 whatever "#line N S" said, but it keeps
# N right; folding the file index into N makes the mapping independent of that bug.
_LINE_STRIDE = 100_000
# GLSL the engine ships (the particle layout): found when the artist's folder has no such file.
LIBRARY = Path(__file__).resolve().parent / "glsl"

_VERSION_RE = re.compile(r"^\s*#\s*version\s+(\d+)(\s+es)?\b")
_INCLUDE_RE = re.compile(r"^\s*#\s*include\b(.*)$")
_INCLUDE_ARG_RE = re.compile(r'^\s*"([^"]+)"\s*(//.*)?$')

# Driver log formats, "string:line" in all of them:
#   Mesa:             0:12(3): error: ...
#   NVIDIA:           0(12) : error C0000: ...
#   AMD/Intel (Win):  ERROR: 0:12: ...
_LOG_PATTERNS = (
    re.compile(r"^(?P<pre>)(?P<src>\d+):(?P<line>\d+)\(\d+\):\s*(?P<msg>.*)$"),
    re.compile(r"^(?P<pre>)(?P<src>\d+)\((?P<line>\d+)\)\s*:\s*(?P<msg>.*)$"),
    re.compile(r"^(?P<pre>(?:ERROR|WARNING):\s*)(?P<src>\d+):(?P<line>\d+):\s*(?P<msg>.*)$"),
)


def display_path(path: Path) -> str:
    """Return ``path`` relative to the working directory when it lies below it.

    Parameters
    ----------
    path
        Any file path.

    Returns
    -------
    str
        The shortest sensible spelling for an error message, e.g. ``shaders/pulse.frag``.
    """
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class ShaderSource:
    """An expanded shader: the text for the driver plus the table to map its errors back.

    Attributes
    ----------
    path
        The main shader file.
    text
        The source with includes expanded and ``#line`` directives inserted.
    files
        ``files[i]`` is the file behind GLSL source-string number ``i`` (``files[0]`` is
        ``path``); its lines are numbered from ``i * 100000 + 1`` in ``text``.
    """

    path: Path
    text: str
    files: tuple[Path, ...]

    def map_log(self, log: str) -> list[str]:
        """Rewrite a driver's compile log so every message names its real file and line.

        Parameters
        ----------
        log
            The log as the driver (or moderngl's exception) gives it.

        Returns
        -------
        list of str
            One ``path:line: message`` entry per message line; lines in an unknown format
            are kept as they are, prefixed with the main file.
        """
        out: list[str] = []
        for raw in log.splitlines():
            line = raw.strip()
            if not line or _is_moderngl_banner(line):
                continue
            out.append(self._map_line(line))
        return out

    def error(self, log: str, stage: str = "compile") -> ShaderError:
        """Build the one-line :class:`ShaderError` for a failed compile or link.

        Parameters
        ----------
        log
            The driver's log.
        stage
            ``"compile"`` or ``"link"``, used only when the log holds no message.

        Returns
        -------
        ShaderError
            ``"shaders/x.frag:12: error: ..."``, naming the first error and how many more.
        """
        messages = self.map_log(log)
        errors = [m for m in messages if "error" in m.lower()] or messages
        if not errors:
            return ShaderError(f"{display_path(self.path)}: {stage} failed (no driver log)")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return ShaderError(errors[0] + more)

    def _map_line(self, line: str) -> str:
        for pattern in _LOG_PATTERNS:
            m = pattern.match(line)
            if m is None:
                continue
            src, line_number = divmod(int(m["line"]), _LINE_STRIDE)
            if src >= len(self.files):
                break
            return f"{display_path(self.files[src])}:{line_number}: {m['pre']}{m['msg']}"
        return f"{display_path(self.path)}: {line}"


def _is_moderngl_banner(line: str) -> bool:
    # moderngl wraps the driver log in "GLSL Compiler failed / fragment_shader / =====".
    return (
        line.startswith("GLSL Compiler failed")
        or line.startswith("GLSL Linker failed")
        or line in ("vertex_shader", "fragment_shader", "geometry_shader", "Program")
        or set(line) == {"="}
    )


def _read(path: Path, where: str) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ShaderError(f"{where}shader file not found: {display_path(path)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ShaderError(f"{where}cannot read shader file {display_path(path)}: {exc}") from None


class _Expander:
    def __init__(self, line_offset: int) -> None:
        # GLSL < 3.30 (and Mesa follows it) numbers the line *after* "#line N" as N + 1.
        self.line_offset = line_offset
        self.files: list[Path] = []
        self.done: set[Path] = set()
        self.out: list[str] = []

    def line_directive(self, line: int, src: int) -> str:
        return f"#line {src * _LINE_STRIDE + line + self.line_offset} {src}"

    def expand(self, path: Path, lines: Sequence[str], stack: tuple[Path, ...]) -> None:
        key = path.resolve()
        self.done.add(key)
        src = len(self.files)
        self.files.append(path)
        self.out.append(self.line_directive(1, src))
        for number, text in enumerate(lines, start=1):
            if _VERSION_RE.match(text):
                # Already emitted first (main file) or meaningless (include, kept for
                # editors that lint the file alone); a blank keeps the numbering.
                self.out.append("")
                continue
            m = _INCLUDE_RE.match(text)
            if m is None:
                # moderngl expands '#include "x"' anywhere, even inside a comment; the
                # includes are already resolved here, so defuse any that are left.
                self.out.append(text.replace("#include", "# include"))
                continue
            where = f"{display_path(path)}:{number}: "
            arg = _INCLUDE_ARG_RE.match(m[1])
            if arg is None:
                raise ShaderError(f'{where}#include needs a quoted file name: #include "x.glsl"')
            target = path.parent / arg[1]
            if not target.exists() and (LIBRARY / arg[1]).is_file():
                target = LIBRARY / arg[1]
            target_key = target.resolve()
            if target_key in stack:
                chain = " -> ".join(display_path(p) for p in (*stack, target_key))
                raise ShaderError(f"{where}#include cycle: {chain}")
            if target_key not in self.done:
                target_lines = _read(target, where)
                self.expand(target, target_lines, (*stack, target_key))
            # Back in this file: the next line is number + 1.
            self.out.append(self.line_directive(number + 1, src))


def load_shader(path: str | Path) -> ShaderSource:
    """Read a shader file, expanding ``#include`` and inserting ``#line`` directives.

    ``#include "x.glsl"`` is resolved relative to the including file (then in the engine's
    library, :data:`LIBRARY`), recursively, and each file is included at most once (a later
    ``#include`` of the same file is dropped).
    The ``#version`` line of the main file is moved to the very top, as GLSL requires;
    ``#version`` lines in included files are blanked out.

    Parameters
    ----------
    path
        The main shader file, e.g. ``shaders/pulse.frag``.

    Returns
    -------
    ShaderSource
        The expanded text and the table to map compiler errors back to files.

    Raises
    ------
    ShaderError
        The file or an included file is missing or unreadable, an ``#include`` is malformed,
        or the includes form a cycle. The message names the file (and the including
        ``file:line``).
    """
    path = Path(path)
    lines = _read(path, "")
    version_line = next((t for t in lines if _VERSION_RE.match(t)), None)
    line_offset = 0
    header: list[str] = []
    if version_line is not None:
        m = _VERSION_RE.match(version_line)
        assert m is not None
        is_modern = m[2] is not None or int(m[1]) >= 330
        line_offset = 0 if is_modern else -1
        header.append(version_line.strip())
    expander = _Expander(line_offset)
    expander.expand(path, lines, (path.resolve(),))
    text = "\n".join([*header, *expander.out]) + "\n"
    return ShaderSource(path=path, text=text, files=tuple(expander.files))
