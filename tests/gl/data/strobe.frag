#version 330
// An adversarial pass for the flash-limiter tests: the left half goes white on every
// heartbeat, the right half strobes saturated red at 6 Hz whatever the body does.
in vec2 v_uv;
out vec4 f_color;

uniform float u_time;
uniform float u_pulse;

void main() {
    bool beat = u_pulse > 0.3;
    bool red_on = fract(u_time * 6.0) < 0.5;
    vec3 col = v_uv.x < 0.5 ? vec3(beat ? 1.0 : 0.0) : vec3(red_on ? 0.9 : 0.05, 0.0, 0.0);
    f_color = vec4(col, 1.0);
}
