#version 330
// Dreaming, the frame: the dream as seen. At each felt heartbeat a breath of light and a
// chromatic shiver from the centre; calm softens the picture, a deep dream saturates it.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_dream;
uniform vec2 u_resolution;
uniform float u_time;
uniform float u_pulse;
uniform float u_calm;
uniform float u_depth;

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
    col *= vignette(v_uv, u_resolution, 0.55);
    float grain = hash21(ivec2(gl_FragCoord.xy), uint(max(u_time, 0.0) * 60.0)) - 0.5;
    col += grain * 0.02;
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
