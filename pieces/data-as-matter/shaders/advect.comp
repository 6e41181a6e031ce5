#version 430
// Data as Matter, the particles: each follows the field (shaders/flow.frag) with a little
// inertia, lives a few seconds, and is reborn somewhere bright. Its light is the generated
// image's colour where it is, brighter when it moves fast and at each heartbeat.
// Every invocation writes only its own particle and rebirths are hashed from its index and
// the frame count, so a replay is byte-identical.
#include "particles.glsl"
#include "common.glsl"

uniform sampler2D u_flow;
uniform sampler2D u_image;
uniform vec2 u_resolution;
uniform float u_pulse;
uniform float u_calm;
uniform float u_energy;

float rand(uint i, uint salt) {
    return float(hash_u(i * 9781u + hash_u(uint(u_frame_count) * 6151u + salt)) >> 8) / 16777216.0;
}

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= uint(u_count)) return;
    Particle p = particles[i];
    float calm = clamp(u_calm, 0.0, 1.0);
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float aspect = u_resolution.x / u_resolution.y;

    float life = mix(1.6, 5.0, calm) * (0.6 + 0.8 * p.data.z);
    bool outside = any(lessThan(p.pos.xy, vec2(-0.02))) || any(greaterThan(p.pos.xy, vec2(1.02)));
    if (p.data.y == 0.0) {
        p.data.x = p.data.z * life;  // the first frame: staggered ages, no wave of rebirths
        p.data.y = life;
    }
    if (p.data.x >= p.data.y || outside) {
        // Reborn: of two random places, the brighter (the matter favours the image's forms).
        vec2 a = vec2(rand(i, 1u), rand(i, 2u));
        vec2 b = vec2(rand(i, 3u), rand(i, 4u));
        float la = luminance(textureLod(u_image, a, 2.0).rgb);
        float lb = luminance(textureLod(u_image, b, 2.0).rgb);
        p.pos = vec4(la > lb ? a : b, 0.0, 0.0);
        p.data.x = 0.0;
        p.data.y = life;
    }

    vec2 v = textureLod(u_flow, p.pos.xy, 0.0).rg;
    // A little inertia: the matter has weight, so the pressure wave overshoots and settles.
    p.pos.zw = mix(p.pos.zw, v, 1.0 - exp(-u_dt * 6.0));
    p.pos.xy += vec2(p.pos.z / aspect, p.pos.w) * u_dt;
    p.data.x += u_dt;

    vec3 img = textureLod(u_image, p.pos.xy, 0.5).rgb;
    float speed = length(p.pos.zw);
    float fade = sin(3.14159265 * clamp(p.data.x / p.data.y, 0.0, 1.0));
    float glow = (0.35 + 2.2 * speed) * (1.0 + 2.5 * pulse * pulse);
    // The same light per pixel at any output size: at 1280x720 the particles spread over
    // four times the pixels of 640x360 (where the piece was composed), so each carries more.
    float exposure = (u_resolution.x * u_resolution.y) / (640.0 * 360.0);
    p.color = vec4(img * fade * glow * 0.055 * exposure, 1.0);
    particles[i] = p;
}
