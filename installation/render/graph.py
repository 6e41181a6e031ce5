"""The piece's passes as a graph: named targets, inputs, sizes, steps, particles (no GL here).

A pass writes one named target. It reads other targets through its ``inputs`` table
(``sampler uniform -> source``), where a source is

``NAME``
    that pass's output *this* frame: the graph draws ``NAME`` first (an edge);
``NAME.prev``
    that pass's output from the previous frame (no edge: how two passes feed each other);
its own name (or ``NAME.prev`` of itself)
    its own previous state: the ping-pong buffer of a simulation or of trails;
``frame`` / ``prev_frame``
    the latest generated image and the one before it.

Passes without an ``inputs`` table are *chain* passes, as shows were before the graph:
``u_input`` is the output of the pass above it in the file (the generated image for the
first), ``u_feedback`` is its own previous output. A show that is a plain list of passes is
therefore the chain it always was. The frame is the output of the last pass in the file.

The order the passes are drawn in is the file order, except that a pass is moved after the
passes it reads (a stable topological sort), so artists may write passes in any order; a
cycle is an error that names the passes involved.

This module is pure Python: ``installation/show.py`` validates a show with it at load time
(errors name file and line), and :class:`~installation.render.passes.Renderer` plans with it.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

FRAME_SOURCES = {"frame": "u_frame", "prev_frame": "u_prev_frame"}
PREV_SUFFIX = ".prev"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KINDS = ("fragment", "particles")
FORMATS = {"rgba8": "f1", "rgba16f": "f2", "rgba32f": "f4"}
FILTERS = ("linear", "nearest")
WRAPS = ("clamp", "repeat", "mirror")
BLENDS = ("add", "alpha")
MAX_STEPS = 256
MAX_PARTICLES = 1 << 24  # 16M: 768 MiB of state, beyond any GPU a gallery runs


@dataclass(frozen=True, slots=True)
class PassSpec:
    """One pass of the piece.

    Parameters
    ----------
    shader
        The fragment shader file, e.g. ``shaders/pulse.frag``. For a particle pass it
        colours each point (optional: a built-in one draws the particle's colour).
    uniforms
        ``uniform name -> control name``: each named ``uniform float`` is set every frame
        from that control's value.
    name
        The target this pass writes, read by other passes by this name (default
        ``pass<i>``, ``i`` its index in the list).
    inputs
        ``sampler2D uniform -> source`` (see the module docstring). ``None``: a chain pass.
    size, scale
        The target's size in pixels, or a factor on the output size (default 1.0). The
        last pass (the frame) is always the output size.
    steps
        Times the pass is drawn per frame, each step reading its own previous step
        (simulations: reaction-diffusion, fluids, cellular automata).
    format, filter, wrap, mipmaps
        Texel format of the target (``rgba8``, ``rgba16f``, ``rgba32f``), how readers sample
        it (``linear`` | ``nearest``; ``clamp`` | ``repeat`` | ``mirror``), and whether
        mipmaps are built after it is drawn (``textureLod`` blurs for free).
    integrals
        ``uniform name -> control name``: the uniform gets the running integral of the
        control over engine time (a phase that speeds up and slows down smoothly, e.g. a
        breath from a breathing rate, never jumping when the rate changes).
    kind
        ``fragment`` (a fullscreen shader) or ``particles``.
    compute
        Particles: the GL 4.3 compute shader that moves them (``steps`` times per frame).
    count, seed
        Particles: how many, and the seed of their initial positions.
    blend, fade, point_size
        Particles: ``add`` (light) or ``alpha`` blending of the points; how much of the
        previous frame's picture stays (0: cleared each frame; 0.95: long trails); the
        point size in pixels when a particle sets none.
    """

    shader: Path | None = None
    uniforms: Mapping[str, str] = field(default_factory=dict)
    name: str = ""
    inputs: Mapping[str, str] | None = None
    size: tuple[int, int] | None = None
    scale: float = 1.0
    steps: int = 1
    format: str = "rgba16f"
    filter: str = "linear"
    wrap: str = "clamp"
    mipmaps: bool = False
    integrals: Mapping[str, str] = field(default_factory=dict)
    kind: str = "fragment"
    compute: Path | None = None
    count: int = 0
    seed: int = 0
    blend: str = "add"
    fade: float = 0.0
    point_size: float = 1.0

    def __post_init__(self) -> None:
        if self.shader is not None:
            object.__setattr__(self, "shader", Path(self.shader))
        if self.compute is not None:
            object.__setattr__(self, "compute", Path(self.compute))
        object.__setattr__(self, "uniforms", MappingProxyType(dict(self.uniforms)))
        object.__setattr__(self, "integrals", MappingProxyType(dict(self.integrals)))
        if self.inputs is not None:
            object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))
        if self.size is not None:
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    @property
    def files(self) -> tuple[Path, ...]:
        """The shader files of this pass (for hot reload)."""
        return tuple(p for p in (self.shader, self.compute) if p is not None)


class GraphError(ValueError):
    """A pass graph that cannot run: ``index`` and ``key`` name the offending entry."""

    def __init__(self, index: int, key: str, message: str) -> None:
        super().__init__(f"passes[{index}].{key}: {message}")
        self.index = index
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class Source:
    """Where one sampler reads from."""

    kind: str  # "frame" (a generated image), "target" (this frame), "prev" (last frame / state)
    name: str  # the frame source ("frame" | "prev_frame") or the target's name


@dataclass(frozen=True, slots=True)
class Plan:
    """The checked graph: names, what each pass reads, and the order to draw them in."""

    names: tuple[str, ...]
    reads: tuple[Mapping[str, Source], ...]  # per pass: sampler -> source (explicit + implied)
    order: tuple[int, ...]
    output: int

    def keeps_previous(self, index: int) -> bool:
        """Whether another pass reads this one's previous frame (so a multi-step pass must
        keep it in a third buffer)."""
        name = self.names[index]
        return any(
            src.kind == "prev" and src.name == name
            for i, reads in enumerate(self.reads) if i != index
            for src in reads.values()
        )


def pass_name(spec: PassSpec, index: int) -> str:
    return spec.name or f"pass{index}"


def _check_spec(spec: PassSpec, i: int, last: bool) -> None:
    if spec.kind not in KINDS:
        raise GraphError(i, "kind", f"must be one of {', '.join(KINDS)}, got {spec.kind!r}")
    if spec.name and not NAME_RE.match(spec.name):
        raise GraphError(i, "name", f"{spec.name!r} must be letters, digits and _ (not a digit"
                         " first)")
    if spec.name in FRAME_SOURCES:
        raise GraphError(i, "name", f"{spec.name!r} is reserved for the generated images")
    if spec.format not in FORMATS:
        raise GraphError(i, "format", f"must be one of {', '.join(FORMATS)}, got {spec.format!r}")
    if spec.filter not in FILTERS:
        raise GraphError(i, "filter", f"must be one of {', '.join(FILTERS)}")
    if spec.wrap not in WRAPS:
        raise GraphError(i, "wrap", f"must be one of {', '.join(WRAPS)}")
    if spec.blend not in BLENDS:
        raise GraphError(i, "blend", f"must be one of {', '.join(BLENDS)}")
    if not 1 <= spec.steps <= MAX_STEPS:
        raise GraphError(i, "steps", f"must be 1..{MAX_STEPS}, got {spec.steps}")
    if not 0.0 < spec.scale <= 4.0:
        raise GraphError(i, "scale", f"must be in (0, 4], got {spec.scale}")
    if spec.size is not None and min(spec.size) < 1:
        raise GraphError(i, "size", f"must be positive, got {list(spec.size)}")
    if last and (spec.size is not None or spec.scale != 1.0):
        raise GraphError(i, "size" if spec.size is not None else "scale",
                         "the last pass is the frame: it is drawn at the output size")
    if spec.kind == "fragment":
        for key, bad in (("compute", spec.compute is not None), ("count", spec.count != 0)):
            if bad:
                raise GraphError(i, key, "only particle passes (kind = \"particles\") have"
                                 f" {key}")
        if spec.shader is None:
            raise GraphError(i, "shader", "a fragment pass needs a shader")
    else:
        if spec.compute is None:
            raise GraphError(i, "compute", "a particle pass needs a compute shader"
                             " (compute = \"shaders/x.comp\")")
        if not 1 <= spec.count <= MAX_PARTICLES:
            raise GraphError(i, "count", f"must be 1..{MAX_PARTICLES}, got {spec.count}")
        if not 0.0 <= spec.fade < 1.0:
            raise GraphError(i, "fade", f"must be in [0, 1), got {spec.fade}")
        if not 0.0 < spec.point_size <= 64.0:
            raise GraphError(i, "point_size", f"must be in (0, 64], got {spec.point_size}")
    for table in ("uniforms", "integrals"):
        for uniform in getattr(spec, table):
            if not NAME_RE.match(uniform):
                raise GraphError(i, f"{table}.{uniform}", "is not a GLSL uniform name")


def _parse_source(spec: PassSpec, i: int, sampler: str, text: str, names: Mapping[str, int],
                  own: str) -> Source:
    where = f"inputs.{sampler}"
    if not NAME_RE.match(sampler):
        raise GraphError(i, where, "is not a GLSL sampler name")
    if text in FRAME_SOURCES:
        return Source("frame", text)
    prev = text.endswith(PREV_SUFFIX)
    name = text[: -len(PREV_SUFFIX)] if prev else text
    if name not in names:
        known = ", ".join([*FRAME_SOURCES, *names]) or "none"
        raise GraphError(i, where, f"unknown target {text!r} (targets: {known}; add"
                         f" {PREV_SUFFIX!r} for a target's previous frame)")
    if prev or name == own:
        return Source("prev", name)
    return Source("target", name)


def plan_passes(specs: Sequence[PassSpec]) -> Plan:
    """Check the passes and decide the order they are drawn in.

    Raises
    ------
    GraphError
        An invalid key, a duplicate or unknown target name, or a cycle; ``index`` and
        ``key`` say which ``[[passes]]`` entry and key.
    """
    if not specs:
        raise GraphError(0, "shader", "a piece needs at least one pass")
    names: dict[str, int] = {}
    for i, spec in enumerate(specs):
        _check_spec(spec, i, last=i == len(specs) - 1)
        name = pass_name(spec, i)
        if name in names:
            raise GraphError(i, "name", f"target {name!r} is already written by passes"
                             f"[{names[name]}]")
        names[name] = i
    all_reads: list[dict[str, Source]] = []
    for i, spec in enumerate(specs):
        own = pass_name(spec, i)
        reads = {"u_frame": Source("frame", "frame"), "u_prev_frame": Source("frame", "prev_frame"),
                 "u_feedback": Source("prev", own)}
        if spec.inputs is None:
            reads["u_input"] = (Source("target", pass_name(specs[i - 1], i - 1)) if i
                                else Source("frame", "frame"))
        else:
            for sampler, text in spec.inputs.items():
                reads[sampler] = _parse_source(spec, i, sampler, text, names, own)
        all_reads.append(reads)
    edges: list[set[int]] = [set() for _ in specs]  # edges[i]: passes i reads this frame
    for i, reads in enumerate(all_reads):
        for src in reads.values():
            if src.kind == "target":
                edges[i].add(names[src.name])
    order = _toposort(edges, specs, all_reads, names)
    return Plan(names=tuple(names), reads=tuple(MappingProxyType(r) for r in all_reads),
                order=order, output=len(specs) - 1)


def _toposort(edges: list[set[int]], specs: Sequence[PassSpec],
              reads: list[dict[str, Source]], names: Mapping[str, int]) -> tuple[int, ...]:
    # Kahn's algorithm with the file index as priority: the file order wherever it works.
    waiting = [len(e) for e in edges]
    readers: list[list[int]] = [[] for _ in specs]
    for i, deps in enumerate(edges):
        for d in deps:
            readers[d].append(i)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers[i]:
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, r)
    if len(order) == len(specs):
        return tuple(order)
    # Name one cycle: walk edges among the passes left over until a pass repeats.
    left = set(range(len(specs))) - set(order)
    start = min(left)
    path = [start]
    while True:
        nxt = min(d for d in edges[path[-1]] if d in left)
        if nxt in path:
            cycle = [*path[path.index(nxt):], nxt]
            break
        path.append(nxt)
    first = cycle[0]
    spelled = " -> ".join(pass_name(specs[k], k) for k in cycle)
    to = pass_name(specs[cycle[1]], cycle[1])
    sampler = next(s for s, src in reads[first].items()
                   if src.kind == "target" and names[src.name] == cycle[1])
    key = f"inputs.{sampler}" if specs[first].inputs is not None else "shader"
    raise GraphError(first, key, f"the passes read each other in a cycle ({spelled}); read"
                     f" '{to}{PREV_SUFFIX}' to use its previous frame instead")


def target_size(spec: PassSpec, output: tuple[int, int]) -> tuple[int, int]:
    """The pixel size of a pass's target for an output of ``output`` pixels."""
    if spec.size is not None:
        return spec.size
    return (max(1, round(output[0] * spec.scale)), max(1, round(output[1] * spec.scale)))
