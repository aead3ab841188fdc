// Adam over a flat parameter buffer, tiny-cuda-nn adam_step semantics:
//   g = grad * gradScale (gradScale = 1 / loss_scale, and 1 / fixed-point scale for i32 grads)
//   matrix params: g += l2 * w, and every parameter steps with the shared step counter;
//   other params (grid tables): a zero gradient leaves the parameter and its state untouched,
//   and each parameter counts its own steps (tcnn's param_steps);
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   w -= lr sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps) * m
// The step counter of matrix params lives on the GPU (steps[0], bumped by `tick`), so the
// uniform block stays the same from step to step. Fixed-point i32 gradients are zeroed as
// they are consumed, ready for the next backward.

override MATRIX: bool = true;
override FIXED: bool = false;

struct Params {
  count: u32,
  pad: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  l2: f32,
  gradScale: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<u32>;   // f32 bits, or i32 when FIXED
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> steps: array<u32>;   // MATRIX: [1] shared, else per param

@compute @workgroup_size(1)
fn tick() {
  steps[0] += 1u;
}

@compute @workgroup_size(256)
fn step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * 256u;
  for (var i = gid.x; i < P.count; i += stride) {
    let raw = grads[i];
    var g: f32;
    if (FIXED) {
      g = f32(bitcast<i32>(raw)) * P.gradScale;
      if (raw != 0u) { grads[i] = 0u; }
    } else {
      g = bitcast<f32>(raw) * P.gradScale;
    }
    var t: u32;
    let w = params[i];
    if (MATRIX) {
      g += P.l2 * w;
      t = steps[0];
    } else {
      if (g == 0.0) { continue; }
      t = steps[i] + 1u;
      steps[i] = t;
    }
    let mi = P.beta1 * m[i] + (1.0 - P.beta1) * g;
    let vi = P.beta2 * v[i] + (1.0 - P.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let tf = f32(t);
    let lr = P.lr * sqrt(1.0 - pow(P.beta2, tf)) / (1.0 - pow(P.beta1, tf));
    params[i] = w - lr / (sqrt(vi) + P.eps) * mi;
  }
}
