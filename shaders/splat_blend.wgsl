// Blends sorted splats back to front: one quad (6 vertices, no instancing) per splat,
// splat = vertex_index / 6, sized to where its α can still reach 1/255. Premultiplied
// "one, one-minus-src-alpha" blending, α = min(0.99, opacity·exp(power)) as the reference.

struct Frame { size: vec2f, _pad: vec2f };

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> splats: array<vec4f>;
@group(0) @binding(2) var<storage, read> order: array<u32>;

struct VertexOut {
  @builtin(position) position: vec4f,
  @location(0) @interpolate(flat) centre: vec2f,
  @location(1) @interpolate(flat) conic: vec4f,
  @location(2) @interpolate(flat) colour: vec3f,
};

const CORNERS = array<vec2f, 6>(vec2f(-1.0, -1.0), vec2f(1.0, -1.0), vec2f(1.0, 1.0), vec2f(-1.0, -1.0), vec2f(1.0, 1.0), vec2f(-1.0, 1.0));

@vertex fn vs(@builtin(vertex_index) v: u32) -> VertexOut {
  let s = order[v / 6u];
  let a = splats[s * 3u];
  let b = splats[s * 3u + 1u];
  let c = splats[s * 3u + 2u];
  // Pixel i has its centre at i (the reference's ndc2Pix); the clip box covers the reach.
  let pixel = a.xy + CORNERS[v % 6u] * (a.zw + 0.5);
  let ndc = vec2f((pixel.x + 0.5) / frame.size.x * 2.0 - 1.0, 1.0 - (pixel.y + 0.5) / frame.size.y * 2.0);
  var out: VertexOut;
  out.position = vec4f(ndc, 0.0, 1.0);
  out.centre = a.xy;
  out.conic = b;
  out.colour = c.rgb;
  return out;
}

@fragment fn fs(in: VertexOut) -> @location(0) vec4f {
  let d = in.centre - (in.position.xy - 0.5);
  let power = -0.5 * (in.conic.x * d.x * d.x + in.conic.z * d.y * d.y) - in.conic.y * d.x * d.y;
  if (power > 0.0) { discard; }
  let alpha = min(0.99, in.conic.w * exp(power));
  if (alpha < 1.0 / 255.0) { discard; }
  return vec4f(in.colour * alpha, alpha);
}
