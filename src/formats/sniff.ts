/**
 * What kind of file is this? Magic bytes first; the file name only where content cannot
 * tell (.splat has no magic, .obj is free text, gzip/zstd only say "compressed").
 * Pure TS: no DOM, no GPU; safe on any bytes (never throws, garbage is 'unknown').
 */

export type FileKind =
  | 'ply'
  | 'splat'
  | 'spz'
  | 'zip'
  | 'safetensors'
  | 'png'
  | 'jpeg'
  | 'webp'
  | 'gif'
  | 'bmp'
  | 'obj'
  | 'gzip'
  | 'unknown';

export const FILE_KINDS: readonly FileKind[] = ['ply', 'splat', 'spz', 'zip', 'safetensors', 'png', 'jpeg', 'webp', 'gif', 'bmp', 'obj', 'gzip', 'unknown'];

/** Short human label per kind, for messages such as "expected an image, got <label>". */
export const FILE_KIND_LABELS: Record<FileKind, string> = {
  ply: 'PLY point cloud / Gaussian scene (.ply)',
  splat: 'Gaussian splat scene (.splat)',
  spz: 'compressed Gaussian splat scene (.spz)',
  zip: 'ZIP archive / PyTorch checkpoint (.pt, .pth, .zip)',
  safetensors: 'safetensors weights (.safetensors)',
  png: 'PNG image (.png)',
  jpeg: 'JPEG image (.jpg, .jpeg)',
  webp: 'WebP image (.webp)',
  gif: 'GIF image (.gif)',
  bmp: 'BMP image (.bmp)',
  obj: 'Wavefront OBJ mesh (.obj)',
  gzip: 'gzip-compressed file (.gz)',
  unknown: 'unrecognised file',
};

export const IMAGE_KINDS: readonly FileKind[] = ['png', 'jpeg', 'webp', 'gif', 'bmp'];

/** How many leading bytes `sniffFile` looks at (more is harmless; OBJ detection reads up to this). */
export const SNIFF_BYTES = 4096;

/** Bytes per record of the antimatter15 .splat layout (pos f32x3, scale f32x3, rgba u8x4, rot u8x4). */
export const SPLAT_RECORD_BYTES = 32;

/**
 * Identifies a file from its first bytes (`head`; pass at least `SNIFF_BYTES` when the file
 * is longer) and, where content cannot tell, its `name`. `size` is the whole file's length
 * (defaults to `head.length`, i.e. `head` is the whole file); .splat needs it.
 */
