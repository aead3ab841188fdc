/**
 * The player's built-in dynamic scene, generated (in a worker) from a seed: a tumbling
 * doughnut with sprinkles and four bobbing planets orbiting it above a checkered disc.
 *
 * Every moving surface is made of genuine Yang 4D Gaussians: each is a short-lived
 * surface patch whose 4D covariance carries its velocity (the slice at time t moves by
 * Σ_xt/Σ_tt·(t − μt)) and whose temporal extent fades it in and out. Generations of
 * patches are laid every KEY_DT seconds along the loop, so motion is piecewise linear
 * and smooth; keyframes continue past both ends of the loop with the periodic motion,
 * which makes t = 0 and t = PERIOD render identically (a seamless loop). The ground is
 * static: zero velocity and a huge temporal scale.
 */
import { SH_C0, type GaussianScene } from '../../formats/gaussian-scene.ts';
import { factorYang, movingCovariance } from './four-d.ts';
import { seededRandom } from '../../nn/random.ts';

export const PERIOD = 4;
const KEY_DT = 0.1;
/** Temporal std of a patch relative to the keyframe spacing: adjacent generations overlap smoothly. */
const SIGMA_T = 0.55 * KEY_DT;
/** Extra keyframes on each side of the loop: beyond Yang's 0.05 cull (|Δt| ≤ 2.45σt). */
const PAD_KEYS = 2;

export const DEFAULT_CAMERA = { position: [0, 2.1, 4.8] as [number, number, number], target: [0, 0.75, 0] as [number, number, number], up: [0, 1, 0] as [number, number, number], fovYDeg: 50 };

export interface DefaultSceneOptions {
  seed?: number;
  /** Surface samples of the doughnut per keyframe (the scene grows linearly with it). */
  torusSamples?: number;
  sphereSamples?: number;
  groundSamples?: number;
  onProgress?: (fraction: number) => void;
}

type Vec3 = [number, number, number];

interface Patch {
  position: Vec3;
  velocity: Vec3;
  /** Surface normal: the patch is flat along it. */
  normal: Vec3;
  size: number;
  colour: Vec3;
  opacity: number;
  time: number;
  sigmaT: number;
}

const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const normalise = (a: Vec3): Vec3 => {
  const n = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / n, a[1] / n, a[2] / n];
};

/** A flat 3D covariance (row-major) of a disc of radius `size` facing `normal`. */
function patchCovariance(normal: Vec3, size: number): number[] {
  const thin = size * 0.15;
  const n = normalise(normal);
  const c: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) c.push(size * size * ((i === j ? 1 : 0) - n[i] * n[j]) + thin * thin * n[i] * n[j]);
  return c;
}

/** Rotation of `p` about the x axis by `angle`. */
function rotX(p: Vec3, angle: number): Vec3 {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return [p[0], c * p[1] - s * p[2], s * p[1] + c * p[2]];
}

const HSL = (h: number, s: number, l: number): Vec3 => {
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    return l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return [f(0), f(8), f(4)];
};

