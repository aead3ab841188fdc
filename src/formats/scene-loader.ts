/**
 * One entry point for every Gaussian scene file the 4D player opens: sniffs the bytes
 * (and, where content cannot tell, the name) and dispatches to the reader.
 *
 *   .ply    gaussian4d layout (gaussian4d-ply.ts), PlayCanvas compressed or INRIA/nerfstudio 3DGS (splat-ply.ts)
 *   .splat  antimatter15 32-byte records (splat.ts)
 *   .spz    Niantic SPZ v1-4, gzip or zstd (spz.ts)
 *   .pth / .ckpt / .pt  PyTorch checkpoints through the restricted reader (torch.ts):
 *     - Yang et al. `chkpnt*.pth` = torch.save((gaussians.capture(), iteration)): the
 *       19-entry 4D capture tuple (or the 12-entry 3D one → static), or the
 *       create_from_pth dict {xyz, t, scaling, ...};
 *     - 4D-Rotor `step-*.ckpt` (nerfstudio): pipeline['_model.gauss_params.{xyz, t,
 *       scales_xyz, scales_t, quats1, quats2, features_dc, features_rest, opacities}'];
 *     - nerfstudio splatfacto 3DGS `step-*.ckpt`: gauss_params.{means, scales, quats, ...} → static.
 *     Raw tensors get the official activations (exp scales, sigmoid opacity, normalised
 *     quaternions; rotors raw). Checkpoints do not store the scene's time range (it is a
 *     training config, time_duration); it is guessed from the time centres: [0, 1] when
 *     they lie within 3 (D-NeRF), [0, 10] within 15 (Neural 3D Video at 30 fps), else their
 *     span. The guess is named in `source`.
 *
 * Every result passes validateScene; every failure is an Error that starts with the file
 * name and says what is wrong. Pure TS: no DOM, no GPU.
 */
import { FILE_KIND_LABELS, sniffFile, SNIFF_BYTES } from './sniff.ts';
import { validateScene, type GaussianScene } from './gaussian-scene.ts';
import { isGaussian4dPly, readGaussian4dPly } from './gaussian4d-ply.ts';
import { layoutPly, parsePlyHeader } from './ply.ts';
import { readSplat } from './splat.ts';
import { readSplatPly, shDegreeOf, sigmoid, type SceneProgress } from './splat-ply.ts';
import { readSpz } from './spz.ts';
import { findTensors, loadTorchCheckpoint, pyNumber, Tensor } from './torch.ts';

export type { SceneProgress } from './splat-ply.ts';

const CHECKPOINT_EXTENSIONS = new Set(['pth', 'pt', 'ckpt', 'tar', 'bin']);
const LEGACY_TORCH_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** Reads a scene file of any supported kind. `name` picks formats content cannot tell and prefixes errors. */
export function decodeGaussianScene(bytes: Uint8Array, name: string, onProgress?: SceneProgress): GaussianScene {
  let scene: GaussianScene;
  try {
    scene = dispatch(bytes, name, onProgress);
    validateScene(scene);
  } catch (e) {
    let msg = e instanceof Error ? e.message : String(e);
    if (e instanceof RangeError && /allocation failed|Invalid typed array length|Invalid array buffer length/.test(msg)) {
      msg = `the scene needs more memory than this page can allocate (${msg})`;
    }
    throw new Error(msg.startsWith(`${name}: `) ? msg : `${name}: ${msg}`, { cause: e });
  }
  scene.source = `${name}: ${scene.source}`;
  return scene;
}

