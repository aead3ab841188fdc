// Rays of the lab's 3D apps (NSDF, NeRF and NVR views, NeRF training rays): a pinhole camera whose right and up
// vectors are scaled by the half-extents of the image plane at distance 1 along forward, and
// the field's box [-0.5, 0.5]^3 in world space.
struct Camera {
  origin: vec3f,
  right: vec3f,
  up: vec3f,
  forward: vec3f,
};

// Unit direction through the centre of pixel `pixel` (row-major, y down) of a width x height image.
fn camera_ray(camera: Camera, width: u32, height: u32, pixel: u32) -> vec3f {
  let x = pixel % width;
  let y = pixel / width;
  let ndc = vec2f((f32(x) + 0.5) / f32(width) * 2.0 - 1.0, 1.0 - (f32(y) + 0.5) / f32(height) * 2.0);
  return normalize(camera.forward + ndc.x * camera.right + ndc.y * camera.up);
}

// Entry (clamped to 0) and exit distances of the ray o + t d through the box (entry > exit: miss).
// A zero direction component is nudged to 1e-9, so no slab divides by zero.
fn box_hit(o: vec3f, d: vec3f) -> vec2f {
  let safe = select(d, vec3f(1e-9), abs(d) < vec3f(1e-9));
  let a = (vec3f(-0.5) - o) / safe;
  let b = (vec3f(0.5) - o) / safe;
  let lo = min(a, b);
  let hi = max(a, b);
  return vec2f(max(max(max(lo.x, lo.y), lo.z), 0.0), min(min(hi.x, hi.y), hi.z));
}
