// Blends sorted splats back to front: one triangle (3 vertices, no instancing) per splat,
// splat = vertex_index / 3, circumscribing the ellipse where its α can still reach 1/255
// (fragments outside it are discarded). A triangle rasterizes 1.3x the area of the ellipse's
// bounding quad but halves the vertices and primitives, which dominate for the many small
// splats (SwiftShader, 100k: 160 -> 146 ms). Premultiplied "one, one-minus-src-alpha"
// blending, α = min(0.99, opacity·exp(power)) as the reference.

struct Frame { size: vec2f, _pad: vec2f };

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> splats: array<vec4f>;
@group(0) @binding(2) var<storage, read> order: array<u32>;

struct VertexOut {
  @builtin(position) position: vec4f,
  // Position in the splat's eigenbasis, scaled so |uv| = 1 where α falls to 1/255. Linear:
  // w is 1, so perspective correction would only cost a divide per fragment.
  @location(0) @interpolate(linear) uv: vec2f,
  @location(1) @interpolate(flat) colour: vec4f,
  @location(2) @interpolate(flat) reach: f32,
};

// Equilateral triangle around the unit circle (the ellipse in its eigenbasis, |uv| = 1).
const CORNERS = array<vec2f, 3>(vec2f(0.0, -2.0), vec2f(1.7320508075688772, 1.0), vec2f(-1.7320508075688772, 1.0));

@vertex fn vs(@builtin(vertex_index) v: u32) -> VertexOut {
  let s = order[v / 3u];
  let a = splats[s * 3u];     // centre, major axis
  let b = splats[s * 3u + 1u]; // minor axis, reach, opacity
  let c = splats[s * 3u + 2u]; // colour, depth
  let corner = CORNERS[v % 3u];
  // Pixel i has its centre at i (the reference's ndc2Pix), i.e. at framebuffer i + 0.5.
  let pixel = a.xy + corner.x * a.zw + corner.y * b.xy;
  let ndc = vec2f((pixel.x + 0.5) / frame.size.x * 2.0 - 1.0, 1.0 - (pixel.y + 0.5) / frame.size.y * 2.0);
  var out: VertexOut;
  out.position = vec4f(ndc, 0.0, 1.0);
  out.uv = corner;
  out.colour = vec4f(c.rgb, b.w);
  out.reach = b.z;
  return out;
}

@fragment fn fs(in: VertexOut) -> @location(0) vec4f {
  // exp(−½·Mahalanobis²) = exp(−reach·|uv|²); outside |uv| = 1, α < 1/255.
  let r2 = dot(in.uv, in.uv);
  if (r2 > 1.0) { discard; }
  let alpha = min(0.99, in.colour.a * exp(-in.reach * r2));
  return vec4f(in.colour.rgb * alpha, alpha);
}
