/**
 * 4D Gaussian scenes as one PLY file: the layout the 4D player writes and reads, so a
 * converted Yang (ICLR 2024) or 4D-Rotor (SIGGRAPH 2024) checkpoint can be hosted as a
 * single file; and baking a 4D scene at a time t into a static 3DGS scene that any 3DGS
 * viewer reads (bakeStaticAt + writeInriaPly).
 *
 * ## The gaussian4d PLY layout, version 1
 *
 *   ply
 *   format binary_little_endian 1.0
 *   comment gaussian4d 1                          layout version
 *   comment gaussian4d kind yang4d                or rotor4d
 *   comment time_range <start> <end>              scene time range; T = end − start
 *   comment sh_degree <d> sh_degree_t <dt>        spatial 0..3, temporal 0..2 (0 for rotor4d)
 *   comment source <free text>                    optional, where it came from
 *   element vertex <N>
 *   property float  x, y, z                       mean (RDF frame, like 3DGS PLY)
 *   property float  t                             time centre μ_t
 *   property double scale_0, scale_1, scale_2     log of the spatial scales
 *   property double scale_t                       log of the time scale
 *   yang4d:  property float rot_0..rot_3          left quaternion (a,b,c,d), scalar first
 *            property float rot_r_0..rot_r_3      right quaternion (p,q,r,s), scalar first
 *   rotor4d: property float rotor_0..rotor_7      raw rotor [a, bxy, bxz, byz, bxw, byw, bzw, pxyzw]
 *   property double opacity                       logit of the opacity
 *   property float  f_dc_0, f_dc_1, f_dc_2        SH coefficient 0 per colour
 *   property float  f_rest_0 .. f_rest_{3(K−1)−1} the other K−1 coefficients, CHANNEL-major
 *                                                 like INRIA 3DGS (all red, then green, blue)
 *   end_header
 *
 * K = (d+1)²·(dt+1); for yang4d coefficient k + 16·j is spatial k of temporal term j
 * (cos(2π·j·(μ_t − t)/T)), as in fudan-zvg's checkpoints. Log-scales and logit opacity are
 * stored as doubles so that scene → file → scene is exact bit for bit (exp(log s) of a
 * float32 s computed in doubles rounds back to s; in floats it would not). Readers find
 * properties by name and accept any scalar type. Quaternions are normalised on reading
 * unless already unit to 1e-6; rotors are never normalised (4D-Rotor renders them raw).
 *
 * A static 3DGS viewer opening this file sees x, y, z, f_dc, opacity, scale_0..2, rot_0..3
 * and draws something, but not the scene at any time: bake it (writeInriaPly(bakeStaticAt(...))).
 *
 * ## Baking at time t (research notes 4dgs.md §1)
 * 4D covariance Σ = A·diag(s²)·Aᵀ: yang4d A = flip(M_l·M_r) from the normalised
 * quaternions; rotor4d A = build_rotation_from_rotor8(raw rotor) (its transpose, as the
 * official code permutes). With dt = t − μ_t and c = Σ[0..2][3]:
 *   mean  = xyz + c/Σ33 · dt,   cov3 = Σ[0..2][0..2] − c·cᵀ/Σ33,
 *   opacity × exp(−½·dt²/Σ33);  dropped when exp(...) ≤ 0.05 (Yang's CUDA cull) or when
 *   ½·dt²/Σ33 ≥ 16 (4D-Rotor's temporal_mask).
 * cov3 is eigen-decomposed (Jacobi, doubles) into scales √λ and a rotation. Yang colour:
 * the temporal terms are folded into the spatial coefficients at t (they only exist for
 * spatial degree 3, as in the CUDA renderer, which evaluates them inside `deg > 2`). One
 * difference is unavoidable: Yang's CUDA path takes the view direction from the unshifted
 * mean; a baked scene can only use the shifted one.
 *
 * Pure TS: no DOM, no GPU.
 */
