"""Additive particles drawn by a compute shader: integer atomic adds instead of points.

A particle pass with ``blend = "add"`` and the engine's own point colour (no fragment shader of
the piece's) is a sum of each particle's colour into the pixels its point covers. Rasterising
that sum as GL points is the slow path on a CPU: Mesa's llvmpipe sets up every point as a
primitive (a million points at 640x360: 237 ms a frame in ``benchmarks/bench_particles.py``,
BENCHMARKS.md "Particles"), where a compute shader that adds each colour into an integer image
with ``imageAtomicAdd`` takes 49 ms (131,072: 39 vs 14.5 ms). Integer addition is exact and
commutative, so the picture does not depend on the order the invocations run in: a replay
stays byte-identical on any GPU, which float blending guarantees only in draw order.

Written by hand: GL has no such draw, and no library offers it for moderngl.

The coverage is GL's for non-antialiased points (OpenGL 4.5 core, section 14.4): the pixels
whose centres lie in the point's square, side ``gl_PointSize``, centred on it; a point whose
centre is outside the viewport is clipped whole. The colour is fixed point with 16 fractional
bits (finer than a half float's step at 1.0), rounded to nearest; each particle's colour is
clamped to +-256 so no one particle can overflow the 32-bit sum.
"""

from __future__ import annotations

import moderngl

__all__ = ["SCALE", "Splatter"]

SCALE = 65536.0  # fixed point: 16 fractional bits
_LOCAL = 64
_MAX_COLOUR = 256.0

# The accumulator holds a pixel's four channels side by side along x (r32i has one channel):
# texel (4x + c, y) is channel c of pixel (x, y).
_DEFINES = (f"#version 430\n#define LOCAL {_LOCAL}\n#define SCALE {SCALE:.1f}\n"
            f"#define MAX_COLOUR {_MAX_COLOUR:.1f}\n")

_SPLAT = _DEFINES + """layout(local_size_x = LOCAL) in;
struct Particle { vec4 pos; vec4 color; vec4 data; };
layout(std430, binding = 0) readonly buffer Particles { Particle particles[]; };
layout(r32i, binding = 0) uniform iimage2D u_acc;
uniform int u_count;
uniform float u_point_size;
uniform ivec2 u_size;
uniform bool u_unorm;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= uint(u_count)) return;
    Particle p = particles[i];
    // Clipped by its centre, as GL clips a point.
    if (any(lessThan(p.pos.xy, vec2(0.0))) || any(greaterThan(p.pos.xy, vec2(1.0)))) return;
    float s = clamp(p.data.w > 0.0 ? p.data.w : u_point_size, 0.0, 64.0);
    vec2 w = p.pos.xy * vec2(u_size);
    // Pixel centres c with w - s/2 < c <= w + s/2: a size-1 point lights the pixel it is in.
    ivec2 lo = max(ivec2(floor(w - 0.5 * s + 0.5)), ivec2(0));
    ivec2 hi = min(ivec2(floor(w + 0.5 * s - 0.5)), u_size - 1);
    // A unorm target clamps each fragment before blending; a float target keeps it whole.
    vec4 c = u_unorm ? clamp(p.color, 0.0, 1.0) : clamp(p.color, -MAX_COLOUR, MAX_COLOUR);
    ivec4 q = ivec4(round(c * SCALE));
    for (int y = lo.y; y <= hi.y; ++y) {
        for (int x = lo.x; x <= hi.x; ++x) {
            imageAtomicAdd(u_acc, ivec2(4 * x + 0, y), q.r);
            imageAtomicAdd(u_acc, ivec2(4 * x + 1, y), q.g);
            imageAtomicAdd(u_acc, ivec2(4 * x + 2, y), q.b);
            imageAtomicAdd(u_acc, ivec2(4 * x + 3, y), q.a);
        }
    }
}
"""

