/**
 * Small GPU helpers shared by the neural graphics lab kernels: passes that can be opened by
 * the callee or supplied by the caller, checked storage buffers, and a uniform arena so one
 * pipeline serves many batch sizes within one command encoder.
 */

/** A whole buffer, or a range of one (offsets must respect minStorageBufferOffsetAlignment). */
export type BufferLike = GPUBuffer | GPUBufferBinding;

export { inPass, type EncodeTarget } from '../../gpu/shader.ts';

/** Storage buffer of `bytes` (at least 4), with a clear Error when the device cannot bind it. */
export function storageBuffer(device: GPUDevice, label: string, bytes: number, extraUsage: GPUBufferUsageFlags = 0): GPUBuffer {
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (size > limit) {
    throw new RangeError(`${label} needs ${(size / 2 ** 20).toFixed(1)} MiB, over this device's storage binding limit of ${(limit / 2 ** 20).toFixed(1)} MiB`);
  }
  return device.createBuffer({ label, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extraUsage });
}

/** Largest storage buffer the device can bind, in bytes. */
export function maxStorageBytes(device: GPUDevice): number {
  return Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
}

/**
 * Uniform blocks for per-call sizes. Every distinct content gets its own 256-byte slot (the
 * dynamic-offset alignment), so calls with different sizes can share one command encoder;
 * identical contents reuse their slot, so a training loop that encodes many steps per submit
 * writes nothing new. Holds `slots` distinct contents; the least recently used is recycled
 * (more distinct contents than that in one submit would overwrite a pending one).
 */
export class UniformArena {
  static readonly SLOT = 256;
  readonly buffer: GPUBuffer;
  private readonly byContent = new Map<string, number>();

  constructor(
    private readonly device: GPUDevice,
    label: string,
    private readonly slots = 64,
  ) {
    this.buffer = device.createBuffer({ label: `${label} uniforms`, size: slots * UniformArena.SLOT, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  /** Binding of a uniform block holding `data` (at most 256 bytes). */
  bind(data: ArrayBuffer): GPUBufferBinding {
    if (data.byteLength > UniformArena.SLOT) throw new RangeError(`uniform block of ${data.byteLength} bytes is over ${UniformArena.SLOT}`);
    const bytes = new Uint8Array(data);
    let key = '';
    for (let i = 0; i < bytes.length; i++) key += String.fromCharCode(bytes[i]);
    let slot = this.byContent.get(key);
    if (slot === undefined) {
      if (this.byContent.size < this.slots) {
        slot = this.byContent.size;
      } else {
        const [lruKey, lruSlot] = this.byContent.entries().next().value as [string, number];
        this.byContent.delete(lruKey);
        slot = lruSlot;
      }
      this.device.queue.writeBuffer(this.buffer, slot * UniformArena.SLOT, data);
    } else {
      this.byContent.delete(key); // re-insert: most recently used last
    }
    this.byContent.set(key, slot);
    return { buffer: this.buffer, offset: slot * UniformArena.SLOT, size: Math.ceil(data.byteLength / 16) * 16 };
  }

  destroy(): void {
    this.buffer.destroy();
  }
}

/** Workgroups for `blocks` units of work, capped at the per-dimension limit (kernels loop over the rest). */
export function cappedGroups(device: GPUDevice, blocks: number): number {
  return Math.max(1, Math.min(blocks, device.limits.maxComputeWorkgroupsPerDimension));
}

/**
 * Workgroups of `size` for `items` flat work items as a 2D dispatch, so row counts past
 * 65535 workgroups still fit one dispatch: x is capped at the per-dimension limit and y
 * covers the rest. Kernels rebuild the flat index as
 * `(workgroup_id.y * num_workgroups.x + workgroup_id.x) * size + local_invocation_index`
 * and must guard it (the last row of workgroups overshoots).
 */
export function flatGroups(device: GPUDevice, items: number, size: number): [number, number] {
  const blocks = Math.max(1, Math.ceil(items / size));
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(blocks, max);
  const y = Math.ceil(blocks / x);
  if (y > max) throw new RangeError(`${items} items need ${blocks} workgroups of ${size}, over ${max}^2`);
  return [x, y];
}
