/**
 * 3D Gaussian splatting scenes in PLY files (research notes 4dgs.md §4):
 *
 * - INRIA 3DGS (graphdeco-inria/gaussian-splatting `save_ply`), one `vertex` element of
 *   floats: x y z [nx ny nz] f_dc_0..2 f_rest_0..(3(K−1)−1) opacity scale_0..2 rot_0..3.
 *   SH degree 0–3 follows from the f_rest count (0, 9, 24, 45). f_rest is CHANNEL-major
 *   (f_rest_0..K−2 = red coefficients 1..K−1, then green, then blue) and is transposed
 *   here into the GaussianScene layout (coefficient-major, RGB innermost). Activations:
 *   scale → exp, opacity → sigmoid, rot (w,x,y,z) → normalise. Properties are found by
 *   name, in any order and of any scalar type.
 * - nerfstudio / gsplat exports use the same names; with SH degree 0 some write colours
 *   instead of f_dc: `red green blue` (uchar) or a single `uchar colors` property followed
 *   by THREE bytes per row (a bug of nerfstudio's write_ply, which declares one byte and
 *   writes the (N,3) array's row). Both are read: f_dc = (c/255 − 0.5)/SH_C0.
 * - PlayCanvas / SuperSplat compressed PLY: `element chunk` (one per 256 splats) of 12 or
 *   18 floats (min/max position, min/max log-scale, optionally min/max colour), `element
 *   vertex` of four uint32 (packed_position 11/10/11 bits and packed_scale 11/10/11 as
 *   unorms between the chunk's min and max, packed_rotation smallest-three (2-bit index of
 *   the largest of w,x,y,z then three 10-bit unorms of (v/√2 + 0.5) in w,x,y,z order
 *   skipping the largest), packed_color 8888 (RGB unorms between the chunk's min/max
 *   colour, A = opacity after sigmoid), and an optional `element sh` of uchar f_rest_*
 *   (channel-major like INRIA) decoding as v·8/255 − 4. Semantics from playcanvas/engine
 *   `gsplat-compressed-data.js` and `framework/parsers/ply.js`.
 *
 * Coordinates are passed through: 3DGS PLY files are in the COLMAP/OpenCV frame (x right,
 * y down, z forward: "RDF"), which is the frame of every GaussianScene.
 *
 * Also here: writeInriaPly (a static scene as an INRIA .ply other 3DGS viewers read) and
 * small helpers the other scene readers share. Pure TS: no DOM, no GPU.
 */
import { SH_C0, shCoefficients, type GaussianScene } from './gaussian-scene.ts';
import {
  computeRowLayout,
  findElement,
  findProperty,
  layoutPly,
  parsePlyHeader,
  PLY_TYPE_SIZE,
  readPlyColumns,
  requireElement,
  requireProperties,
  writePly,
  type PlyColumn,
  type PlyElement,
  type PlyFile,
  type PlyHeader,
  type PlyWriteProperty,
} from './ply.ts';

/** Progress: fraction in [0, 1] and what runs. */
export type SceneProgress = (fraction: number, message?: string) => void;

/** Gaussians between progress reports. */
export const PROGRESS_EVERY = 65536;

/** Raw values a writer emits for opacity 0 or 1 and scale 0 (finite, activate back to ~0/1). */
const LOGIT_LIMIT = 40;
const LOG_SCALE_MIN = -80;

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** logit(o), clamped to ±40 so opacities 0 and 1 stay finite. */
export function logit(o: number): number {
  const v = Math.log(o / (1 - o));
  return v > LOGIT_LIMIT ? LOGIT_LIMIT : v < -LOGIT_LIMIT ? -LOGIT_LIMIT : Number.isNaN(v) ? -LOGIT_LIMIT : v;
}

/** log(s), clamped below so a zero scale stays finite. */
export function logScale(s: number): number {
  const v = Math.log(s);
  return v < LOG_SCALE_MIN || Number.isNaN(v) ? LOG_SCALE_MIN : v;
}

/**
 * Runs an allocation whose size a header claimed, turning the engine's RangeError (out of
 * memory, length beyond the typed-array limit) into an Error that says what was asked.
 */
export function allocate<T>(make: () => T, what: string): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof RangeError) throw new Error(`${what} needs more memory than this page can allocate (${e.message})`);
    throw e;
  }
}