import { shCoefficients, type GaussianKind, type GaussianScene } from './gaussian-scene.ts';
import { findElement, findProperty, parsePlyHeader, layoutPly, readPlyColumns, requireElement, requireProperties, writePly, type PlyColumn, type PlyFile, type PlyHeader, type PlyWriteProperty } from './ply.ts';
import { numberedProperties, progressRange, PROGRESS_EVERY, type SceneProgress } from './splat-ply.ts';

export { writeInriaPly } from './splat-ply.ts';

export const GAUSSIAN4D_LAYOUT_VERSION = 1;

/** Raw values the writer emits for opacity 0/1 and scale 0: finite, and they activate back exactly. */
const RAW_LIMIT = 1000;

const fail = (msg: string): never => {
  throw new Error(`4D PLY: ${msg}`);
};

interface Layout4d {
  kind: Exclude<GaussianKind, 'static'> | null;
  version: number | null;
  timeRange: [number, number] | null;
  shDegree: number | null;
  shDegreeT: number | null;
  source: string | null;
}

function parseComments(comments: readonly string[]): Layout4d {
  const out: Layout4d = { kind: null, version: null, timeRange: null, shDegree: null, shDegreeT: null, source: null };
  for (const c of comments) {
    const w = c.trim().split(/\s+/);
    if (w[0] === 'gaussian4d' && w[1] === 'kind') {
      if (w[2] !== 'yang4d' && w[2] !== 'rotor4d') fail(`unknown kind '${w[2] ?? ''}' (expected yang4d or rotor4d)`);
      out.kind = w[2] as Layout4d['kind'];
    } else if (w[0] === 'gaussian4d' && w.length === 2) {
      out.version = Number(w[1]);
      if (out.version !== GAUSSIAN4D_LAYOUT_VERSION) fail(`layout version ${w[1]} is not supported (this reader handles ${GAUSSIAN4D_LAYOUT_VERSION})`);
    } else if (w[0] === 'time_range') {
      const a = Number(w[1]);
      const b = Number(w[2]);
      if (w.length !== 3 || !Number.isFinite(a) || !Number.isFinite(b) || !(b > a)) fail(`bad time_range comment '${c}' (expected 'time_range <start> <end>' with end > start)`);
      out.timeRange = [a, b];
    } else if (w[0] === 'sh_degree') {
      const d = Number(w[1]);
      const dt = w[2] === 'sh_degree_t' ? Number(w[3]) : 0;
      if (!Number.isInteger(d) || d < 0 || d > 3 || !Number.isInteger(dt) || dt < 0 || dt > 2) fail(`bad sh_degree comment '${c}'`);
      out.shDegree = d;
      out.shDegreeT = dt;
    } else if (w[0] === 'source') {
      out.source = c.trim().slice('source'.length).trim();
    }
  }
  return out;
}

/** True for a gaussian4d PLY (the comment, or the telltale t + rot_r_0 / rotor_0 properties). */
export function isGaussian4dPly(header: PlyHeader): boolean {
  if (header.comments.some((c) => /^\s*gaussian4d\b/.test(c))) return true;
  const v = findElement(header, 'vertex');
  return !!v && !!findProperty(v, 't') && (!!findProperty(v, 'rot_r_0') || !!findProperty(v, 'rotor_0'));
}

/** (spatial, temporal) SH degrees with (d+1)²(dt+1) = k, or null. */
function factorCoefficients(k: number, kind: Layout4d['kind']): [number, number] | null {
  for (let dt = 0; dt <= (kind === 'yang4d' ? 2 : 0); dt++) {
    for (let d = 0; d <= 3; d++) if ((d + 1) ** 2 * (dt + 1) === k) return [d, dt];
  }
  return null;
}

