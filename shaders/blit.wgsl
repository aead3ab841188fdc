// Presents a demo's output texture on its canvas: one fullscreen triangle, nearest
// sampling by texel load so the canvas shows exactly the pixels snapshot() reads.
@group(0) @binding(0) var source: texture_2d<f32>;

struct VertexOut { @builtin(position) position: vec4f };

@vertex fn vs(@builtin(vertex_index) i: u32) -> VertexOut {
  let uv = vec2f(f32((i << 1u) & 2u), f32(i & 2u));
  return VertexOut(vec4f(uv * vec2f(2.0, -2.0) + vec2f(-1.0, 1.0), 0.0, 1.0));
}

@fragment fn fs(v: VertexOut) -> @location(0) vec4f {
  let size = vec2f(textureDimensions(source));
  let texel = vec2u(clamp(v.position.xy, vec2f(0.0), size - 1.0));
  return vec4f(textureLoad(source, texel, 0).rgb, 1.0);
}
