// Slice + project: one thread per Gaussian. Conditions 4D Gaussians on time t (Yang or
// rotor; both store the 4D covariance Σ, precomputed at upload), projects with the EWA
// Jacobian exactly as the reference 3DGS rasterizer (forward.cu: computeCov2D with the
// 1.3·tan(fov) clamp and the 0.3 low-pass dilation), evaluates SH for the view direction,
// and appends survivors with an atomic counter: a splat record, a back-to-front depth key
// and its index. Counts stay on the GPU (the sort and the draw read them).

struct Params {
  view: mat4x4f,          // world -> camera (x right, y down, z forward)
  campos: vec4f,          // xyz: camera position
  focal: vec2f,           // fx, fy in pixels
  centre: vec2f,          // cx, cy in pixels (pixel i has its centre at i)
  size: vec2f,            // width, height
  tan_fov: vec2f,         // tan(fovX/2), tan(fovY/2)
  time: f32,
  duration: f32,          // T = end - start of the scene's time range
  count: u32,
  sh_stride: u32,         // u32 words of SH per Gaussian: ceil(3·K / 2), K coefficients per channel
};

// Pipeline constants, one pipeline per combination: a software GPU (SwiftShader) runs every
// branch of a kernel with the inactive lanes masked, so paths a scene never takes (the other
// kinds, higher SH degrees, the temporal SH terms) cost as much as the ones it does; as
// constants they are compiled out (project: 60 -> 16 ms at 100k SH3 on SwiftShader).
override KIND: u32 = 0u;          // 0 static, 1 yang4d, 2 rotor4d
override SH_DEGREE: u32 = 3u;     // spatial degree evaluated: min(user cap, scene degree)
override SH_TEMPORAL: u32 = 0u;   // temporal SH terms evaluated (yang, SH3 scenes at degree 3): 0-2

// Per Gaussian, 16 floats: xyz, opacity, then static: cov3 (xx xy xz yy yz zz) or
// 4D: μt, Σ (xx xy xz xt yy yz yt zz zt tt).
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gaussians: array<vec4f>;
@group(0) @binding(2) var<storage, read> sh: array<u32>;          // f16 pairs, K·3 per Gaussian from a word boundary, RGB innermost
@group(0) @binding(3) var<storage, read_write> splats: array<vec4f>;   // 3 vec4 per survivor
@group(0) @binding(4) var<storage, read_write> keys: array<u32>;
@group(0) @binding(5) var<storage, read_write> values: array<u32>;
// counter[0]: splats drawn this frame, counter[1]: Gaussians alive at t (both start at 0).
@group(0) @binding(6) var<storage, read_write> counter: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> alive: array<u32>;

const SH_C0 = 0.28209479177387814;
const SH_C1 = 0.4886025119029199;
const SH_C2 = array<f32, 5>(1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396);
const SH_C3 = array<f32, 7>(-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658, 1.445305721320277, -0.5900435899266435);
const YANG_Q_CULL = 2.995732273553991; // ln(1 / 0.05)
const ROTOR_CULL = 16.0;
const PI = 3.141592653589793;

struct ShPair { a: vec3f, b: vec3f };

// Coefficients k and k + 1 (k even) of Gaussian i: six halves, exactly three words.
fn sh_pair(i: u32, k: u32) -> ShPair {
  let w = i * params.sh_stride + k * 3u / 2u;
  let x = unpack2x16float(sh[w]);
  let y = unpack2x16float(sh[w + 1u]);
  let z = unpack2x16float(sh[w + 2u]);
  return ShPair(vec3f(x, y.x), vec3f(y.y, z));
}

