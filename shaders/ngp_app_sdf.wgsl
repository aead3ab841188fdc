// Neural graphics lab, NSDF: sphere tracing of a learned signed distance field, a few march
// iterations per frame. `init` starts every ray at its entry into the box [-0.5,0.5]^3 (world =
// field coordinates - 0.5), `march` advances by the field's distance (written into `field` by
// the network for the positions of the previous step), `normal_positions` places 4 tetrahedral
// probes around each hit, and `shade` turns their values into a normal (the field's
// finite-difference gradient) and a lit colour in `image`.
// Camera, camera_ray, box_hit: shaders/lib/box_camera.wgsl, joined in front.

struct Params {
  camera: Camera,
  width: u32,
  height: u32,
  _pad0: u32,
  _pad1: u32,
  epsilon: f32,
  normal_step: f32,
  _pad2: f32,
  _pad3: f32,
  background: vec4f,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> positions: array<f32>;
@group(0) @binding(2) var<storage, read> field: array<vec4f>;
// x: t, y: far, z: status (0 marching, 1 hit, 2 miss)
@group(0) @binding(3) var<storage, read_write> state: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> image: array<vec4f>;

fn ray_dir(pixel: u32) -> vec3f { return camera_ray(params.camera, params.width, params.height, pixel); }

fn put(row: u32, p: vec3f) {
  let q = clamp(p + vec3f(0.5), vec3f(0.0), vec3f(1.0));
  positions[row * 3u] = q.x;
  positions[row * 3u + 1u] = q.y;
  positions[row * 3u + 2u] = q.z;
}

fn rays() -> u32 { return params.width * params.height; }

@compute @workgroup_size(64) fn init(@builtin(global_invocation_id) id: vec3u) {
  let ray = id.x;
  if (ray >= rays()) { return; }
  let o = params.camera.origin;
  let d = ray_dir(ray);
  let hit = box_hit(o, d);
  state[ray] = vec4f(hit.x, hit.y, select(2.0, 0.0, hit.x < hit.y), 0.0);
  put(ray, o + hit.x * d);
}

@compute @workgroup_size(64) fn march(@builtin(global_invocation_id) id: vec3u) {
  let ray = id.x;
  if (ray >= rays()) { return; }
  var s = state[ray];
  let o = params.camera.origin;
  let d = ray_dir(ray);
  if (s.z == 0.0) {
    let dist = field[ray].x;
    if (dist < params.epsilon) {
      s.z = 1.0;
    } else {
      s.x += dist * 0.9;
      if (s.x > s.y) { s.z = 2.0; }
    }
    state[ray] = s;
  }
  put(ray, o + s.x * d);
}

const TETRA = array<vec3f, 4>(vec3f(1.0, -1.0, -1.0), vec3f(-1.0, -1.0, 1.0), vec3f(-1.0, 1.0, -1.0), vec3f(1.0, 1.0, 1.0));

@compute @workgroup_size(64) fn normal_positions(@builtin(global_invocation_id) id: vec3u) {
  let ray = id.x;
  if (ray >= rays()) { return; }
  let s = state[ray];
  let p = params.camera.origin + s.x * ray_dir(ray);
  for (var i = 0u; i < 4u; i++) { put(ray * 4u + i, p + TETRA[i] * params.normal_step); }
}

@compute @workgroup_size(64) fn shade(@builtin(global_invocation_id) id: vec3u) {
  let ray = id.x;
  if (ray >= rays()) { return; }
  let s = state[ray];
  let d = ray_dir(ray);
  let y = f32(ray / params.width) / f32(params.height);
  var c = mix(params.background.xyz * 1.4, params.background.xyz * 0.6, y);
  if (s.z == 1.0) {
    var g = vec3f(0.0);
    for (var i = 0u; i < 4u; i++) { g += TETRA[i] * field[ray * 4u + i].x; }
    var n = normalize(g + vec3f(1e-12));
    if (dot(n, d) > 0.0) { n = -n; }
    let key = normalize(vec3f(0.6, 0.8, 0.4));
    let fill = normalize(vec3f(-0.7, 0.2, -0.5));
    let base = 0.55 + 0.45 * n;
    let diffuse = 0.2 + 0.7 * max(dot(n, key), 0.0) + 0.25 * max(dot(n, fill), 0.0);
    let h = normalize(key - d);
    let spec = pow(max(dot(n, h), 0.0), 32.0) * 0.35;
    c = base * diffuse + vec3f(spec);
  }
  image[ray] = vec4f(c, 1.0);
}
