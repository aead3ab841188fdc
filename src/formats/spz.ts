/**
 * Niantic SPZ reader, versions 1-4 (nianticlabs/spz @ 21715c3: README "File Format",
 * src/cc/load-spz.cc, src/cc/splat-utils.h, src/cc/splat-types.h).
 *
 * Containers
 * - v1-3: the whole file is gzip. Inside: a 16-byte header (u32 magic 0x5053474e "NGSP",
 *   u32 version, u32 numPoints, u8 shDegree, u8 fractionalBits, u8 flags, u8 reserved),
 *   then the attribute arrays back to back: positions, alphas, colours, scales,
 *   rotations, SH, then extension records when flags & 2.
 * - v4: a plain 32-byte header (magic, u32 version = 4, u32 numPoints, u8 shDegree,
 *   u8 fractionalBits, u8 flags, u8 numStreams, u32 tocByteOffset, 12 reserved bytes),
 *   extension records in [32, tocByteOffset), a table of contents of numStreams ×
 *   (u64 compressed size, u64 uncompressed size), then one zstd stream per non-empty
 *   attribute array, in the order above. The streams must end exactly at the end of file.
 *
 * Attributes (per Gaussian)
 * - position: 3 × 24-bit signed fixed point, value · 2^-fractionalBits (v1: 3 × float16)
 * - alpha: u8 = sigmoid(opacity)·255 → opacity = a/255
 * - colour: u8 = f_dc·(0.15·255) + 127.5 → f_dc = (c/255 − 0.5)/0.15 (0.15, not SH_C0:
 *   the format leaves headroom for DC terms outside [0, 1])
 * - scale: u8 = (log s + 10)·16 → s = exp(v/16 − 10)
 * - rotation, quaternion in (x, y, z, w) order: v1-2: 3 × u8 of x,y,z as v/127.5 − 1 with
 *   w = √(1 − |xyz|²) ≥ 0; v3+: u32 LE "smallest three": bits 30-31 the index of the
 *   largest component, then three 10-bit fields (sign bit + 9-bit magnitude of |v|/√½)
 *   for the other components, the LAST of them in the lowest bits.
 * - SH: (deg+1)²−1 coefficients × 3 colours, colour innermost, u8 → (v − 128)/128.
 *   Degree 4 files are read with the degree-4 band dropped (GaussianScene stops at 3).
 *
 * Coordinate frames. SPZ stores RUB (x right, y up, z back: OpenGL/three.js) unless the
 * extension SPZ_ADOBE_coordinate_system (type 0xADBE0003, u32 payload) names another.
 * GaussianScene is in the frame of 3DGS PLY files, RDF (x right, y down, z forward:
 * COLMAP/OpenCV), and the spz library converts PLY ⇄ SPZ between RDF and RUB. So this
 * reader converts the stored frame to RDF exactly as the library's CoordinateConverter
 * does: positions × (fx, fy, fz), quaternion x,y,z × (fy·fz, fx·fz, fx·fy), SH
 * coefficient j × its parity under the flips (splat-types.h `flipSh`). For the default
 * RUB that is (x, −y, −z): a .spz made from a .ply with the library's tools reads back
 * like the .ply. The 90°-rotated frames (LFD ... RBU) are refused with a clear error.
 *
 * Pure TS: no DOM, no GPU. fflate and fzstd decompress; sizes are checked against the
 * header before any allocation proportional to them.
 */
import { Gunzip } from 'fflate';
import { decompress as zstdDecompress } from 'fzstd';
import type { GaussianScene } from './gaussian-scene.ts';
import { allocate, normaliseQuaternions, PROGRESS_EVERY, type SceneProgress } from './splat-ply.ts';
import { halfToFloat } from './tensor.ts';
import { crc32 } from './zip.ts';

