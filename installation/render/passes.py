"""The piece's shader passes, from ``shaders/``: generated image in, :class:`Frame` out.

Passes form a graph (:mod:`installation.render.graph`): each writes a named target, at its own
size, and reads the generated images and other targets. A fragment pass is one fullscreen
fragment shader (``out vec4 f_color``, ``in vec2 v_uv``) drawn ``steps`` times per frame; a
particle pass moves a buffer of particles with a GL 4.3 compute shader and draws them as
blended points, with trails. The last pass's output is the frame. GL calls stay on the thread
that created the context.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import moderngl
import numpy as np

from installation.errors import ShaderError
from installation.messages import Frame, GeneratedImage
from installation.render.graph import (
    FORMATS,
    GraphError,
    PassSpec,
    Plan,
    Source,
    plan_passes,
    target_size,
)
from installation.render.shader_source import ShaderSource, display_path, load_shader
from installation.render.splat import Splatter

__all__ = ["BUILTIN_UNIFORMS", "PassSpec", "Renderer", "declared_uniforms"]

_log = logging.getLogger(__name__)

# A single triangle covering the viewport, from gl_VertexID alone (no vertex buffer):
# vertices (0,0), (2,0), (0,2) in uv, so uv spans [0,1]^2 over the visible part.
VERTEX_SHADER = """#version 330
out vec2 v_uv;
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

# Particle points: one vertex per particle, read straight from the storage buffer the compute
# shader wrote (the layout of glsl/particles.glsl), so nothing goes back through the CPU.
POINT_VERTEX_SHADER = """#version 430
struct Particle { vec4 pos; vec4 color; vec4 data; };
layout(std430, binding = 0) readonly buffer Particles { Particle particles[]; };
uniform float u_point_size;
out vec4 v_color;
out vec4 v_particle;
out vec4 v_data;
void main() {
    Particle p = particles[gl_VertexID];
    gl_Position = vec4(p.pos.xy * 2.0 - 1.0, 0.0, 1.0);
    gl_PointSize = p.data.w > 0.0 ? p.data.w : u_point_size;
    v_color = p.color;
    v_particle = p.pos;
    v_data = p.data;
}
"""
POINT_FRAGMENT_SHADER = """#version 330
in vec4 v_color;
out vec4 f_color;
void main() { f_color = v_color; }
"""
# Trails of a particle pass: last frame's picture, dimmed, under this frame's points.
_FADE_SHADER = """#version 330
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_source;
uniform float u_fade;
void main() { f_color = texture(u_source, v_uv) * u_fade; }
"""

PARTICLE_BYTES = 48  # three vec4 per particle (std430)
_INT_UNIFORMS = ("u_step", "u_steps", "u_frame_count", "u_count")
_FLOAT_UNIFORMS = ("u_frame_mix", "u_time", "u_dt", "u_point_size")
_VEC2_UNIFORMS = ("u_resolution", "u_output_resolution")
BUILTIN_UNIFORMS = frozenset({"u_frame", "u_prev_frame", "u_input", "u_feedback",
                              *_INT_UNIFORMS, *_FLOAT_UNIFORMS, *_VEC2_UNIFORMS})
MAX_DT_S = 0.25  # a stalled frame must not make a simulation jump
# Reading a timer query waits for its pass, which stalls a GPU's pipeline: the budget times one
# frame in this many (the first frame included), so a slow pass is still caught within ~1 s.
BUDGET_EVERY = 30

_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_UNIFORM_RE = re.compile(
    r"\buniform\s+(?:(?:lowp|mediump|highp)\s+)?(?P<type>\w+)\s+(?P<names>[^;]+);"
)
_LOCAL_SIZE_RE = re.compile(r"layout\s*\([^)]*\blocal_size_x\s*=\s*(\d+)")


def declared_uniforms(source: str) -> dict[str, str]:
    """Find the uniforms a GLSL source declares, including ones the compiler drops.

    Parameters
    ----------
    source
        GLSL text (already include-expanded).

    Returns
    -------
    dict
        ``name -> GLSL type`` for every ``uniform`` declaration outside comments.
    """
    found: dict[str, str] = {}
    for m in _UNIFORM_RE.finditer(_COMMENT_RE.sub(" ", source)):
        for raw in m["names"].split(","):
            name = raw.split("=")[0].split("[")[0].strip()
            if name:
                found[name] = m["type"]
    return found