/** Normalises N quaternions (w,x,y,z) in place; an all-zero one becomes the identity. */
export function normaliseQuaternions(q: Float32Array, count: number, start = 0): void {
  for (let i = start; i < count; i++) {
    const o = i * 4;
    const w = q[o];
    const x = q[o + 1];
    const y = q[o + 2];
    const z = q[o + 3];
    const n = Math.sqrt(w * w + x * x + y * y + z * z);
    if (n > 0 && n < Infinity) {
      q[o] = w / n;
      q[o + 1] = x / n;
      q[o + 2] = y / n;
      q[o + 3] = z / n;
    } else {
      q[o] = 1;
      q[o + 1] = 0;
      q[o + 2] = 0;
      q[o + 3] = 0;
    }
  }
}

/** exp of raw log-scales in place; a value that overflows float32 is an error naming it. */
export function expScales(values: Float32Array, what: string, per = 3): void {
  for (let i = 0; i < values.length; i++) {
    const v = Math.fround(Math.exp(values[i]));
    if (v === Infinity) throw new Error(`${what}: Gaussian ${Math.floor(i / per)} has log-scale ${values[i]}, whose exp overflows float32`);
    values[i] = v;
  }
}

/** sigmoid of raw opacities in place. */
export function sigmoidInPlace(values: Float32Array): void {
  for (let i = 0; i < values.length; i++) values[i] = 1 / (1 + Math.exp(-values[i]));
}

/** SH degree (0..3) of a per-channel coefficient count (1, 4, 9, 16), or -1. */
export function shDegreeOf(k: number): number {
  return k === 1 ? 0 : k === 4 ? 1 : k === 9 ? 2 : k === 16 ? 3 : -1;
}

/** Reports progress through a range of the whole job. */
export function progressRange(onProgress: SceneProgress | undefined, from: number, to: number, message: string, total: number): ((done: number) => void) | undefined {
  if (!onProgress) return undefined;
  return (done: number) => onProgress(from + ((to - from) * done) / Math.max(1, total), message);
}

/** The indices 0..n-1 of `prefix<i>` properties, checking there are no gaps. */
export function numberedProperties(element: PlyElement, prefix: string): number {
  const re = new RegExp(`^${prefix}(\\d+)$`);
  const seen = new Set<number>();
  for (const p of element.properties) {
    const m = re.exec(p.name);
    if (m) seen.add(Number(m[1]));
  }
  for (let i = 0; i < seen.size; i++) {
    if (!seen.has(i)) throw new Error(`PLY: element '${element.name}' has ${seen.size} ${prefix}* properties but no '${prefix}${i}'`);
  }
  return seen.size;
}

// ---- reading ----------------------------------------------------------------------------

