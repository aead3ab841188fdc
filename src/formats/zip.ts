/**
 * Minimal ZIP reader for PyTorch checkpoints (and any other zip the suite opens).
 * Reads the central directory only (torch writes sizes in data descriptors, so local
 * headers hold zeros), supports stored and deflate entries and zip64, and checks every
 * offset and length against the file size before it allocates anything, so a hostile
 * or truncated file throws a clear Error instead of allocating or reading garbage.
 * Pure TS: no DOM, no GPU.
 */
import { inflateSync } from 'fflate';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the entry's (compressed) bytes in the file, past its local header. */
  dataOffset: number;
}

export class ZipArchive {
  /** Entries in central-directory order (torch relies on the first one to name the archive). */
  readonly entries: readonly ZipEntry[];
  readonly #byName: Map<string, ZipEntry>;
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.entries = readCentralDirectory(bytes);
    this.#byName = new Map(this.entries.map((e) => [e.name, e]));
  }

  get(name: string): ZipEntry | undefined {
    return this.#byName.get(name);
  }

  /**
   * The entry's uncompressed bytes. Stored entries are a view into the file (no copy);
   * deflated ones are inflated into a buffer of the declared size and CRC-checked.
   */
  read(entry: ZipEntry | string): Uint8Array {
    const e = typeof entry === 'string' ? this.#byName.get(entry) : entry;
    if (!e) throw new Error(`zip: no entry '${String(entry)}'`);
    const raw = this.#bytes.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    if (e.method === 0) return raw;
    let out: Uint8Array;
    try {
      out = new Uint8Array(e.size);
    } catch {
      throw new Error(`zip: entry '${e.name}' (${e.size} bytes inflated) is too large for this browser`);
    }
    try {
      out = inflateSync(raw, { out });
    } catch (err) {
      throw new Error(`zip: entry '${e.name}' is corrupt (${err instanceof Error ? err.message : String(err)})`);
    }
    // With a fixed output buffer fflate silently drops overflow, so the CRC is what tells
    // a short or overlong stream from the real thing.
    if (out.length !== e.size || crc32(out) !== e.crc32) throw new Error(`zip: entry '${e.name}' is corrupt (size or CRC mismatch)`);
    return out;
  }
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
/** Deflate cannot expand data by more than ~1032:1; anything claiming more is hostile. */
const MAX_DEFLATE_RATIO = 1032;

function readCentralDirectory(bytes: Uint8Array): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.length;
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  const u64 = (o: number, what: string) => {
    const v = view.getBigUint64(o, true);
    if (v > BigInt(size)) throw new Error(`zip: ${what} ${v} exceeds the file size ${size} (truncated or corrupt file)`);
    return Number(v);
  };

  // End of central directory: 22 bytes plus a comment of up to 65535, at the very end.
  let eocd = -1;
  for (let o = size - 22; o >= Math.max(0, size - 22 - 0xffff); o--) {
    if (u32(o) === SIG_EOCD && o + 22 + u16(o + 20) === size) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) {
    throw new Error(size >= 4 && u32(0) === SIG_LOCAL ? 'zip: end of central directory not found (truncated file?)' : 'zip: not a zip file');
  }
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) throw new Error('zip: multi-disk archives are not supported');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);

  // zip64: torch writes the zip64 records for every file, large or not; prefer them when present.
  const loc = eocd - 20;
  if (loc >= 0 && u32(loc) === SIG_ZIP64_LOCATOR) {
    const z = u64(loc + 8, 'zip64 end record offset');
    if (z + 56 > loc || u32(z) !== SIG_ZIP64_EOCD) throw new Error('zip: zip64 end of central directory record is missing or corrupt');
    count = u64(z + 32, 'entry count');
    cdSize = u64(z + 40, 'central directory size');
    cdOffset = u64(z + 48, 'central directory offset');
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new Error('zip: zip64 archive without a zip64 locator (corrupt file)');
  }
  if (cdOffset + cdSize > eocd) throw new Error('zip: central directory lies outside the file (truncated or corrupt file)');
  // Each central record is at least 46 bytes: this bounds the count before we loop.
  if (count * 46 > cdSize) throw new Error(`zip: ${count} entries cannot fit a ${cdSize}-byte central directory`);

  const names = new Set<string>();
  const entries: ZipEntry[] = [];
  const decoder = new TextDecoder();
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdEnd || u32(p) !== SIG_CENTRAL) throw new Error(`zip: central directory record ${i} is corrupt`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc = u32(p + 16);
    let compressedSize = u32(p + 20);
    let uncompressedSize = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let localOffset = u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdEnd) throw new Error(`zip: central directory record ${i} overruns the directory`);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));

    // zip64 extended information: 64-bit values for exactly the fields that read 0xffffffff, in this order.
    for (let x = p + 46 + nameLen, xEnd = x + extraLen; x + 4 <= xEnd; ) {
      const id = u16(x);
      const len = u16(x + 2);
      if (x + 4 + len > xEnd) break;
      if (id === 0x0001) {
        let f = x + 4;
        const take = (what: string) => {
          if (f + 8 > x + 4 + len) throw new Error(`zip: entry '${name}' has a short zip64 field`);
          const v = u64(f, `entry '${name}' ${what}`);
          f += 8;
          return v;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localOffset === 0xffffffff) localOffset = take('offset');
      }
      x += 4 + len;
    }

    if (flags & 1) throw new Error(`zip: entry '${name}' is encrypted`);
    if (method !== 0 && method !== 8) throw new Error(`zip: entry '${name}' uses unsupported compression method ${method}`);
    if (method === 0 && compressedSize !== uncompressedSize) throw new Error(`zip: stored entry '${name}' has inconsistent sizes`);
    if (method === 8 && uncompressedSize > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new Error(`zip: entry '${name}' claims an impossible ${uncompressedSize}-byte size`);
    }
    if (names.has(name)) throw new Error(`zip: duplicate entry '${name}'`);
    names.add(name);

    if (localOffset + 30 > size || u32(localOffset) !== SIG_LOCAL) throw new Error(`zip: local header of '${name}' is missing (truncated or corrupt file)`);
    const dataOffset = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
    if (dataOffset + compressedSize > size) throw new Error(`zip: data of '${name}' runs past the end of the file (truncated file?)`);
    entries.push({ name, method, compressedSize, size: uncompressedSize, crc32: crc, dataOffset });
    p = next;
  }
  return entries;
}

let crcTable: Int32Array | null = null;

/** CRC-32 (IEEE), as stored in zip entries. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
