// Element-wise NCHW f32 kernels. Used by src/nn/ops/elementwise.ts. One invocation per value,
// linear index i = (wid.y * rowGroups + wid.x) * 64 + local.
//   binary:   out = act(a op b), op 0 add, 1 mul (same shapes).
//   unary:    out = act(a); `unaryInPlace` activates a buffer in place.
//   copy:     channels [0, C) of a into channels [outOff, outOff + C) of out (concat).
//   split:    out = act(a) for channel < split, act2(a) from there on (DM-VTON: tanh | sigmoid).
//   composite: DM-VTON's output: rendered = tanh(gen[:, 0:3]), m = sigmoid(gen[:, 3]) * edge,
//             try-on = cloth * m + rendered * (1 - m); a = gen [N,4,H,W], b = cloth [N,3,H,W],
//             c = edge [N,1,H,W], out = try-on [N,3,H,W].
//   offsetGrid: DM-VTON apply_offset: pixel offsets [N,2,H,W] -> grid [N,H,W,2] in [-1, 1]
//             (op 1: channel-first [N,2,H,W], AFlowNet's permuted first-level flow).

struct Elementwise {
  count: u32,    // values processed
  C: u32,        // channels of a
  HW: u32,
  op: u32,
  act: u32,
  act2: u32,
  split: u32,
  Ctot: u32,     // channels of out (copy)
  outOff: u32,
  W: u32,
  H: u32,
  rowGroups: u32,
  alpha: f32,
  alpha2: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> P: Elementwise;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> Cb: array<f32>;
@group(0) @binding(4) var<storage, read_write> Out: array<f32>;

fn index(li: u32, wid: vec3<u32>) -> u32 {
  return (wid.y * P.rowGroups + wid.x) * 64u + li;
}

@compute @workgroup_size(64)
fn binary(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = index(li, wid);
  if (i >= P.count) { return; }
  var v = A[i] + B[i];
  if (P.op == 1u) { v = A[i] * B[i]; }
  Out[i] = nn_activate(v, P.act, P.alpha);
}

@compute @workgroup_size(64)
fn unary(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = index(li, wid);
  if (i >= P.count) { return; }
  Out[i] = nn_activate(A[i], P.act, P.alpha);
}

@compute @workgroup_size(64)
fn copy(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = index(li, wid);
  if (i >= P.count) { return; }
  let p = i % P.HW;
  let c = (i / P.HW) % P.C;
  let n = i / (P.HW * P.C);
  Out[(n * P.Ctot + P.outOff + c) * P.HW + p] = nn_activate(A[i], P.act, P.alpha);
}

@compute @workgroup_size(64)
fn split(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = index(li, wid);
  if (i >= P.count) { return; }
  let c = (i / P.HW) % P.C;
  if (c < P.split) {
    Out[i] = nn_activate(A[i], P.act, P.alpha);
  } else {
    Out[i] = nn_activate(A[i], P.act2, P.alpha2);
  }
}

@compute @workgroup_size(64)
fn composite(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = index(li, wid);        // over N * HW pixels
  if (i >= P.count) { return; }
  let p = i % P.HW;
  let n = i / P.HW;
  let m = nn_sigmoid(A[(n * 4u + 3u) * P.HW + p]) * Cb[n * P.HW + p];
  for (var c = 0u; c < 3u; c++) {
    let rendered = nn_tanh(A[(n * 4u + c) * P.HW + p]);
    let cloth = B[(n * 3u + c) * P.HW + p];
    Out[(n * 3u + c) * P.HW + p] = cloth * m + rendered * (1.0 - m);
  }
}

@compute @workgroup_size(64)
fn offsetGrid(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = index(li, wid);        // over N * HW pixels
  if (i >= P.count) { return; }
  let p = i % P.HW;
  let n = i / P.HW;
  let x = f32(p % P.W) + A[(n * 2u) * P.HW + p];
  let y = f32(p / P.W) + A[(n * 2u + 1u) * P.HW + p];
  let gx = x / ((f32(P.W) - 1.0) * 0.5) - 1.0;
  let gy = y / ((f32(P.H) - 1.0) * 0.5) - 1.0;
  if (P.op == 1u) {
    Out[(n * 2u) * P.HW + p] = gx;
    Out[(n * 2u + 1u) * P.HW + p] = gy;
  } else {
    Out[i * 2u] = gx;
    Out[i * 2u + 1u] = gy;
  }
}

// In place: uses only the uniform and `Out` (its 'auto' layout binds nothing else).
@compute @workgroup_size(64)
fn unaryInPlace(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = index(li, wid);
  if (i >= P.count) { return; }
  Out[i] = nn_activate(Out[i], P.act, P.alpha);
}
