#version 330
// The default piece: the generated image, dreaming, breathing with the visitor's heart.
//
// Calm bodies see cool blue-violet light and long, slow trails; excitement (low calm or
// high energy) turns the grade warm red-orange and quickens the swirl. Each heartbeat
// swells a warm glow and pushes the image gently towards the viewer.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_frame;       // latest generated image (mipmapped)
uniform sampler2D u_prev_frame;  // the one before it
uniform sampler2D u_feedback;    // this pass's output last frame
uniform float u_frame_mix;       // 0 = previous image, 1 = latest
uniform float u_time;
uniform vec2 u_resolution;

uniform float u_pulse;   // heartbeat swell, 0..1
uniform float u_calm;    // 1 = calm, 0 = agitated
uniform float u_energy;  // 0..1

// Crossfaded generated image; lod > 0 reads a blurred mip level.
vec3 generated(vec2 uv, float lod, float m) {
    return mix(textureLod(u_prev_frame, uv, lod).rgb, textureLod(u_frame, uv, lod).rgb, m);
}

vec3 gradient3(float x, vec3 a, vec3 b, vec3 c) {
    return x < 0.5 ? mix(a, b, x * 2.0) : mix(b, c, x * 2.0 - 1.0);
}

void main() {
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float calm = clamp(u_calm, 0.0, 1.0);
    float energy = clamp(u_energy, 0.0, 1.0);
    // Warm when agitated or energetic, cool only when calm and quiet.
    float warmth = 1.0 - calm * (1.0 - energy);
    vec2 aspect = vec2(u_resolution.x / u_resolution.y, 1.0);

    // The beat pushes the image towards the viewer; a slow drifting warp keeps it alive.
    vec2 c = (v_uv - 0.5) * (1.0 - 0.012 * pulse);
    vec2 drift = vec2(value_noise(v_uv * 3.0 + u_time * 0.05, 1u),
                      value_noise(v_uv * 3.0 - u_time * 0.05, 2u)) - 0.5;
    vec2 uv = 0.5 + c + drift * 0.008 * (0.4 + energy);

    float m = smoothstep(0.0, 1.0, u_frame_mix);
    vec3 sharp = generated(uv, 0.0, m);
    vec3 soft = generated(uv, 2.5, m);
    vec3 blur = generated(uv, 5.0, m);

    // Dream focus: calm softens the image.
    vec3 col = mix(sharp, soft, 0.15 + 0.25 * calm);

    // Colour grade: a gradient map by luminance, blended over the image's own colour.
    float l = luminance(col);
    vec3 cool = gradient3(l, vec3(0.02, 0.02, 0.10), vec3(0.30, 0.26, 0.72), vec3(0.86, 0.90, 1.00));
    vec3 warm = gradient3(l, vec3(0.10, 0.01, 0.02), vec3(0.88, 0.30, 0.12), vec3(1.00, 0.90, 0.70));
    col = mix(col, mix(cool, warm, warmth), 0.55);
    // A faint slow iridescence from the cosine palette.
    vec3 shimmer = palette(l + 0.02 * u_time, vec3(0.5), vec3(0.5), vec3(1.0),
                           vec3(0.0, 0.33, 0.67));
    col += 0.05 * (shimmer - 0.5) * (1.0 - 0.5 * calm);

    // Warm glow from the blurred bright parts, swelling with each beat.
    vec3 glow_tint = mix(vec3(1.0, 0.70, 0.45), vec3(1.0, 0.45, 0.25), warmth);
    float bright = smoothstep(0.15, 0.9, luminance(blur));
    vec3 glow = glow_tint * mix(soft, blur, 0.6) * (0.10 + 0.28 * pulse) * (0.4 + bright);
    col = col * (1.0 + 0.06 * pulse) + glow;

    // Trails: last frame, slightly zoomed and turned, so bright shapes drift out and swirl.
    // max() keeps the feedback stable: it can only hold light, never amplify it.
    vec2 f = rotate2d(0.002 + 0.006 * energy) * ((v_uv - 0.5) * aspect);
    f *= 0.993 - 0.004 * pulse;
    vec3 trail = texture(u_feedback, f / aspect + 0.5).rgb;
    float decay = mix(0.86, 0.94, calm);
    col = mix(col, max(col, trail * decay), 0.8);

    col *= vignette(v_uv, u_resolution, 0.55);
    float grain = hash21(ivec2(gl_FragCoord.xy), uint(max(u_time, 0.0) * 60.0)) - 0.5;
    col += grain * 0.035;

    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
