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

uniform sampler2D u_garden;  // U, V, beat memory, relief light (320x180, linear filtered)
uniform sampler2D u_tint;    // the petals' colour (shaders/garden_tint.frag)
uniform sampler2D u_haze;    // the blurred generated image (shaders/garden_haze.frag)
uniform float u_time;
uniform vec2 u_resolution;

uniform float u_pulse;   // the felt heartbeat, 0..1
uniform float u_calm;    // 1 = calm, 0 = agitated
uniform float u_energy;  // heart rate, 0..1

void main() {
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float calm = clamp(u_calm, 0.0, 1.0);
    float energy = clamp(u_energy, 0.0, 1.0);
    float heat = clamp(1.0 - calm * (1.0 - 0.5 * energy), 0.0, 1.0);
    vec2 aspect = vec2(u_resolution.x / u_resolution.y, 1.0);

    // The beat pushes everything gently out from the centre.
    vec2 centred = (v_uv - 0.5);
    float r = length(centred * aspect);
    vec2 uv = 0.5 + centred * (1.0 - 0.025 * pulse);

    // Three reads a pixel: the garden (its relief lit in shaders/garden.frag), the petals'
    // colour and the haze, each worked out at its own, smaller size.
    vec4 g = texture(u_garden, uv);
    float v = g.g;
    float diffuse = g.a;
    // The highlight, from the light alone: the faces turned most towards it glint.
    float spec = pow(smoothstep(0.86, 1.0, diffuse), 3.0);

    // Crisp cell walls: a threshold on the smooth field, antialiased by its own derivative.
    float w = fwidth(v) * 0.75 + 1e-4;
    float body = smoothstep(0.20 - w, 0.20 + w, v);
    float rim = smoothstep(0.12 - w, 0.12 + w, v) - body;

    vec3 petal = texture(u_tint, uv).rgb;
    vec3 soft = texture(u_haze, uv).rgb;
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
    // Film grain: interleaved gradient noise (Jimenez, "Next Generation Post Processing in
    // Call of Duty: Advanced Warfare", SIGGRAPH 2014), a few multiplies instead of an integer
    // hash (~5 ms a 960x540 frame on llvmpipe), shifted every 1/60 s.
    vec2 gp = gl_FragCoord.xy + 5.588238 * floor(mod(max(u_time, 0.0) * 60.0, 64.0));
    float grain = fract(52.9829189 * fract(dot(gp, vec2(0.06711056, 0.00583715)))) - 0.5;
    col += grain * 0.02;
    // A soft shoulder instead of a hard clip keeps the flare's highlights detailed.
    col = col / (1.0 + 0.35 * max(col - 0.7, 0.0));
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
