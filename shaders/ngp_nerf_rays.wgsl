// Neural graphics lab, NeRF: the training batch placed on the GPU (instant-ngp generates its
// training samples with a ray-marching kernel over the occupancy grid too), so a step has no
// CPU work proportional to the batch and no upload.
//
// `rays`: one thread per ray. Training rays pick a view and a pixel from a counter-based hash
// of (seed, ray); held-out rays take view train_views + ray % held_views and a pixel from the
// hash. The ray crosses the unit cube [-0.5, 0.5]^3 from `near` to `far`; of 2S evenly spaced
// candidates (S without the grid), offset by a per-ray jitter (0.5 for held-out rays), the
// ones in occupied cells become the ray's samples (at most S, in cube coordinates [0,1]^3,
// delta = the candidate spacing); unused samples get delta 0 at the cube's centre.
//
// `probes`: one thread per occupancy cell, a hashed random point inside it (the density the
// occupancy update evaluates).
//
// CPU reference: src/demos/ngp/nerf-rays.ts (same hash, same integer view/pixel picks).


struct Params {
  rays: u32,
  samples: u32,
  res: u32,          // views are res x res
  train_views: u32,
  held_views: u32,
  held: u32,         // 1: held-out rays (fixed views, no jitter)
  seed: u32,
  cells: u32,        // occupancy grid resolution (cells^3 cells)
  use_occupancy: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cameras: array<vec4f>;   // 4 per view: origin, right·tanX, up·tanY, forward
@group(0) @binding(2) var<storage, read> images: array<u32>;      // rgba8 per pixel, views x res x res
@group(0) @binding(3) var<storage, read> occupancy: array<u32>;   // cells^3 bits
@group(0) @binding(4) var<storage, read_write> positions: array<f32>;  // 3 per sample
@group(0) @binding(5) var<storage, read_write> directions: array<f32>; // 3 per sample, d * 0.5 + 0.5
@group(0) @binding(6) var<storage, read_write> deltas: array<f32>;
@group(0) @binding(7) var<storage, read_write> targets: array<f32>;    // 3 per ray

// pcg: shaders/lib/hash.wgsl; Camera, camera_ray, box_hit: shaders/lib/box_camera.wgsl; both
// joined in front by nerf-rays.ts.
// floor(n * h / 2^32) with the top 16 bits of h: exact integers on both CPU and GPU.
fn pick(h: u32, n: u32) -> u32 { return ((h >> 16u) * n) >> 16u; }
fn unit(h: u32) -> f32 { return f32(h >> 8u) / 16777216.0; }

fn occupied(p: vec3f) -> bool {
  if (params.use_occupancy == 0u) { return true; }
  let n = params.cells;
  let c = vec3u(clamp(floor(p * f32(n)), vec3f(0.0), vec3f(f32(n - 1u))));
  let cell = (c.z * n + c.y) * n + c.x;
  return (occupancy[cell / 32u] & (1u << (cell % 32u))) != 0u;
}

@compute @workgroup_size(64) fn rays(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let ray = (wid.y * nwg.x + wid.x) * 64u + li;
  if (ray >= params.rays) { return; }
  let res = params.res;
  let h0 = pcg(ray + pcg(params.seed));
  let h1 = pcg(h0);
  let h2 = pcg(h1);
  var view = pick(h0, params.train_views);
  var jitter = unit(pcg(h2));
  if (params.held != 0u) {
    view = params.train_views + ray % params.held_views;
    jitter = 0.5;
  }
  let px = pick(h1, res);
  let py = pick(h2, res);
  let colour = unpack4x8unorm(images[(view * res + py) * res + px]);
  targets[ray * 3u] = colour.x;
  targets[ray * 3u + 1u] = colour.y;
  targets[ray * 3u + 2u] = colour.z;

  let camera = Camera(cameras[view * 4u].xyz, cameras[view * 4u + 1u].xyz, cameras[view * 4u + 2u].xyz, cameras[view * 4u + 3u].xyz);
  let o = camera.origin;
  let d = camera_ray(camera, res, res, py * res + px);
  let hit = box_hit(o, d);
  let near = hit.x;
  let far = hit.y;

  let S = params.samples;
  let base = ray * S;
  let dir = d * 0.5 + 0.5;
  var j = 0u;
  if (far > near) {
    let candidates = select(S, 2u * S, params.use_occupancy != 0u);
    let dt = (far - near) / f32(candidates);
    for (var k = 0u; k < candidates && j < S; k++) {
      let p = o + (near + (f32(k) + jitter) * dt) * d + 0.5;
      if (!occupied(p)) { continue; }
      let q = clamp(p, vec3f(0.0), vec3f(1.0));
      let row = base + j;
      positions[row * 3u] = q.x;
      positions[row * 3u + 1u] = q.y;
      positions[row * 3u + 2u] = q.z;
      deltas[row] = dt;
      j++;
    }
  }
  for (; j < S; j++) {
    let row = base + j;
    positions[row * 3u] = 0.5;
    positions[row * 3u + 1u] = 0.5;
    positions[row * 3u + 2u] = 0.5;
    deltas[row] = 0.0;
  }
  for (var k = 0u; k < S; k++) {
    let row = base + k;
    directions[row * 3u] = dir.x;
    directions[row * 3u + 1u] = dir.y;
    directions[row * 3u + 2u] = dir.z;
  }
}

@compute @workgroup_size(64) fn probes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let cell = (wid.y * nwg.x + wid.x) * 64u + li;
  let n = params.cells;
  if (cell >= n * n * n) { return; }
  let h0 = pcg(cell + pcg(params.seed));
  let h1 = pcg(h0);
  let h2 = pcg(h1);
  let c = vec3f(f32(cell % n), f32((cell / n) % n), f32(cell / (n * n)));
  let p = (c + vec3f(unit(h0), unit(h1), unit(h2))) / f32(n);
  positions[cell * 3u] = p.x;
  positions[cell * 3u + 1u] = p.y;
  positions[cell * 3u + 2u] = p.z;
}
