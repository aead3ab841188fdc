/**
 * A synthetic static 3DGS scene for the splat viewer benchmark: N random Gaussians with
 * full SH degree 3, deterministic from a seed, shaped so that an orbiting camera sees
 * nearly all of them: a noisy spherical shell of radius 1 (70%) around a dozen blobs
 * inside it (30%). Written as a standard INRIA binary little-endian .ply (x y z nx ny nz
 * f_dc_0..2 f_rest_0..44 opacity scale_0..2 rot_0..3, 248 bytes per Gaussian) that every
 * peer viewer reads.
 *
 * Gaussian sizes shrink with the count (σ ∝ 1/√N, as in a denser trained scene), so the
 * screen coverage and overdraw stay about the same from 100k to 500k Gaussians.
 */
import type { GaussianScene } from '../../formats/gaussian-scene.ts';
import { writeInriaPly } from '../../formats/splat-ply.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';
import { seededRandom } from '../../nn/random.ts';

/** Radius of the shell; the camera orbits at ORBIT_DISTANCE from its centre (the origin). */
export const SHELL_RADIUS = 1;
export const ORBIT_DISTANCE = 3.2;
export const FOV_Y_DEG = 50;

/** The scene in memory (activations applied, SH coefficient-major with RGB innermost). */
export function syntheticScene(count: number, seed = 1): GaussianScene {
  const rand = seededRandom(seed);
  const normal = () => {
    const u = 1 - rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const k = 16;
  const positions = new Float32Array(count * 3);
  const scales = new Float32Array(count * 3);
  const rotations = new Float32Array(count * 4);
  const opacities = new Float32Array(count);
  const sh = new Float32Array(count * k * 3);
  const blobs = Array.from({ length: 12 }, () => {
    const r = 0.6 * Math.cbrt(rand());
    const [x, y, z] = unitVector(normal);
    return { c: [x * r, y * r, z * r], s: 0.08 + 0.08 * rand(), tint: [normal(), normal(), normal()] };
  });
  const sigma = 0.008 * Math.sqrt(100_000 / Math.max(1, count));
  for (let i = 0; i < count; i++) {
    let tint: number[];
    if (rand() < 0.7) {
      const [x, y, z] = unitVector(normal);
      const r = SHELL_RADIUS + 0.04 * normal();
      positions.set([x * r, y * r, z * r], i * 3);
      // Latitude bands give the shell a pattern to look at.
      tint = [Math.sin(6 * y), Math.cos(5 * x), Math.sin(4 * z)];
    } else {
      const b = blobs[Math.floor(rand() * blobs.length)];
      positions.set([b.c[0] + b.s * normal(), b.c[1] + b.s * normal(), b.c[2] + b.s * normal()], i * 3);
      tint = b.tint;
    }
    for (let a = 0; a < 3; a++) scales[i * 3 + a] = sigma * Math.exp(0.35 * normal());
    const [qw, qx, qy, qz] = unitQuaternion(normal);
    rotations.set([qw, qx, qy, qz], i * 4);
    opacities[i] = 1 / (1 + Math.exp(-(0.8 + 1.2 * normal())));
    const o = i * k * 3;
    for (let c = 0; c < 3; c++) sh[o + c] = 0.9 * tint[c] + 0.3 * normal();
    // Higher bands fall off with the degree, as in trained scenes.
    for (let coef = 1; coef < k; coef++) {
      const falloff = coef < 4 ? 0.12 : coef < 9 ? 0.06 : 0.03;
      for (let c = 0; c < 3; c++) sh[o + coef * 3 + c] = falloff * normal();
    }
  }
  return { kind: 'static', count, shDegree: 3, shDegreeT: 0, positions, scales, rotations, opacities, sh, source: `synthetic benchmark scene (${count} Gaussians, seed ${seed})` };
}

/** The scene as an INRIA .ply file. */
export function syntheticPly(count: number, seed = 1): Uint8Array {
  return writeInriaPly(syntheticScene(count, seed), { comments: [`synthetic splat benchmark scene, seed ${seed}`] });
}

/** A camera on the orbit around the scene: yaw about +y, pitch above the equator (degrees). */
export function orbitPose(yawDeg: number, pitchDeg: number, distance = ORBIT_DISTANCE): CameraPose {
  const yaw = (yawDeg * Math.PI) / 180;
  const pitch = (pitchDeg * Math.PI) / 180;
  const position: [number, number, number] = [distance * Math.cos(pitch) * Math.sin(yaw), distance * Math.sin(pitch), -distance * Math.cos(pitch) * Math.cos(yaw)];
  return { position, target: [0, 0, 0], up: [0, 1, 0], fovYDeg: FOV_Y_DEG };
}

function unitVector(normal: () => number): [number, number, number] {
  for (;;) {
    const v: [number, number, number] = [normal(), normal(), normal()];
    const n = Math.hypot(...v);
    if (n > 1e-6) return [v[0] / n, v[1] / n, v[2] / n];
  }
}

function unitQuaternion(normal: () => number): [number, number, number, number] {
  for (;;) {
    const q: [number, number, number, number] = [normal(), normal(), normal(), normal()];
    const n = Math.hypot(...q);
    if (n > 1e-6) return [q[0] / n, q[1] / n, q[2] / n, q[3] / n];
  }
}
