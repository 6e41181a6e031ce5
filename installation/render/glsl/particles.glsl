// The engine's particle layout, for the compute shader of a `kind = "particles"` pass:
//     #version 430
//     #include "particles.glsl"
//     void main() {
//         uint i = gl_GlobalInvocationID.x;
//         if (i >= uint(u_count)) return;
//         Particle p = particles[i];
//         ...            // move it (u_dt seconds per step, u_steps steps per frame)
//         particles[i] = p;
//     }
// Each invocation touches only its own particle: no atomics, so the result does not depend on
// the order the GPU runs them in, and replays stay byte-identical.

// The renderer dispatches ceil(u_count / 256) groups of this size.
layout(local_size_x = 256) in;

struct Particle {
    vec4 pos;    // xy: position (0..1 over the target, (0,0) bottom-left); zw: velocity, yours
    vec4 color;  // what the point draws: rgb, and a (0 draws nothing)
    vec4 data;   // x, y: yours (e.g. age, lifetime); z: a fixed random 0..1 per particle;
                 // w: point size in pixels (0: the pass's point_size)
};

layout(std430, binding = 0) buffer Particles {
    Particle particles[];
};

uniform int u_count;     // particles in the buffer
uniform float u_dt;      // seconds of engine time this step covers (frame time / u_steps)
uniform int u_step;      // 0 .. u_steps - 1 within the frame
uniform int u_steps;
uniform int u_frame_count;  // frames drawn since the start (or the last reset)
