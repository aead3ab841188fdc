/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors):
 *   u64 LE header length N | N bytes of JSON | tensor bytes
 * The JSON maps names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
 * the byte after the header) plus an optional "__metadata__" of string → string.
 * The reader validates everything against the file before allocating; tensor data is
 * copied out lazily on first access. Pure TS: no DOM, no GPU.
 */
import { decodeLittleEndian, DTYPE_SIZE, shapeSize, Tensor, type DType } from './tensor.ts';

export interface Safetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Same cap as the reference implementation: a header is a table of contents, not data. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPES: Record<string, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const CODES = Object.fromEntries(Object.entries(DTYPES).map(([k, v]) => [v, k])) as Record<DType, string>;

export function readSafetensors(bytes: Uint8Array): Safetensors {
  const fail = (msg: string): never => {
    throw new Error(`safetensors: ${msg}`);
  };
  if (bytes.length < 8) fail('file is too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the file (truncated file?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');

  const base = 8 + n;
  const dataLength = bytes.length - base;
  const metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  const tensors = new Map<string, Tensor>();
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`metadata value '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof t !== 'object' || t === null) fail(`entry '${name}' is not an object`);
    const dtype = typeof t!.dtype === 'string' ? DTYPES[t!.dtype] : undefined;
    if (!dtype) fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(t!.dtype)}`);
    const shape = t!.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape`);
    const offsets = t!.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) fail(`tensor '${name}' has invalid data_offsets`);
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) fail(`tensor '${name}' data [${begin}, ${end}) lies outside the ${dataLength}-byte data section (truncated file?)`);
    let size = 0;
    try {
      size = shapeSize(shape as number[]);
    } catch (e) {
      fail(`tensor '${name}': ${(e as Error).message}`);
    }
    if (size * DTYPE_SIZE[dtype!] !== end - begin) fail(`tensor '${name}' of shape [${(shape as number[]).join(', ')}] needs ${size * DTYPE_SIZE[dtype!]} bytes, its offsets span ${end - begin}`);
    spans.push([begin, end, name]);
    const d = dtype!;
    tensors.set(name, new Tensor(d, shape as number[], () => decodeLittleEndian(d, bytes.subarray(base + begin, base + end)), d));
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) fail(`tensors '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
  }
  return { tensors, metadata };
}

/**
 * Writes tensors (in their current dtype: convert first, e.g. with float32ToFloat16, to
 * ship fp16 weights) and optional string metadata. Like the reference writer it orders
 * data by element size, largest first, then by name, so every tensor stays aligned, and
 * pads the header with spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors : Object.entries(tensors))];
  const seen = new Set<string>();
  for (const [name] of entries) {
    if (name === '__metadata__') throw new Error("safetensors: '__metadata__' cannot name a tensor");
    if (seen.has(name)) throw new Error(`safetensors: duplicate tensor '${name}'`);
    seen.add(name);
  }
  entries.sort(([a, ta], [b, tb]) => DTYPE_SIZE[tb.dtype] - DTYPE_SIZE[ta.dtype] || (a < b ? -1 : a > b ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const length = t.data.byteLength;
    header[name] = { dtype: CODES[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + length] };
    offset += length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let p = 8 + padded;
  for (const [, t] of entries) {
    const d = t.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}
