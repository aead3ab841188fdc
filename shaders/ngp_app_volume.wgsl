// Neural graphics lab: progressive ray marching of a neural volume (NeRF and NVR).
// A ray's samples are evaluated a few slices per frame: `positions` writes the sample
// positions of slices [slice0, slice0 + slices) for every ray (row = ray * slices + j), the
// field is evaluated on them, and `composite` integrates them front to back into the ray's
// running state (colour, transmittance), stopping early once transmittance < 1e-3. After the
// last slice the finished ray goes to `image` (the previous image stays on screen meanwhile).
// World space is field space - 0.5 (the field lives in [0,1]^3, the box is [-0.5,0.5]^3).
// Camera, camera_ray, box_hit: shaders/lib/box_camera.wgsl, joined in front.

struct Params {
  camera: Camera,
  width: u32,
  height: u32,
  samples: u32,
  slice0: u32,
  slices: u32,
  // 0: NeRF (sigma = exp(raw), colour = sigmoid(raw)); 1: NVR transfer function
  mode: u32,
  colour_map: u32,
  use_occupancy: u32,
  opacity: f32,
  threshold: f32,
  // 1 until a first pass has completed: show the partial pass rather than nothing
  show_partial: u32,
  _pad1: f32,
  background: vec4f,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> positions: array<f32>;
@group(0) @binding(2) var<storage, read> field: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> state: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> image: array<vec4f>;
@group(0) @binding(5) var<storage, read> occupancy: array<u32>;
@group(0) @binding(6) var<storage, read_write> directions: array<f32>;  // d * 0.5 + 0.5 (NeRF's SH input)

const OCC_RES: u32 = 32u;

fn ray_dir(pixel: u32) -> vec3f { return camera_ray(params.camera, params.width, params.height, pixel); }

fn step_size() -> f32 { return 1.7320508 / f32(params.samples); }

// Rows over a 2D dispatch (flat workgroup index y * num_workgroups.x + x): rays * slices may
// exceed 65535 workgroups.
@compute @workgroup_size(64) fn make_positions(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let rays = params.width * params.height;
  let row = (wid.y * nwg.x + wid.x) * 64u + li;
  if (row >= rays * params.slices) { return; }
  let ray = row / params.slices;
  let j = row % params.slices;
  let o = params.camera.origin;
  let d = ray_dir(ray);
  let hit = box_hit(o, d);
  let t = hit.x + (f32(params.slice0 + j) + 0.5) * step_size();
  let p = clamp(o + t * d + vec3f(0.5), vec3f(0.0), vec3f(1.0));
  positions[row * 3u] = p.x;
  positions[row * 3u + 1u] = p.y;
  positions[row * 3u + 2u] = p.z;
  let dir01 = d * 0.5 + vec3f(0.5);
  directions[row * 3u] = dir01.x;
  directions[row * 3u + 1u] = dir01.y;
  directions[row * 3u + 2u] = dir01.z;
}

fn occupied(p: vec3f) -> bool {
  if (params.use_occupancy == 0u) { return true; }
  let c = min(vec3u(p * f32(OCC_RES)), vec3u(OCC_RES - 1u));
  let cell = (c.z * OCC_RES + c.y) * OCC_RES + c.x;
  return (occupancy[cell / 32u] & (1u << (cell % 32u))) != 0u;
}

fn colour_map(v: f32, which: u32) -> vec3f {
  let x = clamp(v, 0.0, 1.0);
  if (which == 1u) { // warm: black-red-yellow-white
    return clamp(vec3f(3.0 * x, 3.0 * x - 1.0, 3.0 * x - 2.0), vec3f(0.0), vec3f(1.0));
  }
  // cool: blue-cyan-white
  return clamp(vec3f(2.0 * x - 1.0, 1.5 * x, 0.5 + x), vec3f(0.0), vec3f(1.0));
}

@compute @workgroup_size(64) fn composite(@builtin(global_invocation_id) id: vec3u) {
  let rays = params.width * params.height;
  let ray = id.x;
  if (ray >= rays) { return; }
  var s = vec4f(0.0, 0.0, 0.0, 1.0);
  if (params.slice0 > 0u) { s = state[ray]; }
  let o = params.camera.origin;
  let d = ray_dir(ray);
  let hit = box_hit(o, d);
  let dt = step_size();
  for (var j = 0u; j < params.slices; j++) {
    if (s.w < 1e-3) { break; } // early ray termination
    let t = hit.x + (f32(params.slice0 + j) + 0.5) * dt;
    if (t > hit.y) { break; }
    let row = ray * params.slices + j;
    let p = vec3f(positions[row * 3u], positions[row * 3u + 1u], positions[row * 3u + 2u]);
    if (!occupied(p)) { continue; }
    let raw = field[row];
    var sigma: f32;
    var c: vec3f;
    if (params.mode == 0u) {
      sigma = exp(clamp(raw.x, -15.0, 15.0));
      c = 1.0 / (1.0 + exp(-raw.yzw));
    } else {
      let density = clamp(raw.x, 0.0, 1.0);
      sigma = select(0.0, density * params.opacity, density >= params.threshold);
      c = select(colour_map(density, params.colour_map), clamp(raw.yzw, vec3f(0.0), vec3f(1.0)), params.colour_map == 0u);
    }
    let alpha = 1.0 - exp(-sigma * dt);
    s = vec4f(s.xyz + s.w * alpha * c, s.w * (1.0 - alpha));
  }
  let last = params.slice0 + params.slices >= params.samples;
  if (last || params.show_partial != 0u) {
    image[ray] = vec4f(s.xyz + s.w * params.background.xyz, 1.0 - s.w);
  }
  if (!last) { state[ray] = s; }
}