export function readGaussian4dPly(input: Uint8Array | PlyFile, onProgress?: SceneProgress): GaussianScene {
  const ply = input instanceof Uint8Array ? layoutPly(parsePlyHeader(input), input) : input;
  const meta = parseComments(ply.comments);
  const vertex = requireElement(ply, 'vertex');
  const found = meta.kind ?? (findProperty(vertex, 'rot_r_0') ? 'yang4d' : findProperty(vertex, 'rotor_0') ? 'rotor4d' : null);
  if (!found) fail("no 'comment gaussian4d kind yang4d|rotor4d' and no rot_r_*/rotor_* properties");
  const kind = found as 'yang4d' | 'rotor4d';
  if (!meta.timeRange) fail("no 'comment time_range <start> <end>' (the temporal SH and the player need the scene's time range)");
  const base = ['x', 'y', 'z', 't', 'scale_0', 'scale_1', 'scale_2', 'scale_t', 'opacity', 'f_dc_0', 'f_dc_1', 'f_dc_2'];
  const rot = kind === 'yang4d' ? ['rot_0', 'rot_1', 'rot_2', 'rot_3', 'rot_r_0', 'rot_r_1', 'rot_r_2', 'rot_r_3'] : Array.from({ length: 8 }, (_, i) => `rotor_${i}`);
  requireProperties(vertex, [...base, ...rot], `${kind} PLY`);
  const rest = numberedProperties(vertex, 'f_rest_');
  if (rest % 3 !== 0) fail(`${rest} f_rest_* properties is not a multiple of 3`);
  const k = 1 + rest / 3;
  const degrees = factorCoefficients(k, kind);
  if (!degrees) fail(`${k} SH coefficients per colour fit no ${kind === 'yang4d' ? '(d+1)²·(dt+1) with d ≤ 3, dt ≤ 2' : '(d+1)² with d ≤ 3'}`);
  const [d, dt] = degrees as [number, number];
  if (meta.shDegree !== null && (meta.shDegree !== d || meta.shDegreeT !== dt)) {
    fail(`comment says SH degree ${meta.shDegree}/${meta.shDegreeT} but there are ${k} coefficients per colour (degree ${d}/${dt})`);
  }

  const n = vertex.count;
  const positions = new Float32Array(n * 3);
  const times = new Float32Array(n);
  const logScales = new Float64Array(n * 4);
  const rawOpacity = new Float64Array(n);
  const rotations = new Float32Array(kind === 'yang4d' ? n * 4 : 0);
  const rotationsRight = new Float32Array(kind === 'yang4d' ? n * 4 : 0);
  const rotors = new Float32Array(kind === 'rotor4d' ? n * 8 : 0);
  const sh = new Float32Array(n * k * 3);
  const columns: PlyColumn[] = [
    { property: 'x', out: positions, stride: 3, offset: 0 },
    { property: 'y', out: positions, stride: 3, offset: 1 },
    { property: 'z', out: positions, stride: 3, offset: 2 },
    { property: 't', out: times },
    { property: 'scale_0', out: logScales, stride: 4, offset: 0 },
    { property: 'scale_1', out: logScales, stride: 4, offset: 1 },
    { property: 'scale_2', out: logScales, stride: 4, offset: 2 },
    { property: 'scale_t', out: logScales, stride: 4, offset: 3 },
    { property: 'opacity', out: rawOpacity },
  ];
  if (kind === 'yang4d') {
    for (let c = 0; c < 4; c++) columns.push({ property: `rot_${c}`, out: rotations, stride: 4, offset: c }, { property: `rot_r_${c}`, out: rotationsRight, stride: 4, offset: c });
  } else {
    for (let c = 0; c < 8; c++) columns.push({ property: `rotor_${c}`, out: rotors, stride: 8, offset: c });
  }
  for (let c = 0; c < 3; c++) columns.push({ property: `f_dc_${c}`, out: sh, stride: k * 3, offset: c });
  for (let j = 0; j < rest; j++) {
    const c = Math.floor(j / (k - 1));
    const coef = 1 + (j % (k - 1));
    columns.push({ property: `f_rest_${j}`, out: sh, stride: k * 3, offset: coef * 3 + c });
  }
  readPlyColumns(ply, vertex, columns, { onRows: progressRange(onProgress, 0, 0.9, 'reading 4D Gaussians', n) });

  const scales = new Float32Array(n * 3);
  const timeScales = new Float32Array(n);
  const opacities = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 4; c++) {
      const s = Math.fround(Math.exp(logScales[i * 4 + c]));
      if (s === Infinity) fail(`Gaussian ${i}: ${c < 3 ? `scale_${c}` : 'scale_t'} = ${logScales[i * 4 + c]} overflows float32 after exp`);
      if (c < 3) scales[i * 3 + c] = s;
      else timeScales[i] = s;
    }
    opacities[i] = 1 / (1 + Math.exp(-rawOpacity[i]));
  }
  if (kind === 'yang4d') {
    normaliseUnlessUnit(rotations, n);
    normaliseUnlessUnit(rotationsRight, n);
  }
  onProgress?.(1, 'done');
  const scene: GaussianScene = {
    kind,
    count: n,
    shDegree: d,
    shDegreeT: dt,
    positions,
    scales,
    rotations,
    opacities,
    sh,
    times,
    timeScales,
    timeRange: meta.timeRange as [number, number],
    source: meta.source ?? `4D PLY (${kind}), ${n} Gaussians, SH degree ${d}${kind === 'yang4d' ? `/${dt}` : ''}`,
  };
  if (kind === 'yang4d') scene.rotationsRight = rotationsRight;
  else scene.rotors = rotors;
  return scene;
}

