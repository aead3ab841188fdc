// 1x1 conv (stride 1, no padding) with few output channels (MobileR2L's 16-channel SR blocks and
// its 16->3 output conv): one invocation per 4 consecutive pixels computes every output channel
// in registers, reading each input vec4 once. No workgroup memory and no barriers, which cost
// more than these small GEMMs themselves on CPU-emulated GPUs. Needs H*W % 4 == 0.
// The header (src/nn/ops/conv-narrow.ts) defines const M (output channels).

struct Narrow {
  K: u32,       // input channels
  quads: u32,   // (H * W) / 4 per batch item
  flags: u32,   // epilogue flags (nn_finish)
  act: u32,
  alpha: f32,
  groupsX: u32,
  batches: u32,
  _p: u32,
}

@group(0) @binding(0) var<uniform> P: Narrow;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;   // [M][K]
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> skip: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> Y: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * P.groupsX * 64u;
  if (i >= P.quads * P.batches) { return; }
  let b = i / P.quads;
  let q = i % P.quads;
  var acc: array<vec4<f32>, M>;
  for (var m = 0u; m < M; m++) { acc[m] = vec4<f32>(bias[m]); }
  let xBase = b * P.K * P.quads + q;
  for (var k = 0u; k < P.K; k++) {
    let x = X[xBase + k * P.quads];
    for (var m = 0u; m < M; m++) { acc[m] += Wt[m * P.K + k] * x; }
  }
  let yBase = b * M * P.quads + q;
  for (var m = 0u; m < M; m++) {
    let o = yBase + m * P.quads;
    var s = vec4<f32>(0.0);
    if ((P.flags & 1u) != 0u) { s = skip[o]; }
    let v = acc[m];
    Y[o] = vec4<f32>(
      nn_finish(v.x, s.x, P.flags, P.act, P.alpha),
      nn_finish(v.y, s.y, P.flags, P.act, P.alpha),
      nn_finish(v.z, s.z, P.flags, P.act, P.alpha),
      nn_finish(v.w, s.w, P.flags, P.act, P.alpha));
  }
}
