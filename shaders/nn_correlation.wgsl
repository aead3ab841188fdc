// 7x7 cost volume as DM-VTON's FlowNet2/PWC CuPy kernel computes it (max displacement 3,
// stride 1, zero padding): out[n, (dy+3)*7 + (dx+3), y, x] =
//   act( (1/C) * sum_c first[n, c, y, x] * second[n, c, y+dy, x+dx] ).
// A workgroup owns an 8x4 pixel tile and has one invocation per (pixel, dy): 224 invocations,
// each accumulating the 7 dx displacements of its row in two vec4s (no dynamically indexed
// private arrays, which some compilers spill to memory). Per chunk of 16 channels it stages
// the tile of `first` and the 14x10 patch of `second` around it (zeros outside the image) in
// workgroup memory (11 KiB). Used by src/nn/ops/correlation.ts.

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

const TW: u32 = 8u;           // tile width
const TH: u32 = 4u;           // tile height
const PIX: u32 = 32u;         // TW * TH
const R: i32 = 3;
const PW: u32 = 14u;          // TW + 2R
const PH: u32 = 10u;          // TH + 2R
const PATCH: u32 = 140u;      // PW * PH
const CC: u32 = 16u;          // channels per chunk
const THREADS: u32 = 224u;    // PIX * 7

var<workgroup> Fs: array<f32, 512>;    // [CC][PIX]
var<workgroup> Ss: array<f32, 2240>;   // [CC][PATCH]

@compute @workgroup_size(224)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n = wid.z;
  let x0 = wid.x * TW;
  let y0 = wid.y * TH;
  let pix = li % PIX;
  let dy = li / PIX;            // 0..6 = displacement dy + 3
  let lx = pix % TW;
  let ly = pix / TW;
  let plane = P.H * P.W;
  var acc0 = vec4<f32>(0.0);    // dx = -3..0
  var acc1 = vec4<f32>(0.0);    // dx = 1..3 (w unused)
  for (var c0 = 0u; c0 < P.C; c0 += CC) {
    for (var e = li; e < CC * PIX; e += THREADS) {
      let c = c0 + e / PIX;
      let px = x0 + (e % PIX) % TW;
      let py = y0 + (e % PIX) / TW;
      var v = 0.0;
      if (c < P.C && px < P.W && py < P.H) { v = A[(n * P.C + c) * plane + py * P.W + px]; }
      Fs[e] = v;
    }
    for (var e = li; e < CC * PATCH; e += THREADS) {
      let c = c0 + e / PATCH;
      let q = e % PATCH;
      let px = i32(x0 + q % PW) - R;
      let py = i32(y0 + q / PW) - R;
      var v = 0.0;
      if (c < P.C && px >= 0 && py >= 0 && u32(px) < P.W && u32(py) < P.H) { v = B[(n * P.C + c) * plane + u32(py) * P.W + u32(px)]; }
      Ss[e] = v;
    }
    workgroupBarrier();
    let rowBase = (ly + dy) * PW + lx;
    for (var cc = 0u; cc < CC; cc++) {
      let f = Fs[cc * PIX + pix];
      let r = cc * PATCH + rowBase;
      acc0 = fma(vec4<f32>(f), vec4<f32>(Ss[r], Ss[r + 1u], Ss[r + 2u], Ss[r + 3u]), acc0);
      acc1 = fma(vec4<f32>(f), vec4<f32>(Ss[r + 4u], Ss[r + 5u], Ss[r + 6u], 0.0), acc1);
    }
    workgroupBarrier();
  }
  let x = x0 + lx;
  let y = y0 + ly;
  if (x >= P.W || y >= P.H) { return; }
  let count = f32(P.C);
  let base = (n * P.Ctot + P.outOff + dy * 7u) * plane + y * P.W + x;
  for (var dx = 0u; dx < 4u; dx++) { Y[base + dx * plane] = nn_activate(acc0[dx] / count, P.act, P.alpha); }
  for (var dx = 0u; dx < 3u; dx++) { Y[base + (dx + 4u) * plane] = nn_activate(acc1[dx] / count, P.act, P.alpha); }
}
