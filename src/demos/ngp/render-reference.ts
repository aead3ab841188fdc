/**
 * CPU references (f64) of the lab's two field renderers, for the kernel tests: the sphere tracer
 * (shaders/ngp_app_sdf.wgsl) and the volume ray marcher (shaders/ngp_app_volume.wgsl), written
 * step for step as the kernels compute, with the field given as a function. Cameras are the
 * 16-float blocks of `cameraBlock`.
 */
import type { SphereTraceStyle } from './sphere-tracer.ts';
import type { VolumeStyle } from './volume-renderer.ts';
import type { Vec3 } from './common.ts';

const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const unit = (a: Vec3): Vec3 => scale(a, 1 / Math.hypot(...a));
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
/** World point -> field coordinates in [0,1]^3. */
const toField = (p: Vec3): Vec3 => [clamp01(p[0] + 0.5), clamp01(p[1] + 0.5), clamp01(p[2] + 0.5)];

/** Origin and unit direction of the ray through the centre of pixel `ray` (box_camera.wgsl). */
export function cameraRay(camera: Float32Array, width: number, height: number, ray: number): { o: Vec3; d: Vec3 } {
  const v = (i: number): Vec3 => [camera[i], camera[i + 1], camera[i + 2]];
  const x = ray % width;
  const y = Math.floor(ray / width);
  const nx = ((x + 0.5) / width) * 2 - 1;
  const ny = 1 - ((y + 0.5) / height) * 2;
  return { o: v(0), d: unit(add(add(v(12), scale(v(4), nx)), scale(v(8), ny))) };
}

/** Entry (clamped to 0) and exit distances through [-0.5, 0.5]^3; entry > exit is a miss (zero direction components nudged to 1e-9). */
export function boxHit(o: Vec3, d: Vec3): [number, number] {
  let near = 0;
  let far = Infinity;
  for (let i = 0; i < 3; i++) {
    const di = Math.abs(d[i]) < 1e-9 ? 1e-9 : d[i];
    const a = (-0.5 - o[i]) / di;
    const b = (0.5 - o[i]) / di;
    near = Math.max(near, Math.min(a, b));
    far = Math.min(far, Math.max(a, b));
  }
  return [near, far];
}

const TETRA: Vec3[] = [
  [1, -1, -1],
  [-1, -1, 1],
  [-1, 1, -1],
  [1, 1, 1],
];

export interface SphereTraceResult {
  /** RGBA per ray. */
  image: Float64Array;
  /** 0 still marching, 1 hit, 2 miss, per ray. */
  status: Uint8Array;
}

/** Sphere tracing with `marchSteps` iterations, then the shading of `shade` (sdf takes field coordinates). */
export function sphereTraceReference(sdf: (p: Vec3) => number, camera: Float32Array, width: number, height: number, marchSteps: number, style: SphereTraceStyle): SphereTraceResult {
  const image = new Float64Array(width * height * 4);
  const status = new Uint8Array(width * height);
  const key = unit([0.6, 0.8, 0.4]);
  const fill = unit([-0.7, 0.2, -0.5]);
  for (let ray = 0; ray < width * height; ray++) {
    const { o, d } = cameraRay(camera, width, height, ray);
    const [near, far] = boxHit(o, d);
    let t = near;
    let s = near < far ? 0 : 2;
    for (let k = 0; k < marchSteps && s === 0; k++) {
      const dist = sdf(toField(add(o, scale(d, t))));
      if (dist < style.epsilon) s = 1;
      else {
        t += dist * 0.9;
        if (t > far) s = 2;
      }
    }
    status[ray] = s;
    const y = Math.floor(ray / width) / height;
    let c = style.background.map((b) => b * 1.4 * (1 - y) + b * 0.6 * y) as Vec3;
    if (s === 1) {
      const p = add(o, scale(d, t));
      let g: Vec3 = [0, 0, 0];
      for (const dir of TETRA) g = add(g, scale(dir, sdf(toField(add(p, scale(dir, style.normalStep))))));
      let n = unit(add(g, [1e-12, 1e-12, 1e-12]));
      if (dot(n, d) > 0) n = scale(n, -1);
      const base = add([0.55, 0.55, 0.55], scale(n, 0.45));
      const diffuse = 0.2 + 0.7 * Math.max(dot(n, key), 0) + 0.25 * Math.max(dot(n, fill), 0);
      const h = unit(add(key, scale(d, -1)));
      const spec = Math.max(dot(n, h), 0) ** 32 * 0.35;
      c = add(scale(base, diffuse), [spec, spec, spec]);
    }
    image.set([...c, 1], ray * 4);
  }
  return { image, status };
}

function colourMap(v: number, which: number): Vec3 {
  const x = clamp01(v);
  if (which === 1) return [clamp01(3 * x), clamp01(3 * x - 1), clamp01(3 * x - 2)];
  return [clamp01(2 * x - 1), clamp01(1.5 * x), clamp01(0.5 + x)];
}

/**
 * Front-to-back volume rendering with `samples` midpoint samples across the box diagonal's
 * length, early termination below transmittance 1e-3, and the activations of `style.mode`.
 * `field` takes field coordinates and the direction as d * 0.5 + 0.5 and returns the raw
 * 4 outputs; `occupied` (field coordinates) skips samples as the occupancy grid does.
 */
export function volumeReference(
  field: (p: Vec3, dir01: Vec3) => number[],
  camera: Float32Array,
  width: number,
  height: number,
  samples: number,
  style: VolumeStyle,
  occupied: (p: Vec3) => boolean = () => true,
): Float64Array {
  const image = new Float64Array(width * height * 4);
  const dt = 1.7320508 / samples;
  for (let ray = 0; ray < width * height; ray++) {
    const { o, d } = cameraRay(camera, width, height, ray);
    const [near, far] = boxHit(o, d);
    const dir01 = add(scale(d, 0.5), [0.5, 0.5, 0.5]);
    let rgb: Vec3 = [0, 0, 0];
    let T = 1;
    for (let j = 0; j < samples; j++) {
      if (T < 1e-3) break;
      const t = near + (j + 0.5) * dt;
      if (t > far) break;
      const p = toField(add(o, scale(d, t)));
      if (!occupied(p)) continue;
      const raw = field(p, dir01);
      let sigma: number;
      let c: Vec3;
      if (style.mode === 0) {
        sigma = Math.exp(Math.min(15, Math.max(-15, raw[0])));
        c = [1, 2, 3].map((i) => 1 / (1 + Math.exp(-raw[i]))) as Vec3;
      } else {
        const density = clamp01(raw[0]);
        sigma = density >= style.threshold ? density * style.opacity : 0;
        c = style.colourMap === 0 ? [clamp01(raw[1]), clamp01(raw[2]), clamp01(raw[3])] : colourMap(density, style.colourMap);
      }
      const alpha = 1 - Math.exp(-sigma * dt);
      rgb = add(rgb, scale(c, T * alpha));
      T *= 1 - alpha;
    }
    image.set([...add(rgb, scale(style.background, T)), 1 - T], ray * 4);
  }
  return image;
}
