// F.grid_sample(input, grid, mode='bilinear') for NCHW f32 input, padding 'zeros' or 'border',
// align_corners true or false. One invocation per output pixel computes the four corner
// indices and weights once and loops over channels. The grid comes in one of three layouts:
//   0: [N, Hg, Wg, 2] (PyTorch's grid, x then y in [-1, 1]);
//   1: [N, 2, Hg, Wg] (DM-VTON's flow kept channel-first: `flow.permute(0, 2, 3, 1)` is free);
//   2: [N, 2, Hg, Wg] pixel offsets, turned into a grid as DM-VTON's apply_offset does:
//      ((x + dx) / ((Wg - 1) / 2) - 1, (y + dy) / ((Hg - 1) / 2) - 1).
// Output [N, C, Hg, Wg], written at a channel offset of a wider tensor if asked.
// Used by src/nn/ops/grid-sample.ts.

struct GridSample {
  N: u32,
  C: u32,        // channels sampled
  H: u32,
  W: u32,
  Cin: u32,      // channels of the input tensor
  inOff: u32,
  Hg: u32,
  Wg: u32,
  Ctot: u32,     // channels of the output tensor
  outOff: u32,
  gridLayout: u32, // 0 NHW2, 1 N2HW, 2 N2HW pixel offsets (apply_offset)
  border: u32,   // 1: padding 'border', 0: 'zeros'
  align: u32,    // align_corners
  rowGroups: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> P: GridSample;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

fn unnormalize(g: f32, size: u32) -> f32 {
  let s = f32(size);
  if (P.align != 0u) { return (g + 1.0) * 0.5 * (s - 1.0); }
  return ((g + 1.0) * s - 1.0) * 0.5;
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = (wid.y * P.rowGroups + wid.x) * 64u + li;
  let plane = P.Hg * P.Wg;
  if (i >= P.N * plane) { return; }
  let p = i % plane;
  let n = i / plane;
  var g: vec2<f32>;
  if (P.gridLayout == 0u) {
    g = vec2<f32>(G[i * 2u], G[i * 2u + 1u]);
  } else {
    g = vec2<f32>(G[n * 2u * plane + p], G[(n * 2u + 1u) * plane + p]);
    if (P.gridLayout == 2u) {
      let px = f32(p % P.Wg) + g.x;
      let py = f32(p / P.Wg) + g.y;
      g = vec2<f32>(px / ((f32(P.Wg) - 1.0) * 0.5) - 1.0, py / ((f32(P.Hg) - 1.0) * 0.5) - 1.0);
    }
  }
  var ix = unnormalize(g.x, P.W);
  var iy = unnormalize(g.y, P.H);
  if (P.border != 0u) {
    ix = clamp(ix, 0.0, f32(P.W - 1u));
    iy = clamp(iy, 0.0, f32(P.H - 1u));
  }
  // Far outside (or NaN) with zeros padding: every corner is out of range.
  let far = !(abs(ix) < 1e7 && abs(iy) < 1e7);
  let fx0 = floor(ix);
  let fy0 = floor(iy);
  let tx = ix - fx0;
  let ty = iy - fy0;
  let x0 = select(i32(fx0), -2, far);
  let y0 = select(i32(fy0), -2, far);
  let w = i32(P.W);
  let h = i32(P.H);
  let vx0 = x0 >= 0 && x0 < w;
  let vx1 = x0 + 1 >= 0 && x0 + 1 < w;
  let vy0 = y0 >= 0 && y0 < h;
  let vy1 = y0 + 1 >= 0 && y0 + 1 < h;
  let w00 = select(0.0, (1.0 - tx) * (1.0 - ty), vx0 && vy0);
  let w01 = select(0.0, tx * (1.0 - ty), vx1 && vy0);
  let w10 = select(0.0, (1.0 - tx) * ty, vx0 && vy1);
  let w11 = select(0.0, tx * ty, vx1 && vy1);
  // Clamped indices: weights of invalid corners are zero, loads stay in range.
  let cx0 = u32(clamp(x0, 0, w - 1));
  let cx1 = u32(clamp(x0 + 1, 0, w - 1));
  let cy0 = u32(clamp(y0, 0, h - 1));
  let cy1 = u32(clamp(y0 + 1, 0, h - 1));
  let inPlane = P.H * P.W;
  for (var c = 0u; c < P.C; c++) {
    let base = (n * P.Cin + P.inOff + c) * inPlane;
    let v = w00 * X[base + cy0 * P.W + cx0] + w01 * X[base + cy0 * P.W + cx1] + w10 * X[base + cy1 * P.W + cx0] + w11 * X[base + cy1 * P.W + cx1];
    Y[(n * P.Ctot + P.outOff + c) * plane + p] = v;
  }
}