@dataclass(slots=True)
class _Program:
    """One compiled GL program with the handles the renderer sets every frame."""

    program: moderngl.Program | moderngl.ComputeShader
    where: str
    vao: moderngl.VertexArray | None = None
    # uniform name -> (control name, handle); only uniforms the compiler kept.
    controls: dict[str, tuple[str, moderngl.Uniform]] = field(default_factory=dict)
    integrals: dict[str, tuple[str, moderngl.Uniform]] = field(default_factory=dict)
    samplers: dict[str, tuple[Source, int]] = field(default_factory=dict)  # name -> (src, unit)
    builtins: dict[str, moderngl.Uniform] = field(default_factory=dict)
    local_size: int = 1

    def set(self, name: str, value: object) -> None:
        handle = self.builtins.get(name)
        if handle is not None:
            handle.value = value

    def release(self) -> None:
        if self.vao is not None:
            self.vao.release()
        self.program.release()


def _handle(program: moderngl.Program | moderngl.ComputeShader, name: str
            ) -> moderngl.Uniform | None:
    # The compiler drops uniforms a program never reads; those are simply not set.
    try:
        member = program.get(name, None)
    except KeyError:
        return None
    return member if isinstance(member, moderngl.Uniform) else None


def _check_declarations(where: str, spec: PassSpec, sources: Sequence[ShaderSource]) -> None:
    """The pass's uniforms and inputs against what its shaders (together) declare."""
    declared: dict[str, str] = {}
    for source in sources:
        declared.update(declared_uniforms(source.text))
    for table in ("uniforms", "integrals"):
        for uniform, control in getattr(spec, table).items():
            if uniform in BUILTIN_UNIFORMS:
                raise ShaderError(f"{where}: uniform {uniform} is set by the renderer and cannot"
                                  f" be mapped to control '{control}'")
            if declared.get(uniform) != "float":
                found = f" (it is declared as {declared[uniform]})" if uniform in declared else ""
                raise ShaderError(
                    f"{where}: no 'uniform float {uniform};' for control '{control}'{found}")
    for sampler in spec.inputs or {}:
        if declared.get(sampler) != "sampler2D":
            raise ShaderError(f"{where}: inputs.{sampler}: no 'uniform sampler2D {sampler};'")


def _bind(program: _Program, spec: PassSpec, sources: list[ShaderSource],
          reads: Mapping[str, Source]) -> None:
    """Collect the handles of one program (declarations already checked)."""
    declared: dict[str, str] = {}
    for source in sources:
        declared.update(declared_uniforms(source.text))
    where = program.where
    unit = 0
    for name, kind in declared.items():
        if kind != "sampler2D":
            continue
        handle = _handle(program.program, name)
        if handle is None:
            continue
        if name not in reads:
            raise ShaderError(f"{where}: sampler {name} is not bound: name its source in the"
                              f" pass's inputs, e.g. inputs = {{ {name} = \"frame\" }}")
        handle.value = unit
        program.samplers[name] = (reads[name], unit)
        unit += 1
    for name in (*_INT_UNIFORMS, *_FLOAT_UNIFORMS, *_VEC2_UNIFORMS):
        handle = _handle(program.program, name)
        if handle is not None:
            program.builtins[name] = handle
    program.controls = {u: (c, h) for u, c in spec.uniforms.items()
                        if (h := _handle(program.program, u)) is not None}
    program.integrals = {u: (c, h) for u, c in spec.integrals.items()
                         if (h := _handle(program.program, u)) is not None}


def _compile_fragment(ctx: moderngl.Context, vertex: str, path, fallback: str | None = None
                      ) -> tuple[moderngl.Program, ShaderSource | None]:
    source = load_shader(path) if path is not None else None
    text = source.text if source is not None else fallback
    try:
        program = ctx.program(vertex_shader=vertex, fragment_shader=text)
    except moderngl.Error as exc:
        if source is None:
            raise
        stage = "link" if "Linker" in str(exc) else "compile"
        raise source.error(str(exc), stage) from None
    return program, source