function extension(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

function dispatch(bytes: Uint8Array, name: string, onProgress?: SceneProgress): GaussianScene {
  if (bytes.length === 0) throw new Error('the file is empty');
  const kind = sniffFile(bytes.subarray(0, SNIFF_BYTES), name, bytes.length);
  const ext = extension(name);
  switch (kind) {
    case 'ply': {
      const header = parsePlyHeader(bytes);
      return isGaussian4dPly(header) ? readGaussian4dPly(layoutPly(header, bytes), onProgress) : readSplatPly(bytes, onProgress);
    }
    case 'splat':
      return readSplat(bytes, onProgress);
    case 'spz':
    case 'gzip':
      return readSpz(bytes, onProgress);
    case 'zip':
      return sceneFromCheckpoint(bytes, onProgress);
    case 'unknown':
      if (ext === 'ply') return readSplatPly(bytes, onProgress); // says why it is not a PLY
      if (ext === 'splat') return readSplat(bytes, onProgress);
      if (ext === 'spz') return readSpz(bytes, onProgress);
      if (LEGACY_TORCH_MAGIC.every((b, i) => bytes[i] === b) || CHECKPOINT_EXTENSIONS.has(ext)) return sceneFromCheckpoint(bytes, onProgress);
      throw new Error('not a Gaussian scene this player reads (.ply, .splat, .spz, or a PyTorch checkpoint .pth/.ckpt)');
    default:
      throw new Error(`this is a ${FILE_KIND_LABELS[kind]}, not a Gaussian scene (.ply, .splat, .spz, or a PyTorch checkpoint .pth/.ckpt)`);
  }
}

// ---- PyTorch checkpoints --------------------------------------------------------------------

/** The Gaussian scene in a torch.save checkpoint (Yang, 4D-Rotor or nerfstudio splatfacto). */
export function sceneFromCheckpoint(bytes: Uint8Array, onProgress?: SceneProgress): GaussianScene {
  onProgress?.(0, 'reading checkpoint');
  const root = loadTorchCheckpoint(bytes).root;
  onProgress?.(0.3, 'converting Gaussians');
  if (Array.isArray(root)) {
    const capture = root.length === 2 && Array.isArray(root[0]) ? root[0] : root;
    if (capture.length === 19 || capture.length === 12) return yangFromCapture(capture, onProgress);
  }
  if (root instanceof Map && root.get('xyz') instanceof Tensor && root.get('rotation_r') instanceof Tensor) {
    const g = (k: string) => root.get(k);
    return yang4d({ xyz: g('xyz'), dc: g('features_dc'), rest: g('features_rest'), scaling: g('scaling'), rotation: g('rotation'), opacity: g('opacity'), t: g('t'), scalingT: g('scaling_t'), rotationR: g('rotation_r'), activeDegree: undefined }, 'Yang 4DGS dict', onProgress);
  }
  const tensors = findTensors(root);
  const keys = [...tensors.keys()];
  const pick = (suffix: string): string | undefined => keys.find((k) => k.startsWith('pipeline.') && k.endsWith(suffix)) ?? keys.find((k) => k.endsWith(suffix));
  const rotorKey = pick('gauss_params.quats1');
  if (rotorKey) return rotorFromParams(tensors, rotorKey.slice(0, -'quats1'.length), onProgress);
  const staticKey = pick('gauss_params.means');
  if (staticKey) return splatfactoFromParams(tensors, staticKey.slice(0, -'means'.length), onProgress);
  const top = root instanceof Map ? [...root.keys()].slice(0, 12).map(String).join(', ') : Array.isArray(root) ? `a tuple of ${root.length}` : typeof root;
  throw new Error(
    `this PyTorch checkpoint holds no Gaussian scene this player knows (expected a Yang 4DGS chkpnt*.pth capture tuple, ` +
      `or a 4D-Rotor / nerfstudio step-*.ckpt with gauss_params; top level: ${top})`,
  );
}

/** A float tensor's values (a copy), checking its shape; `shape` entries of -1 match anything. */
function floats(v: unknown, what: string, shape: number[]): Float32Array {
  if (!(v instanceof Tensor)) throw new Error(`checkpoint entry '${what}' is not a tensor`);
  const s = v.shape;
  if (s.length !== shape.length || shape.some((d, i) => d >= 0 && d !== s[i])) {
    throw new Error(`tensor '${what}' has shape [${s.join(', ')}], expected [${shape.map((d) => (d < 0 ? 'N' : d)).join(', ')}]`);
  }
  const data = v.toFloat32();
  const out = data === v.data ? data.slice() : data;
  const per = s[0] > 0 ? out.length / s[0] : 1;
  for (let i = 0; i < out.length; i++) {
    if (out[i] - out[i] !== 0) throw new Error(`tensor '${what}' holds ${Number.isNaN(out[i]) ? 'NaN' : 'an infinite value'} for Gaussian ${Math.floor(i / per)}`);
  }
  return out;
}

function rowsOf(v: unknown, what: string): number {
  if (!(v instanceof Tensor) || v.shape.length < 1) throw new Error(`checkpoint entry '${what}' is not a tensor with a row per Gaussian`);
  return v.shape[0];
}

function activate(scales: Float32Array, opacities: Float32Array, what: string): void {
  for (let i = 0; i < scales.length; i++) {
    const s = Math.fround(Math.exp(scales[i]));
    if (s === Infinity) throw new Error(`${what}: log-scale ${scales[i]} of Gaussian ${Math.floor(i / 3)} overflows float32 after exp`);
    scales[i] = s;
  }
  for (let i = 0; i < opacities.length; i++) opacities[i] = sigmoid(opacities[i]);
}

function normalise(q: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    const len = Math.hypot(q[o], q[o + 1], q[o + 2], q[o + 3]);
    if (len > 0) for (let c = 0; c < 4; c++) q[o + c] /= len;
    else q.set([1, 0, 0, 0], o);
  }
}

