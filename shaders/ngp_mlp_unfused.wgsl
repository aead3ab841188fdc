// Unfused MLP baseline: what a framework does, one dispatch per op. A general tiled GEMM
// C[M][N] = A(m, k) * B(k, n) with element strides (so any operand may be transposed), a
// TILE x TILE output tile per workgroup ((TILE/4)^2 threads: 64 on GPUs, 16 on CPU
// implementations, where smaller workgroups run faster), 16-deep k tiles staged in workgroup
// memory, 4x4 register tiles per thread and a fused epilogue (activation or ReLU-derivative mask); split-K over
// dispatch z for weight gradients, summed by `reduceSlices`. Activations round-trip through
// storage buffers between layers. Used by src/nn/ngp/unfused-mlp.ts.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  kChunk: u32,  // reduction length per z slice (split-K); slices write C + z * M * N
  sam: u32,     // A(m, k) = A[aOff + m * sam + k * sak]
  sak: u32,
  sbk: u32,     // B(k, n) = B[bOff + k * sbk + n * sbn]
  sbn: u32,
  mode: u32,    // epilogue: 0 none, 1 relu, 2 sigmoid, 3 exp, 4 multiply by (mask > 0)
  aOff: u32,
  bOff: u32,
  cOff: u32,
  slices: u32,  // reduceSlices: number of slices
  mTile0: u32,  // gemm: first row tile of this dispatch (M past 65535 tiles takes several)
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;   // [M][N] for mode 4

override TILE: u32 = 64u;  // 16, 32 or 64
const BK: u32 = 16u;

var<workgroup> As: array<vec4<f32>, BK * TILE / 4u>;  // [BK][TILE]
var<workgroup> Bs: array<vec4<f32>, BK * TILE / 4u>;  // [BK][TILE]

fn epilogue(v: f32, m: u32, n: u32) -> f32 {
  switch (P.mode) {
    case 1u: { return max(v, 0.0); }
    case 2u: { return 1.0 / (1.0 + exp(-v)); }
    case 3u: { return exp(v); }
    case 4u: { return select(0.0, v, mask[m * P.N + n] > 0.0); }
    default: { return v; }
  }
}

@compute @workgroup_size(TILE / 4u, TILE / 4u)
fn gemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let m0 = (P.mTile0 + wid.y) * TILE;
  let n0 = wid.x * TILE;
  let kBegin = wid.z * P.kChunk;
  let kEnd = min(P.K, kBegin + P.kChunk);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var kt = kBegin; kt < kEnd; kt += BK) {
    // BK x TILE elements of each operand, (TILE / 4)^2 threads: 256 / TILE loads per thread.
    for (var e = 0u; e < 256u / TILE; e++) {
      let idx = li + e * (TILE / 4u) * (TILE / 4u);
      // A tile: idx -> (r, kk), stored transposed [kk][r]
      let r = idx / BK;
      let kk = idx % BK;
      let m = m0 + r;
      let k = kt + kk;
      var a = 0.0;
      if (m < P.M && k < kEnd) { a = A[P.aOff + m * P.sam + k * P.sak]; }
      As[(kk * TILE + r) / 4u][r % 4u] = a;
      // B tile: idx -> (kk, c)
      let kb = idx / TILE;
      let c = idx % TILE;
      let n = n0 + c;
      let k2 = kt + kb;
      var b = 0.0;
      if (n < P.N && k2 < kEnd) { b = B[P.bOff + k2 * P.sbk + n * P.sbn]; }
      Bs[(kb * TILE + c) / 4u][c % 4u] = b;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let a = As[kk * (TILE / 4u) + lid.y];
      let b = Bs[kk * (TILE / 4u) + lid.x];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let base = P.cOff + wid.z * P.M * P.N;
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= P.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x * 4u + j;
      if (n < P.N) { C[base + m * P.N + n] = epilogue(accs[i][j], m, n); }
    }
  }
}

// Flat index of a 2D dispatch of 64-wide workgroups (unfused-mlp.ts flatGroups): row counts
// past 65535 workgroups spill into y.
fn flatIndex(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * 64u + li;
}

// C[cOff + i] = sum over P.slices of A[aOff + z * M * N + i], i < M * N.
@compute @workgroup_size(64)
fn reduceSlices(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = flatIndex(wid, nwg, li);
  let count = P.M * P.N;
  if (i >= count) { return; }
  var s = 0.0;
  for (var z = 0u; z < P.slices; z++) { s += A[P.aOff + z * count + i]; }
  C[P.cOff + i] = s;
}

// C[i] = A[i] * act'(B[i]) for i < M * N: dL/doutput times the output activation's derivative
// from its output y (mode as the epilogue: 0 none, 1 relu, 2 sigmoid, 3 exp).
@compute @workgroup_size(64)
fn outputGrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = flatIndex(wid, nwg, li);
  if (i >= P.M * P.N) { return; }
  let y = B[i];
  var d = 1.0;
  switch (P.mode) {
    case 1u: { d = select(0.0, 1.0, y > 0.0); }
    case 2u: { d = y * (1.0 - y); }
    case 3u: { d = y; }
    default: {}
  }
  C[i] = A[i] * d;
}
