// Neural graphics lab: draws an f32 image buffer ([src_h][src_w][stride], RGB in the first three
// floats, row 0 at the top) into a rectangle of the output texture, nearest-neighbour scaled.
struct Params {
  src_w: u32,
  src_h: u32,
  stride: u32,
  _pad: u32,
  dst_x: u32,
  dst_y: u32,
  dst_w: u32,
  dst_h: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var output: texture_storage_2d<rgba8unorm, write>;

@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= params.dst_w || id.y >= params.dst_h) { return; }
  let size = textureDimensions(output);
  let x = params.dst_x + id.x;
  let y = params.dst_y + id.y;
  if (x >= size.x || y >= size.y) { return; }
  let sx = min(params.src_w - 1u, id.x * params.src_w / params.dst_w);
  let sy = min(params.src_h - 1u, id.y * params.src_h / params.dst_h);
  let i = (sy * params.src_w + sx) * params.stride;
  var c = vec3f(src[i], src[i + 1u], src[i + 2u]);
  // NaN from an untrained or diverged field shows as magenta rather than undefined bytes.
  if (any(c != c)) { c = vec3f(1.0, 0.0, 1.0); }
  textureStore(output, vec2u(x, y), vec4f(clamp(c, vec3f(0.0), vec3f(1.0)), 1.0));
}
