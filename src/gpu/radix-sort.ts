/**
 * GPU radix sort of u32 key/value pairs (stable, LSD, 4-bit digits, reduce-then-scan).
 * Portable: no single-pass look-back, no subgroups, WebGPU default limits. The count may
 * live on the GPU (written by an earlier pass): dispatch sizes are then computed on the GPU
 * and the sort never reads anything back. Kernels and their rationale: shaders/radix_sort.wgsl.
 */
import sortWgsl from '../../shaders/radix_sort.wgsl?raw';
import type { GpuProfiler } from './profiler.ts';
import { computePipeline } from './shader.ts';

export { cpuRadixSort } from './radix-sort-reference.ts';

export interface RadixSortOptions {
  /** Most elements one sort handles; sizes the scratch buffers. */
  maxCount: number;
  /** Low key bits that take part in the order (multiple of 4; default 32); higher bits are ignored. */
  keyBits?: number;
  /** Threads per tile (= workgroup size of the per-tile kernels). */
  workgroupSize?: number;
  /** Consecutive keys each thread ranks serially (at most 255); tile = workgroupSize * keysPerThread <= 65535. */
  keysPerThread?: number;
}

interface SortBuffers {
  keys: GPUBuffer;
  values: GPUBuffer;
}

/** Count known on the CPU, or a u32 written by the GPU at `countOffset` of `countBuffer`. */
export type RadixSortInput = (SortBuffers & { count: number }) | (SortBuffers & { countBuffer: GPUBuffer; countOffset?: number });

const DIGIT_BITS = 4;
const BINS = 1 << DIGIT_BITS;
const WORDS = BINS / 2; // u16 counts packed in pairs

/** CPU counts go to a ring of slots, so several sorts may be encoded before one submit. */
const COUNT_SLOTS = 16;

type Kernel = 'setup' | 'count' | 'tileScan' | 'scan' | 'scatter' | 'copy';

interface Bound {
  keys: GPUBuffer;
  values: GPUBuffer;
  setup: GPUBindGroup;
  count: GPUBindGroup[];
  scatter: GPUBindGroup[];
  copy: GPUBindGroup | null;
}

export class RadixSort {
  readonly maxCount: number;
  readonly keyBits: number;
  readonly passes: number;
  readonly workgroupSize: number;
  readonly keysPerThread: number;
  /** Keys per workgroup. */
  readonly tile: number;
  private readonly pipelines: Record<Kernel, GPUComputePipeline>;
  private readonly tmpKeys: GPUBuffer;
  private readonly tmpValues: GPUBuffer;
  private readonly hist: GPUBuffer;
  private readonly prefix: GPUBuffer;
  private readonly params: GPUBuffer;
  private readonly dispatch: GPUBuffer;
  /** Slots for counts from the CPU, or copies of unaligned GPU counts. */
  private readonly count: GPUBuffer;
  private readonly countStride: number;
  private readonly slotGroups: GPUBindGroup[];
  private nextSlot = 0;
  private external: { buffer: GPUBuffer; offset: number; group: GPUBindGroup } | null = null;
  private readonly passInfo: GPUBuffer;
  private readonly passStride: number;
  private readonly scanGroup: GPUBindGroup;
  private readonly tileScanGroup: GPUBindGroup;
  private bound: Bound | null = null;

