"""Living image: automaton steps per second, torch in the generator vs a GLSL simulation pass.

    .venv/bin/python benchmarks/bench_nca.py [--model pieces/living-image/nca.pt]
        [--sizes 64 96 128] [--steps 40] [--repeats 5] [--device cpu] [--json out.json]

The same automaton (16 channels, identity + Sobel perception, 48 -> 128 -> 16 update net,
stochastic updates at rate 0.5, alive masking) stepped on one state grid of each size:

- **torch**: ``Nca.forward`` in ``torch.inference_mode()`` on ``--device`` (the generator
  source ``NcaSource`` runs exactly this), batch 1, float32.
- **glsl**: a standalone moderngl harness on the offscreen EGL context (llvmpipe here): the
  16 channels in four RGBA32F textures, an update pass writing all four through multiple
  render targets, then an alive-mask pass (the post-update mask needs the neighbours' new
  alpha, so it cannot be fused into the update pass), ping-pong. Weights in an RGBA32F
  texture. Timed to a ``ctx.finish()``. It checks itself against torch (same weights, update
  mask forced to 1) before timing, so both compute the same automaton.

Each figure is the median of ``--repeats`` runs of ``--steps`` steps after a warm-up, with the
glsl/torch ratio measured in the same run. Run it alone when you can; on a shared machine
say so (the JSON records ``os.getloadavg()`` before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from installation.generator.nca import Nca, NcaConfig, fire_mask, load_checkpoint, seed_state

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "pieces" / "living-image" / "nca.pt"

_UPDATE = """
#version 330
uniform sampler2D u_s0; uniform sampler2D u_s1; uniform sampler2D u_s2; uniform sampler2D u_s3;
uniform sampler2D u_w;      // row 0..H-1: W1 (48 in, 12 texels) + b1; then W2 rows
uniform int u_step;
uniform float u_rate;
uniform int u_hidden;
layout(location = 0) out vec4 o0; layout(location = 1) out vec4 o1;
layout(location = 2) out vec4 o2; layout(location = 3) out vec4 o3;

vec4 cell(sampler2D s, ivec2 p, ivec2 size) {
    if (p.x < 0 || p.y < 0 || p.x >= size.x || p.y >= size.y) return vec4(0.0);
    return texelFetch(s, p, 0);
}
float hash(uvec3 v) {  // pcg3d-style integer hash: a seeded, reproducible update mask
    v = v * 1664525u + 1013904223u;
    v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
    v ^= v >> 16u;
    v.x += v.y * v.z;
    return float(v.x) / 4294967295.0;
}
void main() {
    ivec2 size = textureSize(u_s0, 0);
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec4 id[4]; vec4 gx[4]; vec4 gy[4];
    for (int k = 0; k < 4; ++k) { id[k] = vec4(0.0); gx[k] = vec4(0.0); gy[k] = vec4(0.0); }
    // Sobel / 8, cross-correlation as torch's conv2d: tap (dx, dy) weight.
    for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
            ivec2 q = p + ivec2(dx, dy);
            float wx = float(dx) * (dy == 0 ? 2.0 : 1.0) / 8.0;
            float wy = float(dy) * (dx == 0 ? 2.0 : 1.0) / 8.0;
            vec4 c0 = cell(u_s0, q, size), c1 = cell(u_s1, q, size);
            vec4 c2 = cell(u_s2, q, size), c3 = cell(u_s3, q, size);
            gx[0] += wx * c0; gx[1] += wx * c1; gx[2] += wx * c2; gx[3] += wx * c3;
            gy[0] += wy * c0; gy[1] += wy * c1; gy[2] += wy * c2; gy[3] += wy * c3;
            if (dx == 0 && dy == 0) { id[0] = c0; id[1] = c1; id[2] = c2; id[3] = c3; }
        }
    }
    vec4 d[4];
    for (int k = 0; k < 4; ++k) d[k] = vec4(0.0);
    for (int j = 0; j < u_hidden; ++j) {
        // 12 texels of W1 row j: perception order [id(16), gx(16), gy(16)], 4 per texel.
        float h = texelFetch(u_w, ivec2(12, j), 0).x;
        for (int k = 0; k < 4; ++k) {
            h += dot(texelFetch(u_w, ivec2(k, j), 0), id[k]);
            h += dot(texelFetch(u_w, ivec2(4 + k, j), 0), gx[k]);
            h += dot(texelFetch(u_w, ivec2(8 + k, j), 0), gy[k]);
        }
        h = max(h, 0.0);
        for (int k = 0; k < 4; ++k) d[k] += h * texelFetch(u_w, ivec2(13 + k, j), 0);
    }
    float fire = hash(uvec3(uint(p.x), uint(p.y), uint(u_step))) < u_rate ? 1.0 : 0.0;
    o0 = id[0] + fire * d[0]; o1 = id[1] + fire * d[1];
    o2 = id[2] + fire * d[2]; o3 = id[3] + fire * d[3];
}
"""

_MASK = """
#version 330
uniform sampler2D u_pre;   // state texture 0 before the update (alpha in .a)
uniform sampler2D u_n0; uniform sampler2D u_n1; uniform sampler2D u_n2; uniform sampler2D u_n3;
uniform float u_threshold;
layout(location = 0) out vec4 o0; layout(location = 1) out vec4 o1;
layout(location = 2) out vec4 o2; layout(location = 3) out vec4 o3;
void main() {
    ivec2 size = textureSize(u_pre, 0);
    ivec2 p = ivec2(gl_FragCoord.xy);
    float pre = 0.0, post = 0.0;
    for (int dy = -1; dy <= 1; ++dy) for (int dx = -1; dx <= 1; ++dx) {
        ivec2 q = clamp(p + ivec2(dx, dy), ivec2(0), size - 1);
        bool inside = q == p + ivec2(dx, dy);
        pre = max(pre, inside ? texelFetch(u_pre, q, 0).a : 0.0);
        post = max(post, inside ? texelFetch(u_n0, q, 0).a : 0.0);
    }
    float alive = (pre > u_threshold && post > u_threshold) ? 1.0 : 0.0;
    o0 = alive * texelFetch(u_n0, p, 0); o1 = alive * texelFetch(u_n1, p, 0);
    o2 = alive * texelFetch(u_n2, p, 0); o3 = alive * texelFetch(u_n3, p, 0);
}
"""

_VERTEX = """
#version 330
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""


