#version 330
// Living image: the artist's image grown by a neural cellular automaton, shown as what it
// is, a colony of living cells. The generator hands over the automaton's RGB (alpha
// premultiplied, so dead cells are black); this pass only looks, it never changes the cells.
//
// Calm shows the image whole and smooth; arousal breaks it into its cells. A heartbeat, at
// the moment it is felt, cuts a wound into the colony (in the generator) and the colony's
// light swells with it: the cells glow from within and their halo breathes out into the
// dish, then fade over ~0.4 s; the cells that die glow hot for a moment, and the regrowing
// edge shimmers. An empty room sees the image heal and breathe.
#include "../../../shaders/common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_frame;       // the automaton now (premultiplied RGB)
uniform sampler2D u_prev_frame;  // one generated image before
uniform sampler2D u_feedback;    // this pass last frame
uniform float u_frame_mix;
uniform float u_time;
uniform vec2 u_resolution;

uniform float u_calm;     // 0..1
uniform float u_arousal;  // 0..1
uniform float u_pulse;    // 1 at a heartbeat, decaying

vec3 cells(vec2 uv, float lod, float m) {
    return mix(textureLod(u_prev_frame, uv, lod).rgb, textureLod(u_frame, uv, lod).rgb, m);
}

void main() {
    float calm = clamp(u_calm, 0.0, 1.0);
    float arousal = clamp(u_arousal, 0.0, 1.0);
    float pulse = clamp(u_pulse, 0.0, 1.0);
    float m = smoothstep(0.0, 1.0, u_frame_mix);

    // The grid's height fills the output's; cells stay square on screen.
    vec2 grid = vec2(textureSize(u_frame, 0));
    float cell_px = u_resolution.y / grid.y;
    vec2 p = (gl_FragCoord.xy - 0.5 * u_resolution) / cell_px + 0.5 * grid;
    // A slow drift, as if the colony floated in liquid.
    p += 0.35 * vec2(sin(u_time * 0.21), cos(u_time * 0.17));
    vec2 uv = p / grid;

    vec3 smooth_img = cells(uv, 0.0, m);
    // The mosaic: each cell a soft round body of its own colour.
    vec2 centre = (floor(p) + 0.5) / grid;
    vec3 cell_col = cells(centre, 0.0, m);
    float r = length(fract(p) - 0.5);
    float body = smoothstep(0.56, 0.30, r);
    vec3 mosaic = cell_col * (0.35 + 0.9 * body);
    float broken = clamp(0.15 + 0.75 * arousal - 0.35 * calm, 0.0, 1.0);
    vec3 col = mix(smooth_img, mosaic, broken);
    // Outside the grid there is nothing (the texture would repeat).
    vec2 edge = step(vec2(0.0), uv) * step(uv, vec2(1.0));
    col *= edge.x * edge.y;

    // Wounds: where cells were alive a moment ago and are not now, a hot rim.
    vec3 before = textureLod(u_prev_frame, uv, 1.0).rgb;
    vec3 after = textureLod(u_frame, uv, 1.0).rgb;
    float lost = max(luminance(before) - luminance(after), 0.0);
    float grown = max(luminance(after) - luminance(before), 0.0);
    col += vec3(1.0, 0.42, 0.18) * lost * (1.2 + 1.5 * arousal) * (1.0 - m * 0.5);
    col += vec3(0.55, 0.85, 1.0) * grown * 0.6;

    // Around the colony: a dim, blurred echo of it, cool when calm, warm when aroused.
    float alive = smoothstep(0.02, 0.12, luminance(cells(uv, 2.0, m)));
    vec3 halo = cells(uv, 4.5, m) * 0.45 + cells(uv, 6.0, m) * 0.35;
    vec3 tint = mix(vec3(1.0, 0.55, 0.35), vec3(0.45, 0.6, 1.0), calm);
    col = mix(halo * tint, col, alive);
    // The felt beat: the living cells swell with light and their halo floods the dish. The
    // wounds alone change too little of the frame to be seen as a heartbeat (BENCHMARKS.md:
    // beat z 4.4, +0.3 grey levels); squared, the pulse reads as one beat, not a ramp.
    float flare = pulse * pulse;
    col *= 1.0 + 1.1 * flare;
    col += flare * tint * (0.9 * halo + 0.35 * alive * cells(uv, 1.0, m) + 0.04);

    // Dying cells fade out rather than vanish: keep a short afterglow of last frame.
    vec3 trail = texture(u_feedback, v_uv).rgb;
    col = max(col, trail * mix(0.70, 0.82, calm) * (1.0 - alive * 0.6));

    // The empty dish: a faint grain of liquid, and a vignette.
    float grain = hash21(ivec2(gl_FragCoord.xy), uint(max(u_time, 0.0) * 30.0)) - 0.5;
    col += grain * 0.025;
    col *= vignette(v_uv, u_resolution, 0.6);
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}
