// instant-ngp's NeRF network glue (src/nn/ngp/nerf-network.ts): hash grid -> density MLP (16
// outputs, channel 0 the log-density) -> colour MLP on [16 density outputs, SH(direction)].
// These kernels join the two MLPs; the grid and MLPs are the shared kernels.
//
// Layouts (rows r < n): dens [n][16], dirs [n][3] in [0,1] (direction * 0.5 + 0.5, as
// instant-ngp feeds tcnn), rgbIn [n][32], rgbOut [n][4] (3 used), raw [n] vec4
// (log-density, rgb logits): what the volume-rendering kernels read.
//
// SH: tcnn's SphericalHarmonics encoding, degree 4 (16 coefficients), of x = 2 * dir - 1 with
// tcnn's constants (encodings/spherical_harmonics.h). One thread per row; rows span
// dispatch x and y (flat workgroup index y * num_workgroups.x + x).

struct Params {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dens: array<vec4f>;        // [n][4] vec4 = [n][16]
@group(0) @binding(2) var<storage, read> dirs: array<f32>;          // [n][3]
@group(0) @binding(3) var<storage, read_write> rgbIn: array<vec4f>; // [n][8] vec4 = [n][32]
@group(0) @binding(4) var<storage, read> rgbOut: array<vec4f>;      // [n]
@group(0) @binding(5) var<storage, read_write> raw: array<vec4f>;   // [n]
@group(0) @binding(6) var<storage, read> dRaw: array<vec4f>;        // [n]
@group(0) @binding(7) var<storage, read_write> dRgbOut: array<vec4f>; // [n]
@group(0) @binding(8) var<storage, read> dRgbIn: array<vec4f>;      // [n][8]
@group(0) @binding(9) var<storage, read_write> dDens: array<vec4f>; // [n][4]

fn rowOf(wid: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * 64u + li;
}

fn sh4(d01: vec3f) -> array<vec4f, 4> {
  let x = d01.x * 2.0 - 1.0;
  let y = d01.y * 2.0 - 1.0;
  let z = d01.z * 2.0 - 1.0;
  let xy = x * y;
  let xz = x * z;
  let yz = y * z;
  let x2 = x * x;
  let y2 = y * y;
  let z2 = z * z;
  return array<vec4f, 4>(
    vec4f(0.28209479177387814, -0.48860251190291987 * y, 0.48860251190291987 * z, -0.48860251190291987 * x),
    vec4f(1.0925484305920792 * xy, -1.0925484305920792 * yz, 0.94617469575755997 * z2 - 0.31539156525251999, -1.0925484305920792 * xz),
    vec4f(0.54627421529603959 * x2 - 0.54627421529603959 * y2, 0.59004358992664352 * y * (-3.0 * x2 + y2), 2.8906114426405538 * xy * z, 0.45704579946446572 * y * (1.0 - 5.0 * z2)),
    vec4f(0.3731763325901154 * z * (5.0 * z2 - 3.0), 0.45704579946446572 * x * (1.0 - 5.0 * z2), 1.4453057213202769 * z * (x2 - y2), 0.59004358992664352 * x * (-x2 + 3.0 * y2)),
  );
}

// rgbIn[r] = [dens[r][0..16], SH(dirs[r])].
@compute @workgroup_size(64)
fn assemble(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = rowOf(wid, nwg, li);
  if (r >= P.n) { return; }
  for (var i = 0u; i < 4u; i++) { rgbIn[r * 8u + i] = dens[r * 4u + i]; }
  let sh = sh4(vec3f(dirs[r * 3u], dirs[r * 3u + 1u], dirs[r * 3u + 2u]));
  for (var i = 0u; i < 4u; i++) { rgbIn[r * 8u + 4u + i] = sh[i]; }
}

// raw[r] = (log-density, rgb logits).
@compute @workgroup_size(64)
fn merge(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = rowOf(wid, nwg, li);
  if (r >= P.n) { return; }
  raw[r] = vec4f(dens[r * 4u].x, rgbOut[r].xyz);
}

// dRgbOut[r] = (d rgb logits, 0).
@compute @workgroup_size(64)
fn split_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = rowOf(wid, nwg, li);
  if (r >= P.n) { return; }
  dRgbOut[r] = vec4f(dRaw[r].yzw, 0.0);
}

// dDens[r] = dL/d(colour MLP input)[0..16] + (d log-density from the renderer on channel 0).
@compute @workgroup_size(64)
fn merge_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = rowOf(wid, nwg, li);
  if (r >= P.n) { return; }
  dDens[r * 4u] = dRgbIn[r * 8u] + vec4f(dRaw[r].x, 0.0, 0.0, 0.0);
  for (var i = 1u; i < 4u; i++) { dDens[r * 4u + i] = dRgbIn[r * 8u + i]; }
}