class GlslNca:
    """The automaton as two fragment passes over four RGBA32F state textures (ping-pong)."""

    def __init__(self, ctx, model: Nca, size: int) -> None:
        self.ctx = ctx
        self.size = size
        w1 = model.hidden.weight.detach()[:, :, 0, 0].numpy()  # (H, 48), [c0 id, c0 gx, ...]
        b1 = model.hidden.bias.detach().numpy()
        w2 = model.out.weight.detach()[:, :, 0, 0].numpy()  # (16, H)
        hidden = w1.shape[0]
        c = model.config.channels
        assert c == 16, "the harness packs 16 channels into four textures"
        # torch order is per channel [id, gx, gy]; regroup to [id(16), gx(16), gy(16)].
        w1 = w1.reshape(hidden, c, 3).transpose(0, 2, 1).reshape(hidden, 3 * c)
        table = np.zeros((hidden, 17, 4), np.float32)
        table[:, :12] = w1.reshape(hidden, 12, 4)
        table[:, 12, 0] = b1
        table[:, 13:17] = w2.T.reshape(hidden, 4, 4)
        self.weights = ctx.texture((17, hidden), 4, table.tobytes(), dtype="f4")
        self.weights.filter = (0x2600, 0x2600)  # GL_NEAREST
        self.hidden = hidden
        self.update = ctx.program(vertex_shader=_VERTEX, fragment_shader=_UPDATE)
        self.mask = ctx.program(vertex_shader=_VERTEX, fragment_shader=_MASK)
        self.vao = ctx.vertex_array(self.update, [])
        self.mask_vao = ctx.vertex_array(self.mask, [])
        self.sets = [[ctx.texture((size, size), 4, dtype="f4") for _ in range(4)]
                     for _ in range(3)]
        for tex in (t for s in self.sets for t in s):
            tex.filter = (0x2600, 0x2600)
        self.fbos = [ctx.framebuffer(color_attachments=s) for s in self.sets]
        self.current = 0
        self.step_index = 0
        self.threshold = model.config.alive_threshold

    def load(self, state: torch.Tensor) -> None:
        """``(1, 16, S, S)`` torch state -> the current texture set."""
        grid = state[0].permute(1, 2, 0).numpy()  # (S, S, 16); row 0 = GL's bottom row
        for k, tex in enumerate(self.sets[self.current]):
            tex.write(np.ascontiguousarray(grid[..., 4 * k:4 * k + 4]).tobytes())

    def read(self) -> torch.Tensor:
        parts = [np.frombuffer(t.read(), np.float32).reshape(self.size, self.size, 4)
                 for t in self.sets[self.current]]
        return torch.from_numpy(np.concatenate(parts, -1)).permute(2, 0, 1)[None].clone()

    def step(self, rate: float) -> None:
        src = self.current
        mid = (src + 1) % 3
        dst = (src + 2) % 3
        for k, tex in enumerate(self.sets[src]):
            tex.use(k)
        self.weights.use(4)
        prog = self.update
        for k in range(4):
            prog[f"u_s{k}"].value = k
        prog["u_w"].value = 4
        prog["u_step"].value = self.step_index
        prog["u_rate"].value = rate
        prog["u_hidden"].value = self.hidden
        self.fbos[mid].use()
        self.vao.render(vertices=3)
        self.sets[src][0].use(0)
        for k, tex in enumerate(self.sets[mid]):
            tex.use(1 + k)
        m = self.mask
        m["u_pre"].value = 0
        for k in range(4):
            m[f"u_n{k}"].value = 1 + k
        m["u_threshold"].value = self.threshold
        self.fbos[dst].use()
        self.mask_vao.render(vertices=3)
        self.current = dst
        self.step_index += 1

    def release(self) -> None:
        for obj in [self.weights, self.update, self.mask, self.vao, self.mask_vao,
                    *self.fbos, *(t for s in self.sets for t in s)]:
            obj.release()


