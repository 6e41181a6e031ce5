// Shared helpers for the piece's passes. Include with:  #include "common.glsl"
#version 330

const float PI = 3.14159265358979;

// Rec. 709 luma of a linear-ish RGB colour.
float luminance(vec3 c) {
    return dot(c, vec3(0.2126, 0.7152, 0.0722));
}

// Inigo Quilez's cosine palette: a + b * cos(2 pi (c t + d)).
vec3 palette(float t, vec3 a, vec3 b, vec3 c, vec3 d) {
    return a + b * cos(2.0 * PI * (c * t + d));
}

// Integer hash (PCG-style): the same bits on every GPU, unlike sin()-based hashes,
// so golden images and replays stay reproducible.
uint hash_u(uint x) {
    x = x * 747796405u + 2891336453u;
    x = ((x >> ((x >> 28u) + 4u)) ^ x) * 277803737u;
    return (x >> 22u) ^ x;
}

// Hash of a 2D integer cell and a seed, in [0, 1).
float hash21(ivec2 p, uint seed) {
    uint h = hash_u(uint(p.x) ^ hash_u(uint(p.y) ^ hash_u(seed)));
    return float(h >> 8u) / 16777216.0;
}

// Smooth value noise in [0, 1).
float value_noise(vec2 p, uint seed) {
    vec2 i = floor(p);
    vec2 f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    ivec2 c = ivec2(i);
    float a = hash21(c, seed);
    float b = hash21(c + ivec2(1, 0), seed);
    float d = hash21(c + ivec2(0, 1), seed);
    float e = hash21(c + ivec2(1, 1), seed);
    return mix(mix(a, b, u.x), mix(d, e, u.x), u.y);
}

// 2D rotation matrix.
mat2 rotate2d(float a) {
    float c = cos(a);
    float s = sin(a);
    return mat2(c, s, -s, c);
}

// 1 in the middle, falling smoothly to (1 - strength) in the corners; aspect-corrected.
float vignette(vec2 uv, vec2 resolution, float strength) {
    vec2 d = (uv - 0.5) * vec2(resolution.x / resolution.y, 1.0);
    float r = length(d) / length(vec2(0.5 * resolution.x / resolution.y, 0.5));
    return 1.0 - strength * smoothstep(0.35, 1.0, r);
}