export const SPZ_MAGIC = 0x5053474e;
const COLOR_SCALE = 0.15;
const SQRT1_2 = 0.7071067811865476;
/** Same sanity bound as the reference loader: zstd never beats 1024:1 on 9+ bytes per point. */
const MAX_COMPRESSION_RATIO = 1024;
const MIN_BYTES_PER_POINT = 9;
/** Room allowed after the arrays of a gzip stream for extension records. */
const MAX_EXTENSION_BYTES = 1 << 20;
const COORDINATE_SYSTEM_EXTENSION = 0xadbe0003;
const COORDINATE_NAMES = ['UNSPECIFIED', 'LDB', 'RDB', 'LUB', 'RUB', 'LDF', 'RDF', 'LUF', 'RUF', 'LFD', 'RFD', 'LFU', 'RFU', 'LBD', 'RBD', 'LBU', 'RBU'];
const RUB = 4;
const RDF = 6;

const fail = (msg: string): never => {
  throw new Error(`SPZ: ${msg}`);
};

/** SH coefficients per colour beyond the DC term, by degree (splat-utils.h dimForDegree). */
const dimForDegree = (d: number): number => [0, 3, 8, 15, 24][d];

interface SpzHeader {
  version: number;
  numPoints: number;
  shDegree: number;
  fractionalBits: number;
  flags: number;
}

/** Byte sizes of the attribute arrays, in file order. */
function arraySizes(h: SpzHeader): { name: string; bytes: number }[] {
  const n = h.numPoints;
  return [
    { name: 'positions', bytes: n * (h.version === 1 ? 6 : 9) },
    { name: 'alphas', bytes: n },
    { name: 'colors', bytes: n * 3 },
    { name: 'scales', bytes: n * 3 },
    { name: 'rotations', bytes: n * (h.version >= 3 ? 4 : 3) },
    { name: 'sh', bytes: n * dimForDegree(h.shDegree) * 3 },
  ];
}

function checkHeader(h: SpzHeader): void {
  if (h.numPoints === 0) fail('the file holds no Gaussians (numPoints = 0)');
  if (h.numPoints > 0x7fffffff) fail(`numPoints ${h.numPoints} is out of range`);
  if (h.shDegree > 4) fail(`SH degree ${h.shDegree} is not 0-4`);
  if (h.fractionalBits > 24) fail(`fractionalBits ${h.fractionalBits} is out of range (the library writes 12)`);
}

/** Reads any SPZ file (gzip v1-3 or zstd v4). */
export function readSpz(bytes: Uint8Array, onProgress?: SceneProgress): GaussianScene {
  if (bytes.length >= 4 && u32(bytes, 0) === SPZ_MAGIC) return readNgsp(bytes, onProgress);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return readGzipped(bytes, onProgress);
  return fail('not an SPZ file (expected the NGSP magic of version 4 or a gzip stream of versions 1-3)');
}

// ---- v4: plain header, TOC, zstd streams -------------------------------------------------