export function sniffFile(head: Uint8Array, name?: string, size: number = head.length): FileKind {
  const ext = extension(name);
  const n = head.length;
  const at = (i: number): number => (i < n ? head[i] : -1);
  const ascii = (offset: number, text: string): boolean => {
    if (offset + text.length > n) return false;
    for (let i = 0; i < text.length; i++) if (head[offset + i] !== text.charCodeAt(i)) return false;
    return true;
  };

  if (ascii(0, 'ply\n') || ascii(0, 'ply\r\n')) return 'ply';
  if (ascii(0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'jpeg';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  if (ascii(0, 'BM') && n >= 18 && BMP_DIB_SIZES.has(u32le(head, 14))) return 'bmp';
  // PyTorch checkpoints (torch.save since 1.6) are zips; 'PK\x05\x06' is an empty archive.
  if (ascii(0, 'PK\x03\x04') || ascii(0, 'PK\x05\x06')) return 'zip';
  // SPZ v4: raw 'NGSP' header (u32 LE 0x5053474e) followed by zstd streams.
  if (ascii(0, 'NGSP')) return 'spz';
  // gzip (method byte 8 = deflate, the only one defined): SPZ v1-3 are gzipped.
  if (at(0) === 0x1f && at(1) === 0x8b && at(2) === 0x08) return ext === 'spz' ? 'spz' : 'gzip';
  // zstd frame: only an .spz name gives it a kind here.
  if (at(0) === 0x28 && at(1) === 0xb5 && at(2) === 0x2f && at(3) === 0xfd) return ext === 'spz' ? 'spz' : 'unknown';
  if (isSafetensorsHead(head, size)) return 'safetensors';

  // No magic: the name decides, with a sanity check on the content.
  if (ext === 'splat') return size > 0 && size % SPLAT_RECORD_BYTES === 0 ? 'splat' : 'unknown';
  if (looksLikeObj(head, ext === 'obj')) return 'obj';
  return 'unknown';
}

/** Width and height from an image header (PNG, GIF, BMP, WebP, JPEG), or null if the head does not say. */
export function imageDimensions(head: Uint8Array): { width: number; height: number } | null {
  const kind = sniffFile(head);
  const n = head.length;
  switch (kind) {
    case 'png':
      // Signature (8), IHDR length (4), 'IHDR' (4), width u32 BE, height u32 BE.
      if (n < 24 || head[12] !== 0x49 || head[13] !== 0x48 || head[14] !== 0x44 || head[15] !== 0x52) return null;
      return { width: u32be(head, 16), height: u32be(head, 20) };
    case 'gif':
      if (n < 10) return null;
      return { width: head[6] | (head[7] << 8), height: head[8] | (head[9] << 8) };
    case 'bmp': {
      const dib = u32le(head, 14);
      if (dib === 12) return n < 22 ? null : { width: head[18] | (head[19] << 8), height: head[20] | (head[21] << 8) };
      if (n < 26) return null;
      // Height is negative for top-down bitmaps.
      return { width: Math.abs(i32le(head, 18)), height: Math.abs(i32le(head, 22)) };
    }
    case 'webp':
      return webpDimensions(head);
    case 'jpeg':
      return jpegDimensions(head);
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------

const BMP_DIB_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

function extension(name: string | undefined): string {
  if (!name) return '';
  const base = name.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

function u32le(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function i32le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}

function u32be(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** safetensors: u64 LE JSON header length, then the JSON object ('{'), which must fit in the file. */
function isSafetensorsHead(head: Uint8Array, size: number): boolean {
  if (head.length < 9 || head[8] !== 0x7b) return false;
  // Headers beyond 4 GiB are not real; the high word must be zero.
  if (u32le(head, 4) !== 0) return false;
  const headerLength = u32le(head, 0);
  // Smallest header is '{}'; the official implementation caps it at 100 MB.
  return headerLength >= 2 && headerLength <= 100_000_000 && 8 + headerLength <= size;
}

function isTextByte(b: number): boolean {
  // Printable ASCII, tab, LF, FF, CR, and any byte of a UTF-8 sequence.
  return (b >= 0x20 && b !== 0x7f) || b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d;
}

const OBJ_KEYWORDS = new Set([
  'v', 'vt', 'vn', 'vp', 'f', 'l', 'p', 'o', 'g', 's', 'mtllib', 'usemtl', 'usemap',
  'cstype', 'deg', 'bmat', 'step', 'curv', 'curv2', 'surf', 'parm', 'trim', 'hole', 'scrv', 'sp', 'end',
  'con', 'mg', 'ctech', 'stech', 'bevel', 'c_interp', 'd_interp', 'lod', 'shadow_obj', 'trace_obj', 'maplib',
]);
const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;
const OBJ_VERTEX = new RegExp(String.raw`^v\s+${NUMBER}\s+${NUMBER}\s+${NUMBER}(?:\s|$)`);

/**
 * OBJ is text of statements ('v 1 2 3', 'f 1 2 3', '# comment', ...). With an .obj name, text
 * is enough; without one, every complete line must be an OBJ statement and one must be a vertex.
 */
function looksLikeObj(head: Uint8Array, named: boolean): boolean {
  const n = Math.min(head.length, SNIFF_BYTES);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) if (!isTextByte(head[i])) return false;
  if (named) return true;
  let text = '';
  for (let i = 0; i < n; i++) text += String.fromCharCode(head[i]);
  const lines = text.split(/\r?\n/);
  // The last line may be cut off where the head ends.
  if (lines.length > 1) lines.pop();
  let vertices = 0;
  let continued = false;
  for (const raw of lines) {
    const line = raw.trim();
    const wasContinued = continued;
    continued = line.endsWith('\\');
    if (wasContinued || line === '' || line.startsWith('#')) continue;
    const keyword = line.split(/\s/, 1)[0];
    if (!OBJ_KEYWORDS.has(keyword)) return false;
    if (keyword === 'v') {
      if (!OBJ_VERTEX.test(line)) return false;
      vertices++;
    }
  }
  return vertices > 0;
}

function webpDimensions(head: Uint8Array): { width: number; height: number } | null {
  const n = head.length;
  if (n < 25) return null;
  const chunk = String.fromCharCode(head[12], head[13], head[14], head[15]);
  if (chunk === 'VP8 ') {
    if (n < 30) return null;
    // Frame tag (3 bytes) then start code 9d 01 2a, then 14-bit width and height.
    if (head[23] !== 0x9d || head[24] !== 0x01 || head[25] !== 0x2a) return null;
    return { width: (head[26] | (head[27] << 8)) & 0x3fff, height: (head[28] | (head[29] << 8)) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (head[20] !== 0x2f) return null;
    const bits = u32le(head, 21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    if (n < 30) return null;
    const w = head[24] | (head[25] << 8) | (head[26] << 16);
    const h = head[27] | (head[28] << 8) | (head[29] << 16);
    return { width: w + 1, height: h + 1 };
  }
  return null;
}

function jpegDimensions(head: Uint8Array): { width: number; height: number } | null {
  const n = head.length;
  let i = 2;
  while (i + 3 < n) {
    if (head[i] !== 0xff) return null;
    const marker = head[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    // Markers without a length: TEM, RSTn, SOI, EOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      i += 2;
      continue;
    }
    const length = (head[i + 2] << 8) | head[i + 3];
    if (length < 2) return null;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 9 > n) return null;
      return { width: (head[i + 7] << 8) | head[i + 8], height: (head[i + 5] << 8) | head[i + 6] };
    }
    if (marker === 0xda) return null; // scan data before any frame header
    i += 2 + length;
  }
  return null;
}