/** Normalises quaternions that are not already unit length (to 1e-6), so unit ones stay bit-exact. */
function normaliseUnlessUnit(q: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    const len = Math.hypot(q[o], q[o + 1], q[o + 2], q[o + 3]);
    if (Math.abs(len - 1) <= 1e-6) continue;
    if (len > 0 && len < Infinity) for (let c = 0; c < 4; c++) q[o + c] /= len;
    else q.set([1, 0, 0, 0], o);
  }
}

export interface Gaussian4dPlyOptions {
  /** Written as 'comment source ...' (one line). */
  source?: string;
  comments?: readonly string[];
  onProgress?: SceneProgress;
}

/** A yang4d or rotor4d scene in the gaussian4d PLY layout (see the top of this file). */
export function writeGaussian4dPly(scene: GaussianScene, options: Gaussian4dPlyOptions = {}): Uint8Array {
  if (scene.kind === 'static') throw new Error('writeGaussian4dPly: a static scene belongs in a 3DGS PLY (writeInriaPly)');
  const { kind } = scene;
  const n = scene.count;
  const times = scene.times;
  const timeScales = scene.timeScales;
  const range = scene.timeRange;
  if (!times || !timeScales || !range) throw new Error('writeGaussian4dPly: the scene has no times, time scales or time range');
  if (kind === 'yang4d' && !scene.rotationsRight) throw new Error('writeGaussian4dPly: a yang4d scene needs rotationsRight');
  if (kind === 'rotor4d' && !scene.rotors) throw new Error('writeGaussian4dPly: a rotor4d scene needs rotors');
  const k = shCoefficients(scene);
  const logScales = new Float64Array(n * 4);
  const rawOpacity = new Float64Array(n);
  const rawLog = (s: number) => (s > 0 ? Math.log(s) : -RAW_LIMIT);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) logScales[i * 4 + c] = rawLog(scene.scales[i * 3 + c]);
    logScales[i * 4 + 3] = rawLog(timeScales[i]);
    const o = scene.opacities[i];
    rawOpacity[i] = o <= 0 ? -RAW_LIMIT : o >= 1 ? RAW_LIMIT : Math.log(o / (1 - o));
  }
  const f = (name: string, data: ArrayLike<number>, stride = 1, offset = 0): PlyWriteProperty => ({ name, type: 'float32', data, stride, offset });
  const dbl = (name: string, data: ArrayLike<number>, stride = 1, offset = 0): PlyWriteProperty => ({ name, type: 'float64', data, stride, offset });
  const props: PlyWriteProperty[] = [f('x', scene.positions, 3, 0), f('y', scene.positions, 3, 1), f('z', scene.positions, 3, 2), f('t', times)];
  for (let c = 0; c < 3; c++) props.push(dbl(`scale_${c}`, logScales, 4, c));
  props.push(dbl('scale_t', logScales, 4, 3));
  if (kind === 'yang4d') {
    for (let c = 0; c < 4; c++) props.push(f(`rot_${c}`, scene.rotations, 4, c));
    for (let c = 0; c < 4; c++) props.push(f(`rot_r_${c}`, scene.rotationsRight!, 4, c));
  } else {
    for (let c = 0; c < 8; c++) props.push(f(`rotor_${c}`, scene.rotors!, 8, c));
  }
  props.push(dbl('opacity', rawOpacity));
  for (let c = 0; c < 3; c++) props.push(f(`f_dc_${c}`, scene.sh, k * 3, c));
  for (let c = 0; c < 3; c++) for (let coef = 1; coef < k; coef++) props.push(f(`f_rest_${c * (k - 1) + coef - 1}`, scene.sh, k * 3, coef * 3 + c));
  const comments = [
    `gaussian4d ${GAUSSIAN4D_LAYOUT_VERSION}`,
    `gaussian4d kind ${kind}`,
    `time_range ${range[0]} ${range[1]}`,
    `sh_degree ${scene.shDegree} sh_degree_t ${scene.shDegreeT}`,
  ];
  if (options.source) comments.push(`source ${options.source.replace(/[\r\n]+/g, ' ')}`);
  comments.push(...(options.comments ?? []));
  return writePly([{ name: 'vertex', count: n, properties: props }], { comments, onRows: progressRange(options.onProgress, 0, 1, 'writing 4D PLY', n) });
}