@dataclass(slots=True)
class _Compiled:
    """Everything GL-side of one pass that a reload replaces: its programs."""

    spec: PassSpec
    draw: _Program  # fragment pass: the fullscreen shader; particles: the point shader
    compute: _Program | None = None

    def release(self) -> None:
        self.draw.release()
        if self.compute is not None:
            self.compute.release()


def _compile(ctx: moderngl.Context, spec: PassSpec, reads: Mapping[str, Source]) -> _Compiled:
    if spec.kind == "fragment":
        program, source = _compile_fragment(ctx, VERTEX_SHADER, spec.shader)
        assert source is not None
        draw = _Program(program, display_path(spec.shader), ctx.vertex_array(program, []))
        try:
            _check_declarations(draw.where, spec, [source])
            _bind(draw, spec, [source], reads)
        except BaseException:
            draw.release()
            raise
        return _Compiled(spec, draw)
    assert spec.compute is not None
    if ctx.version_code < 430:
        raise ShaderError(f"{display_path(spec.compute)}: particle passes need OpenGL 4.3"
                          f" compute shaders; this driver gives"
                          f" {ctx.version_code // 100}.{ctx.version_code % 100 // 10}")
    csource = load_shader(spec.compute)
    try:
        cprogram = ctx.compute_shader(csource.text)
    except moderngl.Error as exc:
        raise csource.error(str(exc)) from None
    m = _LOCAL_SIZE_RE.search(_COMMENT_RE.sub(" ", csource.text))
    compute = _Program(cprogram, display_path(spec.compute), local_size=int(m[1]) if m else 1)
    draw: _Program | None = None
    try:
        program, fsource = _compile_fragment(ctx, POINT_VERTEX_SHADER, spec.shader,
                                             POINT_FRAGMENT_SHADER)
        where = display_path(spec.shader) if spec.shader is not None else compute.where
        draw = _Program(program, where, ctx.vertex_array(program, []))
        fsources = [fsource] if fsource is not None else []
        _check_declarations(compute.where, spec, [csource, *fsources])
        _bind(compute, spec, [csource], reads)
        _bind(draw, spec, fsources, reads)
    except BaseException:
        compute.release()
        if draw is not None:
            draw.release()
        raise
    return _Compiled(spec, draw, compute)


class _Target:
    """A pass's output: two (or three) textures used in turn, so it can read its own past.

    ``current`` holds the latest complete state. While the frame is drawn, ``previous`` is
    the state at the start of the frame; a multi-step pass whose previous frame another pass
    reads keeps it untouched in a third buffer.
    """

    def __init__(self, ctx: moderngl.Context, spec: PassSpec, size: tuple[int, int],
                 buffers: int) -> None:
        self.key = (size, spec.format, spec.filter, spec.wrap, spec.mipmaps, buffers)
        self.size = size
        self.mipmaps = spec.mipmaps
        self.textures: list[moderngl.Texture] = []
        self.fbos: list[moderngl.Framebuffer] = []
        try:
            for _ in range(buffers):
                tex = ctx.texture(size, 4, dtype=FORMATS[spec.format])
                nearest = spec.filter == "nearest"
                mag = moderngl.NEAREST if nearest else moderngl.LINEAR
                if spec.mipmaps:
                    tex.build_mipmaps()
                    low = (moderngl.NEAREST_MIPMAP_NEAREST if nearest
                           else moderngl.LINEAR_MIPMAP_LINEAR)
                    tex.filter = (low, mag)
                else:
                    tex.filter = (mag, mag)
                tex.repeat_x = tex.repeat_y = spec.wrap == "repeat"
                self.textures.append(tex)
                self.fbos.append(ctx.framebuffer(color_attachments=[tex]))
        except BaseException:
            self.release()
            raise
        self.current = 0
        self.previous = 0
        self.clear()

    def clear(self) -> None:
        for fbo in self.fbos:
            fbo.clear(0.0, 0.0, 0.0, 0.0)
        self.current = self.previous = 0

    def begin_frame(self) -> None:
        self.previous = self.current

    def next_write(self) -> int:
        busy = {self.current, self.previous}
        return next(i for i in range(len(self.fbos)) if i not in busy) \
            if len(self.fbos) > 2 else 1 - self.current

    def texture(self, src: Source) -> moderngl.Texture:
        return self.textures[self.previous if src.kind == "prev" else self.current]

    def finish_frame(self) -> None:
        if self.mipmaps:
            self.textures[self.current].build_mipmaps()

    def release(self) -> None:
        for obj in (*self.fbos, *self.textures):
            obj.release()
        self.fbos, self.textures = [], []


