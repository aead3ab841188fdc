// Neural graphics lab, NeRF: volume-rendering loss of a batch of rays and its gradient with
// respect to the field's raw outputs (sigma = exp(raw.x), colour = sigmoid(raw.yzw)), and the
// occupancy-grid update from the learned density.
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
  threshold: f32,
  _pad: f32,
  background: vec4f,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> raw: array<vec4f>;
@group(0) @binding(2) var<storage, read> deltas: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_raw: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> ray_loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats: array<f32, 4>;
@group(0) @binding(7) var<storage, read_write> occupancy: array<atomic<u32>>;

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
    let clamped = v.x < -15.0 || v.x > 15.0;
    let d_density = select(d_sigma * sigma, 0.0, clamped);
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

// Occupancy: one thread per cell; raw holds the field at the cell centres (row = cell). A cell
// is occupied when its density is over the threshold; occupied cells also mark their 26
// neighbours (dilation), so the sampler never starves a surface cell the field under-estimates.
@compute @workgroup_size(64) fn occupancy_update(@builtin(global_invocation_id) id: vec3u) {
  let cell = id.x;
  let n = params.cells;
  if (cell >= n * n * n) { return; }
  if (sigma_of(raw[cell].x) < params.threshold) { return; }
  let x = i32(cell % n);
  let y = i32((cell / n) % n);
  let z = i32(cell / (n * n));
  for (var dz = -1; dz <= 1; dz++) {
    for (var dy = -1; dy <= 1; dy++) {
      for (var dx = -1; dx <= 1; dx++) {
        let q = vec3i(x + dx, y + dy, z + dz);
        if (any(q < vec3i(0)) || any(q >= vec3i(i32(n)))) { continue; }
        let c = u32((q.z * i32(n) + q.y) * i32(n) + q.x);
        atomicOr(&occupancy[c / 32u], 1u << (c % 32u));
      }
    }
  }
}