// ---- baking -------------------------------------------------------------------------------

/** Yang's A (row-major 4×4) from normalised left (a,b,c,d) and right (p,q,r,s) quaternions. */
export function yangRotation4(ql: ArrayLike<number>, qr: ArrayLike<number>, out: Float64Array = new Float64Array(16)): Float64Array {
  const nl = Math.hypot(ql[0], ql[1], ql[2], ql[3]) || 1;
  const nr = Math.hypot(qr[0], qr[1], qr[2], qr[3]) || 1;
  const a = ql[0] / nl;
  const b = ql[1] / nl;
  const c = ql[2] / nl;
  const d = ql[3] / nl;
  const p = qr[0] / nr;
  const q = qr[1] / nr;
  const r = qr[2] / nr;
  const s = qr[3] / nr;
  out[0] = a * p - b * q - c * r + d * s;
  out[1] = a * q + b * p + c * s + d * r;
  out[2] = -a * r + b * s - c * p + d * q;
  out[3] = -a * s - b * r + c * q + d * p;
  out[4] = -a * q - b * p + c * s + d * r;
  out[5] = a * p - b * q + c * r - d * s;
  out[6] = a * s + b * r + c * q + d * p;
  out[7] = -a * r + b * s + c * p - d * q;
  out[8] = a * r + b * s + c * p + d * q;
  out[9] = -a * s + b * r + c * q - d * p;
  out[10] = a * p + b * q - c * r - d * s;
  out[11] = -a * q + b * p - c * s + d * r;
  out[12] = a * s - b * r + c * q - d * p;
  out[13] = a * r + b * s - c * p - d * q;
  out[14] = a * q - b * p - c * s + d * r;
  out[15] = a * p + b * q + c * r + d * s;
  return out;
}

/**
 * 4D-Rotor's rotation (row-major 4×4) from the 8 raw rotor components, exactly as
 * build_rotation_from_rotor8 (including its final transpose); not normalised.
 */
