#version 330
// Pulse Garden, the haze: the crossfaded generated image, blurred (mip level 3), at that
// level's size; the light pass tints the soil and the flare with it in one read.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_frame;       // latest generated image (mipmapped)
uniform sampler2D u_prev_frame;  // the one before it
uniform float u_frame_mix;

void main() {
    float m = smoothstep(0.0, 1.0, u_frame_mix);
    f_color = vec4(mix(textureLod(u_prev_frame, v_uv, 3.0).rgb,
                       textureLod(u_frame, v_uv, 3.0).rgb, m), 1.0);
}
