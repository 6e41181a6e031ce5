#version 330
// Data as Matter, the trails: last frame's light, fading, under this frame's particles. Calm
// draws long silky trails; agitation leaves short sparks.
in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_matter;
uniform sampler2D u_trails;
uniform float u_calm;
uniform float u_pulse;

void main() {
    float calm = clamp(u_calm, 0.0, 1.0);
    float keep = mix(0.80, 0.93, calm);
    vec3 trail = texture(u_trails, v_uv).rgb * keep + texture(u_matter, v_uv).rgb;
    f_color = vec4(trail, 1.0);
}