const INRIA_REQUIRED = ['x', 'y', 'z', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
const CHUNK_BASE = ['min_x', 'min_y', 'min_z', 'max_x', 'max_y', 'max_z', 'min_scale_x', 'min_scale_y', 'min_scale_z', 'max_scale_x', 'max_scale_y', 'max_scale_z'];
const CHUNK_COLOUR = ['min_r', 'min_g', 'min_b', 'max_r', 'max_g', 'max_b'];
const PACKED = ['packed_position', 'packed_rotation', 'packed_scale', 'packed_color'];

/** PlayCanvas compressed PLY: a chunk element and a vertex element of packed_* properties. */
export function isCompressedPly(header: PlyHeader): boolean {
  const chunk = findElement(header, 'chunk');
  const vertex = findElement(header, 'vertex');
  return !!chunk && !!vertex && PACKED.some((n) => findProperty(vertex, n));
}

/**
 * Parses the header, fixing nerfstudio's SH-0 'colors' quirk (one uchar declared, three
 * bytes written per row) unless the file size fits the header as declared, then lays the
 * body out.
 */
export function parseSplatPly(bytes: Uint8Array): PlyFile {
  const header = parsePlyHeader(bytes);
  const vertex = findElement(header, 'vertex');
  const colors = vertex && findProperty(vertex, 'colors');
  if (vertex && colors && !colors.countType && colors.type === 'uint8' && !findProperty(vertex, 'f_dc_0') && header.elements.length === 1 && vertex.rowBytes >= 0) {
    // A file whose size fits one byte per row is taken as written; anything else (the
    // quirk, or a truncated quirky file, which layout then reports) as three.
    const body = bytes.length - header.headerBytes;
    if (body !== vertex.count * vertex.rowBytes) {
      const at = vertex.properties.indexOf(colors);
      vertex.properties.splice(at, 1, ...[0, 1, 2].map((c) => ({ name: `colors_${c}`, type: 'uint8' as const, offset: -1 })));
      computeRowLayout(vertex);
    }
  }
  return layoutPly(header, bytes);
}

/** Any 3DGS PLY: compressed (PlayCanvas) or INRIA/nerfstudio. */
export function readSplatPly(input: Uint8Array | PlyFile, onProgress?: SceneProgress): GaussianScene {
  const ply = input instanceof Uint8Array ? parseSplatPly(input) : input;
  return isCompressedPly(ply) ? readCompressedPly(ply, onProgress) : readInriaPly(ply, onProgress);
}

/** INRIA 3DGS PLY (and the nerfstudio variants). */
export function readInriaPly(ply: PlyFile, onProgress?: SceneProgress): GaussianScene {
  const vertex = requireElement(ply, 'vertex');
  requireProperties(vertex, INRIA_REQUIRED, '3DGS PLY');
  const n = vertex.count;
  const rest = numberedProperties(vertex, 'f_rest_');
  const degree = [0, 9, 24, 45].indexOf(rest);
  if (degree < 0) throw new Error(`PLY: ${rest} f_rest_* properties; a 3DGS PLY has 0, 9, 24 or 45 (SH degree 0-3)`);
  const k = (degree + 1) ** 2;

  // Colour: f_dc, else red/green/blue (or nerfstudio's colors), as 0..255 or 0..1.
  let colour: string[];
  let colourNote = '';
  if (['f_dc_0', 'f_dc_1', 'f_dc_2'].every((p) => findProperty(vertex, p))) colour = ['f_dc_0', 'f_dc_1', 'f_dc_2'];
  else if (['red', 'green', 'blue'].every((p) => findProperty(vertex, p))) colour = ['red', 'green', 'blue'];
  else if (['colors_0', 'colors_1', 'colors_2'].every((p) => findProperty(vertex, p))) colour = ['colors_0', 'colors_1', 'colors_2'];
  else {
    requireProperties(vertex, ['f_dc_0', 'f_dc_1', 'f_dc_2'], '3DGS PLY');
    colour = [];
  }
  const colourIsSh = colour[0] === 'f_dc_0';
  if (!colourIsSh) colourNote = `, colour from ${colour[0] === 'red' ? 'red/green/blue' : 'colors'}`;

  const positions = new Float32Array(n * 3);
  const scales = new Float32Array(n * 3);
  const rotations = new Float32Array(n * 4);
  const opacities = new Float32Array(n);
  const sh = new Float32Array(n * k * 3);
  const columns: PlyColumn[] = [
    { property: 'x', out: positions, stride: 3, offset: 0 },
    { property: 'y', out: positions, stride: 3, offset: 1 },
    { property: 'z', out: positions, stride: 3, offset: 2 },
    { property: 'opacity', out: opacities },
  ];
  for (let c = 0; c < 3; c++) columns.push({ property: `scale_${c}`, out: scales, stride: 3, offset: c });
  for (let c = 0; c < 4; c++) columns.push({ property: `rot_${c}`, out: rotations, stride: 4, offset: c });
  for (let c = 0; c < 3; c++) columns.push({ property: colour[c], out: sh, stride: k * 3, offset: c });
  // Channel-major f_rest_j = channel ⌊j/(K−1)⌋, coefficient 1 + j mod (K−1).
  for (let j = 0; j < rest; j++) {
    const c = Math.floor(j / (k - 1));
    const coef = 1 + (j % (k - 1));
    columns.push({ property: `f_rest_${j}`, out: sh, stride: k * 3, offset: coef * 3 + c });
  }
  readPlyColumns(ply, vertex, columns, { onRows: progressRange(onProgress, 0, 0.9, 'reading Gaussians', n) });

  if (!colourIsSh) {
    const isByte = findProperty(vertex, colour[0])!.type === 'uint8';
    const s = isByte ? 1 / 255 : 1;
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) sh[i * k * 3 + c] = (sh[i * k * 3 + c] * s - 0.5) / SH_C0;
  }
  expScales(scales, 'PLY');
  sigmoidInPlace(opacities);
  normaliseQuaternions(rotations, n);
  onProgress?.(1, 'done');
  const nerf = ply.comments.some((c) => /nerfstudio|gsplat/i.test(c)) ? ' (nerfstudio)' : '';
  return {
    kind: 'static',
    count: n,
    shDegree: degree,
    shDegreeT: 0,
    positions,
    scales,
    rotations,
    opacities,
    sh,
    source: `3DGS PLY${nerf}, ${n} Gaussians, SH degree ${degree}${colourNote}`,
  };
}

