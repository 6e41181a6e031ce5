#version 330
// Dreaming, the frame: the dream as seen. At each felt heartbeat a breath of light and a
// chromatic shiver from the centre; calm softens the picture, a deep dream saturates it, and
// the light the dream is seen in follows the visitor's calm against their own range: embers
// when less calm than they have been, moonlight when calmer.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_dream;
uniform vec2 u_resolution;
uniform float u_time;
uniform float u_pulse;
uniform float u_calm;
uniform float u_depth;
uniform float u_light;

// The light of the dream: amber-rose embers (agitated) and blue-violet moonlight (calm), and
// how far the dream's own colours are toned towards it (0: not at all, 1: a duotone).
const vec3 EMBER = vec3(1.13, 0.69, 0.35);
const vec3 MOON = vec3(0.48, 0.64, 1.20);
const float TONE = 0.4;

void main() {
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float calm = clamp(u_calm, 0.0, 1.0);
    float depth = clamp(u_depth, 0.0, 1.0);
    vec2 d = v_uv - 0.5;
    float shiver = 0.006 * pulse * pulse;
    vec3 col = vec3(texture(u_dream, 0.5 + d * (1.0 + shiver)).r,
                    texture(u_dream, v_uv).g,
                    texture(u_dream, 0.5 + d * (1.0 - shiver)).b);
    vec3 soft = textureLod(u_dream, v_uv, 2.5).rgb;
    col = mix(col, soft, 0.25 * calm);
    float l = luminance(col);
    col = mix(vec3(l), col, mix(0.6, 1.15, depth));
    col *= 0.82 + 0.75 * pulse * pulse;
    col += soft * 0.25 * pulse * pulse;
    // The light, keyed to the visitor's calm against their own range (the light control,
    // relative_s in show.toml) and worked out here, after the dream's feedback, so it follows
    // the visitor within seconds instead of being carried through the dream's minutes of
    // memory (BENCHMARKS.md, Dreaming over 480 s). The light has unit luminance, so the
    // breath of light keeps its brightness (up to clipping).
    float moon = clamp(u_light, 0.0, 1.0);
    vec3 light = mix(EMBER, MOON, moon);
    light /= luminance(light);
    col = mix(col, vec3(luminance(col)), TONE) * light;
    col *= vignette(v_uv, u_resolution, 0.55);
    float grain = hash21(ivec2(gl_FragCoord.xy), uint(max(u_time, 0.0) * 60.0)) - 0.5;
    col += grain * 0.02;
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