function readNgsp(bytes: Uint8Array, onProgress?: SceneProgress): GaussianScene {
  const size = bytes.length;
  if (size < 32) fail(`file is truncated: ${size} bytes, shorter than the 32-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== 4) {
    fail(`unsupported version ${version}: an uncompressed NGSP header must be version 4 (versions 1-3 are gzip files); this reader handles versions 1-4`);
  }
  const h: SpzHeader = { version, numPoints: view.getUint32(8, true), shDegree: bytes[12], fractionalBits: bytes[13], flags: bytes[14] };
  const numStreams = bytes[15];
  const tocOffset = view.getUint32(16, true);
  checkHeader(h);
  if (h.numPoints > Math.floor((size * MAX_COMPRESSION_RATIO) / MIN_BYTES_PER_POINT)) {
    fail(`header claims ${h.numPoints} Gaussians, more than a ${size}-byte file can hold`);
  }
  if (tocOffset < 32) fail(`table of contents offset ${tocOffset} lies inside the 32-byte header`);
  const tocEnd = tocOffset + numStreams * 16;
  if (tocEnd > size) fail(`file is truncated: the table of contents (${numStreams} streams at byte ${tocOffset}) runs past the end (${size} bytes)`);

  const frame = (h.flags & 2) !== 0 ? coordinateFrame(bytes, 32, tocOffset, 'header zone') : RUB;

  const arrays = arraySizes(h).filter((a) => a.bytes > 0);
  if (numStreams !== arrays.length) fail(`header says ${numStreams} streams; a version-4 file of SH degree ${h.shDegree} has ${arrays.length}`);
  const out: Record<string, Uint8Array> = {};
  let at = tocEnd;
  const spans: { name: string; start: number; length: number; bytes: number }[] = [];
  for (let i = 0; i < numStreams; i++) {
    const e = tocOffset + i * 16;
    const compressed = u64(view, e, 'compressed size');
    const uncompressed = u64(view, e + 8, 'uncompressed size');
    const a = arrays[i];
    if (uncompressed !== a.bytes) fail(`stream ${i} (${a.name}) decompresses to ${uncompressed} bytes; ${h.numPoints} Gaussians need ${a.bytes}`);
    if (compressed > size - at) fail(`file is truncated: stream ${i} (${a.name}) of ${compressed} bytes at byte ${at} runs past the end (${size} bytes)`);
    spans.push({ name: a.name, start: at, length: compressed, bytes: a.bytes });
    at += compressed;
  }
  if (at !== size) fail(`the streams end at byte ${at} but the file has ${size} bytes`);
  spans.forEach((s, i) => {
    onProgress?.((0.5 * i) / spans.length, `decompressing ${s.name}`);
    out[s.name] = zstdStream(bytes.subarray(s.start, s.start + s.length), s.bytes, s.name);
  });
  return decode(h, out, frame, onProgress, 0.5);
}

function u64(view: DataView, at: number, what: string): number {
  const lo = view.getUint32(at, true);
  const hi = view.getUint32(at + 4, true);
  if (hi >= 0x200000) fail(`${what} ${hi * 2 ** 32 + lo} in the table of contents is absurd`);
  return hi * 2 ** 32 + lo;
}

/** One zstd stream into a buffer of exactly `size` bytes (never more: fzstd writes into it). */
function zstdStream(src: Uint8Array, size: number, name: string): Uint8Array {
  if (src.length < 4 || src[0] !== 0x28 || src[1] !== 0xb5 || src[2] !== 0x2f || src[3] !== 0xfd) fail(`stream '${name}' is not zstd data (bad magic)`);
  const declared = zstdContentSize(src);
  if (declared !== null && declared !== size) fail(`zstd stream '${name}' declares ${declared} bytes; expected ${size}`);
  const out = allocate(() => new Uint8Array(size), `SPZ: stream '${name}' of ${size} bytes`);
  let result: Uint8Array;
  try {
    result = zstdDecompress(src, out);
  } catch (e) {
    return fail(`zstd stream '${name}' is corrupt or truncated (${e instanceof Error ? e.message : String(e)})`);
  }
  if (result.length !== size && result.buffer !== out.buffer) fail(`zstd stream '${name}' decompressed to ${result.length} bytes; expected ${size}`);
  return out;
}

/** Frame_Content_Size of a zstd frame header, or null when the frame does not say. */
function zstdContentSize(src: Uint8Array): number | null {
  if (src.length < 6) fail('zstd frame header is truncated');
  const fhd = src[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  let at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag];
  const fcsBytes = fcsFlag === 0 ? (single ? 1 : 0) : 1 << fcsFlag;
  if (fcsBytes === 0) return null;
  if (at + fcsBytes > src.length) fail('zstd frame header is truncated');
  let v = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) v = v * 256 + src[at + i];
  at += fcsBytes;
  return fcsFlag === 1 ? v + 256 : v;
}

// ---- v1-3: gzip ----------------------------------------------------------------------------

function readGzipped(bytes: Uint8Array, onProgress?: SceneProgress): GaussianScene {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let limit = Infinity;
  let header: SpzHeader | null = null;
  let needed = 0;
  const gunzip = new Gunzip((chunk) => {
    chunks.push(chunk);
    total += chunk.length;
    if (total > limit) fail(`the gzip stream inflates to more than the ${limit} bytes its header allows (corrupt file?)`);
  });
  const STEP = 1 << 16;
  try {
    for (let at = 0; at < bytes.length || at === 0; at += STEP) {
      const end = Math.min(bytes.length, at + STEP);
      gunzip.push(bytes.subarray(at, end), end >= bytes.length);
      if (!header && total >= 16) {
        const head = concat(chunks, 16);
        header = legacyHeader(head);
        needed = 16 + arraySizes(header).reduce((s, a) => s + a.bytes, 0);
        limit = needed + ((header.flags & 2) !== 0 ? MAX_EXTENSION_BYTES : 0);
        if (total > limit) fail(`the gzip stream inflates to more than the ${limit} bytes its header allows (corrupt file?)`);
      }
      onProgress?.((0.5 * end) / bytes.length, 'decompressing');
      if (end >= bytes.length) break;
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.startsWith('SPZ:')) throw e;
    fail(`gzip data is corrupt or truncated (${msg})`);
  }
  if (!header) {
    if (total < 16) fail(`file is truncated: the decompressed data (${total} bytes) is shorter than the 16-byte header`);
  }
  const h = header as SpzHeader;
  if (total < needed) fail(`file is truncated: ${h.numPoints} Gaussians need ${needed} decompressed bytes, the stream has ${total}`);
  const data = concat(chunks, total);
  // fflate does not check the gzip trailer: a file cut inside it would pass unnoticed.
  if (bytes.length < 18 || u32(bytes, bytes.length - 4) !== total % 2 ** 32 || u32(bytes, bytes.length - 8) !== crc32(data)) {
    fail('gzip data is corrupt or truncated (its CRC-32 / length trailer does not match the data)');
  }
  const out: Record<string, Uint8Array> = {};
  let at = 16;
  for (const a of arraySizes(h)) {
    out[a.name] = data.subarray(at, at + a.bytes);
    at += a.bytes;
  }
  const frame = (h.flags & 2) !== 0 ? coordinateFrame(data, at, data.length, 'extension records') : RUB;
  return decode(h, out, frame, onProgress, 0.5);
}

function legacyHeader(head: Uint8Array): SpzHeader {
  const magic = u32(head, 0);
  if (magic !== SPZ_MAGIC) fail('the gzip stream does not hold an SPZ scene (no NGSP magic inside)');
  const version = u32(head, 4);
  if (version < 1 || version > 4) fail(`unsupported version ${version} (this reader handles versions 1-4)`);
  const h: SpzHeader = { version, numPoints: u32(head, 8), shDegree: head[12], fractionalBits: head[13], flags: head[14] };
  checkHeader(h);
  return h;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].length >= length) return chunks[0].subarray(0, length);
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    if (at >= length) break;
    const take = Math.min(c.length, length - at);
    out.set(c.subarray(0, take), at);
    at += take;
  }
  return out;
}

// ---- extensions and frames ----------------------------------------------------------------

/** The storage frame named by SPZ_ADOBE_coordinate_system among the records in [start, end), else RUB. */
function coordinateFrame(bytes: Uint8Array, start: number, end: number, where: string): number {
  let frame = RUB;
  let at = start;
  while (at + 8 <= end) {
    const type = u32(bytes, at);
    const length = u32(bytes, at + 4);
    if (length > end - at - 8) fail(`extension record 0x${type.toString(16)} of ${length} bytes runs past the end of the ${where}`);
    if (type === COORDINATE_SYSTEM_EXTENSION) {
      if (length < 4) fail('coordinate system extension is too short');
      const value = u32(bytes, at + 8);
      if (value > 16) fail(`coordinate system extension names unknown system ${value}`);
      frame = value === 0 ? RUB : value;
    }
    at += 8 + length;
  }
  if (frame > 8) fail(`stored in the rotated coordinate system ${COORDINATE_NAMES[frame]}, which this reader does not convert (only RUB-family flips are supported)`);
  return frame;
}

/** Axis sign flips taking `from` to `to` (splat-types.h axesMatch). */
function flips(from: number, to: number): [number, number, number] {
  const a = from - 1;
  const b = to - 1;
  return [0, 1, 2].map((bit) => (((a >> bit) & 1) === ((b >> bit) & 1) ? 1 : -1)) as [number, number, number];
}

// ---- decoding ---------------------------------------------------------------------------

function decode(h: SpzHeader, a: Record<string, Uint8Array>, frame: number, onProgress: SceneProgress | undefined, from: number): GaussianScene {
  const n = h.numPoints;
  const [fx, fy, fz] = flips(frame, RDF);
  const flipQ = [fy * fz, fx * fz, fx * fy];
  const x = fx;
  const y = fy;
  const z = fz;
  const flipSh = [y, z, x, x * y, y * z, 1, x * z, 1, y, x * y * z, y, z, x, z, x];
  const dim = dimForDegree(h.shDegree);
  const degree = Math.min(3, h.shDegree);
  const keep = dimForDegree(degree); // coefficients kept beyond DC
  const k = keep + 1;
  const { positions, scales, rotations, opacities, sh } = allocate(
    () => ({ positions: new Float32Array(n * 3), scales: new Float32Array(n * 3), rotations: new Float32Array(n * 4), opacities: new Float32Array(n), sh: new Float32Array(n * k * 3) }),
    `SPZ: a scene of ${n} Gaussians`,
  );
  const pos = a.positions;
  const posScale = 2 ** -h.fractionalBits;
  const smallestThree = h.version >= 3;
  const rot = a.rotations;
  const q = [0, 0, 0, 0];
  const fp = [fx, fy, fz];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      let v: number;
      if (h.version === 1) {
        v = halfToFloat(pos[i * 6 + c * 2] | (pos[i * 6 + c * 2 + 1] << 8));
        if (v - v !== 0) fail(`Gaussian ${i} has a non-finite float16 position`);
      } else {
        const o = i * 9 + c * 3;
        let fixed = pos[o] | (pos[o + 1] << 8) | (pos[o + 2] << 16);
        if (fixed & 0x800000) fixed -= 0x1000000;
        v = fixed * posScale;
      }
      positions[i * 3 + c] = v * fp[c];
      scales[i * 3 + c] = Math.exp(a.scales[i * 3 + c] / 16 - 10);
      sh[i * k * 3 + c] = (a.colors[i * 3 + c] / 255 - 0.5) / COLOR_SCALE;
    }
    opacities[i] = a.alphas[i] / 255;
    // Quaternion in (x, y, z, w) order.
    if (smallestThree) {
      let comp = (rot[i * 4] | (rot[i * 4 + 1] << 8) | (rot[i * 4 + 2] << 16) | (rot[i * 4 + 3] << 24)) >>> 0;
      const largest = comp >>> 30;
      let sum = 0;
      for (let j = 3; j >= 0; j--) {
        if (j === largest) continue;
        const mag = comp & 511;
        const neg = (comp >>> 9) & 1;
        comp >>>= 10;
        const v = (SQRT1_2 * mag) / 511;
        q[j] = neg ? -v : v;
        sum += v * v;
      }
      q[largest] = Math.sqrt(Math.max(0, 1 - sum));
    } else {
      const o = i * 3;
      q[0] = rot[o] / 127.5 - 1;
      q[1] = rot[o + 1] / 127.5 - 1;
      q[2] = rot[o + 2] / 127.5 - 1;
      q[3] = Math.sqrt(Math.max(0, 1 - (q[0] * q[0] + q[1] * q[1] + q[2] * q[2])));
    }
    rotations[i * 4] = q[3];
    rotations[i * 4 + 1] = q[0] * flipQ[0];
    rotations[i * 4 + 2] = q[1] * flipQ[1];
    rotations[i * 4 + 3] = q[2] * flipQ[2];
    // SH: dim coefficients × 3 colours, colour innermost; keep the first `keep`.
    const s = a.sh;
    for (let j = 0; j < keep; j++) {
      for (let c = 0; c < 3; c++) sh[(i * k + 1 + j) * 3 + c] = ((s[(i * dim + j) * 3 + c] - 128) / 128) * flipSh[j];
    }
    if (onProgress && (i & (PROGRESS_EVERY - 1)) === PROGRESS_EVERY - 1) onProgress(from + ((1 - from) * i) / n, 'decoding Gaussians');
  }
  normaliseQuaternions(rotations, n);
  onProgress?.(1, 'done');
  const notes = [
    `version ${h.version}`,
    `${n} Gaussians`,
    `SH degree ${h.shDegree}${h.shDegree > 3 ? ' (degree 4 dropped)' : ''}`,
    frame === RUB ? 'RUB → RDF' : `${COORDINATE_NAMES[frame]} → RDF`,
  ];
  if (h.flags & 1) notes.push('antialiased');
  return { kind: 'static', count: n, shDegree: degree, shDegreeT: 0, positions, scales, rotations, opacities, sh, source: `SPZ ${notes.join(', ')}` };
}

function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