  constructor(
    private readonly device: GPUDevice,
    options: RadixSortOptions,
  ) {
    const { maxCount, keyBits = 32, workgroupSize = 64, keysPerThread = 128 } = options;
    if (!Number.isInteger(maxCount) || maxCount < 0) throw new RangeError(`maxCount must be a non-negative integer, not ${maxCount}`);
    if (!Number.isInteger(keyBits) || keyBits < DIGIT_BITS || keyBits > 32 || keyBits % DIGIT_BITS !== 0) {
      throw new RangeError(`keyBits must be a multiple of ${DIGIT_BITS} in [${DIGIT_BITS}, 32], not ${keyBits}`);
    }
    if (!Number.isInteger(workgroupSize) || workgroupSize < 1 || workgroupSize > device.limits.maxComputeInvocationsPerWorkgroup) {
      throw new RangeError(`workgroupSize must be a positive integer within the device limit, not ${workgroupSize}`);
    }
    const tile = workgroupSize * keysPerThread;
    if (!Number.isInteger(keysPerThread) || keysPerThread < 1 || keysPerThread > 255 || tile > 0xffff) {
      throw new RangeError(`keysPerThread must be an integer in [1, 255] with workgroupSize * keysPerThread <= 65535, not ${keysPerThread}`);
    }
    const bytes = Math.max(4, maxCount * 4);
    if (bytes > device.limits.maxStorageBufferBindingSize) {
      throw new RangeError(`maxCount ${maxCount} needs ${bytes}-byte buffers, over maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize}`);
    }
    this.maxCount = maxCount;
    this.keyBits = keyBits;
    this.passes = keyBits / DIGIT_BITS;
    this.workgroupSize = workgroupSize;
    this.keysPerThread = keysPerThread;
    this.tile = tile;

    const WG = workgroupSize;
    const KEYS_PER_THREAD = keysPerThread;
    const pipe = (entry: string, constants: Record<string, number>) => computePipeline(device, 'radix sort', sortWgsl, entry, constants);
    this.pipelines = {
      setup: pipe('setup', { WG, KEYS_PER_THREAD, MAX_COUNT: maxCount, MAX_ROW: device.limits.maxComputeWorkgroupsPerDimension }),
      count: pipe('count', { WG, KEYS_PER_THREAD }),
      tileScan: pipe('tileScan', { WG }),
      scan: pipe('scan', {}),
      scatter: pipe('scatter', { WG, KEYS_PER_THREAD }),
      copy: pipe('copy', { WG, KEYS_PER_THREAD }),
    };

    const blocks = Math.max(1, Math.ceil(maxCount / tile));
    const storage = GPUBufferUsage.STORAGE;
    const buffer = (label: string, size: number, usage: GPUBufferUsageFlags) => device.createBuffer({ label: `radix sort ${label}`, size, usage });
    this.tmpKeys = buffer('keys', bytes, storage);
    this.tmpValues = buffer('values', bytes, storage);
    this.hist = buffer('histogram', blocks * BINS * 4, storage);
    this.prefix = buffer('offsets', blocks * WORDS * workgroupSize * 4, storage);
    this.params = buffer('params', 16, storage);
    this.dispatch = buffer('dispatch', 32, storage | GPUBufferUsage.INDIRECT);
    this.countStride = device.limits.minStorageBufferOffsetAlignment;
    this.count = buffer('count', COUNT_SLOTS * this.countStride, storage | GPUBufferUsage.COPY_DST);
    this.passStride = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.passInfo = buffer('shifts', this.passes * this.passStride, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const shifts = new Uint32Array((this.passes * this.passStride) / 4);
    for (let p = 0; p < this.passes; p++) shifts[(p * this.passStride) / 4] = p * DIGIT_BITS;
    device.queue.writeBuffer(this.passInfo, 0, shifts);

    this.scanGroup = this.group('scan', { 3: this.params, 8: this.hist });
    this.tileScanGroup = this.group('tileScan', { 3: this.params, 8: this.hist, 10: this.prefix });
    this.slotGroups = Array.from({ length: COUNT_SLOTS }, (_, i) => this.countGroup(this.count, i * this.countStride));
  }

  /**
   * Records the sort into `encoder`; afterwards the first `count` pairs of `keys`/`values`
   * are sorted by key, stably, and nothing past `count` is touched. A GPU count is clamped to
   * maxCount and to the buffers' lengths. A CPU count is written with queue.writeBuffer into
   * a ring of 16 slots: up to 16 CPU-count sorts per instance may be encoded before a submit.
   * `keys` and `values` are distinct buffers with STORAGE usage; a countBuffer needs STORAGE
   * with a countOffset aligned to minStorageBufferOffsetAlignment (bound in place), or else
   * COPY_SRC (copied).
   */
  encode(encoder: GPUCommandEncoder, input: RadixSortInput, profiler?: GpuProfiler): void {
    const { keys, values } = input;
    if (keys === values) throw new Error('keys and values must be different buffers');
    let countGroup: GPUBindGroup;
    if ('count' in input) {
      const { count } = input;
      if (!Number.isInteger(count) || count < 0 || count > this.maxCount) throw new RangeError(`count ${count} is outside [0, maxCount = ${this.maxCount}]`);
      if (count * 4 > keys.size || count * 4 > values.size) throw new RangeError(`count ${count} exceeds the keys (${keys.size} B) or values (${values.size} B) buffer`);
      if (count < 2) return; // already sorted
      const slot = this.takeSlot();
      this.device.queue.writeBuffer(this.count, slot * this.countStride, new Uint32Array([count]));
      countGroup = this.slotGroups[slot];
    } else {
      const { countBuffer: src, countOffset = 0 } = input;
      if (countOffset % 4 !== 0 || countOffset + 4 > src.size) throw new RangeError(`countOffset ${countOffset} must be a multiple of 4 inside the count buffer`);
      if (src.usage & GPUBufferUsage.STORAGE && countOffset % this.device.limits.minStorageBufferOffsetAlignment === 0) {
        if (this.external?.buffer !== src || this.external.offset !== countOffset) {
          this.external = { buffer: src, offset: countOffset, group: this.countGroup(src, countOffset) };
        }
        countGroup = this.external.group;
      } else if (src.usage & GPUBufferUsage.COPY_SRC) {
        const slot = this.takeSlot();
        encoder.copyBufferToBuffer(src, countOffset, this.count, slot * this.countStride, 4);
        countGroup = this.slotGroups[slot];
      } else {
        throw new Error('countBuffer needs STORAGE usage (with an aligned countOffset) or COPY_SRC usage');
      }
    }
    const bound = this.bind(keys, values);
    const pass = profiler ? profiler.computePass(encoder, 'sort') : encoder.beginComputePass({ label: 'radix sort' });
    pass.setPipeline(this.pipelines.setup);
    pass.setBindGroup(0, bound.setup);
    pass.setBindGroup(1, countGroup);
    pass.dispatchWorkgroups(1);
    for (let p = 0; p < this.passes; p++) {
      pass.setPipeline(this.pipelines.count);
      pass.setBindGroup(0, bound.count[p]);
      pass.dispatchWorkgroupsIndirect(this.dispatch, 0);
      pass.setPipeline(this.pipelines.tileScan);
      pass.setBindGroup(0, this.tileScanGroup);
      pass.dispatchWorkgroupsIndirect(this.dispatch, 16);
      pass.setPipeline(this.pipelines.scan);
      pass.setBindGroup(0, this.scanGroup);
      pass.dispatchWorkgroups(1);
      pass.setPipeline(this.pipelines.scatter);
      pass.setBindGroup(0, bound.scatter[p]);
      pass.dispatchWorkgroupsIndirect(this.dispatch, 0);
    }
    if (bound.copy) {
      pass.setPipeline(this.pipelines.copy);
      pass.setBindGroup(0, bound.copy);
      pass.dispatchWorkgroupsIndirect(this.dispatch, 0);
    }
    pass.end();
  }

  destroy(): void {
    for (const b of [this.tmpKeys, this.tmpValues, this.hist, this.prefix, this.params, this.dispatch, this.count, this.passInfo]) b.destroy();
    this.bound = null;
    this.external = null;
  }

  private takeSlot(): number {
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % COUNT_SLOTS;
    return slot;
  }

  private countGroup(buffer: GPUBuffer, offset: number): GPUBindGroup {
    return this.device.createBindGroup({
      label: 'radix sort count',
      layout: this.pipelines.setup.getBindGroupLayout(1),
      entries: [{ binding: 0, resource: { buffer, offset, size: 4 } }],
    });
  }

  /** Bind groups for one set of caller buffers; the last set is kept for the next frame. */
  private bind(keys: GPUBuffer, values: GPUBuffer): Bound {
    const last = this.bound;
    if (last && last.keys === keys && last.values === values) return last;
    const count: GPUBindGroup[] = [];
    const scatter: GPUBindGroup[] = [];
    let src = { keys, values };
    let dst = { keys: this.tmpKeys, values: this.tmpValues };
    for (let p = 0; p < this.passes; p++) {
      const shift = { buffer: this.passInfo, offset: p * this.passStride, size: 4 };
      count.push(this.group('count', { 3: this.params, 4: src.keys, 10: this.prefix, 12: shift }));
      scatter.push(
        this.group('scatter', { 3: this.params, 4: src.keys, 5: src.values, 6: dst.keys, 7: dst.values, 9: this.hist, 11: this.prefix, 12: shift }),
      );
      [src, dst] = [dst, src];
    }
    // An odd pass count leaves the result in scratch: copy it back.
    const copy = this.passes % 2 ? this.group('copy', { 3: this.params, 4: this.tmpKeys, 5: this.tmpValues, 6: keys, 7: values }) : null;
    const setup = this.group('setup', {
      1: this.params,
      2: this.dispatch,
      4: keys,
      5: values,
    });
    this.bound = { keys, values, setup, count, scatter, copy };
    return this.bound;
  }

  private group(entry: Kernel, resources: Record<number, GPUBuffer | GPUBufferBinding>): GPUBindGroup {
    return this.device.createBindGroup({
      label: `radix sort ${entry}`,
      layout: this.pipelines[entry].getBindGroupLayout(0),
      entries: Object.entries(resources).map(([binding, r]) => ({
        binding: Number(binding),
        resource: r instanceof GPUBuffer ? { buffer: r } : r,
      })),
    });
  }
}