def grown_state(model: Nca, size: int, steps: int = 120) -> torch.Tensor:
    """A state with the image grown in it (so the alive mask is realistic, not a lone seed)."""
    gen = torch.Generator().manual_seed(0)
    state = seed_state(1, model.config, size, size)
    with torch.inference_mode():
        for _ in range(steps):
            state = model(state, fire_mask(state, 0.5, gen))
    return state.clone()


def time_torch(model: Nca, state: torch.Tensor, steps: int, repeats: int,
               device: torch.device) -> list[float]:
    model = model.to(device)
    gen = torch.Generator(device=device).manual_seed(1)
    rates = []
    with torch.inference_mode():
        s = state.to(device)
        for _ in range(5):
            s = model(s, fire_mask(s, 0.5, gen))
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(steps):
                s = model(s, fire_mask(s, 0.5, gen))
            if device.type == "cuda":
                torch.cuda.synchronize()
            rates.append(steps / (time.perf_counter() - t0))
    return rates


def check_glsl(glsl: GlslNca, model: Nca, size: int) -> float:
    """Largest difference between one GLSL step and one torch step (update mask all 1), from
    a random state with a live disc in a dead margin (so both masks are exercised)."""
    gen = torch.Generator().manual_seed(2)
    state = torch.rand(1, model.config.channels, size, size, generator=gen) * 2.0 - 1.0
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = ((xs - size * 0.4) ** 2 + (ys - size * 0.55) ** 2 < (size * 0.3) ** 2).float()
    state[:, 3] = disc * (0.05 + torch.rand(size, size, generator=gen))
    state = state * (model.alive(state)).float()
    glsl.load(state)
    glsl.step(1.01)  # rate > 1: every cell fires, so no random mask to match
    with torch.inference_mode():
        expected = model(state, torch.ones_like(state[:, :1]))
    return float((glsl.read() - expected).abs().max())


def time_glsl(glsl: GlslNca, state: torch.Tensor, steps: int, repeats: int) -> list[float]:
    glsl.load(state)
    for _ in range(5):
        glsl.step(0.5)
    glsl.ctx.finish()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            glsl.step(0.5)
        glsl.ctx.finish()
        rates.append(steps / (time.perf_counter() - t0))
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-glsl", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    if args.model.is_file():
        model = load_checkpoint(args.model).model
        source = str(args.model)
    else:  # the same cost: an untrained automaton with a non-zero update layer
        torch.manual_seed(0)
        model = Nca(NcaConfig())
        torch.nn.init.normal_(model.out.weight, std=0.02)
        source = "untrained (no checkpoint)"
    model.eval()
    device = torch.device(args.device)
    ctx = None
    if not args.no_glsl:
        from installation.render.gl_context import create_offscreen_context

        ctx = create_offscreen_context()
    load_before = os.getloadavg()
    results = []
    for size in args.sizes:
        state = grown_state(model.cpu(), size)
        torch_rates = time_torch(model, state, args.steps, args.repeats, device)
        row = {"size": size, "torch_steps_per_s": statistics.median(torch_rates),
               "torch_best": max(torch_rates)}
        if ctx is not None:
            glsl = GlslNca(ctx, model.cpu(), size)
            row["glsl_max_abs_error"] = check_glsl(glsl, model.cpu(), size)
            glsl_rates = time_glsl(glsl, state, max(4, args.steps // 4), args.repeats)
            glsl.release()
            row["glsl_steps_per_s"] = statistics.median(glsl_rates)
            row["glsl_best"] = max(glsl_rates)
            row["glsl_over_torch"] = row["glsl_steps_per_s"] / row["torch_steps_per_s"]
        results.append(row)
        print(json.dumps({k: float(f"{v:.4g}") if isinstance(v, float) else v
                          for k, v in row.items()}), flush=True)
    report = {
        "model": source, "device": str(device), "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or platform.platform()}",
        "gl_renderer": ctx.info["GL_RENDERER"] if ctx is not None else None,
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "steps": args.steps, "repeats": args.repeats, "results": results,
    }
    if ctx is not None:
        ctx.release()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "results"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
