// tiny-cuda-nn L2 / RelativeL2 losses: per element value (p - t)^2 [/ (p^2 + 0.01)] / (n dims)
// and gradient lossScale * 2 (p - t) [/ (p^2 + 0.01)] / (n dims) (the relative denominator is
// a constant, as Noise2Noise); padding columns get zero gradient. The loss (sum of values =
// the mean) is reduced on the GPU: a tree sum per workgroup into `partial`, then `finish`
// sums the partials in a fixed order (deterministic) into `stats`:
//   stats[0] = loss of the last call, stats[1] += loss, stats[2] += 1 (running mean = [1] / [2]).

override KIND: u32 = 0u; // 0 l2, 1 relative_l2
const WG: u32 = 256u;

struct Params {
  n: u32,
  dims: u32,    // real outputs per row (targets [n][dims])
  stride: u32,  // floats per prediction row (outputs padded)
  groups: u32,  // workgroups of `loss` (partials to sum)
  gradScale: f32, // lossScale / (n dims)
  valueScale: f32, // 1 / (n dims)
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> dpred: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

var<workgroup> red: array<f32, WG>;

fn treeSum(lid: u32, value: f32) -> f32 {
  red[lid] = value;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  return red[0];
}

@compute @workgroup_size(WG)
fn loss(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  var sum = 0.0;
  let total = P.n * P.stride;
  for (var i = wid.x * WG + lid; i < total; i += P.groups * WG) {
    let r = i / P.stride;
    let d = i % P.stride;
    var grad = 0.0;
    if (d < P.dims) {
      let p = pred[i];
      let diff = p - targets[r * P.dims + d];
      var denom = 1.0;
      if (KIND == 1u) { denom = p * p + 0.01; }
      sum += diff * diff / denom;
      grad = 2.0 * diff / denom * P.gradScale;
    }
    dpred[i] = grad;
  }
  let s = treeSum(lid, sum * P.valueScale);
  if (lid == 0u) { partial[wid.x] = s; }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = lid; i < P.groups; i += WG) { sum += partial[i]; }
  let s = treeSum(lid, sum);
  if (lid == 0u) {
    stats[0] = s;
    stats[1] += s;
    stats[2] += 1.0;
  }
}
