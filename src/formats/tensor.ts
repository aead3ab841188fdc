/**
 * The tensor type shared by the checkpoint readers (torch.ts, safetensors.ts) and the
 * model loaders that consume them. Pure TS: no DOM, no GPU.
 *
 * A Tensor is row-major and contiguous (readers materialise strided views), and its
 * `data` is one of a fixed set of typed arrays, paired with `dtype`:
 *
 *   float32 Float32Array   float16/bfloat16 Uint16Array (raw bits)   float64 Float64Array
 *   int64 BigInt64Array    int32 Int32Array   int16 Int16Array   int8 Int8Array
 *   uint8 Uint8Array       bool Uint8Array (0/1)
 *
 * Readers narrow what a GPU cannot use: float64 becomes float32, and int64 becomes int32
 * when every value fits (BN `num_batches_tracked`, optimizer steps); `sourceDtype` keeps
 * what the file held. Data may be materialised lazily on first access, so a checkpoint
 * with a large optimizer state costs only the tensors a caller actually reads.
 */

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TensorData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** Bytes per element of each dtype as stored in a file. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

type Materialised = { dtype: DType; data: TensorData };

export class Tensor {
  /** The dtype the file stored (before float64 → float32 / int64 → int32 narrowing). */
  readonly sourceDtype: DType;
  readonly shape: readonly number[];
  /** Number of elements (product of shape; 1 for a 0-d tensor). */
  readonly size: number;
  #value: Materialised | null = null;
  #load: (() => Materialised) | null;

  /**
   * `data` is either the typed array (checked against dtype and shape) or a thunk that
   * produces it on first access; a thunk's errors surface where `data`/`dtype` is read.
   */
  constructor(dtype: DType, shape: readonly number[], data: TensorData | (() => Materialised), sourceDtype: DType = dtype) {
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    this.sourceDtype = sourceDtype;
    if (typeof data === 'function') {
      this.#load = data;
    } else {
      this.#load = null;
      this.#value = checked({ dtype, data }, this.size);
    }
  }

  /** The dtype of `data` (materialises a lazy int64 tensor, whose narrowing depends on its values). */
  get dtype(): DType {
    return this.#materialise().dtype;
  }

  get data(): TensorData {
    return this.#materialise().data;
  }

  /**
   * The values as float32. For a float32 tensor this is `data` itself (no copy: do not
   * mutate it unless you own the tensor); otherwise a new array.
   */
  toFloat32(): Float32Array {
    const { dtype, data } = this.#materialise();
    switch (dtype) {
      case 'float32':
        return data as Float32Array;
      case 'float16':
        return float16ToFloat32(data as Uint16Array);
      case 'bfloat16':
        return bfloat16ToFloat32(data as Uint16Array);
      case 'int64': {
        const src = data as BigInt64Array;
        const out = new Float32Array(src.length);
        for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
        return out;
      }
      default:
        return Float32Array.from(data as Exclude<TensorData, BigInt64Array>);
    }
  }

  #materialise(): Materialised {
    if (this.#value === null) {
      const load = this.#load!;
      this.#value = checked(load(), this.size);
      this.#load = null;
    }
    return this.#value;
  }
}

/** Product of a shape, refusing anything that is not a non-negative safe integer count. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`invalid tensor dimension ${String(d)}`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new Error(`tensor shape [${shape.join(', ')}] has too many elements`);
  }
  return n;
}

const ARRAY_OF: Record<DType, abstract new (...args: never[]) => TensorData> = {
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

function checked(m: Materialised, size: number): Materialised {
  if (!(m.data instanceof ARRAY_OF[m.dtype])) throw new Error(`${m.dtype} tensor data must be a ${ARRAY_OF[m.dtype].name}`);
  if (m.data.length !== size) throw new Error(`tensor data has ${m.data.length} elements, its shape needs ${size}`);
  return m;
}

/**
 * Builds typed data of `dtype` from little-endian bytes (copied, so the result owns its
 * buffer and can be transferred to a worker or GPU without dragging the file along), then
 * narrows float64/int64 as described at the top of this file. `bytes.length` must be
 * `count * DTYPE_SIZE[dtype]`.
 */
export function decodeLittleEndian(dtype: DType, bytes: Uint8Array): Materialised {
  const copy = bytes.slice().buffer;
  // Every platform a browser runs on is little-endian, so the bytes are the values.
  switch (dtype) {
    case 'float32':
      return { dtype, data: new Float32Array(copy) };
    case 'float16':
    case 'bfloat16':
      return { dtype, data: new Uint16Array(copy) };
    case 'float64':
      return { dtype: 'float32', data: Float32Array.from(new Float64Array(copy)) };
    case 'int64':
      return narrowInt64(new BigInt64Array(copy));
    case 'int32':
      return { dtype, data: new Int32Array(copy) };
    case 'int16':
      return { dtype, data: new Int16Array(copy) };
    case 'int8':
      return { dtype, data: new Int8Array(copy) };
    case 'uint8':
      return { dtype, data: new Uint8Array(copy) };
    case 'bool': {
      const data = new Uint8Array(copy);
      for (let i = 0; i < data.length; i++) data[i] = data[i] !== 0 ? 1 : 0;
      return { dtype, data };
    }
  }
}

/** int64 → Int32Array when every value fits, else the exact BigInt64Array. */
export function narrowInt64(src: BigInt64Array): Materialised {
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (v > 2147483647n || v < -2147483648n) return { dtype: 'int64', data: src };
    out[i] = Number(v);
  }
  return { dtype: 'int32', data: out };
}

// ---- half-precision conversions -------------------------------------------------------

export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]);
  return out;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 → float16 bits, round to nearest even (as numpy and torch do); for shipping fp16 weights. */
export function float32ToFloat16(src: Float32Array): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      // Subnormal half (or zero): shift the implicit-1 mantissa into place, rounding.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rest = mant & ((1 << shift) - 1);
      let h = mant >>> shift;
      if (rest > half || (rest === half && h & 1)) h++;
      out[i] = sign | h;
    } else {
      let h = (e << 10) | (mant >>> 13);
      const rest = mant & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
      out[i] = sign | h;
    }
  }
  return out;
}

export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

/** A tensor as plain data: what crosses postMessage (structured clone drops the class). */
export interface TensorRecord {
  dtype: DType;
  sourceDtype: DType;
  shape: number[];
  data: TensorData;
}

/** Materialises every tensor as a record; keys that alias one tensor share one array. */
export function tensorRecords(tensors: ReadonlyMap<string, Tensor>): Map<string, TensorRecord> {
  return new Map([...tensors].map(([k, t]) => [k, { dtype: t.dtype, sourceDtype: t.sourceDtype, shape: [...t.shape], data: t.data }]));
}

/** The tensors back from records (inverse of tensorRecords). */
export function fromTensorRecords(records: ReadonlyMap<string, TensorRecord>): Map<string, Tensor> {
  return new Map([...records].map(([k, r]) => [k, new Tensor(r.dtype, r.shape, r.data, r.sourceDtype)]));
}

/** The distinct buffers behind records, for a transfer list. */
export function recordBuffers(records: ReadonlyMap<string, TensorRecord>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const r of records.values()) if (r.data.buffer instanceof ArrayBuffer) buffers.add(r.data.buffer);
  return [...buffers];
}
