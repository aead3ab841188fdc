// 7x7 cost volume as DM-VTON's FlowNet2/PWC CuPy kernel computes it (max displacement 3,
// stride 1, zero padding): out[n, (dy+3)*7 + (dx+3), y, x] =
//   act( (1/C) * sum_c first[n, c, y, x] * second[n, c, y+dy, x+dx] ).
// A workgroup owns an 8x8 pixel tile; per chunk of 8 channels it stages the tile of `first`
// and the 14x14 patch of `second` around it in workgroup memory (zeros outside the image),
// then every invocation accumulates its 49 displacements. Used by src/nn/ops/correlation.ts.

struct Corr {
  N: u32,
  C: u32,
  H: u32,
  W: u32,
  Ctot: u32,     // channels of the output tensor
  outOff: u32,
  act: u32,
  _p0: u32,
  alpha: f32,
  _p1: u32,
  _p2: u32,
  _p3: u32,
}

@group(0) @binding(0) var<uniform> P: Corr;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

const TILE: u32 = 8u;
const R: i32 = 3;
const PATCH: u32 = 14u;     // TILE + 2R
const CC: u32 = 8u;         // channels per chunk

var<workgroup> Fs: array<f32, 512>;   // [CC][TILE*TILE]
var<workgroup> Ss: array<f32, 1568>;  // [CC][PATCH*PATCH]

@compute @workgroup_size(8, 8)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n = wid.z;
  let x0 = wid.x * TILE;
  let y0 = wid.y * TILE;
  let x = x0 + lid.x;
  let y = y0 + lid.y;
  let plane = P.H * P.W;
  var acc: array<f32, 49>;
  for (var d = 0u; d < 49u; d++) { acc[d] = 0.0; }
  for (var c0 = 0u; c0 < P.C; c0 += CC) {
    for (var e = li; e < CC * 64u; e += 64u) {
      let c = c0 + e / 64u;
      let px = x0 + (e % 64u) % TILE;
      let py = y0 + (e % 64u) / TILE;
      var v = 0.0;
      if (c < P.C && px < P.W && py < P.H) { v = A[(n * P.C + c) * plane + py * P.W + px]; }
      Fs[e] = v;
    }
    for (var e = li; e < CC * PATCH * PATCH; e += 64u) {
      let c = c0 + e / (PATCH * PATCH);
      let q = e % (PATCH * PATCH);
      let px = i32(x0 + q % PATCH) - R;
      let py = i32(y0 + q / PATCH) - R;
      var v = 0.0;
      if (c < P.C && px >= 0 && py >= 0 && u32(px) < P.W && u32(py) < P.H) { v = B[(n * P.C + c) * plane + u32(py) * P.W + u32(px)]; }
      Ss[e] = v;
    }
    workgroupBarrier();
    for (var cc = 0u; cc < CC; cc++) {
      let f = Fs[cc * 64u + li];
      let base = cc * PATCH * PATCH + lid.y * PATCH + lid.x;
      for (var dy = 0u; dy < 7u; dy++) {
        for (var dx = 0u; dx < 7u; dx++) {
          acc[dy * 7u + dx] = fma(f, Ss[base + dy * PATCH + dx], acc[dy * 7u + dx]);
        }
      }
    }
    workgroupBarrier();
  }
  if (x >= P.W || y >= P.H) { return; }
  let count = f32(P.C);
  for (var d = 0u; d < 49u; d++) {
    Y[(n * P.Ctot + P.outOff + d) * plane + y * P.W + x] = nn_activate(acc[d] / count, P.act, P.alpha);
  }
}