_VERTEX = """#version 430
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

# Zeroing the accumulator is its own compute pass: on llvmpipe, image stores from a fragment
# shader cost ~4x a compute pass's (23 vs ~5 ms at 640x360).
_CLEAR = _DEFINES + """layout(local_size_x = 16, local_size_y = 16) in;
layout(r32i, binding = 0) uniform writeonly iimage2D u_acc;
void main() {
    imageStore(u_acc, ivec2(gl_GlobalInvocationID.xy), ivec4(0));
}
"""

# One fullscreen pass makes the frame: the last frame faded (the trails) plus this frame's sum.
_RESOLVE = _DEFINES + """uniform isampler2D u_acc;
uniform sampler2D u_source;
uniform float u_fade;
out vec4 f_color;
void main() {
    ivec2 q = ivec2(gl_FragCoord.xy);
    ivec4 sum = ivec4(texelFetch(u_acc, ivec2(4 * q.x + 0, q.y), 0).r,
                      texelFetch(u_acc, ivec2(4 * q.x + 1, q.y), 0).r,
                      texelFetch(u_acc, ivec2(4 * q.x + 2, q.y), 0).r,
                      texelFetch(u_acc, ivec2(4 * q.x + 3, q.y), 0).r);
    vec4 trails = u_fade > 0.0 ? texelFetch(u_source, q, 0) * u_fade : vec4(0.0);
    f_color = trails + vec4(sum) / SCALE;
}
"""


class Splatter:
    """The two programs of the compute path and an accumulator per target size.

    Parameters
    ----------
    ctx
        A GL 4.3+ context (compute shaders and image atomics).
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self._clear = ctx.compute_shader(_CLEAR)
        self._splat = ctx.compute_shader(_SPLAT)
        self._resolve = ctx.program(vertex_shader=_VERTEX, fragment_shader=_RESOLVE)
        self._vao = ctx.vertex_array(self._resolve, [])
        self._accumulators: dict[tuple[int, int], moderngl.Texture] = {}

    def _accumulator(self, size: tuple[int, int]) -> moderngl.Texture:
        acc = self._accumulators.get(size)
        if acc is None:
            acc = self.ctx.texture((4 * size[0], size[1]), 1, dtype="i4")
            # An integer texture is incomplete, and reads 0, unless it filters by nearest.
            acc.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._accumulators[size] = acc
        return acc

    def draw(self, particles: moderngl.Buffer, count: int, point_size: float,
             fbo: moderngl.Framebuffer, size: tuple[int, int], unorm: bool,
             previous: moderngl.Texture, fade: float) -> None:
        """Draw the frame into ``fbo``: ``previous`` times ``fade``, plus every particle.

        Parameters
        ----------
        particles
            The pass's storage buffer (``glsl/particles.glsl`` layout).
        count
            How many particles it holds.
        point_size
            The point size in pixels for a particle whose ``data.w`` sets none.
        fbo
            The target's framebuffer to draw (the buffer not holding ``previous``).
        size
            The target's size in pixels.
        unorm
            Whether the target is 8-bit unorm: each particle's colour is clamped to 0..1
            first, as GL clamps a fragment before blending into such a target.
        previous
            The target's last frame, the trails.
        fade
            How much of it stays (0: none).
        """
        ctx = self.ctx
        acc = self._accumulator(size)
        acc.bind_to_image(0, read=True, write=True)
        self._clear.run((4 * size[0] + 15) // 16, (size[1] + 15) // 16)
        ctx.memory_barrier(moderngl.SHADER_IMAGE_ACCESS_BARRIER_BIT)
        particles.bind_to_storage_buffer(0)
        self._splat["u_count"].value = int(count)
        self._splat["u_point_size"].value = float(point_size)
        self._splat["u_size"].value = (int(size[0]), int(size[1]))
        self._splat["u_unorm"].value = bool(unorm)
        self._splat.run((count + _LOCAL - 1) // _LOCAL)
        ctx.memory_barrier(moderngl.TEXTURE_FETCH_BARRIER_BIT)
        fbo.use()
        acc.use(location=0)
        previous.use(location=1)
        self._resolve["u_acc"].value = 0
        self._resolve["u_source"].value = 1
        self._resolve["u_fade"].value = float(fade)
        self._vao.render(moderngl.TRIANGLES, vertices=3)

    def release(self) -> None:
        """Free the programs and the accumulators."""
        for acc in self._accumulators.values():
            acc.release()
        self._accumulators = {}
        self._vao.release()
        self._resolve.release()
        self._splat.release()
        self._clear.release()