class _Particles:
    """A particle pass's state: a storage buffer of seeded particles."""

    def __init__(self, ctx: moderngl.Context, count: int, seed: int) -> None:
        self.key = (count, seed)
        self.count = count
        self.seed = seed
        self.buffer = ctx.buffer(reserve=count * PARTICLE_BYTES)
        self.reset()

    def reset(self) -> None:
        # numpy's seeded generator: the same start on every machine, whatever the GPU.
        rng = np.random.default_rng([self.seed, 0x9A27])
        state = np.zeros((self.count, 12), dtype=np.float32)
        state[:, 0:2] = rng.random((self.count, 2), dtype=np.float32)
        state[:, 10] = rng.random(self.count, dtype=np.float32)
        self.buffer.write(state.tobytes())

    def release(self) -> None:
        self.buffer.release()


def _splats(spec: PassSpec) -> bool:
    # Additive points in the engine's own colour are a sum, which the compute path adds
    # exactly and ~20x faster on a CPU (installation.render.splat); a piece's own point
    # fragment shader, or alpha blending (order matters), needs real points.
    return spec.kind == "particles" and spec.blend == "add" and spec.shader is None


def _buffer_count(spec: PassSpec, plan: Plan, index: int) -> int:
    # A pass that draws more than once per frame overwrites its previous frame by the second
    # step; if someone else reads that previous frame, keep it in a third buffer.
    draws = spec.steps if spec.kind == "fragment" else 1
    return 3 if draws > 1 and plan.keeps_previous(index) else 2


