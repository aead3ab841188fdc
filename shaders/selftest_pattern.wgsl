// Self-test pattern: seeded interference rings moving with time, with an optional image
// letterboxed on top. Exercises storage-texture output, uniforms and sampling.
struct Params {
  time: f32,
  seed: u32,
  has_image: u32,
  _pad: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var output: texture_storage_2d<rgba8unorm, write>;
@group(0) @binding(2) var image: texture_2d<f32>;
@group(0) @binding(3) var image_sampler: sampler;

// pcg: shaders/lib/hash.wgsl, joined in front by pattern-pipeline.ts.
fn unit(x: u32) -> f32 { return f32(pcg(x)) / 4294967295.0; }

@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) id: vec3u) {
  let size = textureDimensions(output);
  if (id.x >= size.x || id.y >= size.y) { return; }
  let aspect = f32(size.x) / f32(size.y);
  let uv = (vec2f(id.xy) + 0.5) / vec2f(size);
  let p = vec2f((uv.x - 0.5) * aspect, uv.y - 0.5);
  var colour = vec3f(0.0);
  for (var i = 0u; i < 3u; i++) {
    let centre = vec2f(unit(params.seed * 3u + i) - 0.5, unit(params.seed * 7u + i + 11u) - 0.5) * 0.8;
    let d = length(p - centre);
    colour[i] = 0.5 + 0.5 * cos(40.0 * d - params.time * (2.0 + f32(i)));
  }
  if (params.has_image != 0u) {
    let image_size = vec2f(textureDimensions(image));
    let scale = min(vec2f(size).x / image_size.x, vec2f(size).y / image_size.y);
    let drawn = image_size * scale;
    let origin = (vec2f(size) - drawn) * 0.5;
    let q = (vec2f(id.xy) + 0.5 - origin) / drawn;
    if (all(q >= vec2f(0.0)) && all(q <= vec2f(1.0))) {
      colour = textureSampleLevel(image, image_sampler, q, 0.0).rgb;
    } else {
      colour *= 0.25;
    }
  }
  textureStore(output, id.xy, vec4f(colour, 1.0));
}
