// Resampling of NCHW f32 maps. Used by src/nn/ops/resize.ts.
//   upsample: F.interpolate to the output size, mode nearest (src = floor(dst * in / out)) or
//             bilinear with align_corners true (src = dst * (in - 1) / (out - 1)) or false
//             (src = max(0, (dst + 0.5) * in / out - 0.5)), edge-clamped like PyTorch.
//   avgpool:  nn.AdaptiveAvgPool2d: bin [floor(i * in / out), ceil((i + 1) * in / out)).
// One invocation per output value; input and output may be channel slices of wider tensors.

struct Resize {
  N: u32,
  C: u32,        // channels processed
  H: u32,
  W: u32,
  Ho: u32,
  Wo: u32,
  Cin: u32,      // channels of the input tensor
  inOff: u32,
  Ctot: u32,     // channels of the output tensor
  outOff: u32,
  mode: u32,     // upsample: 0 nearest, 1 bilinear
  align: u32,
  rowGroups: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<uniform> P: Resize;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

fn sourceCoord(d: u32, inSize: u32, outSize: u32) -> f32 {
  if (P.align != 0u) {
    if (outSize <= 1u) { return 0.0; }
    return f32(d) * f32(inSize - 1u) / f32(outSize - 1u);
  }
  return max(0.0, (f32(d) + 0.5) * (f32(inSize) / f32(outSize)) - 0.5);
}

struct Index {
  n: u32,
  c: u32,
  oy: u32,
  ox: u32,
  valid: bool,
}

fn decode(li: u32, wid: vec3<u32>) -> Index {
  let i = (wid.y * P.rowGroups + wid.x) * 64u + li;
  let plane = P.Ho * P.Wo;
  var r: Index;
  r.valid = i < P.N * P.C * plane;
  r.ox = i % P.Wo;
  r.oy = (i / P.Wo) % P.Ho;
  r.c = (i / plane) % P.C;
  r.n = i / (plane * P.C);
  return r;
}

fn inBase(r: Index) -> u32 {
  return (r.n * P.Cin + P.inOff + r.c) * P.H * P.W;
}

fn outIndex(r: Index) -> u32 {
  return ((r.n * P.Ctot + P.outOff + r.c) * P.Ho + r.oy) * P.Wo + r.ox;
}

@compute @workgroup_size(64)
fn upsample(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let r = decode(li, wid);
  if (!r.valid) { return; }
  let base = inBase(r);
  if (P.mode == 0u) {
    let sy = min(r.oy * P.H / P.Ho, P.H - 1u);
    let sx = min(r.ox * P.W / P.Wo, P.W - 1u);
    Y[outIndex(r)] = X[base + sy * P.W + sx];
    return;
  }
  let sy = sourceCoord(r.oy, P.H, P.Ho);
  let sx = sourceCoord(r.ox, P.W, P.Wo);
  let y0 = min(u32(sy), P.H - 1u);
  let x0 = min(u32(sx), P.W - 1u);
  let y1 = min(y0 + 1u, P.H - 1u);
  let x1 = min(x0 + 1u, P.W - 1u);
  let fy = sy - f32(y0);
  let fx = sx - f32(x0);
  let top = mix(X[base + y0 * P.W + x0], X[base + y0 * P.W + x1], fx);
  let bottom = mix(X[base + y1 * P.W + x0], X[base + y1 * P.W + x1], fx);
  Y[outIndex(r)] = mix(top, bottom, fy);
}

@compute @workgroup_size(64)
fn avgpool(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let r = decode(li, wid);
  if (!r.valid) { return; }
  let base = inBase(r);
  let y0 = r.oy * P.H / P.Ho;
  let y1 = ((r.oy + 1u) * P.H + P.Ho - 1u) / P.Ho;
  let x0 = r.ox * P.W / P.Wo;
  let x1 = ((r.ox + 1u) * P.W + P.Wo - 1u) / P.Wo;
  var s = 0.0;
  for (var y = y0; y < y1; y++) {
    for (var x = x0; x < x1; x++) { s += X[base + y * P.W + x]; }
  }
  Y[outIndex(r)] = s / f32((y1 - y0) * (x1 - x0));
}
