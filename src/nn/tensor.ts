/**
 * GPU tensors for the conv-net runtime: a dense NCHW f32 storage buffer plus its shape.
 *
 * Frames allocate their intermediates from a `TensorPool`, which keeps released buffers by
 * byte size and hands them out again, so a network that runs every frame stops creating
 * buffers after its first frame. `tensor.destroy()` returns a pooled tensor to its pool (the
 * buffer stays alive for the next acquire) and frees an unpooled one.
 *
 * Only the buffer and the shape travel through the ops: channel slices of a tensor (concat
 * for free) are expressed by the ops' channel offsets, never by views with strides.
 */
import { readF32 } from '../gpu/readback.ts';

export type Shape = readonly [n: number, c: number, h: number, w: number];

/** Usage of every tensor buffer (a function: this module also loads where WebGPU is absent). */
const usage = (): GPUBufferUsageFlags => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Buffer sizes are rounded up so that tensors of nearby sizes share pool entries (and vec4 reads stay in bounds). */
export function pooledByteSize(elements: number): number {
  const bytes = Math.max(16, elements * 4);
  // 256-byte granularity below 64 KiB, then 1/16 steps of the next power of two.
  if (bytes <= 65536) return Math.ceil(bytes / 256) * 256;
  const step = 2 ** Math.floor(Math.log2(bytes)) / 16;
  return Math.ceil(bytes / step) * step;
}

export function shapeSize(shape: Shape): number {
  return shape[0] * shape[1] * shape[2] * shape[3];
}

function checkShape(shape: Shape): void {
  if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`tensor shape must be four positive integers (NCHW), got [${shape.join(', ')}]`);
  }
}

export class Tensor {
  readonly size: number;
  private alive = true;

  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: Shape,
    /** The pool this tensor's buffer returns to on destroy, if any. */
    private readonly pool: TensorPool | null = null,
  ) {
    checkShape(shape);
    this.size = shapeSize(shape);
    if (this.size * 4 > buffer.size) throw new RangeError(`tensor [${shape.join(', ')}] needs ${this.size * 4} bytes; its buffer has ${buffer.size}`);
  }

  get n(): number {
    return this.shape[0];
  }
  get c(): number {
    return this.shape[1];
  }
  get h(): number {
    return this.shape[2];
  }
  get w(): number {
    return this.shape[3];
  }
  get bytes(): number {
    return this.size * 4;
  }
  get destroyed(): boolean {
    return !this.alive;
  }

  /** Same buffer, another shape of at most as many elements (a reshape; no copy). */
  reshape(shape: Shape): Tensor {
    checkShape(shape);
    if (shapeSize(shape) > this.buffer.size / 4) throw new RangeError(`cannot view [${this.shape.join(', ')}] as [${shape.join(', ')}]`);
    return new Tensor(this.buffer, shape, null);
  }

  /** Returns the buffer to its pool, or frees it. Idempotent. */
  destroy(): void {
    if (!this.alive) return;
    this.alive = false;
    if (this.pool) this.pool.release(this.buffer);
    else this.buffer.destroy();
  }
}

/** Unpooled tensor holding `data` (NCHW). */
export function tensorFrom(device: GPUDevice, data: Float32Array, shape: Shape, label = 'tensor'): Tensor {
  checkShape(shape);
  if (data.length !== shapeSize(shape)) throw new RangeError(`data has ${data.length} values, shape [${shape.join(', ')}] needs ${shapeSize(shape)}`);
  const buffer = device.createBuffer({ label, size: pooledByteSize(data.length), usage: usage(), mappedAtCreation: true });
  new Float32Array(buffer.getMappedRange(), 0, data.length).set(data);
  buffer.unmap();
  return new Tensor(buffer, shape);
}

/** Unpooled, zero-filled tensor. */
export function emptyTensor(device: GPUDevice, shape: Shape, label = 'tensor'): Tensor {
  checkShape(shape);
  return new Tensor(device.createBuffer({ label, size: pooledByteSize(shapeSize(shape)), usage: usage() }), shape);
}

/** Reads a tensor back (tests, snapshots; never inside a frame). */
export async function readTensor(device: GPUDevice, tensor: Tensor): Promise<Float32Array> {
  return readF32(device, tensor.buffer, 0, tensor.size);
}

/**
 * Buffers by byte size. `acquire` reuses a released buffer of the same rounded size or makes a
 * new one; `release` (via `Tensor.destroy`) files it for reuse. Released buffers may still be in
 * use by work encoded earlier in the same frame: that is fine, since GPU work runs in
 * submission order, as long as the caller does not acquire a buffer, write it, and expect an
 * earlier command in the same encoder to see the old contents.
 */
export class TensorPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly owned = new Set<GPUBuffer>();
  private liveBytes = 0;

  constructor(
    readonly device: GPUDevice,
    private readonly label = 'nn pool',
  ) {}

  acquire(shape: Shape, label?: string): Tensor {
    checkShape(shape);
    const size = pooledByteSize(shapeSize(shape));
    const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    if (size > limit) throw new RangeError(`tensor [${shape.join(', ')}] needs ${(size / 2 ** 20).toFixed(1)} MiB, over this device's storage binding limit of ${(limit / 2 ** 20).toFixed(1)} MiB`);
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (!buffer) {
      buffer = this.device.createBuffer({ label: label ?? `${this.label} ${size}`, size, usage: usage() });
      this.owned.add(buffer);
      this.liveBytes += size;
    }
    return new Tensor(buffer, shape, this);
  }

  /** @internal Called by Tensor.destroy. */
  release(buffer: GPUBuffer): void {
    if (!this.owned.has(buffer)) return; // pool already destroyed
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
  }

  /** Buffers made so far, buffers waiting for reuse, and their bytes. */
  get stats(): { buffers: number; free: number; bytes: number } {
    let free = 0;
    for (const l of this.free.values()) free += l.length;
    return { buffers: this.owned.size, free, bytes: this.liveBytes };
  }

  /** Frees the buffers waiting for reuse (tensors still held stay valid). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.owned.delete(b);
        this.liveBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  /** Frees every buffer the pool made, including those of tensors still held. */
  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.clear();
    this.free.clear();
    this.liveBytes = 0;
  }
}
