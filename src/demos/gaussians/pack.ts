/**
 * The GPU layout of a scene, packed on the CPU once per upload: geometry as GEOMETRY_FLOATS
 * per Gaussian (see splat_project.wgsl) and SH coefficients as f16 pairs in u32 words.
 * Pure: the scene workers run it so a big upload does not stall the page.
 */
import { covariance4 } from '../../formats/gaussian4d-ply.ts';
import { shCoefficients, type GaussianScene } from '../../formats/gaussian-scene.ts';
import { float32ToFloat16 } from '../../formats/tensor.ts';

/** Floats of geometry per Gaussian on the GPU (position, opacity, covariance, μt). */
export const GEOMETRY_FLOATS = 16;

export interface PackedScene {
  geometry: Float32Array<ArrayBuffer>;
  /** f16 SH, each Gaussian's starting on a u32 word (see shStrideWords), plus one word of padding. */
  sh: Uint16Array<ArrayBuffer>;
}

/**
 * u32 words per Gaussian of f16 SH: its 3·K halves rounded up to whole words, so every
 * Gaussian starts on a word and an even coefficient pair is exactly three words (the
 * projection reads SH a pair at a time, without per-coefficient parity branches).
 */
export function shStrideWords(scene: GaussianScene): number {
  return Math.ceil((shCoefficients(scene) * 3) / 2);
}

/** u32 words of f16 SH a scene needs on the GPU (the last pair read may run one word over). */
export function shWords(scene: GaussianScene): number {
  return scene.count * shStrideWords(scene) + 1;
}

export function packScene(scene: GaussianScene): PackedScene {
  const sh = new Uint16Array(shWords(scene) * 2);
  const halves = float32ToFloat16(scene.sh);
  const per = shCoefficients(scene) * 3;
  const stride = shStrideWords(scene) * 2;
  if (stride === per) sh.set(halves);
  else for (let i = 0; i < scene.count; i++) sh.set(halves.subarray(i * per, (i + 1) * per), i * stride);
  return { geometry: packGeometry(scene), sh };
}

/** Packs a scene's geometry as GEOMETRY_FLOATS per Gaussian (see splat_project.wgsl). */
export function packGeometry(scene: GaussianScene): Float32Array<ArrayBuffer> {
  const n = scene.count;
  const out = new Float32Array(n * GEOMETRY_FLOATS);
  const sigma = new Float64Array(16);
  const rot = new Float64Array(16);
  for (let i = 0; i < n; i++) {
    const o = i * GEOMETRY_FLOATS;
    out[o] = scene.positions[i * 3];
    out[o + 1] = scene.positions[i * 3 + 1];
    out[o + 2] = scene.positions[i * 3 + 2];
    out[o + 3] = scene.opacities[i];
    if (scene.kind === 'static') {
      const c = staticCovariance(scene, i);
      out.set(c, o + 4);
    } else {
      covariance4(scene, i, sigma, rot);
      out[o + 4] = scene.times![i];
      out[o + 5] = sigma[0]; // xx
      out[o + 6] = sigma[1]; // xy
      out[o + 7] = sigma[2]; // xz
      out[o + 8] = sigma[3]; // xt
      out[o + 9] = sigma[5]; // yy
      out[o + 10] = sigma[6]; // yz
      out[o + 11] = sigma[7]; // yt
      out[o + 12] = sigma[10]; // zz
      out[o + 13] = sigma[11]; // zt
      out[o + 14] = sigma[15]; // tt
    }
  }
  return out;
}

/** Σ = R S Sᵀ Rᵀ of a static Gaussian as (xx, xy, xz, yy, yz, zz). */
export function staticCovariance(scene: GaussianScene, i: number): number[] {
  const [w, x, y, z] = scene.rotations.subarray(i * 4, i * 4 + 4);
  const r = [
    [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
  ];
  const s = [scene.scales[i * 3] ** 2, scene.scales[i * 3 + 1] ** 2, scene.scales[i * 3 + 2] ** 2];
  const c = (a: number, b: number) => r[a][0] * r[b][0] * s[0] + r[a][1] * r[b][1] * s[1] + r[a][2] * r[b][2] * s[2];
  return [c(0, 0), c(0, 1), c(0, 2), c(1, 1), c(1, 2), c(2, 2)];
}
