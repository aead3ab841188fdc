// Light-field viewer output: student and teacher images (NCHW f32 [1, 3, H, W], same size) laid
// out as panels in the output texture (nearest-neighbour scaling, letterboxed), and the squared
// error between them summed on the GPU for the PSNR (two passes: per-workgroup partial sums, then
// one workgroup adds them), so nothing is read back inside a frame.

struct View {
  imgW: u32,
  imgH: u32,
  outW: u32,
  outH: u32,
  panels: u32,      // 1..3
  vertical: u32,    // panels stacked top to bottom (narrow viewports)
  panelW: u32,      // panel size in output pixels (image scaled by panelW / imgW)
  panelH: u32,
  offX: u32,
  offY: u32,
  mode0: u32,       // what each panel shows: 0 student, 1 teacher, 2 |student - teacher| x gain
  mode1: u32,
  mode2: u32,
  gain: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> V: View;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var output: texture_storage_2d<rgba8unorm, write>;

fn pixel(mode: u32, i: u32, hw: u32) -> vec3f {
  let s = vec3f(student[i], student[i + hw], student[i + 2u * hw]);
  if (mode == 0u) { return s; }
  let t = vec3f(teacher[i], teacher[i + hw], teacher[i + 2u * hw]);
  if (mode == 1u) { return t; }
  return clamp(abs(s - t) * V.gain, vec3f(0.0), vec3f(1.0));
}

@compute @workgroup_size(8, 8)
fn compose(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= V.outW || gid.y >= V.outH) { return; }
  var colour = vec3f(0.07, 0.08, 0.1);
  let x = i32(gid.x) - i32(V.offX);
  let y = i32(gid.y) - i32(V.offY);
  if (x >= 0 && y >= 0) {
    var panel = 0u;
    var px = u32(x);
    var py = u32(y);
    if (V.vertical == 1u) { panel = py / V.panelH; py = py % V.panelH; } else { panel = px / V.panelW; px = px % V.panelW; }
    if (panel < V.panels && px < V.panelW && py < V.panelH) {
      let ix = min(px * V.imgW / V.panelW, V.imgW - 1u);
      let iy = min(py * V.imgH / V.panelH, V.imgH - 1u);
      let modes = array<u32, 3>(V.mode0, V.mode1, V.mode2);
      colour = pixel(modes[panel], iy * V.imgW + ix, V.imgW * V.imgH);
    }
  }
  textureStore(output, vec2i(gid.xy), vec4f(colour, 1.0));
}

const PARTIALS = 64u;
var<workgroup> acc: array<f32, 256>;

@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

// Workgroup g of PARTIALS sums (student - teacher)^2 over elements g*256 + lane, step PARTIALS*256.
@compute @workgroup_size(256)
fn sse_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let count = 3u * V.imgW * V.imgH;
  var sum = 0.0;
  for (var i = wg.x * 256u + lane; i < count; i += PARTIALS * 256u) {
    let e = student[i] - teacher[i];
    sum += e * e;
  }
  acc[lane] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lane < s) { acc[lane] += acc[lane + s]; }
    workgroupBarrier();
  }
  if (lane == 0u) { partials[wg.x] = acc[0]; }
}

// partials[PARTIALS] = total squared error; partials[PARTIALS + 1] = its mean.
@compute @workgroup_size(64)
fn sse_final(@builtin(local_invocation_index) lane: u32) {
  acc[lane] = partials[lane];
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lane < s) { acc[lane] += acc[lane + s]; }
    workgroupBarrier();
  }
  if (lane == 0u) {
    partials[PARTIALS] = acc[0];
    partials[PARTIALS + 1u] = acc[0] / f32(3u * V.imgW * V.imgH);
  }
}
