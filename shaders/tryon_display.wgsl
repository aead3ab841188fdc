// Try-on studio view: one NCHW f32 tensor (batch 0) drawn into the demo's rgba8unorm output,
// fitted inside it (aspect kept, nearest texel, centred; the rest filled with the background).
//   mode 0: RGB in [-1, 1] (person, garment, try-on)  -> (v + 1) / 2
//   mode 1: one channel in [0, 1] (edges, masks)      -> grey
// Pixel (x, y) of the output reads texel floor((x + 0.5 - offX) / scale) of the source.

struct View {
  srcW: u32,
  srcH: u32,
  dstW: u32,
  dstH: u32,
  mode: u32,
  _p0: u32,
  offX: f32,
  offY: f32,
  scale: f32,
  _p1: f32,
  _p2: f32,
  _p3: f32,
  background: vec4f,
}

@group(0) @binding(0) var<uniform> V: View;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var out: texture_storage_2d<rgba8unorm, write>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= V.dstW || gid.y >= V.dstH) { return; }
  let sx = floor((f32(gid.x) + 0.5 - V.offX) / V.scale);
  let sy = floor((f32(gid.y) + 0.5 - V.offY) / V.scale);
  var colour = V.background;
  if (sx >= 0.0 && sy >= 0.0 && sx < f32(V.srcW) && sy < f32(V.srcH)) {
    let plane = V.srcW * V.srcH;
    let i = u32(sy) * V.srcW + u32(sx);
    if (V.mode == 0u) {
      colour = vec4f(clamp((vec3f(src[i], src[plane + i], src[2u * plane + i]) + 1.0) * 0.5, vec3f(0.0), vec3f(1.0)), 1.0);
    } else {
      colour = vec4f(vec3f(clamp(src[i], 0.0, 1.0)), 1.0);
    }
  }
  textureStore(out, vec2u(gid.xy), colour);
}