export function rotorRotation4(rotor: ArrayLike<number>, out: Float64Array = new Float64Array(16)): Float64Array {
  const [s, bxy, bxz, byz, bxw, byw, bzw, p] = [rotor[0], rotor[1], rotor[2], rotor[3], rotor[4], rotor[5], rotor[6], rotor[7]];
  const s2 = s * s;
  const bxy2 = bxy * bxy;
  const bxz2 = bxz * bxz;
  const bxw2 = bxw * bxw;
  const byz2 = byz * byz;
  const byw2 = byw * byw;
  const bzw2 = bzw * bzw;
  const p2 = p * p;
  // r[i][j] of the official code; the result is r transposed: out[j][i] = r[i][j].
  const set = (i: number, j: number, v: number) => {
    out[j * 4 + i] = v;
  };
  set(0, 0, -bxy2 - bxz2 - bxw2 + byz2 + byw2 + bzw2 - p2 + s2);
  set(1, 0, 2 * (bxy * s - bxz * byz - bxw * byw + bzw * p));
  set(2, 0, 2 * (bxy * byz + bxz * s - bxw * bzw - byw * p));
  set(3, 0, 2 * (bxy * byw + bxz * bzw + bxw * s + byz * p));
  set(0, 1, -2 * (bxy * s + bxz * byz + bxw * byw + bzw * p));
  set(1, 1, -bxy2 + bxz2 + bxw2 - byz2 - byw2 + bzw2 - p2 + s2);
  set(2, 1, 2 * (-bxy * bxz + bxw * p + byz * s - byw * bzw));
  set(3, 1, 2 * (-bxy * bxw - bxz * p + byz * bzw + byw * s));
  set(0, 2, 2 * (bxy * byz - bxz * s - bxw * bzw + byw * p));
  set(1, 2, -2 * (bxy * bxz + bxw * p + byw * bzw + byz * s));
  set(2, 2, bxy2 - bxz2 + bxw2 - byz2 + byw2 - bzw2 - p2 + s2);
  set(3, 2, 2 * (bxy * p - bxz * bxw - byw * byz + bzw * s));
  set(0, 3, 2 * (bxy * byw + bxz * bzw - bxw * s - byz * p));
  set(1, 3, 2 * (-bxy * bxw + bxz * p + byz * bzw - byw * s));
  set(2, 3, -2 * (bxy * p + bxz * bxw + byz * byw + bzw * s));
  set(3, 3, bxy2 + bxz2 - bxw2 + byz2 - byw2 - bzw2 - p2 + s2);
  return out;
}

/** Σ = A·diag(s²)·Aᵀ (row-major 4×4, symmetric) for Gaussian i of a 4D scene. */
export function covariance4(scene: GaussianScene, i: number, out: Float64Array = new Float64Array(16), rot: Float64Array = new Float64Array(16)): Float64Array {
  if (scene.kind === 'yang4d') yangRotation4(scene.rotations.subarray(i * 4, i * 4 + 4), scene.rotationsRight!.subarray(i * 4, i * 4 + 4), rot);
  else if (scene.kind === 'rotor4d') rotorRotation4(scene.rotors!.subarray(i * 8, i * 8 + 8), rot);
  else throw new Error('covariance4: not a 4D scene');
  const s0 = scene.scales[i * 3] ** 2;
  const s1 = scene.scales[i * 3 + 1] ** 2;
  const s2 = scene.scales[i * 3 + 2] ** 2;
  const s3 = scene.timeScales![i] ** 2;
  for (let r = 0; r < 4; r++) {
    for (let c = r; c < 4; c++) {
      const v = rot[r * 4] * rot[c * 4] * s0 + rot[r * 4 + 1] * rot[c * 4 + 1] * s1 + rot[r * 4 + 2] * rot[c * 4 + 2] * s2 + rot[r * 4 + 3] * rot[c * 4 + 3] * s3;
      out[r * 4 + c] = v;
      out[c * 4 + r] = v;
    }
  }
  return out;
}