export function generateDefaultScene(options: DefaultSceneOptions = {}): GaussianScene {
  const random = seededRandom(options.seed ?? 1);
  const torusSamples = options.torusSamples ?? 4000;
  const sphereSamples = options.sphereSamples ?? 600;
  const groundSamples = options.groundSamples ?? 24000;
  const patches: Patch[] = [];

  // Ground: a static checkered disc.
  for (let i = 0; i < groundSamples; i++) {
    const r = 3 * Math.sqrt(random());
    const a = random() * 2 * Math.PI;
    const x = r * Math.cos(a);
    const z = r * Math.sin(a);
    const checker = (Math.floor(x * 2 + 100) + Math.floor(z * 2 + 100)) % 2;
    const shade = checker ? 0.78 : 0.32;
    const fade = 1 - 0.5 * (r / 3) ** 2;
    patches.push({ position: [x, 0, z], velocity: [0, 0, 0], normal: [0, 1, 0], size: 0.035, colour: [shade * fade, shade * fade, (shade + 0.05) * fade], opacity: 0.95, time: PERIOD / 2, sigmaT: 1e3 });
  }

  // Surface samples in object space, reused by every keyframe so patches line up in time.
  const torus = Array.from({ length: torusSamples }, () => {
    const u = random() * 2 * Math.PI;
    const v = random() * 2 * Math.PI;
    const R = 0.62;
    const rr = 0.27;
    const p: Vec3 = [(R + rr * Math.cos(v)) * Math.cos(u), rr * Math.sin(v), (R + rr * Math.cos(v)) * Math.sin(u)];
    const n: Vec3 = [Math.cos(v) * Math.cos(u), Math.sin(v), Math.cos(v) * Math.sin(u)];
    const frosted = Math.sin(v) > -0.15 + 0.08 * Math.sin(7 * u);
    const sprinkle = frosted && random() < 0.06;
    const colour: Vec3 = sprinkle ? HSL(random(), 0.85, 0.6) : frosted ? [0.95, 0.45, 0.68] : [0.72, 0.47, 0.24];
    return { p, n, colour };
  });
  const sphere = Array.from({ length: sphereSamples }, () => {
    const z = 2 * random() - 1;
    const a = random() * 2 * Math.PI;
    const s = Math.sqrt(1 - z * z);
    return [s * Math.cos(a), z, s * Math.sin(a)] as Vec3;
  });
  const planets = [0, 1, 2, 3].map((i) => ({ hue: i / 4 + 0.05, phase: (i * Math.PI) / 2, radius: 0.2 + 0.04 * i }));

  const torusCentre: Vec3 = [0, 1.05, 0];
  const spin = (2 * Math.PI) / PERIOD;
  const keys = Math.round(PERIOD / KEY_DT);
  for (let k = -PAD_KEYS; k <= keys + PAD_KEYS; k++) {
    const t = k * KEY_DT;
    // Doughnut tumbling about the x axis, once per loop, tilted so its face shows.
    for (const s of torus) {
      const angle = spin * t;
      const p = rotX(s.p, angle + 0.5);
      const n = rotX(s.n, angle + 0.5);
      const position: Vec3 = [p[0] + torusCentre[0], p[1] + torusCentre[1], p[2] + torusCentre[2]];
      const velocity = cross([spin, 0, 0], p);
      const lit = 0.55 + 0.45 * Math.max(0, n[1] * 0.7 + n[2] * 0.5 + 0.3);
      patches.push({ position, velocity, normal: n, size: 0.034, colour: [s.colour[0] * lit, s.colour[1] * lit, s.colour[2] * lit], opacity: 0.97, time: t, sigmaT: SIGMA_T });
    }
    // Planets orbiting and bobbing twice per loop.
    for (const planet of planets) {
      const a = spin * t + planet.phase;
      const bob = 2 * spin;
      const centre: Vec3 = [1.75 * Math.cos(a), 0.55 + 0.28 * Math.sin(bob * t + planet.phase), 1.75 * Math.sin(a)];
      const velocity: Vec3 = [-1.75 * spin * Math.sin(a), 0.28 * bob * Math.cos(bob * t + planet.phase), 1.75 * spin * Math.cos(a)];
      for (const n of sphere) {
        const lit = 0.45 + 0.55 * Math.max(0, n[1] * 0.6 + n[2] * 0.4 + n[0] * 0.2 + 0.2);
        const band = 0.85 + 0.15 * Math.sin(n[1] * 9);
        const c = HSL(planet.hue, 0.75, 0.55);
        patches.push({
          position: [centre[0] + planet.radius * n[0], centre[1] + planet.radius * n[1], centre[2] + planet.radius * n[2]],
          velocity,
          normal: n,
          size: 0.033 * (planet.radius / 0.2),
          colour: [c[0] * lit * band, c[1] * lit * band, c[2] * lit * band],
          opacity: 0.97,
          time: t,
          sigmaT: SIGMA_T,
        });
      }
    }
    options.onProgress?.((0.5 * (k + PAD_KEYS)) / (keys + 2 * PAD_KEYS));
  }
  return toScene(patches, options.onProgress);
}

function toScene(patches: Patch[], onProgress?: (fraction: number) => void): GaussianScene {
  const n = patches.length;
  const positions = new Float32Array(n * 3);
  const scales = new Float32Array(n * 3);
  const rotations = new Float32Array(n * 4);
  const rotationsRight = new Float32Array(n * 4);
  const opacities = new Float32Array(n);
  const sh = new Float32Array(n * 3);
  const times = new Float32Array(n);
  const timeScales = new Float32Array(n);
  patches.forEach((p, i) => {
    const { ql, qr, scales: s, scaleT } = factorYang(movingCovariance(patchCovariance(p.normal, p.size), p.velocity, p.sigmaT));
    positions.set(p.position, i * 3);
    scales.set(s, i * 3);
    rotations.set(ql, i * 4);
    rotationsRight.set(qr, i * 4);
    opacities[i] = p.opacity;
    for (let c = 0; c < 3; c++) sh[i * 3 + c] = (Math.min(1, Math.max(0, p.colour[c])) - 0.5) / SH_C0;
    times[i] = p.time;
    timeScales[i] = scaleT;
    if (onProgress && i % 32768 === 0) onProgress(0.5 + (0.5 * i) / n);
  });
  onProgress?.(1);
  return {
    kind: 'yang4d',
    count: n,
    shDegree: 0,
    shDegreeT: 0,
    positions,
    scales,
    rotations,
    rotationsRight,
    opacities,
    sh,
    times,
    timeScales,
    timeRange: [0, PERIOD],
    source: `built-in dynamic scene (${n.toLocaleString('en-US')} Yang 4D Gaussians, generated from a seed)`,
  };
}
