#version 330
// Pulse Garden, the petals' colour: the crossfaded generated image turned into the garden's
// palette (moonlit when calm, hot when agitated), at the generator's own size. The colour
// varies no faster than the generated image does, so working it out here, on 1/25 of the
// pixels of a 960x540 frame, leaves the full-size light pass one read of it instead of two
// mipmapped reads of each generated image (BENCHMARKS.md, "Pulse Garden at 960x540").
// Alpha: the image's luminance, a little blurred, which tells the garden where to grow.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_frame;       // latest generated image (mipmapped)
uniform sampler2D u_prev_frame;  // the one before it
uniform float u_frame_mix;

uniform float u_calm;    // 1 = calm, 0 = agitated
uniform float u_energy;  // heart rate, 0..1

void main() {
    float calm = clamp(u_calm, 0.0, 1.0);
    float energy = clamp(u_energy, 0.0, 1.0);
    // The same heat as shaders/pulse.frag's.
    float heat = clamp(1.0 - calm * (1.0 - 0.5 * energy), 0.0, 1.0);
    float m = smoothstep(0.0, 1.0, u_frame_mix);
    vec3 img = mix(textureLod(u_prev_frame, v_uv, 0.0).rgb, textureLod(u_frame, v_uv, 0.0).rgb, m);
    // Palettes: moonlit garden and hot garden; the image picks the hue.
    vec3 cool_mid = mix(vec3(0.10, 0.42, 0.62), vec3(0.36, 0.30, 0.80), img.b);
    vec3 warm_mid = mix(vec3(0.95, 0.42, 0.10), vec3(0.88, 0.16, 0.42), img.r * 0.8);
    vec3 petal = mix(mix(cool_mid, warm_mid, heat), img, 0.28);
    float l = luminance(mix(textureLod(u_prev_frame, v_uv, 1.5).rgb,
                            textureLod(u_frame, v_uv, 1.5).rgb, m));
    f_color = vec4(petal, l);
}