// Σ_k Y_k(d)·sh[offset + k] for the spatial basis up to `degree` (the 3DGS constants);
// `offset` is even. A pair past the stored coefficients reads padding or the next
// Gaussian, and its second half is never used.
fn eval_sh(i: u32, offset: u32, degree: u32, d: vec3f) -> vec3f {
  let p0 = sh_pair(i, offset);
  var c = SH_C0 * p0.a;
  if (degree < 1u) { return c; }
  let x = d.x; let y = d.y; let z = d.z;
  let p2 = sh_pair(i, offset + 2u);
  c += -SH_C1 * y * p0.b + SH_C1 * z * p2.a - SH_C1 * x * p2.b;
  if (degree < 2u) { return c; }
  let xx = x * x; let yy = y * y; let zz = z * z; let xy = x * y; let yz = y * z; let xz = x * z;
  let p4 = sh_pair(i, offset + 4u);
  let p6 = sh_pair(i, offset + 6u);
  let p8 = sh_pair(i, offset + 8u);
  c += SH_C2[0] * xy * p4.a + SH_C2[1] * yz * p4.b
     + SH_C2[2] * (2.0 * zz - xx - yy) * p6.a
     + SH_C2[3] * xz * p6.b + SH_C2[4] * (xx - yy) * p8.a;
  if (degree < 3u) { return c; }
  let p10 = sh_pair(i, offset + 10u);
  let p12 = sh_pair(i, offset + 12u);
  let p14 = sh_pair(i, offset + 14u);
  c += SH_C3[0] * y * (3.0 * xx - yy) * p8.b
     + SH_C3[1] * xy * z * p10.a
     + SH_C3[2] * y * (4.0 * zz - xx - yy) * p10.b
     + SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * p12.a
     + SH_C3[4] * x * (4.0 * zz - xx - yy) * p12.b
     + SH_C3[5] * z * (xx - yy) * p14.a
     + SH_C3[6] * x * (xx - 3.0 * yy) * p14.b;
  return c;
}

// Two passes, because a software GPU pays for the whole projection body even in lanes
// that return early: `cull` keeps the Gaussians alive at t (Yang: marginal
// > 0.05; rotor: ½Δt²/Σtt < 16) in a compact list, and `project` then runs only over that
// list (its size is read on the GPU for an indirect dispatch). Static scenes skip `cull`.

@compute @workgroup_size(256)
fn cull(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.count) { return; }
  if (KIND != 0u) {
    let mu_t = gaussians[i * 4u + 1u].x;
    let tt = gaussians[i * 4u + 3u].z;
    let q = 0.5 * (params.time - mu_t) * (params.time - mu_t) / tt;
    // exp(−q) ≤ 0.05 ⇔ q ≥ ln 20: a threshold on q, no exp per culled Gaussian.
    if (q >= select(ROTOR_CULL, YANG_Q_CULL, KIND == 1u)) { return; }
  }
  alive[atomicAdd(&counter[1], 1u)] = i;
}

@compute @workgroup_size(256)
fn project(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let j = gid.x + gid.y * groups.x * 256u;
  // Static scenes skip the cull pass: every Gaussian is alive, dispatched directly.
  if (KIND == 0u) {
    if (j < params.count) { project_one(j); }
    return;
  }
  if (j >= atomicLoad(&counter[1])) { return; }
  project_one(alive[j]);
}

