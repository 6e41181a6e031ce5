#version 330
// Dreaming, the dream: an endless fall into the picture. The generated image holds a smaller
// copy of itself in its middle, which holds a smaller one, and so on (the Droste effect, in
// the log-polar form of Escher's "Print Gallery": de Smit and Lenstra, Notices AMS 2003);
// the zoom never ends because every level grows into the one outside it. In the manner of
// DeepDream's zoom videos (Mordvintsev, Olah, Tyka, "Inceptionism", 2015), each level dreams
// a little further: its colours turn, the spiral tightens as arousal deepens the dream, and
// the last frames linger as a glowing wake. Every level is sampled from the image at its own
// scale, so the picture stays crisp however deep it goes.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_dream;       // this pass's previous frame (mipmapped)
uniform sampler2D u_frame;       // the latest generated image (mipmapped)
uniform sampler2D u_prev_frame;
uniform float u_frame_mix;
uniform float u_time;
uniform vec2 u_resolution;

uniform float u_pulse;
uniform float u_calm;
uniform float u_depth;
uniform float u_fall;   // the integral of depth over time
uniform float u_lurch;  // the integral of the heartbeat over time

const float K = 2.4;  // each level is this much smaller than the one outside it

vec3 generated(vec2 uv, vec2 dx, vec2 dy) {
    float m = smoothstep(0.0, 1.0, u_frame_mix);
    return mix(textureGrad(u_prev_frame, uv, dx, dy).rgb, textureGrad(u_frame, uv, dx, dy).rgb, m);
}

// Rotate a colour's hue about the grey axis (Rodrigues' formula).
vec3 hue_turn(vec3 c, float a) {
    const vec3 k = vec3(0.57735);
    float ca = cos(a);
    return c * ca + cross(k, c) * sin(a) + k * dot(k, c) * (1.0 - ca);
}

void main() {
    float calm = clamp(u_calm, 0.0, 1.0);
    float depth = clamp(u_depth, 0.0, 1.0);
    float pulse = clamp(u_pulse, 0.0, 1.0);
    vec2 aspect = vec2(u_resolution.x / u_resolution.y, 1.0);
    float lk = log(K);

    // How far the visitor has fallen (log-zoom): a slow drift, deeper when aroused, and a
    // lurch at every felt heartbeat. Integrals, so the fall never jumps back.
    float fall = 0.08 * u_time + 0.30 * u_fall + 0.75 * u_lurch;
    float turns = floor(fall / lk);  // whole levels fallen: each level keeps its colour
    float within = fall - turns * lk;

    vec2 centre = 0.5 + vec2(0.04 * sin(0.043 * u_time), 0.03 * sin(0.031 * u_time + 1.3));
    vec2 p = (v_uv - centre) * aspect;
    float r = length(p) + 1e-6;
    // The spiral: a rotation that grows with log radius, tighter in a deep dream.
    float spiral = (0.10 + 0.35 * depth) * sin(0.021 * u_time + 0.5) + 0.12;
    p = rotate2d(spiral * log(r) + 0.05 * u_time) * p;

    vec2 u = p * exp(-within) / aspect;  // image units: the image spans -0.5..0.5
    float edge = 2.0 * max(abs(u.x), abs(u.y));
    float level = ceil(log(max(edge, 1e-6)) / lk);
    float scale = pow(K, -level);
    vec2 iu = u * scale + 0.5;
    // Derivatives of the continuous mapping, so the mip level has no seams at the frames.
    vec2 dx = dFdx(u) * scale;
    vec2 dy = dFdy(u) * scale;
    vec3 col = generated(iu, dx, dy);
    // Relief: the image's brightness as a surface, lit from the upper left, so its soft forms
    // read as sculpted matter at every level.
    vec2 step_x = dx * 5.0;
    vec2 step_y = dy * 5.0;
    float hx = luminance(generated(iu + step_x, dx, dy)) - luminance(generated(iu - step_x, dx, dy));
    float hy = luminance(generated(iu + step_y, dx, dy)) - luminance(generated(iu - step_y, dx, dy));
    vec3 normal = normalize(vec3(-hx * 6.0, -hy * 6.0, 1.0));
    float lit = dot(normal, normalize(vec3(-0.5, 0.6, 0.65)));
    col *= 0.55 + 0.65 * clamp(lit, 0.0, 1.0);
    col += pow(clamp(lit, 0.0, 1.0), 12.0) * 0.25;

    // Each level dreams a little further: its hue turns, its colour deepens.
    float n = level - turns;
    col = hue_turn(col, (0.35 + 0.5 * depth) * n);
    float l = luminance(col);
    col = mix(vec3(l), col, 1.05 + 0.25 * depth);
    // The frame of each level: a thin dark line with a glow inside it, so the levels read as
    // windows one inside the other.
    float inner = 2.0 * max(abs(iu.x - 0.5), abs(iu.y - 0.5));  // 1/K .. 1 within a level
    float line = fwidth(inner) * 2.0 + 1e-4;
    float frame = smoothstep(1.0 - 3.0 * line, 1.0 - line, inner);
    col *= 1.0 - 0.55 * frame;
    col += frame * (1.0 - frame) * 2.0 * mix(vec3(0.9, 0.8, 1.0), vec3(1.0, 0.6, 0.3), depth) * 0.4;
    // Far levels sink into a haze, so depth reads as distance.
    col *= mix(0.55, 1.0, smoothstep(-4.0, 0.0, level));

    // The wake: the last frames, magnified a touch, linger (longer in a deep dream).
    vec2 back = centre + (v_uv - centre) * 0.985;
    vec3 wake = textureLod(u_dream, back, 0.5).rgb;
    col = max(col, wake * mix(0.55, 0.82, depth) * (1.0 - 0.5 * calm));
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
