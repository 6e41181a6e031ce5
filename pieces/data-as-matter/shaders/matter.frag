#version 330
// Data as Matter, the frame: the matter's light, exposed, with bloom, over a faint memory of
// the image; cool silver-blue when calm, gold and rose when agitated.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_trails;  // mipmapped: cheap bloom
uniform sampler2D u_image;
uniform vec2 u_resolution;
uniform float u_time;
uniform float u_pulse;
uniform float u_calm;
uniform float u_energy;

void main() {
    float calm = clamp(u_calm, 0.0, 1.0);
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float heat = clamp(1.0 - calm * (1.0 - 0.5 * clamp(u_energy, 0.0, 1.0)), 0.0, 1.0);
    vec3 light = texture(u_trails, v_uv).rgb;
    vec3 bloom = textureLod(u_trails, v_uv, 2.5).rgb * 0.6 + textureLod(u_trails, v_uv, 4.5).rgb;
    vec3 tint = mix(vec3(0.62, 0.82, 1.10), vec3(1.15, 0.78, 0.52), heat);
    // Grade: pull the image's colours towards the mood, keep some of their own.
    float l = luminance(light);
    vec3 graded = mix(light, l * tint, 0.45);
    // The felt heartbeat: the matter flares, its glow most of all.
    float flare = pulse * pulse;
    vec3 col = 1.0 - exp(-(graded * 1.7 * (1.0 + 1.2 * flare) + bloom * tint * (0.55 + 1.6 * flare)));
    vec3 ground = textureLod(u_image, v_uv, 4.0).rgb * mix(0.035, 0.06, heat) * (1.0 + pulse);
    col += ground;
    col *= vignette(v_uv, u_resolution, 0.5);
    float grain = hash21(ivec2(gl_FragCoord.xy), uint(max(u_time, 0.0) * 60.0)) - 0.5;
    col += grain * 0.015;
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
