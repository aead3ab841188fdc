/**
 * antimatter15 .splat (antimatter15/splat `convert.py::process_ply_to_splat`): no header,
 * 32 bytes per Gaussian, little-endian:
 *   float32 x, y, z                 position
 *   float32 sx, sy, sz              scale, already exp'd
 *   uint8   r, g, b, a              (0.5 + SH_C0·f_dc)·255 and sigmoid(opacity)·255
 *   uint8   q0, q1, q2, q3          (q/|q|)·128 + 128, in rot_0..rot_3 = (w, x, y, z) order
 * No view-dependent colour (SH degree 0). Coordinates as in the source PLY (RDF).
 * Reading: f_dc = (c/255 − 0.5)/SH_C0, opacity = a/255, q = (v − 128)/128 normalised.
 * convert.py truncates (numpy astype) where our writer rounds; both decode the same way.
 * Pure TS: no DOM, no GPU.
 */
import { SH_C0, shCoefficients, type GaussianScene } from './gaussian-scene.ts';
import { normaliseQuaternions, PROGRESS_EVERY, type SceneProgress } from './splat-ply.ts';

export const SPLAT_BYTES = 32;

export function readSplat(bytes: Uint8Array, onProgress?: SceneProgress): GaussianScene {
  if (bytes.length === 0) throw new Error('.splat: the file is empty');
  if (bytes.length % SPLAT_BYTES !== 0) {
    throw new Error(`.splat: ${bytes.length} bytes is not a whole number of 32-byte splats (truncated file, or not a .splat: ${bytes.length % SPLAT_BYTES} bytes left over)`);
  }
  const n = bytes.length / SPLAT_BYTES;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const positions = new Float32Array(n * 3);
  const scales = new Float32Array(n * 3);
  const rotations = new Float32Array(n * 4);
  const opacities = new Float32Array(n);
  const sh = new Float32Array(n * 3);
  const names = ['x', 'y', 'z', 'scale_0', 'scale_1', 'scale_2'];
  for (let i = 0; i < n; i++) {
    const o = i * SPLAT_BYTES;
    for (let j = 0; j < 6; j++) {
      const v = view.getFloat32(o + j * 4, true);
      if (v - v !== 0) throw new Error(`.splat: splat ${i} has ${Number.isNaN(v) ? 'NaN' : 'infinite'} ${names[j]}`);
      if (j < 3) positions[i * 3 + j] = v;
      else scales[i * 3 + j - 3] = v;
    }
    for (let c = 0; c < 3; c++) sh[i * 3 + c] = (bytes[o + 24 + c] / 255 - 0.5) / SH_C0;
    opacities[i] = bytes[o + 27] / 255;
    for (let c = 0; c < 4; c++) rotations[i * 4 + c] = (bytes[o + 28 + c] - 128) / 128;
    if (onProgress && (i & (PROGRESS_EVERY - 1)) === PROGRESS_EVERY - 1) onProgress(i / n, 'reading splats');
  }
  normaliseQuaternions(rotations, n);
  onProgress?.(1, 'done');
  return { kind: 'static', count: n, shDegree: 0, shDegreeT: 0, positions, scales, rotations, opacities, sh, source: `.splat, ${n} Gaussians` };
}

export interface SplatWriteOptions {
  /**
   * Order rows as convert.py does: by −(sx·sy·sz)·opacity, large opaque splats first (lets
   * viewers that stream the file show the important splats early). Default true.
   */
  sort?: boolean;
}

const clampByte = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** A static scene as a .splat file (view-dependent SH beyond the DC term is dropped). */
export function writeSplat(scene: GaussianScene, options: SplatWriteOptions = {}): Uint8Array {
  if (scene.kind !== 'static') throw new Error(`writeSplat: a ${scene.kind} scene has no static form; bake it at a time first (bakeStaticAt)`);
  const n = scene.count;
  const k = shCoefficients(scene);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (options.sort ?? true) {
    const key = new Float64Array(n);
    for (let i = 0; i < n; i++) key[i] = -(scene.scales[i * 3] * scene.scales[i * 3 + 1] * scene.scales[i * 3 + 2]) * scene.opacities[i];
    order.sort((a, b) => key[a] - key[b] || a - b);
  }
  const out = new Uint8Array(n * SPLAT_BYTES);
  const view = new DataView(out.buffer);
  for (let r = 0; r < n; r++) {
    const i = order[r];
    const o = r * SPLAT_BYTES;
    for (let j = 0; j < 3; j++) {
      view.setFloat32(o + j * 4, scene.positions[i * 3 + j], true);
      view.setFloat32(o + 12 + j * 4, scene.scales[i * 3 + j], true);
      out[o + 24 + j] = clampByte((0.5 + SH_C0 * scene.sh[i * k * 3 + j]) * 255);
    }
    out[o + 27] = clampByte(scene.opacities[i] * 255);
    const q = scene.rotations;
    const w = q[i * 4];
    const x = q[i * 4 + 1];
    const y = q[i * 4 + 2];
    const z = q[i * 4 + 3];
    const len = Math.sqrt(w * w + x * x + y * y + z * z) || 1;
    out[o + 28] = clampByte((w / len) * 128 + 128);
    out[o + 29] = clampByte((x / len) * 128 + 128);
    out[o + 30] = clampByte((y / len) * 128 + 128);
    out[o + 31] = clampByte((z / len) * 128 + 128);
  }
  return out;
}