/** PlayCanvas / SuperSplat compressed PLY. */
export function readCompressedPly(ply: PlyFile, onProgress?: SceneProgress): GaussianScene {
  const chunk = requireElement(ply, 'chunk');
  const vertex = requireElement(ply, 'vertex');
  requireProperties(chunk, CHUNK_BASE, 'compressed PLY');
  requireProperties(vertex, PACKED, 'compressed PLY');
  const hasColour = CHUNK_COLOUR.every((p) => findProperty(chunk, p));
  const n = vertex.count;
  const chunks = Math.ceil(n / 256);
  if (chunk.count !== chunks) throw new Error(`PLY: compressed PLY has ${chunk.count} chunks for ${n} splats; expected ${chunks} (one per 256)`);
  for (const p of PACKED) {
    const prop = findProperty(vertex, p)!;
    if (prop.countType || (prop.type !== 'uint32' && prop.type !== 'int32')) throw new Error(`PLY: compressed PLY property '${p}' must be a 32-bit integer, not ${prop.countType ? 'a list' : prop.type}`);
  }
  const chunkData = new Float32Array(chunks * 18);
  const chunkNames = hasColour ? [...CHUNK_BASE, ...CHUNK_COLOUR] : CHUNK_BASE;
  readPlyColumns(
    ply,
    chunk,
    chunkNames.map((name, j) => ({ property: name, out: chunkData, stride: 18, offset: j })),
  );
  const packed = new Uint32Array(n * 4);
  readPlyColumns(
    ply,
    vertex,
    PACKED.map((name, j) => ({ property: name, out: packed, stride: 4, offset: j })),
    { onRows: progressRange(onProgress, 0, 0.4, 'reading packed splats', n) },
  );

  // Optional SH element.
  const shElement = findElement(ply, 'sh');
  let degree = 0;
  let rest = 0;
  if (shElement) {
    rest = numberedProperties(shElement, 'f_rest_');
    degree = [0, 9, 24, 45].indexOf(rest);
    if (degree < 0) throw new Error(`PLY: compressed PLY 'sh' element has ${rest} f_rest_* properties; expected 9, 24 or 45`);
    if (shElement.count !== n) throw new Error(`PLY: compressed PLY 'sh' element has ${shElement.count} rows for ${n} splats`);
  }
  const k = (degree + 1) ** 2;
  const sh = new Float32Array(n * k * 3);
  if (shElement && rest > 0) {
    const columns: PlyColumn[] = [];
    for (let j = 0; j < rest; j++) {
      const c = Math.floor(j / (k - 1));
      const coef = 1 + (j % (k - 1));
      columns.push({ property: `f_rest_${j}`, out: sh, stride: k * 3, offset: coef * 3 + c });
    }
    readPlyColumns(ply, shElement, columns, { onRows: progressRange(onProgress, 0.4, 0.7, 'reading SH', n) });
    for (let i = 0; i < n; i++) {
      const o = i * k * 3;
      for (let j = 3; j < k * 3; j++) sh[o + j] = sh[o + j] * (8 / 255) - 4;
    }
  }

  const positions = new Float32Array(n * 3);
  const scales = new Float32Array(n * 3);
  const rotations = new Float32Array(n * 4);
  const opacities = new Float32Array(n);
  const lerp = (a: number, b: number, t: number) => a * (1 - t) + b * t;
  for (let i = 0; i < n; i++) {
    const ci = (i >>> 8) * 18;
    const pp = packed[i * 4];
    const pr = packed[i * 4 + 1];
    const ps = packed[i * 4 + 2];
    const pc = packed[i * 4 + 3];
    positions[i * 3] = lerp(chunkData[ci], chunkData[ci + 3], (pp >>> 21) / 2047);
    positions[i * 3 + 1] = lerp(chunkData[ci + 1], chunkData[ci + 4], ((pp >>> 11) & 1023) / 1023);
    positions[i * 3 + 2] = lerp(chunkData[ci + 2], chunkData[ci + 5], (pp & 2047) / 2047);
    scales[i * 3] = Math.exp(lerp(chunkData[ci + 6], chunkData[ci + 9], (ps >>> 21) / 2047));
    scales[i * 3 + 1] = Math.exp(lerp(chunkData[ci + 7], chunkData[ci + 10], ((ps >>> 11) & 1023) / 1023));
    scales[i * 3 + 2] = Math.exp(lerp(chunkData[ci + 8], chunkData[ci + 11], (ps & 2047) / 2047));
    // Smallest three: the largest of (w,x,y,z) is implied, the others in order.
    const a = (((pr >>> 20) & 1023) / 1023 - 0.5) * Math.SQRT2;
    const b = (((pr >>> 10) & 1023) / 1023 - 0.5) * Math.SQRT2;
    const c = ((pr & 1023) / 1023 - 0.5) * Math.SQRT2;
    const m = Math.sqrt(Math.max(0, 1 - (a * a + b * b + c * c)));
    const largest = pr >>> 30;
    const q = i * 4;
    rotations[q + largest] = m;
    let slot = 0;
    for (let j = 0; j < 4; j++) {
      if (j === largest) continue;
      rotations[q + j] = slot === 0 ? a : slot === 1 ? b : c;
      slot++;
    }
    const r = (pc >>> 24) / 255;
    const g = ((pc >>> 16) & 255) / 255;
    const bl = ((pc >>> 8) & 255) / 255;
    const o = i * k * 3;
    sh[o] = ((hasColour ? lerp(chunkData[ci + 12], chunkData[ci + 15], r) : r) - 0.5) / SH_C0;
    sh[o + 1] = ((hasColour ? lerp(chunkData[ci + 13], chunkData[ci + 16], g) : g) - 0.5) / SH_C0;
    sh[o + 2] = ((hasColour ? lerp(chunkData[ci + 14], chunkData[ci + 17], bl) : bl) - 0.5) / SH_C0;
    opacities[i] = (pc & 255) / 255;
    if (onProgress && (i & (PROGRESS_EVERY - 1)) === PROGRESS_EVERY - 1) onProgress(0.7 + (0.3 * i) / n, 'unpacking splats');
  }
  for (let i = 0; i < scales.length; i++) {
    if (scales[i] === Infinity) throw new Error(`PLY: compressed PLY splat ${Math.floor(i / 3)} has a log-scale whose exp overflows float32`);
  }
  normaliseQuaternions(rotations, n);
  onProgress?.(1, 'done');
  return {
    kind: 'static',
    count: n,
    shDegree: degree,
    shDegreeT: 0,
    positions,
    scales,
    rotations,
    opacities,
    sh,
    source: `compressed PLY (PlayCanvas), ${n} Gaussians, SH degree ${degree}`,
  };
}

