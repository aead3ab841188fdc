// The procedural teacher "nelf-procedural-v1" (tools/nelf/teacher.py, formulas in its docstring):
// three spheres, a box and a checkered ground disc, ray-traced analytically, one ray per pixel
// centre. Writes NCHW f32 [1, 3, H, W] like the student's output, so the two compare directly.

struct Params {
  row0: vec4f,
  row1: vec4f,
  row2: vec4f,
  H: u32,
  W: u32,
  focal: f32,
  groupsX: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const GROUND_Z = -0.5;
const GROUND_R = 2.0;
const CHECKER_A = vec3f(0.85, 0.85, 0.85);
const CHECKER_B = vec3f(0.30, 0.32, 0.38);
const SPHERE_C = array<vec3f, 3>(vec3f(0.55, 0.35, 0.05), vec3f(-0.75, 0.55, -0.15), vec3f(-0.15, -0.65, 0.55));
const SPHERE_R = array<f32, 3>(0.55, 0.35, 0.25);
const SPHERE_A = array<vec3f, 3>(vec3f(0.90, 0.22, 0.18), vec3f(0.20, 0.40, 0.95), vec3f(0.95, 0.80, 0.15));
const BOX_MIN = vec3f(-0.45, -0.95, -0.5);
const BOX_MAX = vec3f(0.15, -0.35, 0.3);
const BOX_A = vec3f(0.25, 0.80, 0.35);
const LIGHT_DIR = vec3f(0.5, -0.4, 0.75);
const AMBIENT = 0.3;
const DIFFUSE = 0.7;
const SKY_HORIZON = vec3f(0.92, 0.94, 0.98);
const SKY_ZENITH = vec3f(0.45, 0.62, 0.90);
const T_INF = 1e30;

// t of the near root, or -1 for a miss.
fn sphere(o: vec3f, dn: vec3f, i: u32) -> f32 {
  let oc = o - SPHERE_C[i];
  let b = dot(oc, dn);
  let q = dot(oc, oc) - SPHERE_R[i] * SPHERE_R[i];
  let h = b * b - q;
  let t = -b - sqrt(max(h, 0.0));
  if (h >= 0.0 && t > 0.0) { return t; }
  return -1.0;
}

struct BoxHit { t: f32, n: vec3f }

fn box(o: vec3f, dn: vec3f) -> BoxHit {
  let e = select(vec3f(1e-8), dn, abs(dn) >= vec3f(1e-8));
  let inv = 1.0 / e;
  let t1 = (BOX_MIN - o) * inv;
  let t2 = (BOX_MAX - o) * inv;
  let tn = min(t1, t2);
  let tf = max(t1, t2);
  let tNear = max(max(tn.x, tn.y), tn.z);
  let tFar = min(min(tf.x, tf.y), tf.z);
  var n = vec3f(0.0, 0.0, 1.0);
  var a = 2u;
  if (tn.x >= tn.y && tn.x >= tn.z) { a = 0u; } else if (tn.y >= tn.z) { a = 1u; }
  let sgn = select(-1.0, 1.0, e[a] >= 0.0);
  n = vec3f(0.0);
  n[a] = -sgn;
  if (tNear <= tFar && tNear > 0.0) { return BoxHit(tNear, n); }
  return BoxHit(-1.0, n);
}

fn shade(o: vec3f, d: vec3f) -> vec3f {
  let dn = d / sqrt(dot(d, d));
  var tBest = T_INF;
  var id = -1;
  if (dn.z < 0.0) {
    let t = (GROUND_Z - o.z) / dn.z;
    let p = o + t * dn;
    if (t > 0.0 && p.x * p.x + p.y * p.y <= GROUND_R * GROUND_R && t < tBest) { tBest = t; id = 0; }
  }
  for (var i = 0u; i < 3u; i++) {
    let t = sphere(o, dn, i);
    if (t > 0.0 && t < tBest) { tBest = t; id = i32(i) + 1; }
  }
  let bh = box(o, dn);
  if (bh.t > 0.0 && bh.t < tBest) { tBest = bh.t; id = 4; }
  if (id < 0) {
    let s = clamp(dn.z, 0.0, 1.0);
    return (1.0 - s) * SKY_HORIZON + s * SKY_ZENITH;
  }
  let p = o + tBest * dn;
  let L = LIGHT_DIR / sqrt(dot(LIGHT_DIR, LIGHT_DIR));
  var n = vec3f(0.0, 0.0, 1.0);
  var albedo = BOX_A;
  var vis = 1.0;
  if (id == 0) {
    let s = floor(2.0 * p.x) + floor(2.0 * p.y);
    let k = s - 2.0 * floor(s / 2.0);
    albedo = select(CHECKER_B, CHECKER_A, k == 0.0);
    var occluded = box(p, L).t > 0.0;
    for (var i = 0u; i < 3u; i++) { occluded = occluded || sphere(p, L, i) > 0.0; }
    if (occluded) { vis = 0.0; }
  } else if (id <= 3) {
    let i = u32(id - 1);
    n = (p - SPHERE_C[i]) / SPHERE_R[i];
    albedo = SPHERE_A[i];
  } else {
    n = bh.n;
  }
  let ndl = max(dot(n, L), 0.0);
  return clamp(albedo * (AMBIENT + DIFFUSE * ndl * vis), vec3f(0.0), vec3f(1.0));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let hw = P.H * P.W;
  let i = gid.x + gid.y * P.groupsX * 64u;
  if (i >= hw) { return; }
  let u = f32(i % P.W);
  let v = f32(i / P.W);
  let dc = vec3f((u - 0.5 * f32(P.W) + 0.5) / P.focal, -(v - 0.5 * f32(P.H) + 0.5) / P.focal, -1.0);
  let d = vec3f(dot(P.row0.xyz, dc), dot(P.row1.xyz, dc), dot(P.row2.xyz, dc));
  let c = shade(vec3f(P.row0.w, P.row1.w, P.row2.w), d);
  out[i] = c.x;
  out[i + hw] = c.y;
  out[i + 2u * hw] = c.z;
}