/** Yang's temporal cull: keep when the marginal exp(−½dt²/Σ33) > 0.05. */
export const YANG_MARGINAL_CULL = 0.05;
/** 4D-Rotor's temporal_mask: keep when ½dt²/Σ33 < 16. */
export const ROTOR_TSHIFT_CULL = 16;

/**
 * The static 3DGS scene a 4D scene shows at time t: conditional means and covariances,
 * opacity × temporal marginal, culled Gaussians dropped, Yang's temporal SH folded in. A
 * static scene is returned as is.
 */
export function bakeStaticAt(scene: GaussianScene, t: number, onProgress?: SceneProgress): GaussianScene {
  if (scene.kind === 'static') return scene;
  if (!Number.isFinite(t)) throw new Error(`bakeStaticAt: time ${t} is not a finite number`);
  const n = scene.count;
  const times = scene.times!;
  const yang = scene.kind === 'yang4d';
  const k4 = shCoefficients(scene);
  const d = scene.shDegree;
  const k3 = (d + 1) ** 2;
  const foldTemporal = yang && d === 3 && scene.shDegreeT > 0;
  const T = scene.timeRange ? scene.timeRange[1] - scene.timeRange[0] : 1;

  // First pass: which survive (so the outputs are allocated at their final size).
  const sigma = new Float64Array(16);
  const rot = new Float64Array(16);
  const keep = new Uint8Array(n);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    covariance4(scene, i, sigma, rot);
    const ct = sigma[15];
    const dt = t - times[i];
    if (!(ct > 0) || !Number.isFinite(ct)) continue;
    const tshift = (0.5 * dt * dt) / ct;
    const alive = yang ? Math.exp(-tshift) > YANG_MARGINAL_CULL : tshift < ROTOR_TSHIFT_CULL;
    if (alive) {
      keep[i] = 1;
      kept++;
    }
  }
  const positions = new Float32Array(kept * 3);
  const scales = new Float32Array(kept * 3);
  const rotations = new Float32Array(kept * 4);
  const opacities = new Float32Array(kept);
  const sh = new Float32Array(kept * k3 * 3);
  const cov = new Float64Array(9);
  const vec = new Float64Array(9);
  const val = new Float64Array(3);
  const quat = new Float64Array(4);
  let o = 0;
  for (let i = 0; i < n; i++) {
    if (!keep[i]) continue;
    covariance4(scene, i, sigma, rot);
    const ct = sigma[15];
    const dt = t - times[i];
    const c0 = sigma[3];
    const c1 = sigma[7];
    const c2 = sigma[11];
    positions[o * 3] = scene.positions[i * 3] + (c0 / ct) * dt;
    positions[o * 3 + 1] = scene.positions[i * 3 + 1] + (c1 / ct) * dt;
    positions[o * 3 + 2] = scene.positions[i * 3 + 2] + (c2 / ct) * dt;
    const cc = [c0, c1, c2];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) cov[r * 3 + c] = sigma[r * 4 + c] - (cc[r] * cc[c]) / ct;
    symmetricEigen3(cov, val, vec);
    for (let c = 0; c < 3; c++) scales[o * 3 + c] = Math.sqrt(Math.max(0, val[c]));
    rotationToQuaternion(vec, quat);
    for (let c = 0; c < 4; c++) rotations[o * 4 + c] = quat[c];
    opacities[o] = scene.opacities[i] * Math.exp((-0.5 * dt * dt) / ct);
    // Colour.
    const src = i * k4 * 3;
    const dst = o * k3 * 3;
    for (let j = 0; j < k3 * 3; j++) sh[dst + j] = scene.sh[src + j];
    if (foldTemporal) {
      const dirT = times[i] - t;
      for (let j = 1; j <= scene.shDegreeT; j++) {
        const w = Math.cos((2 * Math.PI * j * dirT) / T);
        for (let m = 0; m < 16 * 3; m++) sh[dst + m] += w * scene.sh[src + 16 * 3 * j + m];
      }
    }
    o++;
    if (onProgress && (i & (PROGRESS_EVERY - 1)) === PROGRESS_EVERY - 1) onProgress(i / n, 'baking');
  }
  onProgress?.(1, 'done');
  return {
    kind: 'static',
    count: kept,
    shDegree: d,
    shDegreeT: 0,
    positions,
    scales,
    rotations,
    opacities,
    sh,
    source: `${scene.source}, baked at t=${t} (${kept} of ${n} Gaussians visible)`,
  };
}

