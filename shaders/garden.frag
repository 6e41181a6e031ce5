#version 330
// Pulse Garden, the growth: a Gray-Scott reaction-diffusion (Pearson, "Complex patterns in a
// simple system", Science 1993; the discretisation of Karl Sims' tutorial), seeded and fed by
// the generated image.
//
// State: r = U (the substrate), g = V (the growing "tissue"), b = the memory of heartbeats
// (each beat leaves a ring of fresh growth, fading over a few seconds), a = the relief's
// light (the tissue as a height field lit from the upper left), made here from the
// neighbours the Laplacian reads anyway, so the full-size light pass reads the garden once
// instead of five times (BENCHMARKS.md, "Pulse Garden at 960x540").
// Calm grows round cells that divide (the "mitosis" regime); arousal grows coral and
// labyrinths. The generated image decides where each regime holds, so its forms show through.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_state;   // this pass's previous step
uniform sampler2D u_tint;    // the petals' colour; its alpha: the generated image's luminance
uniform vec2 u_resolution;
uniform int u_frame_count;
uniform int u_step;
uniform int u_steps;

uniform float u_calm;    // 1 = calm
uniform float u_energy;  // heart rate, 0..1
uniform float u_pulse;   // the felt heartbeat, 1 at the beat, decaying

// texelFetch, wrapped by hand: no filtering work for a lookup that lands on texel centres.
// The neighbours are one texel away, so a compare wraps them (an integer % is a division
// per lane on llvmpipe).
vec2 at(ivec2 p, ivec2 size) {
    p -= size * ivec2(greaterThanEqual(p, size));
    p += size * ivec2(lessThan(p, ivec2(0)));
    return texelFetch(u_state, p, 0).rg;
}

void main() {
    if (u_frame_count == 0 && u_step == 0) {
        // The first garden: substrate everywhere, tissue seeded in scattered cells.
        ivec2 cell = ivec2(gl_FragCoord.xy) / 6;
        float seed = step(0.93, hash21(cell, 11u));
        f_color = vec4(1.0, 0.25 * seed, 0.0, 0.6);
        return;
    }
    ivec2 size = ivec2(u_resolution);
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec4 s = texelFetch(u_state, p, 0);
    vec2 c = s.rg;
    // Five-point Laplacian (weights 1/4): five reads instead of the nine of Sims' 3x3
    // kernel. Its checkerboard mode decays only for a diffusion rate below 1 per step, so the
    // rates are 0.8 and 0.4 (Sims: 1.0 and 0.5 with the 3x3 kernel), which keeps the ratio
    // of 2 the patterns depend on and makes them ~20% finer.
    vec2 east = at(p + ivec2(1, 0), size);
    vec2 west = at(p - ivec2(1, 0), size);
    vec2 north = at(p + ivec2(0, 1), size);
    vec2 south = at(p - ivec2(0, 1), size);
    vec2 lap = 0.25 * (east + west + north + south) - c;
    // Relief: central differences of the tissue, lit from the upper left (Lambert).
    vec3 n = normalize(vec3(-(east.y - west.y) * 6.0, -(north.y - south.y) * 6.0, 1.0));
    float diffuse = clamp(dot(n, normalize(vec3(-0.5, 0.6, 0.7))), 0.0, 1.0);

    float calm = clamp(u_calm, 0.0, 1.0);
    float l = texture(u_tint, v_uv).a;
    // Feed and kill rates (Munafo's map of the Gray-Scott model): where the image is dark
    // nothing survives (bare soil, the composition's negative space); elsewhere agitation
    // grows coral and labyrinths, calm grows round cells that divide.
    vec2 barren = vec2(0.0250, 0.0700);
    vec2 cells = vec2(0.0367, 0.0649);
    vec2 coral = vec2(0.0500, 0.0625);
    vec2 worms = vec2(0.0420, 0.0610);
    vec2 agitated = mix(worms, coral, smoothstep(0.45, 0.8, l));
    vec2 fk = mix(agitated, cells, smoothstep(0.3, 0.8, calm));
    fk = mix(barren, fk, smoothstep(0.16, 0.34, l + 0.12 * (1.0 - calm)));
    float f = fk.x;
    float k = fk.y;

    float u = c.x;
    float v = c.y;
    float uvv = u * v * v;
    float du = 0.8 * lap.x - uvv + f * (1.0 - u);
    float dv = 0.4 * lap.y + uvv - (f + k) * v;
    u += du;
    v += dv;

    // The heartbeat: a ring from the centre; where it passes, fresh tissue is sown.
    vec2 aspect = vec2(u_resolution.x / u_resolution.y, 1.0);
    float r = length((v_uv - 0.5) * aspect);
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float ring_r = (1.0 - pulse) * 0.95;
    float d = (r - ring_r) / 0.025;
    float ring = pulse * exp(-d * d);
    float beat_memory = max(s.b * 0.992, ring);
    v += ring * 0.02 * (0.6 + 0.4 * (1.0 - calm)) / float(u_steps);
    // The image keeps seeding in its brightest places, so the garden follows its forms.
    float sow = smoothstep(0.72, 0.95, l) * 0.0006;
    // Its noise: interleaved gradient noise (Jimenez, SIGGRAPH 2014), moved every step: a
    // few multiplies instead of an integer hash.
    vec2 np = gl_FragCoord.xy + 5.588238 * float((u_frame_count * 7 + u_step) % 64);
    v += sow * fract(52.9829189 * fract(dot(np, vec2(0.06711056, 0.00583715))));

    f_color = vec4(clamp(u, 0.0, 1.0), clamp(v, 0.0, 1.0), beat_memory, diffuse);
}
