// Neural graphics lab, NeRF: volume-rendering loss of a batch of rays and its gradient with
// respect to the network's raw outputs (sigma = exp(raw.x), colour = sigmoid(raw.yzw)), and the
// occupancy-grid update from the learned density (instant-ngp: EMA of the per-cell optical
// thickness over its minimum step, bitfield at min(0.01, mean)).
//
// Density activation: tcnn/instant-ngp truncated exp: forward exp(x) (clamped to +-15 here to
// stay finite), backward dL/dx = dL/dsigma * exp(clamp(x, -15, 15)): the gradient never vanishes.
//
// loss: one thread per ray of S samples (rows ray * S + j). C = sum_j T_j a_j c_j + T_S bg with
// a_j = 1 - exp(-sigma_j delta_j); L = mean over rays and channels of (C - target)^2.
// dC/dsigma_j = delta_j (T_{j+1} c_j - (C - sum_{k<=j} T_k a_k c_k)), dC/dc_j = T_j a_j.
struct Params {
  rays: u32,
  samples: u32,
  write_grad: u32,
  cells: u32,
  grad_scale: f32,
  inv_count: f32,
  threshold: f32,  // occupancy: minimum optical thickness (instant-ngp 0.01)
  decay: f32,      // occupancy: EMA decay (instant-ngp 0.95)
  background: vec4f,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> raw: array<vec4f>;
@group(0) @binding(2) var<storage, read> deltas: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_raw: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> ray_loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats: array<f32, 4>;
@group(0) @binding(7) var<storage, read_write> occupancy: array<u32>;
@group(0) @binding(8) var<storage, read_write> occ_density: array<f32>;

fn sigma_of(r: f32) -> f32 { return exp(clamp(r, -15.0, 15.0)); }
fn colour_of(r: vec3f) -> vec3f { return 1.0 / (1.0 + exp(-r)); }

@compute @workgroup_size(64) fn loss(@builtin(global_invocation_id) id: vec3u) {
  let ray = id.x;
  if (ray >= params.rays) { return; }
  let base = ray * params.samples;
  var T = 1.0;
  var C = vec3f(0.0);
  for (var j = 0u; j < params.samples; j++) {
    let v = raw[base + j];
    let a = 1.0 - exp(-sigma_of(v.x) * deltas[base + j]);
    C += T * a * colour_of(v.yzw);
    T *= 1.0 - a;
  }
  C += T * params.background.xyz;
  let want = vec3f(targets[ray * 3u], targets[ray * 3u + 1u], targets[ray * 3u + 2u]);
  let diff = C - want;
  ray_loss[ray] = dot(diff, diff);
  if (params.write_grad == 0u) { return; }
  let g = 2.0 * diff * params.grad_scale;
  T = 1.0;
  var acc = vec3f(0.0);
  for (var j = 0u; j < params.samples; j++) {
    let v = raw[base + j];
    let sigma = sigma_of(v.x);
    let delta = deltas[base + j];
    let a = 1.0 - exp(-sigma * delta);
    let c = colour_of(v.yzw);
    let w = T * a;
    acc += w * c;
    let t_next = T * (1.0 - a);
    let d_sigma = delta * dot(g, t_next * c - (C - acc));
    let d_density = d_sigma * sigma; // truncated exp: exp(clamp(x)) as the derivative
    let d_colour = w * g * c * (1.0 - c);
    d_raw[base + j] = vec4f(d_density, d_colour);
    T = t_next;
  }
}

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256) fn finish(@builtin(local_invocation_id) lid: vec3u) {
  var sum = 0.0;
  for (var i = lid.x; i < params.rays; i += 256u) { sum += ray_loss[i]; }
  partial[lid.x] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let mean = partial[0] * params.inv_count;
    stats[0] = mean;
    stats[1] += mean;
    stats[2] += 1.0;
  }
}

// Occupancy EMA: one thread per cell; raw holds the density MLP outputs at a random point of
// each cell (16 floats = 4 vec4 per row, log-density first).
const MIN_STEP: f32 = 1.7320508 / 1024.0; // instant-ngp: sqrt(3) / NERF_STEPS

fn cellRow(wid: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * 64u + li;
}

@compute @workgroup_size(64) fn occupancy_ema(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let cell = cellRow(wid, nwg, li);
  let n = params.cells;
  if (cell >= n * n * n) { return; }
  let thickness = sigma_of(raw[cell * 4u].x) * MIN_STEP;
  occ_density[cell] = max(occ_density[cell] * params.decay, thickness);
}

// Bitfield: one workgroup; mean of the grid, then cell occupied when over min(threshold, mean).
var<workgroup> occ_mean: f32;

@compute @workgroup_size(256) fn occupancy_bits(@builtin(local_invocation_id) lid: vec3u) {
  let count = params.cells * params.cells * params.cells;
  var sum = 0.0;
  for (var i = lid.x; i < count; i += 256u) { sum += occ_density[i]; }
  partial[lid.x] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { occ_mean = partial[0] / f32(count); }
  workgroupBarrier();
  let limit = min(params.threshold, occ_mean);
  for (var w = lid.x; w < count / 32u; w += 256u) {
    var bits = 0u;
    for (var b = 0u; b < 32u; b++) {
      if (occ_density[w * 32u + b] > limit) { bits |= 1u << b; }
    }
    occupancy[w] = bits;
  }
}