class Renderer:
    """Runs the piece's passes offscreen and reads the result back as a :class:`Frame`.

    Every pass may declare these inputs (unused ones are optimised away and skipped):

    ``sampler2D u_frame`` / ``u_prev_frame``
        The latest generated image and the one before it (linear filtering, mipmapped, so
        ``textureLod(u_frame, uv, 4.0)`` is a cheap blur). ``v_uv`` (0,0) is bottom-left.
    ``float u_frame_mix``
        0..1 crossfade from ``u_prev_frame`` to ``u_frame``.
    ``sampler2D u_feedback``
        This pass's own previous output (black at first); for a pass drawn ``steps``
        times, the previous step. Targets are RGBA16F unless the pass says otherwise, so
        slow fades do not stall on 8-bit steps.
    ``sampler2D u_input``
        Chain passes (no ``inputs`` table): the output of the pass above in the list; for
        the first pass, the same as ``u_frame``.
    ``sampler2D`` *any name* in the pass's ``inputs`` table: another target (see
    :mod:`installation.render.graph`).
    ``float u_time``, ``float u_dt``, ``vec2 u_resolution``, ``vec2 u_output_resolution``
        Seconds; seconds of engine time one step covers (frame time / ``steps``); the
        pass's own target size and the output size in pixels.
    ``int u_step``, ``int u_steps``, ``int u_frame_count``
        The step within the frame, the steps per frame, frames drawn since the start.

    plus one ``uniform float`` per entry of each pass's ``uniforms`` (a control's value) and
    ``integrals`` (the control's running integral over time). Particle passes: see
    ``glsl/particles.glsl``; their point shader also gets ``in vec4 v_color, v_particle,
    v_data`` and ``gl_PointCoord``.

    Parameters
    ----------
    ctx
        The GL context; use the renderer only on the thread that owns it.
    passes
        At least one pass; the last one's output is the frame.
    size
        Output ``(width, height)`` in pixels.
    gen_size
        ``(width, height)`` of the generated images given to :meth:`upload`.
    pass_budget_s
        Seconds one fragment pass may take for one frame (GL timer query); a pass over it is
        turned off for the run and passes its input through. ``None``: no budget (replay).

    Raises
    ------
    ShaderError
        A shader file is missing, fails to compile or link, lacks a ``uniform float`` named
        in its pass, or the graph is invalid (unknown target, cycle...).
    """

    def __init__(
        self,
        ctx: moderngl.Context,
        passes: Sequence[PassSpec],
        size: tuple[int, int],
        gen_size: tuple[int, int],
        pass_budget_s: float | None = None,
    ) -> None:
        if not passes:
            raise ValueError("Renderer needs at least one pass")
        self.ctx = ctx
        self.size = (int(size[0]), int(size[1]))
        self.gen_size = (int(gen_size[0]), int(gen_size[1]))
        if min(*self.size, *self.gen_size) <= 0:
            raise ValueError(f"sizes must be positive, got {size} and {gen_size}")
        self._compiled: list[_Compiled] = []
        self._targets: dict[str, _Target] = {}
        self._particles: dict[str, _Particles] = {}
        self._resources: list[moderngl.Texture] = []
        self._fade: moderngl.Program | None = None
        self._splatter: Splatter | None = None
        self.pass_budget_s = pass_budget_s
        # Passes found over budget, or that never finished a probe frame: passed through.
        self.turned_off: set[int] = set()
        # Called with a pass's index once it is drawn: the probe child (installation.
        # first_frame) waits there for the GPU, so a pass that never ends is named.
        self.after_pass: Callable[[int], None] | None = None
        self._kept_warned: set[int] = set()
        self._queries: dict[int, moderngl.Query] = {}
        try:
            plan, compiled = self._build(passes)
            self._plan, self._compiled = plan, compiled
            self._targets, self._particles = self._make_state(compiled, plan, {}, {})
            self._init_frames()
            fade = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=_FADE_SHADER)
            self._fade = fade
            self._fade_vao = ctx.vertex_array(fade, [])
            if pass_budget_s is not None:
                self._queries = {i: ctx.query(time=True) for i, c in enumerate(compiled)
                                 if c.spec.kind != "particles"}
        except BaseException:
            self.release()
            raise

    # -- building ---------------------------------------------------------------------------
    def _build(self, passes: Sequence[PassSpec]) -> tuple[Plan, list[_Compiled]]:
        specs = tuple(passes)
        try:
            plan = plan_passes(specs)
        except GraphError as error:
            where = specs[error.index].shader or specs[error.index].compute
            prefix = f"{display_path(where)}: " if where is not None else ""
            raise ShaderError(f"{prefix}{error}") from None
        compiled: list[_Compiled] = []
        try:
            for spec, reads in zip(specs, plan.reads, strict=True):
                compiled.append(_compile(self.ctx, spec, reads))
        except BaseException:
            for c in compiled:
                c.release()
            raise
        return plan, compiled

    def _make_state(self, compiled: list[_Compiled], plan: Plan,
                    old_targets: dict[str, _Target], old_particles: dict[str, _Particles]
                    ) -> tuple[dict[str, _Target], dict[str, _Particles]]:
        targets: dict[str, _Target] = {}
        particles: dict[str, _Particles] = {}
        try:
            for i, c in enumerate(compiled):
                name = plan.names[i]
                size = target_size(c.spec, self.size)
                buffers = _buffer_count(c.spec, plan, i)
                key = (size, c.spec.format, c.spec.filter, c.spec.wrap, c.spec.mipmaps, buffers)
                old = old_targets.get(name)
                targets[name] = old if old is not None and old.key == key else \
                    _Target(self.ctx, c.spec, size, buffers)
                if c.spec.kind == "particles":
                    keep = old_particles.get(name)
                    particles[name] = keep if keep is not None and keep.key == (
                        c.spec.count, c.spec.seed) else _Particles(self.ctx, c.spec.count,
                                                                   c.spec.seed)
        except BaseException:
            for t in targets.values():
                if t not in old_targets.values():
                    t.release()
            for p in particles.values():
                if p not in old_particles.values():
                    p.release()
            raise
        return targets, particles

    def _init_frames(self) -> None:
        gen_w, gen_h = self.gen_size
        # Two generated-image textures swap roles on upload: no per-frame allocation.
        self._latest, self._prev = (self._gen_texture() for _ in range(2))
        self._staging = np.zeros((gen_h, gen_w, 3), dtype=np.uint8)
        self._uploads = 0
        self._readback = np.zeros((self.size[1], self.size[0], 3), dtype=np.uint8)
        self._frames = 0
        self._last_t: float | None = None
        self._integrals: dict[str, float] = {}

    def _gen_texture(self) -> moderngl.Texture:
        tex = self.ctx.texture(self.gen_size, 3, dtype="f1")
        tex.repeat_x = tex.repeat_y = False
        tex.build_mipmaps()
        tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        self._resources.append(tex)
        return tex

    @property
    def passes(self) -> tuple[PassSpec, ...]:
        """The passes currently running."""
        return tuple(c.spec for c in self._compiled)

    @property
    def order(self) -> tuple[str, ...]:
        """The target names in the order they are drawn each frame."""
        return tuple(self._plan.names[i] for i in self._plan.order)

    @property
    def draw_order(self) -> tuple[int, ...]:
        """The passes' indices in the order they are drawn each frame."""
        return tuple(self._plan.order)

    def reset(self) -> None:
        """Clear every pass's state (feedback, simulations, particles, integrals), as if no
        frame had been rendered yet."""
        for target in self._targets.values():
            target.clear()
        for particles in self._particles.values():
            particles.reset()
        self._frames = 0
        self._last_t = None
        self._integrals = {}

    def reload(self, passes: Sequence[PassSpec] | None = None) -> None:
        """Recompile the passes from their files, swapping only if all of them compile.

        Parameters
        ----------
        passes
            New passes, or ``None`` to reload the current ones. The graph may change:
            targets (and particle buffers) whose name and settings are unchanged keep their
            state; new or changed ones start cleared.

        Raises
        ------
        ShaderError
            A pass fails; the running passes are left untouched, so a typo never blanks
            the output.
        """
        specs = self.passes if passes is None else tuple(passes)
        if not specs:
            raise ValueError("reload needs at least one pass")
        plan, compiled = self._build(specs)
        try:
            targets, particles = self._make_state(compiled, plan, self._targets,
                                                  self._particles)
        except BaseException:
            for c in compiled:
                c.release()
            raise
        self._queries = {}  # moderngl frees queries with the context
        for c in self._compiled:
            c.release()
        for name, target in self._targets.items():
            if targets.get(name) is not target:
                target.release()
        for name, state in self._particles.items():
            if particles.get(name) is not state:
                state.release()
        self._plan, self._compiled = plan, compiled
        self._targets, self._particles = targets, particles

    def upload(self, image: GeneratedImage) -> None:
        """Make ``image`` the latest generated image; the old latest becomes the previous.

        Parameters
        ----------
        image
            Pixels ``(h, w, 3)`` uint8, top row first, matching ``gen_size``. The first
            upload fills both the latest and the previous image.
        """
        gen_w, gen_h = self.gen_size
        pixels = image.pixels
        if pixels.shape != (gen_h, gen_w, 3) or pixels.dtype != np.uint8:
            raise ValueError(
                f"generated image must be ({gen_h}, {gen_w}, 3) uint8,"
                f" got {pixels.shape} {pixels.dtype}"
            )
        # GL's first texture row is the bottom (v = 0), the image's is the top.
        np.copyto(self._staging, pixels[::-1])
        self._latest, self._prev = self._prev, self._latest
        targets = (self._latest, self._prev) if self._uploads == 0 else (self._latest,)
        for tex in targets:
            tex.write(self._staging)
            tex.build_mipmaps()
            tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        self._uploads += 1

    # -- drawing ----------------------------------------------------------------------------
    def _texture(self, src: Source) -> moderngl.Texture:
        if src.kind == "frame":
            return self._latest if src.name == "frame" else self._prev
        return self._targets[src.name].texture(src)

    def _bind_own(self, program: _Program, name: str, texture: moderngl.Texture) -> None:
        for src, unit in program.samplers.values():
            if src.kind == "prev" and src.name == name:
                texture.use(location=unit)

    def _draw_fragment(self, c: _Compiled, name: str, target: _Target,
                       controls: Mapping[str, float], t: float, mix: float, dt: float) -> None:
        program = c.draw
        # Samplers that read other targets are the same for every step.
        for src, unit in program.samplers.values():
            if not (src.kind == "prev" and src.name == name):
                self._texture(src).use(location=unit)
        self._set_common(program, controls, t, mix, dt, c.spec, target.size)
        for step in range(c.spec.steps):
            write = target.next_write()
            self._bind_own(program, name, target.textures[target.current])
            program.set("u_step", step)
            target.fbos[write].use()
            assert program.vao is not None
            program.vao.render(moderngl.TRIANGLES, vertices=3)
            target.current = write

    def _set_common(self, program: _Program, controls: Mapping[str, float], t: float,
                    mix: float, dt: float, spec: PassSpec, size: tuple[int, int]) -> None:
        program.set("u_frame_mix", mix)
        program.set("u_time", float(t))
        program.set("u_dt", dt / spec.steps)
        program.set("u_resolution", (float(size[0]), float(size[1])))
        program.set("u_output_resolution", (float(self.size[0]), float(self.size[1])))
        program.set("u_steps", int(spec.steps))
        program.set("u_frame_count", int(self._frames))
        program.set("u_count", int(spec.count))
        program.set("u_point_size", float(spec.point_size))
        for control, handle in program.controls.values():
            handle.value = float(controls.get(control, 0.0))
        for control, handle in program.integrals.values():
            handle.value = float(self._integrals.get(control, 0.0))

    def _draw_particles(self, c: _Compiled, name: str, target: _Target,
                        controls: Mapping[str, float], t: float, mix: float, dt: float) -> None:
        ctx = self.ctx
        state = self._particles[name]
        compute = c.compute
        assert compute is not None
        state.buffer.bind_to_storage_buffer(0)
        for src, unit in compute.samplers.values():
            self._texture(src).use(location=unit)
        self._set_common(compute, controls, t, mix, dt, c.spec, target.size)
        groups = math.ceil(state.count / max(1, compute.local_size))
        for step in range(c.spec.steps):
            compute.set("u_step", step)
            compute.program.run(groups)
            # Each step reads what the previous one wrote; the points read the last one.
            ctx.memory_barrier(moderngl.SHADER_STORAGE_BARRIER_BIT)
        write = target.next_write()
        fbo = target.fbos[write]
        if _splats(c.spec):
            if self._splatter is None:
                self._splatter = Splatter(ctx)
            self._splatter.draw(state.buffer, state.count, c.spec.point_size, fbo, target.size,
                                unorm=c.spec.format == "rgba8",
                                previous=target.textures[target.current], fade=c.spec.fade)
            target.current = write
            return
        fbo.use()
        if c.spec.fade > 0.0:
            assert self._fade is not None
            target.textures[target.current].use(location=0)
            self._fade["u_source"].value = 0
            self._fade["u_fade"].value = float(c.spec.fade)
            self._fade_vao.render(moderngl.TRIANGLES, vertices=3)
        else:
            fbo.clear(0.0, 0.0, 0.0, 0.0)
        draw = c.draw
        for src, unit in draw.samplers.values():
            self._texture(src).use(location=unit)
        self._set_common(draw, controls, t, mix, dt, c.spec, target.size)
        ctx.enable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
        if c.spec.blend == "add":
            ctx.blend_func = moderngl.ONE, moderngl.ONE
        else:
            ctx.blend_func = (moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA,
                              moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)
        assert draw.vao is not None
        draw.vao.render(moderngl.POINTS, vertices=state.count)
        ctx.disable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
        target.current = write

    def render(
        self, t: float, frame_mix: float, controls: Mapping[str, float], index: int
    ) -> Frame:
        """Run every pass, in graph order, and read the last one back.

        Parameters
        ----------
        t
            Engine time in seconds (``u_time``, and the frame's ``t``).
        frame_mix
            Crossfade from the previous to the latest generated image, clipped to 0..1.
        controls
            Control values by name; a control missing here reads as 0.0 (the show's
            validation is where a misspelt control name is caught).
        index
            The frame's index.

        Returns
        -------
        Frame
            ``(h, w, 3)`` uint8, top row first; the array is the caller's to keep.
        """
        ctx = self.ctx
        ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        mix = float(min(max(frame_mix, 0.0), 1.0))
        # Time since the last frame, for simulations: none at the first frame or after a
        # seek backwards, and bounded after a stall, so state never jumps.
        dt = 0.0 if self._last_t is None else min(max(t - self._last_t, 0.0), MAX_DT_S)
        self._last_t = float(t)
        # Each control is integrated once per frame, however many uniforms name it.
        for control in {c for p in self._compiled for c in p.spec.integrals.values()}:
            value = float(controls.get(control, 0.0))
            if math.isfinite(value):
                self._integrals[control] = self._integrals.get(control, 0.0) + value * dt
        for target in self._targets.values():
            target.begin_frame()
        for i in self._plan.order:
            c = self._compiled[i]
            name = self._plan.names[i]
            target = self._targets[name]
            if i in self.turned_off:
                self._pass_through(i, target)
            elif c.spec.kind == "particles":
                self._draw_particles(c, name, target, controls, t, mix, dt)
            elif i not in self._queries or self._frames % BUDGET_EVERY:
                self._draw_fragment(c, name, target, controls, t, mix, dt)
            else:
                with self._queries[i]:
                    self._draw_fragment(c, name, target, controls, t, mix, dt)
                if self._over_budget(i, c):
                    self._pass_through(i, target)  # this frame goes on without it too
            target.finish_frame()
            if self.after_pass is not None:
                self.after_pass(i)
        out = self._targets[self._plan.names[self._plan.output]]
        out.fbos[out.current].read_into(self._readback, components=3, alignment=1, dtype="f1")
        self._frames += 1
        # The flip to top-row-first is also the copy the caller may keep.
        return Frame(index=index, t=float(t), pixels=np.ascontiguousarray(self._readback[::-1]))

    def _over_budget(self, index: int, c: _Compiled) -> bool:
        """True if pass ``index``, just drawn under its timer query, went over the budget
        and is now turned off for the rest of the run (one logged line)."""
        took = self._queries[index].elapsed / 1e9  # waits for the pass: its real cost
        budget = self.pass_budget_s
        if budget is None or took <= budget:
            return False
        name = display_path(c.spec.shader) if c.spec.shader is not None else f"pass {index}"
        if len(self.turned_off) + 1 >= len(self._queries):
            if index not in self._kept_warned:
                self._kept_warned.add(index)
                _log.warning("pass %d (%s) took %.2f s, over its budget of %g s; kept: it is"
                             " the only pass left", index, name, took, budget)
            return False
        self.turned_off.add(index)
        _log.warning("pass %d (%s) took %.2f s, over its budget of %g s: turned off for the"
                     " rest of the run", index, name, took, budget)
        return True

    def _pass_through(self, index: int, target: _Target) -> None:
        """Fill a turned-off pass's target with what it would have read as ``u_input``, so
        the passes after it go on as if it were not there."""
        src = self._plan.reads[index].get("u_input", Source("frame", "frame"))
        write = target.next_write()
        target.fbos[write].use()
        assert self._fade is not None
        self._texture(src).use(location=0)
        self._fade["u_source"].value = 0
        self._fade["u_fade"].value = 1.0
        self._fade_vao.render(moderngl.TRIANGLES, vertices=3)
        target.current = write

    def release(self) -> None:
        """Free the GL objects; the renderer cannot be used afterwards."""
        for c in self._compiled:
            c.release()
        for target in self._targets.values():
            target.release()
        for state in self._particles.values():
            state.release()
        for resource in self._resources:
            resource.release()
        if self._fade is not None:
            self._fade_vao.release()
            self._fade.release()
            self._fade = None
        if self._splatter is not None:
            self._splatter.release()
            self._splatter = None
        self._compiled = []
        self._targets = {}
        self._particles = {}
        self._resources = []

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
