// Multiresolution hash/dense grid encoding (tiny-cuda-nn GridEncoding, CoherentPrime hash).
// Layouts: src/nn/ngp/config.ts. One invocation per (position, level), levels on dispatch z,
// so a workgroup touches only one level's table (tcnn's cache argument); rows span dispatch x
// and y (flat workgroup index y * num_workgroups.x + x) so batches past 65535 workgroups fit.
//
// Prepended by grid-encoding.ts (structure, not tunables):
//   const D: u32;         input dimensions, 2 or 3
//   const F: u32;         features per level
//   alias FeatT = ...;    f32 (F=1), vec2f (F=2), vec4f (F=4, F=8)
//   const FV: u32;        FeatT per table entry (2 for F=8, else 1)
//   const FW: u32;        floats per FeatT
//   fn featComp(v: FeatT, i: u32) -> f32
//
// Backward accumulates into a fixed-point i32 table (WGSL has no float atomics): each
// contribution g * w is scaled by P.gradScale, clamped to +-2^24 units, rounded to nearest and
// atomicAdd-ed; zero contributions are skipped. Integer adds are exact and commutative, so the
// result is deterministic; sums must stay below 2^31 / gradScale in magnitude.

override WG: u32 = 64u;
override SMOOTHSTEP: bool = false;

struct Level {
  offset: u32,      // first entry of the level
  size: u32,        // entries in the level (index modulus)
  resolution: u32,  // vertices per axis
  scale: f32,
}

struct Params {
  n: u32,
  outStride: u32,   // floats per output row (multiple of 4)
  levelCount: u32,
  gradScale: f32,   // fixed-point units per 1.0 (backward)
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(6) var<uniform> levels: array<Level, 16>;
@group(0) @binding(1) var<storage, read> positions: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<FeatT>;
@group(0) @binding(3) var<storage, read_write> features: array<FeatT>;
@group(0) @binding(4) var<storage, read> dFeatures: array<FeatT>;
@group(0) @binding(5) var<storage, read_write> grads: array<atomic<i32>>;

const MAX_FIXED: f32 = 16777216.0; // 2^24 units per contribution

const PRIMES = array<u32, 3>(1u, 2654435761u, 805459861u);

// CoherentPrime: x * 1 ^ y * 2654435761 ^ z * 805459861, wrapping u32.
fn gridHash(p: array<u32, D>) -> u32 {
  var h = 0u;
  for (var d = 0u; d < D; d++) { h ^= p[d] * PRIMES[d]; }
  return h;
}

// tcnn grid_index: x-fastest strides while they fit the level, the hash otherwise, then % size.
fn gridIndex(p: array<u32, D>, size: u32, resolution: u32) -> u32 {
  var stride = 1u;
  var index = 0u;
  for (var d = 0u; d < D && stride <= size; d++) {
    index += p[d] * stride;
    stride *= resolution;
  }
  if (size < stride) { index = gridHash(p); }
  return index % size;
}

struct Cell {
  grid: array<u32, D>,
  frac: array<f32, D>,
}

fn cellOf(row: u32, scale: f32) -> Cell {
  var c: Cell;
  for (var d = 0u; d < D; d++) {
    let p = fma(scale, positions[row * D + d], 0.5);
    let fl = floor(p);
    c.grid[d] = u32(i32(fl));
    var t = p - fl;
    if (SMOOTHSTEP) { t = t * t * (3.0 - 2.0 * t); }
    c.frac[d] = t;
  }
  return c;
}

// Corner `corner` (bit d selects grid[d] + 1) of a cell: its weight and integer position.
struct Corner {
  weight: f32,
  p: array<u32, D>,
}

fn cornerOf(c: Cell, corner: u32) -> Corner {
  var k: Corner;
  k.weight = 1.0;
  for (var d = 0u; d < D; d++) {
    if (((corner >> d) & 1u) != 0u) {
      k.weight *= c.frac[d];
      k.p[d] = c.grid[d] + 1u;
    } else {
      k.weight *= 1.0 - c.frac[d];
      k.p[d] = c.grid[d];
    }
  }
  return k;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + li;
  let level = wid.z;
  if (row >= P.n) { return; }
  let lv = levels[level];
  let c = cellOf(row, lv.scale);
  var acc: array<FeatT, FV>;
  for (var corner = 0u; corner < (1u << D); corner++) {
    let k = cornerOf(c, corner);
    let base = (lv.offset + gridIndex(k.p, lv.size, lv.resolution)) * FV;
    for (var v = 0u; v < FV; v++) {
      acc[v] = fma(FeatT(k.weight), table[base + v], acc[v]);
    }
  }
  let o = (row * P.outStride + level * F) / FW;
  for (var v = 0u; v < FV; v++) { features[o + v] = acc[v]; }
  if (level == 0u) {
    // Zero the padding columns of the row (outStride is a multiple of FW).
    for (var col = P.levelCount * F; col < P.outStride; col += FW) {
      features[(row * P.outStride + col) / FW] = FeatT(0.0);
    }
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + li;
  let level = wid.z;
  if (row >= P.n) { return; }
  let lv = levels[level];
  let c = cellOf(row, lv.scale);
  let gi = (row * P.outStride + level * F) / FW;
  var g: array<FeatT, FV>;
  for (var v = 0u; v < FV; v++) { g[v] = dFeatures[gi + v] * P.gradScale; }
  for (var corner = 0u; corner < (1u << D); corner++) {
    let k = cornerOf(c, corner);
    let base = (lv.offset + gridIndex(k.p, lv.size, lv.resolution)) * F;
    for (var v = 0u; v < FV; v++) {
      let s = g[v] * k.weight;
      for (var j = 0u; j < FW; j++) {
        let q = i32(round(clamp(featComp(s, j), -MAX_FIXED, MAX_FIXED)));
        if (q != 0) { atomicAdd(&grads[base + v * FW + j], q); }
      }
    }
  }
}
