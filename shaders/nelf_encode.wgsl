// MobileR2L network input on the GPU: rays on the low-res grid, n samples per ray, positional
// encoding, written NCHW [1, 3*S*(2L+1), H, W] in the training channel order
// ((sample*3 + axis)*(2L+1) + k; k < L sin(2^k x), k < 2L cos(2^k x), last x).
// One invocation per (pixel, sample*3+axis): consecutive invocations write consecutive pixels.

struct Params {
  row0: vec4f, // c2w rows: rotation | translation
  row1: vec4f,
  row2: vec4f,
  H: u32,
  W: u32,
  samples: u32,
  multires: u32,
  focal: f32,
  near: f32,
  far: f32,
  ndc: u32,      // 1: forward-facing NDC rays (near plane ndcNear), then z in [near, far]
  ndcNear: f32,
  groupsX: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// sin and cos of the same f32 argument to ~1 ulp: Cody-Waite reduction by pi/2 (three-part
// constant, exact products for |q| < 2^15) and Cephes' minimax polynomials on [-pi/4, pi/4].
// WGSL only guarantees sin/cos near [-pi, pi], and 2^5 * x reaches hundreds of radians.
fn sincos(y: f32) -> vec2f {
  let q = round(y * 0.63661977236758134);
  var r = y - q * 1.5703125;
  r = r - q * 4.837512969970703125e-4;
  r = r - q * 7.54978995489188216e-8;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let quadrant = i32(q) & 3;
  switch quadrant {
    case 0: { return vec2f(s, c); }
    case 1: { return vec2f(c, -s); }
    case 2: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let hw = P.H * P.W;
  let i = gid.x + gid.y * P.groupsX * 64u;
  if (i >= hw * P.samples * 3u) { return; }
  let pix = i % hw;
  let sa = i / hw;
  let s = sa / 3u;
  let axis = sa % 3u;
  let u = f32(pix % P.W);
  let v = f32(pix / P.W);
  let dc = vec3f((u - 0.5 * f32(P.W) + 0.5) / P.focal, -(v - 0.5 * f32(P.H) + 0.5) / P.focal, -1.0);
  var o = vec3f(P.row0.w, P.row1.w, P.row2.w);
  var d = vec3f(dot(P.row0.xyz, dc), dot(P.row1.xyz, dc), dot(P.row2.xyz, dc));
  if (P.ndc == 1u) {
    // NeRF's ndc_rays on the low-res grid (H, W, focal), rays shifted to the near plane first.
    let t = -(P.ndcNear + o.z) / d.z;
    o = o + t * d;
    let ax = -2.0 * P.focal / f32(P.W);
    let ay = -2.0 * P.focal / f32(P.H);
    let o2 = vec3f(ax * o.x / o.z, ay * o.y / o.z, 1.0 + 2.0 * P.ndcNear / o.z);
    let d2 = vec3f(ax * (d.x / d.z - o.x / o.z), ay * (d.y / d.z - o.y / o.z), -2.0 * P.ndcNear / o.z);
    o = o2;
    d = d2;
  }
  var t = 0.0;
  if (P.samples > 1u) { t = f32(s) * (1.0 / f32(P.samples - 1u)); }
  let z = P.near * (1.0 - t) + P.far * t;
  let x = o[axis] + d[axis] * z;
  let L = P.multires;
  let base = sa * (2u * L + 1u) * hw + pix;
  var freq = 1.0;
  for (var k = 0u; k < L; k++) {
    let sc = sincos(x * freq);
    out[base + k * hw] = sc.x;
    out[base + (k + L) * hw] = sc.y;
    freq = freq * 2.0;
  }
  out[base + 2u * L * hw] = x;
}
