"""Fullscreen shader passes from ``shaders/``: generated image in, :class:`Frame` out.

Every pass is one fragment shader drawn over the whole output with a built-in vertex
shader. Each pass sees the same set of inputs (see :class:`Renderer`) and writes
``out vec4 f_color``; the last pass's output is the frame. GL calls stay on the thread that
created the context.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import moderngl
import numpy as np

from installation.errors import ShaderError
from installation.messages import Frame, GeneratedImage
from installation.render.shader_source import ShaderSource, display_path, load_shader

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

# Texture units are fixed so that sampler uniforms are set once per program.
_SAMPLER_UNITS = {"u_frame": 0, "u_prev_frame": 1, "u_input": 2, "u_feedback": 3}
BUILTIN_UNIFORMS = frozenset({*_SAMPLER_UNITS, "u_frame_mix", "u_time", "u_resolution"})

_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_UNIFORM_RE = re.compile(
    r"\buniform\s+(?:(?:lowp|mediump|highp)\s+)?(?P<type>\w+)\s+(?P<names>[^;]+);"
)


@dataclass(frozen=True, slots=True)
class PassSpec:
    """One pass of the piece.

    Parameters
    ----------
    shader
        The fragment shader file, e.g. ``shaders/pulse.frag``.
    uniforms
        ``uniform name -> control name``: each named ``uniform float`` is set every frame
        from that control's value.
    """

    shader: Path
    uniforms: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shader", Path(self.shader))
        object.__setattr__(self, "uniforms", MappingProxyType(dict(self.uniforms)))


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
    spec: PassSpec
    program: moderngl.Program
    vao: moderngl.VertexArray
    # uniform name -> (control name, handle); only uniforms the compiler kept.
    controls: dict[str, tuple[str, moderngl.Uniform]]
    samplers: tuple[str, ...]
    frame_mix: moderngl.Uniform | None
    time: moderngl.Uniform | None
    resolution: moderngl.Uniform | None

    def release(self) -> None:
        self.vao.release()
        self.program.release()


def _compile(ctx: moderngl.Context, spec: PassSpec) -> _Program:
    source: ShaderSource = load_shader(spec.shader)
    try:
        program = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=source.text)
    except moderngl.Error as exc:
        stage = "link" if "Linker" in str(exc) else "compile"
        raise source.error(str(exc), stage) from None

    declared = declared_uniforms(source.text)
    where = display_path(spec.shader)
    for uniform, control in spec.uniforms.items():
        if uniform in BUILTIN_UNIFORMS:
            program.release()
            raise ShaderError(
                f"{where}: uniform {uniform} is set by the renderer and cannot be mapped to"
                f" control '{control}'"
            )
        if declared.get(uniform) != "float":
            program.release()
            found = f" (it is declared as {declared[uniform]})" if uniform in declared else ""
            raise ShaderError(
                f"{where}: no 'uniform float {uniform};' for control '{control}'{found}"
            )

    def handle(name: str) -> moderngl.Uniform | None:
        # The compiler drops uniforms a program never reads; those are simply not set.
        member = program.get(name, None)
        return member if isinstance(member, moderngl.Uniform) else None

    samplers = []
    for name, unit in _SAMPLER_UNITS.items():
        sampler = handle(name)
        if sampler is not None:
            sampler.value = unit
            samplers.append(name)
    controls = {u: (c, h) for u, c in spec.uniforms.items() if (h := handle(u)) is not None}
    return _Program(
        spec=spec,
        program=program,
        vao=ctx.vertex_array(program, []),
        controls=controls,
        samplers=tuple(samplers),
        frame_mix=handle("u_frame_mix"),
        time=handle("u_time"),
        resolution=handle("u_resolution"),
    )


class Renderer:
    """Runs the piece's passes offscreen and reads the result back as a :class:`Frame`.

    Every pass may declare these inputs (unused ones are optimised away and skipped):

    ``sampler2D u_frame``
        The latest generated image (linear filtering, mipmapped, so
        ``textureLod(u_frame, uv, 4.0)`` is a cheap blur). ``v_uv`` (0,0) is bottom-left.
    ``sampler2D u_prev_frame``
        The generated image before it, mipmapped too.
    ``float u_frame_mix``
        0..1 crossfade from ``u_prev_frame`` to ``u_frame``.
    ``sampler2D u_input``
        The previous pass's output; for the first pass, the same as ``u_frame``.
    ``sampler2D u_feedback``
        This pass's own output from the previous :meth:`render` (black at first), for
        trails. Stored as RGBA16F so slow fades do not stall on 8-bit steps.
    ``float u_time``, ``vec2 u_resolution``
        Seconds, and the output size in pixels.

    plus one ``uniform float`` per entry of each :class:`PassSpec` mapping. Output textures
    clamp to edge. Fragment shaders read ``in vec2 v_uv`` and write ``out vec4 f_color``.

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
        GPU time one pass may take for one frame (measured with a GL timer query); a pass
        over it is turned off for the rest of the run with one logged line, and the frame
        goes on without it, as with a shader that fails to compile. ``None``: no budget.
        The only pass left is never turned off (there would be no frame).

    Raises
    ------
    ShaderError
        A shader file is missing, fails to compile or link, or lacks a ``uniform float``
        named in its :class:`PassSpec`.
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
        self._programs: list[_Program] = []
        self._resources: list[moderngl.Texture | moderngl.Framebuffer] = []
        self.pass_budget_s = pass_budget_s
        self.turned_off: set[int] = set()  # indices of passes over budget
        self._kept_warned: set[int] = set()
        self._queries: list[moderngl.Query] = []
        try:
            self._programs = [_compile(ctx, spec) for spec in passes]
            self._init_targets()
            if pass_budget_s is not None:
                self._queries = [ctx.query(time=True) for _ in self._programs]
        except BaseException:
            self.release()
            raise

    def _init_targets(self) -> None:
        ctx = self.ctx
        gen_w, gen_h = self.gen_size
        # Two generated-image textures swap roles on upload: no per-frame allocation.
        self._latest, self._prev = (self._gen_texture() for _ in range(2))
        self._staging = np.zeros((gen_h, gen_w, 3), dtype=np.uint8)
        self._uploads = 0
        # Per pass, two targets used in turn: one is written, the other is its feedback.
        self._targets: list[tuple[moderngl.Framebuffer, moderngl.Framebuffer]] = []
        for _ in self._programs:
            pair = []
            for _ in range(2):
                tex = ctx.texture(self.size, 4, dtype="f2")
                tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
                tex.repeat_x = tex.repeat_y = False
                fbo = ctx.framebuffer(color_attachments=[tex])
                self._resources += [fbo, tex]
                pair.append(fbo)
            self._targets.append((pair[0], pair[1]))
        self._write = 0
        self._readback = np.zeros((self.size[1], self.size[0], 3), dtype=np.uint8)
        self.reset()

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
        return tuple(p.spec for p in self._programs)

    def reset(self) -> None:
        """Clear every pass's feedback, as if no frame had been rendered yet."""
        for pair in self._targets:
            for fbo in pair:
                fbo.clear(0.0, 0.0, 0.0, 0.0)

    def reload(self, passes: Sequence[PassSpec] | None = None) -> None:
        """Recompile the passes from their files, swapping only if all of them compile.

        Parameters
        ----------
        passes
            New passes, or ``None`` to reload the current ones. The pass count must not
            change (the feedback targets are kept).

        Raises
        ------
        ShaderError
            A pass fails; the running passes are left untouched, so a typo never blanks
            the output.
        """
        specs = self.passes if passes is None else tuple(passes)
        if len(specs) != len(self._programs):
            raise ValueError("reload cannot change the number of passes")
        fresh: list[_Program] = []
        try:
            for spec in specs:
                fresh.append(_compile(self.ctx, spec))
        except BaseException:
            for program in fresh:
                program.release()
            raise
        for program in self._programs:
            program.release()
        self._programs = fresh

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

    def render(
        self, t: float, frame_mix: float, controls: Mapping[str, float], index: int
    ) -> Frame:
        """Run every pass and read the last one back.

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
        read = 1 - self._write
        inputs = {"u_frame": self._latest, "u_prev_frame": self._prev, "u_input": self._latest}
        fbo = self._targets[0][self._write]
        shown = fbo  # the last pass whose output went on
        for i, (program, pair) in enumerate(zip(self._programs, self._targets, strict=True)):
            if i in self.turned_off:
                continue
            fbo = pair[self._write]
            inputs["u_feedback"] = pair[read].color_attachments[0]
            for name in program.samplers:
                inputs[name].use(location=_SAMPLER_UNITS[name])
            if program.frame_mix is not None:
                program.frame_mix.value = mix
            if program.time is not None:
                program.time.value = float(t)
            if program.resolution is not None:
                program.resolution.value = (float(self.size[0]), float(self.size[1]))
            for control, handle in program.controls.values():
                handle.value = float(controls.get(control, 0.0))
            fbo.use()
            if not self._queries:
                program.vao.render(moderngl.TRIANGLES, vertices=3)
            elif self._over_budget(i, program):
                continue  # this frame goes on without it too
            inputs["u_input"] = fbo.color_attachments[0]
            shown = fbo
        shown.read_into(self._readback, components=3, alignment=1, dtype="f1")
        self._write = read
        # The flip to top-row-first is also the copy the caller may keep.
        return Frame(index=index, t=float(t), pixels=np.ascontiguousarray(self._readback[::-1]))

    def _over_budget(self, index: int, program: _Program) -> bool:
        """Render ``program`` under its timer query; True if it was turned off for good."""
        query = self._queries[index]
        with query:
            program.vao.render(moderngl.TRIANGLES, vertices=3)
        took = query.elapsed / 1e9  # waits for the pass: the budget needs its real cost
        budget = self.pass_budget_s
        if budget is None or took <= budget:
            return False
        name = Path(program.spec.shader).name
        if len(self.turned_off) + 1 >= len(self._programs):
            if index not in self._kept_warned:
                self._kept_warned.add(index)
                _log.warning("pass %d (%s) took %.2f s, over its budget of %g s; kept: it is"
                             " the only pass left", index, name, took, budget)
            return False
        self.turned_off.add(index)
        _log.warning("pass %d (%s) took %.2f s, over its budget of %g s: turned off for the"
                     " rest of the run", index, name, took, budget)
        return True

    def release(self) -> None:
        """Free the GL objects; the renderer cannot be used afterwards."""
        self._queries = []  # moderngl frees queries with the context
        for program in self._programs:
            program.release()
        for resource in self._resources:
            resource.release()
        self._programs = []
        self._resources = []

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
