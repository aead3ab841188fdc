// Direct convolutions (NCHW f32), with the shared epilogue (bias, activation, residual, output
// channel offset). Used by src/nn/ops/conv2d.ts.
//   direct:    one invocation per output value; any kernel, stride, padding, dilation, groups.
//              The general fallback, and the naive baseline the tiled GEMM is timed against.
//   depthwise: groups == channels (one input channel per output channel); each invocation
//              computes 4 neighbouring outputs of one row, so weight loads and index math are
//              shared and input columns overlap between them (stride 1).

struct Conv {
  N: u32,
  Cin: u32,      // channels of the input tensor (its channel stride)
  H: u32,
  W: u32,
  M: u32,        // output channels of this conv
  Ho: u32,
  Wo: u32,
  Ctot: u32,     // channels of the output tensor
  k: u32,
  stride: u32,
  pad: u32,
  dilation: u32,
  cinG: u32,     // input channels per group
  coutG: u32,    // output channels per group
  inOff: u32,
  outOff: u32,
  flags: u32,
  act: u32,
  rowGroups: u32, // workgroups along x (linear index = (y * rowGroups + x) * 64 + local)
  alpha: f32,
}

@group(0) @binding(0) var<uniform> P: Conv;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> skip: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;

fn store(n: u32, m: u32, oy: u32, ox: u32, v: f32) {
  let plane = P.Ho * P.Wo;
  var s = 0.0;
  if ((P.flags & 1u) != 0u) { s = skip[(n * P.M + m) * plane + oy * P.Wo + ox]; }
  Y[(n * P.Ctot + P.outOff + m) * plane + oy * P.Wo + ox] = nn_finish(v + bias[m], s, P.flags, P.act, P.alpha);
}

@compute @workgroup_size(64)
fn direct(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = (wid.y * P.rowGroups + wid.x) * 64u + li;
  let plane = P.Ho * P.Wo;
  if (i >= P.N * P.M * plane) { return; }
  let ox = i % P.Wo;
  let oy = (i / P.Wo) % P.Ho;
  let m = (i / plane) % P.M;
  let n = i / (plane * P.M);
  let g = m / P.coutG;
  let iy0 = i32(oy * P.stride) - i32(P.pad);
  let ix0 = i32(ox * P.stride) - i32(P.pad);
  var acc = 0.0;
  for (var c = 0u; c < P.cinG; c++) {
    let inPlane = (n * P.Cin + P.inOff + g * P.cinG + c) * P.H * P.W;
    let wBase = (m * P.cinG + c) * P.k * P.k;
    for (var ky = 0u; ky < P.k; ky++) {
      let iy = iy0 + i32(ky * P.dilation);
      if (iy < 0 || u32(iy) >= P.H) { continue; }
      for (var kx = 0u; kx < P.k; kx++) {
        let ix = ix0 + i32(kx * P.dilation);
        if (ix < 0 || u32(ix) >= P.W) { continue; }
        acc = fma(X[inPlane + u32(iy) * P.W + u32(ix)], Wt[wBase + ky * P.k + kx], acc);
      }
    }
  }
  store(n, m, oy, ox, acc);
}

// Kernel size of the depthwise pipeline when fixed at pipeline creation (0: read P.k), so the
// tap loops have constant bounds for the common 3x3.
override DW_K: u32 = 0u;

@compute @workgroup_size(64)
fn depthwise(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = (wid.y * P.rowGroups + wid.x) * 64u + li;
  let quads = (P.Wo + 3u) / 4u;
  if (i >= P.N * P.M * P.Ho * quads) { return; }
  let q = i % quads;
  let oy = (i / quads) % P.Ho;
  let m = (i / (quads * P.Ho)) % P.M;
  let n = i / (quads * P.Ho * P.M);
  let ox0 = q * 4u;
  let inPlane = (n * P.Cin + P.inOff + m) * P.H * P.W;
  let iy0 = i32(oy * P.stride) - i32(P.pad);
  let ix0 = i32(ox0 * P.stride) - i32(P.pad);
  let k = select(P.k, DW_K, DW_K != 0u);
  var acc = vec4<f32>(0.0);
  for (var ky = 0u; ky < k; ky++) {
    let iy = iy0 + i32(ky * P.dilation);
    if (iy < 0 || u32(iy) >= P.H) { continue; }
    let row = inPlane + u32(iy) * P.W;
    for (var kx = 0u; kx < k; kx++) {
      let w = Wt[(m * k + ky) * k + kx];
      var v = vec4<f32>(0.0);
      for (var j = 0u; j < 4u; j++) {
        let ix = ix0 + i32(j * P.stride + kx * P.dilation);
        if (ix >= 0 && u32(ix) < P.W) { v[j] = X[row + u32(ix)]; }
      }
      acc = fma(vec4<f32>(w), v, acc);
    }
  }
  for (var j = 0u; j < 4u; j++) {
    if (ox0 + j < P.Wo) { store(n, m, oy, ox0 + j, acc[j]); }
  }
}