/**
 * Eigen-decomposition of a symmetric 3×3 matrix (row-major) by cyclic Jacobi rotations:
 * values[j] with unit eigenvector in column j of `vectors` (row-major), a proper rotation
 * (det +1), so a = V·diag(values)·Vᵀ.
 */
export function symmetricEigen3(a: Float64Array, values: Float64Array, vectors: Float64Array): void {
  const m = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]];
  const v = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = m[1] * m[1] + m[2] * m[2] + m[5] * m[5];
    const scale = m[0] * m[0] + m[4] * m[4] + m[8] * m[8];
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < 2; p++) {
      for (let q = p + 1; q < 3; q++) {
        const apq = m[p * 3 + q];
        if (apq === 0) continue;
        const app = m[p * 3 + p];
        const aqq = m[q * 3 + q];
        const theta = (aqq - app) / (2 * apq);
        const tt = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(tt * tt + 1);
        const s = tt * c;
        for (let k = 0; k < 3; k++) {
          const mkp = m[k * 3 + p];
          const mkq = m[k * 3 + q];
          m[k * 3 + p] = c * mkp - s * mkq;
          m[k * 3 + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < 3; k++) {
          const mpk = m[p * 3 + k];
          const mqk = m[q * 3 + k];
          m[p * 3 + k] = c * mpk - s * mqk;
          m[q * 3 + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < 3; k++) {
          const vkp = v[k * 3 + p];
          const vkq = v[k * 3 + q];
          v[k * 3 + p] = c * vkp - s * vkq;
          v[k * 3 + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  values[0] = m[0];
  values[1] = m[4];
  values[2] = m[8];
  // Jacobi rotations keep det(V) = +1.
  for (let i = 0; i < 9; i++) vectors[i] = v[i];
}

/** Unit quaternion (w, x, y, z) of a rotation matrix (row-major), INRIA build_rotation convention. */
export function rotationToQuaternion(r: Float64Array, out: Float64Array): void {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]];
  const trace = m00 + m11 + m22;
  let w: number;
  let x: number;
  let y: number;
  let z: number;
  if (trace > 0) {
    const s = 2 * Math.sqrt(trace + 1);
    w = 0.25 * s;
    x = (m21 - m12) / s;
    y = (m02 - m20) / s;
    z = (m10 - m01) / s;
  } else if (m00 > m11 && m00 > m22) {
    const s = 2 * Math.sqrt(1 + m00 - m11 - m22);
    w = (m21 - m12) / s;
    x = 0.25 * s;
    y = (m01 + m10) / s;
    z = (m02 + m20) / s;
  } else if (m11 > m22) {
    const s = 2 * Math.sqrt(1 + m11 - m00 - m22);
    w = (m02 - m20) / s;
    x = (m01 + m10) / s;
    y = 0.25 * s;
    z = (m12 + m21) / s;
  } else {
    const s = 2 * Math.sqrt(1 + m22 - m00 - m11);
    w = (m10 - m01) / s;
    x = (m02 + m20) / s;
    y = (m12 + m21) / s;
    z = 0.25 * s;
  }
  const len = Math.hypot(w, x, y, z) || 1;
  const sign = w < 0 ? -1 : 1;
  out[0] = (sign * w) / len;
  out[1] = (sign * x) / len;
  out[2] = (sign * y) / len;
  out[3] = (sign * z) / len;
}
