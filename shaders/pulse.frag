#version 330
// Pulse Garden, the light: the reaction-diffusion garden (shaders/garden.frag), lit as relief
// and coloured by the generated image, breathing with the visitor's heart.
//
// Calm: cool moonlight (teal, indigo, silver) over round, dividing cells. Agitation: hot
// amber and magenta over coral. Each heartbeat, at the moment it is felt in the body (about
// 0.23 s after the R-peak), flares the garden and sends a bright ring out from the centre.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_garden;      // U, V, beat memory (a smaller target, linear filtered)
uniform sampler2D u_frame;       // latest generated image (mipmapped)
uniform sampler2D u_prev_frame;  // the one before it
uniform float u_frame_mix;
uniform float u_time;
uniform vec2 u_resolution;

uniform float u_pulse;   // the felt heartbeat, 0..1
uniform float u_calm;    // 1 = calm, 0 = agitated
uniform float u_energy;  // heart rate, 0..1

vec3 generated(vec2 uv, float lod) {
    float m = smoothstep(0.0, 1.0, u_frame_mix);
    return mix(textureLod(u_prev_frame, uv, lod).rgb, textureLod(u_frame, uv, lod).rgb, m);
}

float tissue(vec2 uv) {
    return texture(u_garden, uv).g;
}

void main() {
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float calm = clamp(u_calm, 0.0, 1.0);
    float energy = clamp(u_energy, 0.0, 1.0);
    float heat = clamp(1.0 - calm * (1.0 - 0.5 * energy), 0.0, 1.0);
    vec2 aspect = vec2(u_resolution.x / u_resolution.y, 1.0);
    vec2 garden_px = 1.0 / vec2(textureSize(u_garden, 0));

    // The beat pushes everything gently out from the centre.
    vec2 centred = (v_uv - 0.5);
    float r = length(centred * aspect);
    vec2 uv = 0.5 + centred * (1.0 - 0.025 * pulse);

    vec4 g = texture(u_garden, uv);
    float v = g.g;
    // Relief: the tissue as a height field, lit from the upper left.
    float vx = tissue(uv + vec2(garden_px.x, 0.0)) - tissue(uv - vec2(garden_px.x, 0.0));
    float vy = tissue(uv + vec2(0.0, garden_px.y)) - tissue(uv - vec2(0.0, garden_px.y));
    vec3 n = normalize(vec3(-vx * 6.0, -vy * 6.0, 1.0));
    vec3 light = normalize(vec3(-0.5, 0.6, 0.7));
    float diffuse = clamp(dot(n, light), 0.0, 1.0);
    float spec = pow(clamp(dot(reflect(-light, n), vec3(0.0, 0.0, 1.0)), 0.0, 1.0), 24.0);

    // Crisp cell walls: a threshold on the smooth field, antialiased by its own derivative.
    float w = fwidth(v) * 0.75 + 1e-4;
    float body = smoothstep(0.20 - w, 0.20 + w, v);
    float rim = smoothstep(0.12 - w, 0.12 + w, v) - body;

    vec3 img = generated(uv, 0.0);
    vec3 soft = generated(uv, 3.0);
    // Palettes (dark, mid, light): moonlit garden and hot garden; the image picks the hue.
    vec3 cool_mid = mix(vec3(0.10, 0.42, 0.62), vec3(0.36, 0.30, 0.80), img.b);
    vec3 warm_mid = mix(vec3(0.95, 0.42, 0.10), vec3(0.88, 0.16, 0.42), img.r * 0.8);
    vec3 petal = mix(cool_mid, warm_mid, heat);
    petal = mix(petal, img, 0.28);
    vec3 soil = mix(vec3(0.025, 0.045, 0.10), vec3(0.050, 0.012, 0.018), heat);
    soil += soft * mix(vec3(0.08, 0.12, 0.20), vec3(0.14, 0.06, 0.04), heat);

    vec3 col = soil;
    // Moonlight is kinder to the cells than the heat is: calm cells glow a little brighter.
    col = mix(col, petal * (0.35 + 0.75 * diffuse) * mix(1.65, 1.0, heat), body);
    col += rim * mix(vec3(0.55, 0.85, 1.0), vec3(1.0, 0.78, 0.45), heat) * 0.55;
    col += spec * body * mix(vec3(0.7, 0.85, 1.0), vec3(1.0, 0.9, 0.7), heat) * 0.45;

    // Heartbeat memory: the rings this visitor's heart has sown glow faintly as they grow.
    col += g.b * body * mix(vec3(0.25, 0.55, 0.9), vec3(1.0, 0.55, 0.2), heat) * 0.25;

    // The felt beat: the garden flares, and a ring of light runs out from the centre.
    float flare = pulse * pulse;
    col *= 1.0 + 0.85 * flare;
    col += flare * soft * 0.35;
    float ring_r = (1.0 - pulse) * 0.95;
    float ring = pulse * exp(-pow((r - ring_r) / 0.035, 2.0));
    col += ring * mix(vec3(0.55, 0.8, 1.0), vec3(1.0, 0.7, 0.35), heat) * 0.55;

    col *= vignette(v_uv, u_resolution, 0.6);
    float grain = hash21(ivec2(gl_FragCoord.xy), uint(max(u_time, 0.0) * 60.0)) - 0.5;
    col += grain * 0.02;
    // A soft shoulder instead of a hard clip keeps the flare's highlights detailed.
    col = col / (1.0 + 0.35 * max(col - 0.7, 0.0));
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