fn project_one(i: u32) {
  let g0 = gaussians[i * 4u];
  let g1 = gaussians[i * 4u + 1u];
  let g2 = gaussians[i * 4u + 2u];
  let g3 = gaussians[i * 4u + 3u];
  let origin = g0.xyz;
  var mean = origin;
  var opacity = g0.w;
  var cov: mat3x3f;
  var dt = 0.0;
  if (KIND == 0u) {
    cov = mat3x3f(g1.x, g1.y, g1.z, g1.y, g1.w, g2.x, g1.z, g2.x, g2.y);
  } else {
    // g1 = μt, xx, xy, xz; g2 = xt, yy, yz, yt; g3 = zz, zt, tt, _
    dt = params.time - g1.x;
    let tt = g3.z;
    let xt = vec3f(g2.x, g2.w, g3.y);
    opacity *= exp(-0.5 * dt * dt / tt);
    mean = origin + xt * (dt / tt);
    let c = mat3x3f(g1.y, g1.z, g1.w, g1.z, g2.y, g2.z, g1.w, g2.z, g3.x);
    cov = c - mat3x3f(xt * xt.x, xt * xt.y, xt * xt.z) * (1.0 / tt);
  }

  let p = params.view * vec4f(mean, 1.0);
  if (p.z <= 0.2) { return; }

  // EWA: J·W·Σ·Wᵀ·Jᵀ with the reference's clamp of x/z and y/z to 1.3·tan(fov).
  let lim = 1.3 * params.tan_fov;
  let t = vec2f(clamp(p.x / p.z, -lim.x, lim.x), clamp(p.y / p.z, -lim.y, lim.y)) * p.z;
  let fx = params.focal.x;
  let fy = params.focal.y;
  let w = mat3x3f(params.view[0].xyz, params.view[1].xyz, params.view[2].xyz);
  // Rows of J (a 2×3) as columns of a mat3x2 transposed: build T = J·W column by column.
  let j = mat3x3f(vec3f(fx / p.z, 0.0, 0.0), vec3f(0.0, fy / p.z, 0.0), vec3f(-fx * t.x / (p.z * p.z), -fy * t.y / (p.z * p.z), 0.0));
  let m = j * w;
  let c2 = m * cov * transpose(m);
  let a = c2[0][0] + 0.3;
  let b = c2[0][1];
  let cc = c2[1][1] + 0.3;
  let det = a * cc - b * b;
  if (det <= 0.0) { return; }
  let centre = vec2f(fx * p.x / p.z, fy * p.y / p.z) + params.centre;
  // Where α can still reach 1/255: opacity·exp(−½·r²) ≥ 1/255, r the Mahalanobis distance.
  let reach = log(255.0 * opacity);
  if (reach <= 0.0) { return; }
  // The quad is the ellipse r² = 2·reach along the eigenvectors: a screen-aligned box
  // around a thin, tilted splat would rasterize several times the fragments.
  let mid = 0.5 * (a + cc);
  let lambda1 = mid + sqrt(max(mid * mid - det, 0.0));
  let lambda2 = det / lambda1;
  let v1 = select(select(vec2f(0.0, 1.0), vec2f(1.0, 0.0), a >= cc), normalize(vec2f(b, lambda1 - a)), abs(b) > 1e-12 * mid);
  let major = v1 * sqrt(2.0 * reach * lambda1);
  let minor = vec2f(-v1.y, v1.x) * sqrt(2.0 * reach * lambda2);
  let extent = sqrt(2.0 * reach * vec2f(a, cc));
  if (centre.x + extent.x < -0.5 || centre.x - extent.x > params.size.x - 0.5 ||
      centre.y + extent.y < -0.5 || centre.y - extent.y > params.size.y - 0.5) { return; }

  // Colour for the view direction: Yang's CUDA path uses the un-shifted position,
  // the rotor code the sliced mean.
  let seen_from = select(mean, origin, KIND == 1u);
  let dir = normalize(seen_from - params.campos.xyz);
  var rgb = eval_sh(i, 0u, SH_DEGREE, dir);
  if (SH_TEMPORAL > 0u) {
    let dir_t = -dt; // μt − t
    rgb += cos(2.0 * PI * dir_t / params.duration) * eval_sh(i, 16u, 3u, dir);
    if (SH_TEMPORAL > 1u) { rgb += cos(4.0 * PI * dir_t / params.duration) * eval_sh(i, 32u, 3u, dir); }
  }
  rgb = max(rgb + 0.5, vec3f(0.0));

  let slot = atomicAdd(&counter[0], 1u);
  splats[slot * 3u] = vec4f(centre, major);
  splats[slot * 3u + 1u] = vec4f(minor, reach, opacity);
  splats[slot * 3u + 2u] = vec4f(rgb, p.z);
  // Radix sort is ascending: invert the (positive, order-preserving) float bits so the
  // farthest splat comes first.
  keys[slot] = 0xffffffffu - bitcast<u32>(p.z);
  values[slot] = slot;
}