/** SH of [N,1,3] (or [N,3]) dc and [N,R,3] rest tensors → N·K·3, coefficient-major, RGB innermost. */
function shOf(dc: unknown, rest: unknown, n: number, what: string): { sh: Float32Array; k: number } {
  const dcShape = dc instanceof Tensor && dc.shape.length === 2 ? [n, 3] : [n, 1, 3];
  const d = floats(dc, `${what}features_dc`, dcShape);
  const r = floats(rest, `${what}features_rest`, [n, -1, 3]);
  const k = 1 + (rest as Tensor).shape[1];
  const sh = new Float32Array(n * k * 3);
  for (let i = 0; i < n; i++) {
    sh.set(d.subarray(i * 3, i * 3 + 3), i * k * 3);
    sh.set(r.subarray(i * (k - 1) * 3, (i + 1) * (k - 1) * 3), i * k * 3 + 3);
  }
  return { sh, k };
}

/** [0, 1] (D-NeRF), [0, 10] (N3V), else the span of the time centres. */
function guessTimeRange(times: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of times) {
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  if (!(hi >= lo)) return [0, 1];
  if (lo >= -3 && hi <= 3) return [0, 1];
  if (lo >= -15 && hi <= 15) return [0, 10];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

interface YangTensors {
  xyz: unknown;
  dc: unknown;
  rest: unknown;
  scaling: unknown;
  rotation: unknown;
  opacity: unknown;
  t: unknown;
  scalingT: unknown;
  rotationR: unknown;
  activeDegree: number | undefined;
}

function yangFromCapture(c: unknown[], onProgress?: SceneProgress): GaussianScene {
  if (c.length === 12) {
    // gaussian_dim 3: (active_sh_degree, xyz, dc, rest, scaling, rotation, opacity, ...): plain 3DGS.
    const n = rowsOf(c[1], '_xyz');
    const positions = floats(c[1], '_xyz', [n, 3]);
    const scales = floats(c[4], '_scaling', [n, 3]);
    const rotations = floats(c[5], '_rotation', [n, 4]);
    const opacities = floats(c[6], '_opacity', [n, 1]);
    const { sh, k } = shOf(c[2], c[3], n, '_');
    const degree = shDegreeOf(k);
    if (degree < 0) throw new Error(`${k} SH coefficients per colour is not a 3D SH degree 0-3`);
    activate(scales, opacities, '3DGS checkpoint');
    normalise(rotations, n);
    onProgress?.(1, 'done');
    return { kind: 'static', count: n, shDegree: degree, shDegreeT: 0, positions, scales, rotations, opacities, sh, source: `3DGS checkpoint, ${n} Gaussians, SH degree ${degree}` };
  }
  if (c[16] === false) throw new Error('this Yang 4DGS checkpoint was trained with rot_4d = False (a time scale used as a variance, no 4D rotation), which the player does not render');
  return yang4d(
    { xyz: c[1], dc: c[2], rest: c[3], scaling: c[4], rotation: c[5], opacity: c[6], t: c[13], scalingT: c[14], rotationR: c[15], activeDegree: pyNumber(c[0]) },
    'Yang 4DGS checkpoint',
    onProgress,
  );
}

function yang4d(y: YangTensors, label: string, onProgress?: SceneProgress): GaussianScene {
  const n = rowsOf(y.xyz, '_xyz');
  const positions = floats(y.xyz, '_xyz', [n, 3]);
  const scales = floats(y.scaling, '_scaling', [n, 3]);
  const rotations = floats(y.rotation, '_rotation', [n, 4]);
  const opacities = floats(y.opacity, '_opacity', [n, 1]);
  const times = floats(y.t, '_t', [n, 1]);
  const timeScales = floats(y.scalingT, '_scaling_t', [n, 1]);
  const rotationsRight = floats(y.rotationR, '_rotation_r', [n, 4]);
  const { sh, k } = shOf(y.dc, y.rest, n, '_');
  // K = (d+1)²(dt+1) with the spherindrical basis; sh_channels_4d = [1, 6, 16, 33] (models
  // trained without eval_shfs_4d) is a different basis.
  let degrees: [number, number] | null = null;
  for (let dt = 0; dt <= 2 && !degrees; dt++) for (let d = 0; d <= 3; d++) if ((d + 1) ** 2 * (dt + 1) === k) degrees = [d, dt];
  if (!degrees || (k === 16 && y.activeDegree === 2)) {
    throw new Error(`${k} colour coefficients per channel is not the spherindrical SH layout (d+1)²·(dt+1) the player renders (a model trained without eval_shfs_4d?)`);
  }
  activate(scales, opacities, label);
  for (let i = 0; i < n; i++) {
    const s = Math.fround(Math.exp(timeScales[i]));
    if (s === Infinity) throw new Error(`${label}: time log-scale ${timeScales[i]} of Gaussian ${i} overflows float32 after exp`);
    timeScales[i] = s;
  }
  normalise(rotations, n);
  normalise(rotationsRight, n);
  const timeRange = guessTimeRange(times);
  onProgress?.(1, 'done');
  return {
    kind: 'yang4d',
    count: n,
    shDegree: degrees[0],
    shDegreeT: degrees[1],
    positions,
    scales,
    rotations,
    opacities,
    sh,
    times,
    timeScales,
    rotationsRight,
    timeRange,
    source: `${label}, ${n} Gaussians, SH degree ${degrees[0]}/${degrees[1]}, time range [${timeRange[0]}, ${timeRange[1]}] (guessed)`,
  };
}

function rotorFromParams(tensors: Map<string, Tensor>, prefix: string, onProgress?: SceneProgress): GaussianScene {
  const g = (k: string) => tensors.get(prefix + k);
  const n = rowsOf(g('xyz'), `${prefix}xyz`);
  const positions = floats(g('xyz'), `${prefix}xyz`, [n, 3]);
  const times = floats(g('t'), `${prefix}t`, [n, 1]);
  const scales = floats(g('scales_xyz'), `${prefix}scales_xyz`, [n, 3]);
  const timeScales = floats(g('scales_t'), `${prefix}scales_t`, [n, 1]);
  const q1 = floats(g('quats1'), `${prefix}quats1`, [n, 4]);
  const q2 = floats(g('quats2'), `${prefix}quats2`, [n, 4]);
  const opacities = floats(g('opacities'), `${prefix}opacities`, [n, 1]);
  const { sh, k } = shOf(g('features_dc'), g('features_rest'), n, prefix);
  const degree = shDegreeOf(k);
  if (degree < 0) throw new Error(`${k} SH coefficients per colour is not an SH degree 0-3`);
  activate(scales, opacities, '4D-Rotor checkpoint');
  for (let i = 0; i < n; i++) {
    const s = Math.fround(Math.exp(timeScales[i]));
    if (s === Infinity) throw new Error(`4D-Rotor checkpoint: time log-scale ${timeScales[i]} of Gaussian ${i} overflows float32 after exp`);
    timeScales[i] = s;
  }
  const rotors = new Float32Array(n * 8);
  for (let i = 0; i < n; i++) {
    rotors.set(q1.subarray(i * 4, i * 4 + 4), i * 8);
    rotors.set(q2.subarray(i * 4, i * 4 + 4), i * 8 + 4);
  }
  const timeRange = guessTimeRange(times);
  onProgress?.(1, 'done');
  return {
    kind: 'rotor4d',
    count: n,
    shDegree: degree,
    shDegreeT: 0,
    positions,
    scales,
    rotations: new Float32Array(0),
    opacities,
    sh,
    times,
    timeScales,
    rotors,
    timeRange,
    source: `4D-Rotor checkpoint, ${n} Gaussians, SH degree ${degree}, time range [${timeRange[0]}, ${timeRange[1]}] (guessed)`,
  };
}

function splatfactoFromParams(tensors: Map<string, Tensor>, prefix: string, onProgress?: SceneProgress): GaussianScene {
  const g = (k: string) => tensors.get(prefix + k);
  const n = rowsOf(g('means'), `${prefix}means`);
  const positions = floats(g('means'), `${prefix}means`, [n, 3]);
  const scales = floats(g('scales'), `${prefix}scales`, [n, 3]);
  const rotations = floats(g('quats'), `${prefix}quats`, [n, 4]);
  const opacities = floats(g('opacities'), `${prefix}opacities`, [n, 1]);
  const { sh, k } = shOf(g('features_dc'), g('features_rest'), n, prefix);
  const degree = shDegreeOf(k);
  if (degree < 0) throw new Error(`${k} SH coefficients per colour is not an SH degree 0-3`);
  activate(scales, opacities, 'splatfacto checkpoint');
  normalise(rotations, n);
  onProgress?.(1, 'done');
  return { kind: 'static', count: n, shDegree: degree, shDegreeT: 0, positions, scales, rotations, opacities, sh, source: `nerfstudio splatfacto checkpoint, ${n} Gaussians, SH degree ${degree}` };
}
