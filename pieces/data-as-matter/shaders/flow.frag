#version 330
// Data as Matter, the field: where the matter flows. Velocities in frame heights per second.
//
// - along the generated image's contours: the curl of its brightness (divergence-free, so the
//   matter swirls around the forms instead of piling up), plus a little of its gradient, so
//   it also gathers on the bright forms and the image shows through;
// - turbulence (the curl of moving noise) grows with agitation;
// - the heartbeat: a pressure wave, a ring running out from the centre that pushes outwards;
// - the breath: a tide, the whole field rising and falling, swelling and settling.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_image;
uniform vec2 u_resolution;
uniform float u_time;
uniform float u_pulse;
uniform float u_calm;
uniform float u_energy;
uniform float u_tide;  // breaths since the start (the integral of breaths per second)

float brightness(vec2 uv) {
    return luminance(textureLod(u_image, uv, 1.5).rgb);
}

// Smooth noise for the turbulence's stream function.
float stream(vec2 p, float t) {
    return value_noise(p + vec2(0.0, t), 5u) + 0.5 * value_noise(p * 2.1 - vec2(t, 0.0), 6u);
}

void main() {
    float calm = clamp(u_calm, 0.0, 1.0);
    float energy = clamp(u_energy, 0.0, 1.0);
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float aspect = u_resolution.x / u_resolution.y;
    vec2 h = vec2(2.0 / u_resolution.x, 2.0 / u_resolution.y);

    // The image's brightness: gradient by central differences (in frame heights).
    float gx = (brightness(v_uv + vec2(h.x, 0.0)) - brightness(v_uv - vec2(h.x, 0.0)))
             / (2.0 * h.x * aspect);
    float gy = (brightness(v_uv + vec2(0.0, h.y)) - brightness(v_uv - vec2(0.0, h.y)))
             / (2.0 * h.y);
    vec2 grad = vec2(gx, gy);
    vec2 contour = vec2(grad.y, -grad.x);
    float speed = mix(0.30, 0.11, calm) * (0.7 + 0.6 * energy);
    vec2 v = contour * speed + grad * 0.02;

    // Turbulence: the curl of drifting noise, strong when agitated, a whisper when calm.
    vec2 q = v_uv * vec2(aspect, 1.0) * 3.0;
    float t = u_time * mix(0.35, 0.08, calm);
    float e = 0.05;
    float sx = (stream(q + vec2(e, 0.0), t) - stream(q - vec2(e, 0.0), t)) / (2.0 * e);
    float sy = (stream(q + vec2(0.0, e), t) - stream(q - vec2(0.0, e), t)) / (2.0 * e);
    v += vec2(sy, -sx) * mix(0.10, 0.012, calm);

    // The heartbeat's pressure wave: a ring from the centre, pushing outwards as it passes.
    vec2 d = (v_uv - 0.5) * vec2(aspect, 1.0);
    float r = length(d) + 1e-4;
    float front = (1.0 - pulse) * 1.1;
    float wave = pulse * exp(-pow((r - front) / 0.07, 2.0));
    v += (d / r) * wave * 1.6;

    // The breath's tide: rising on the in-breath, falling on the out-breath, and swelling a
    // little from the centre with it.
    float tide = sin(6.2831853 * u_tide);
    v += vec2(0.0, 0.035 * tide) + d * 0.05 * cos(6.2831853 * u_tide);

    f_color = vec4(v, length(v), 1.0);
}