// ---- writing ----------------------------------------------------------------------------

export interface InriaPlyOptions {
  comments?: readonly string[];
  onProgress?: SceneProgress;
}

/**
 * A static scene as an INRIA 3DGS .ply (little-endian floats, the property order of
 * graphdeco-inria `save_ply`, zero normals, channel-major f_rest, raw log-scales and
 * logit opacities). 4D scenes must be baked first (bakeStaticAt in gaussian4d-ply.ts).
 */
export function writeInriaPly(scene: GaussianScene, options: InriaPlyOptions = {}): Uint8Array {
  if (scene.kind !== 'static') throw new Error(`writeInriaPly: a ${scene.kind} scene has no static 3DGS form; bake it at a time first (bakeStaticAt)`);
  if (scene.shDegreeT !== 0) throw new Error('writeInriaPly: a static scene cannot have temporal SH');
  const n = scene.count;
  const k = shCoefficients(scene);
  const logScales = new Float32Array(n * 3);
  for (let i = 0; i < n * 3; i++) logScales[i] = logScale(scene.scales[i]);
  const rawOpacity = new Float32Array(n);
  for (let i = 0; i < n; i++) rawOpacity[i] = logit(scene.opacities[i]);
  const zero = [0];
  const f = (name: string, data: ArrayLike<number>, stride = 1, offset = 0): PlyWriteProperty => ({ name, type: 'float32', data, stride, offset });
  const props: PlyWriteProperty[] = [
    f('x', scene.positions, 3, 0),
    f('y', scene.positions, 3, 1),
    f('z', scene.positions, 3, 2),
    f('nx', zero, 0),
    f('ny', zero, 0),
    f('nz', zero, 0),
  ];
  for (let c = 0; c < 3; c++) props.push(f(`f_dc_${c}`, scene.sh, k * 3, c));
  for (let c = 0; c < 3; c++) for (let coef = 1; coef < k; coef++) props.push(f(`f_rest_${c * (k - 1) + coef - 1}`, scene.sh, k * 3, coef * 3 + c));
  props.push(f('opacity', rawOpacity));
  for (let c = 0; c < 3; c++) props.push(f(`scale_${c}`, logScales, 3, c));
  for (let c = 0; c < 4; c++) props.push(f(`rot_${c}`, scene.rotations, 4, c));
  return writePly([{ name: 'vertex', count: n, properties: props }], {
    comments: options.comments,
    onRows: progressRange(options.onProgress, 0, 1, 'writing PLY', n),
  });
}

/** Bytes per Gaussian of an INRIA PLY at an SH degree (for size estimates). */
export function inriaPlyRowBytes(shDegree: number): number {
  return (14 + 3 * (shDegree + 1) ** 2) * PLY_TYPE_SIZE.float32;
}
