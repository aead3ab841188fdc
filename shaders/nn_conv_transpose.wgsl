// ConvTranspose2d as a gather (NCHW f32, groups 1, any kernel, stride, padding, output
// padding): each output pixel sums the input pixels whose k x k footprint covers it. For
// output row oy only the taps ky = (oy + pad) mod stride, + stride, ... contribute, at input
// row iy = (oy + pad - ky) / stride, so a k4 s2 layer touches 2 x 2 taps per pixel and a
// k3 s3 layer one. Each invocation computes 4 output channels of one pixel; weights are
// re-laid out by the host as [ky][kx][ci][co] with co padded to a multiple of 4 (one vec4 per
// (tap, ci)). Used by src/nn/ops/conv-transpose2d.ts.

struct ConvT {
  N: u32,
  Cin: u32,      // input channels (== channels of the input tensor)
  H: u32,
  W: u32,
  M: u32,        // output channels of this layer
  Ho: u32,
  Wo: u32,
  Ctot: u32,     // channels of the output tensor
  k: u32,
  stride: u32,
  pad: u32,
  M4: u32,       // ceil(M / 4)
  outOff: u32,
  flags: u32,
  act: u32,
  rowGroups: u32,
  alpha: f32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<uniform> P: ConvT;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> skip: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = (wid.y * P.rowGroups + wid.x) * 64u + li;
  let plane = P.Ho * P.Wo;
  if (i >= P.N * P.M4 * plane) { return; }
  let ox = i % P.Wo;
  let oy = (i / P.Wo) % P.Ho;
  let m4 = (i / plane) % P.M4;
  let n = i / (plane * P.M4);
  let inPlane = P.H * P.W;
  let xBase = n * P.Cin * inPlane;
  var acc = vec4<f32>(0.0);
  for (var ky = (oy + P.pad) % P.stride; ky < P.k; ky += P.stride) {
    let ty = i32(oy + P.pad) - i32(ky);
    if (ty < 0) { break; }   // ky grows: later taps are further out of range
    let iy = u32(ty) / P.stride;
    if (iy >= P.H) { continue; }
    for (var kx = (ox + P.pad) % P.stride; kx < P.k; kx += P.stride) {
      let tx = i32(ox + P.pad) - i32(kx);
      if (tx < 0) { break; }
      let ix = u32(tx) / P.stride;
      if (ix >= P.W) { continue; }
      let wBase = ((ky * P.k + kx) * P.Cin) * P.M4 + m4;
      let xi = xBase + iy * P.W + ix;
      for (var c = 0u; c < P.Cin; c++) {
        acc = fma(vec4<f32>(X[xi + c * inPlane]), Wt[wBase + c * P.M4], acc);
      }
    }
  }
  for (var j = 0u; j < 4u; j++) {
    let m = m4 * 4u + j;
    if (m >= P.M) { break; }
    var s = 0.0;
    if ((P.flags & 1u) != 0u) { s = skip[(n * P.M + m) * plane + oy * P.Wo + ox]; }
    Y[(n * P.Ctot + P.outOff + m) * plane + oy * P.Wo + ox] = nn_finish(acc[j] + bias[m], s, P.flags, P.act, P.alpha);
  }
}
