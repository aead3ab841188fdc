import { expect } from 'vitest';
import { GpuProfiler } from '../../src/gpu/profiler.ts';
import { RadixSort, type RadixSortInput } from '../../src/gpu/radix-sort.ts';
import { cpuRadixSort } from '../../src/gpu/radix-sort-reference.ts';
import { requestGpu } from '../../src/gpu/device.ts';
import { withErrorScope } from '../../src/gpu/errors.ts';
import { bufferFrom, readU32 } from '../../src/gpu/readback.ts';
import { computePipeline } from '../../src/gpu/shader.ts';
import { gpuTest, rng, type GpuFixture } from './harness.ts';

const TILE = 64 * 128; // default workgroupSize * keysPerThread
const SENTINEL = 0xdeadbeef;

function randomKeys(n: number, seed: number, mask = 0xffffffff): Uint32Array<ArrayBuffer> {
  const random = rng(seed);
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = Math.floor(random() * 4294967296) & mask;
  return keys;
}

function iota(n: number): Uint32Array<ArrayBuffer> {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** Index of the first difference, or -1; no deep-equality diff on million-element arrays. */
function firstMismatch(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function expectSame(actual: Uint32Array, expected: Uint32Array, what: string): void {
  const i = firstMismatch(actual, expected);
  expect(i, `${what}: first mismatch at ${i} (got ${actual[i]}, want ${expected[i]}) of ${expected.length}`).toBe(-1);
}

/** Runs the sort and waits; returns milliseconds from submit to completion. */
async function run(device: GPUDevice, sorter: RadixSort, input: RadixSortInput, before?: (encoder: GPUCommandEncoder) => void): Promise<number> {
  const encoder = device.createCommandEncoder({ label: 'radix sort test' });
  before?.(encoder);
  sorter.encode(encoder, input);
  const start = performance.now();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - start;
}

/** Sorts `keys` with `values` (default: indices) on the GPU and checks against the CPU reference. */
async function checkSort(
  { device, own }: GpuFixture,
  keys: Uint32Array,
  options: { keyBits?: number; values?: Uint32Array; sorter?: RadixSort; label?: string } = {},
): Promise<number> {
  const n = keys.length;
  const values = options.values ?? iota(n);
  const sorter = options.sorter ?? own(new RadixSort(device, { maxCount: Math.max(n, 1), keyBits: options.keyBits }));
  const k = own(bufferFrom(device, keys));
  const v = own(bufferFrom(device, values));
  const ms = await run(device, sorter, { keys: k, values: v, count: n });
  const expected = cpuRadixSort(keys, values, sorter.keyBits);
  const label = options.label ?? `n=${n}`;
  expectSame(await readU32(device, k, 0, n), expected.keys, `${label} keys`);
  expectSame(await readU32(device, v, 0, n), expected.values, `${label} values`);
  return ms;
}

gpuTest('cpuRadixSort is a stable sort by key', () => {
  const keys = randomKeys(5000, 1, 0x3ff);
  const values = iota(keys.length);
  const order = [...values].sort((a, b) => keys[a] - keys[b] || a - b);
  const sorted = cpuRadixSort(keys, values);
  expect([...sorted.values]).toEqual(order);
  expect([...sorted.keys]).toEqual(order.map((i) => keys[i]));
  // keyBits: only the low bits order; ties keep input order.
  const low = cpuRadixSort(new Uint32Array([0x10002, 0x00001, 0x20002, 0x30001]), iota(4), 16);
  expect([...low.values]).toEqual([1, 3, 0, 2]);
});

gpuTest('random keys at counts around the workgroup and tile sizes', async (f) => {
  const sorter = f.own(new RadixSort(f.device, { maxCount: 3 * TILE + 17 }));
  for (const n of [2, 3, 31, 255, 256, 257, 1000, TILE - 1, TILE, TILE + 1, 3 * TILE + 17]) {
    await checkSort(f, randomKeys(n, n), { sorter });
  }
});

gpuTest('all-equal keys keep input order (stable)', async (f) => {
  // Odd pass counts too: an even number of order reversals would cancel out.
  for (const keyBits of [32, 12, 4]) {
    await checkSort(f, new Uint32Array(3 * TILE + 5).fill(0x12345678), { keyBits, label: `keyBits ${keyBits}` });
  }
});

gpuTest('few distinct keys keep input order (stable)', async (f) => {
  await checkSort(f, randomKeys(20_000, 7, 0x0f0000f1));
});

gpuTest('already sorted and reverse-sorted keys', async (f) => {
  const n = 2 * TILE + 99;
  const sorted = new Uint32Array(n).map((_, i) => i * 977 + 3);
  await checkSort(f, sorted, { label: 'sorted' });
  await checkSort(f, sorted.slice().reverse(), { label: 'reversed' });
  await checkSort(f, new Uint32Array(n).map((_, i) => 0xffffffff - i), { label: 'reversed to max' });
});

gpuTest('single element and empty input', async ({ device, own }) => {
  const sorter = own(new RadixSort(device, { maxCount: 16 }));
  const k = own(bufferFrom(device, new Uint32Array([42, SENTINEL])));
  const v = own(bufferFrom(device, new Uint32Array([7, SENTINEL])));
  await run(device, sorter, { keys: k, values: v, count: 1 });
  expect([...(await readU32(device, k))]).toEqual([42, SENTINEL]);
  expect([...(await readU32(device, v))]).toEqual([7, SENTINEL]);
  await run(device, sorter, { keys: k, values: v, count: 0 });
  expect([...(await readU32(device, k))]).toEqual([42, SENTINEL]);
  // Empty buffers (4-byte minimum) and a sorter for zero elements are valid too.
  const none = own(new RadixSort(device, { maxCount: 0 }));
  await run(device, none, { keys: own(bufferFrom(device, new Uint32Array(0))), values: own(bufferFrom(device, new Uint32Array(0))), count: 0 });
});

gpuTest('keyBits 16 sorts by the low 16 bits, stably; keyBits 12 (odd pass count) too', async (f) => {
  const keys = randomKeys(3 * TILE + 1, 16);
  await checkSort(f, keys, { keyBits: 16, label: 'keyBits 16' });
  await checkSort(f, keys, { keyBits: 12, label: 'keyBits 12' });
  await checkSort(f, randomKeys(1000, 4, 0xffff), { keyBits: 4, label: 'keyBits 4' });
});

/** A kernel that writes the count, as a culling pass would: copies src[0] to out[0] and out[65]. */
function countWriter(device: GPUDevice, own: GpuFixture['own'], countBuffer: GPUBuffer): (encoder: GPUCommandEncoder, count: number) => void {
  const pipeline = computePipeline(
    device,
    'count writer',
    /* wgsl */ `
    @group(0) @binding(0) var<storage, read> src: array<u32>;
    @group(0) @binding(1) var<storage, read_write> out: array<u32>;
    @compute @workgroup_size(1) fn main() { out[0] = src[0]; out[65] = src[0]; }`,
    'main',
  );
  const src = own(device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }));
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: src } },
      { binding: 1, resource: { buffer: countBuffer } },
    ],
  });
  return (encoder, count) => {
    device.queue.writeBuffer(src, 0, new Uint32Array([count]));
    const pass = encoder.beginComputePass({ label: 'count writer' });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(1);
    pass.end();
  };
}

gpuTest('count from the GPU: no readback, nothing past count touched', async ({ device, own }) => {
  const capacity = 2 * TILE + 300;
  const sorter = own(new RadixSort(device, { maxCount: capacity }));
  const countBuffer = own(device.createBuffer({ size: 512, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }));
  const writeCount = countWriter(device, own, countBuffer);
  const keys = randomKeys(capacity + 64, 99);
  const values = iota(keys.length);
  const k = own(bufferFrom(device, keys));
  const v = own(bufferFrom(device, values));
  // Offset 0 is bound in place; 260 is not a valid binding offset, so the count is copied.
  // The last count is over maxCount and is clamped to it.
  for (const [count, countOffset] of [[0, 0], [1, 260], [2, 0], [1000, 260], [TILE + 1, 0], [capacity, 260], [capacity + 50, 0]]) {
    device.queue.writeBuffer(k, 0, keys);
    device.queue.writeBuffer(v, 0, values);
    await run(device, sorter, { keys: k, values: v, countBuffer, countOffset }, (encoder) => writeCount(encoder, count));
    const n = Math.min(count, capacity);
    const expected = cpuRadixSort(keys.subarray(0, n), values.subarray(0, n));
    const gotKeys = await readU32(device, k);
    const gotValues = await readU32(device, v);
    const what = `gpu count ${count} at offset ${countOffset}`;
    expectSame(gotKeys.subarray(0, n), expected.keys, `${what} keys`);
    expectSame(gotValues.subarray(0, n), expected.values, `${what} values`);
    expectSame(gotKeys.subarray(n), keys.subarray(n), `${what} keys past count`);
    expectSame(gotValues.subarray(n), values.subarray(n), `${what} values past count`);
  }
});

gpuTest('a GPU count past the end of the buffers is clamped to their length', async ({ device, own }) => {
  const sorter = own(new RadixSort(device, { maxCount: 10_000 }));
  const keys = randomKeys(777, 5);
  const k = own(bufferFrom(device, keys));
  const v = own(bufferFrom(device, iota(777)));
  const countBuffer = own(bufferFrom(device, new Uint32Array([5000])));
  await run(device, sorter, { keys: k, values: v, countBuffer });
  const expected = cpuRadixSort(keys, iota(777));
  expectSame(await readU32(device, k), expected.keys, 'keys');
  expectSame(await readU32(device, v), expected.values, 'values');
});

gpuTest('one instance is reused with different counts and buffers', async ({ device, own }) => {
  const sorter = own(new RadixSort(device, { maxCount: 5 * TILE }));
  const keys = randomKeys(5 * TILE, 11);
  const k = own(bufferFrom(device, keys));
  const v = own(bufferFrom(device, iota(keys.length)));
  for (const n of [5 * TILE, 17, 2 * TILE + 3, 0, 1, 4 * TILE - 1]) {
    device.queue.writeBuffer(k, 0, keys);
    device.queue.writeBuffer(v, 0, iota(keys.length));
    await run(device, sorter, { keys: k, values: v, count: n });
    const expected = cpuRadixSort(keys.subarray(0, n), iota(n));
    const gotKeys = await readU32(device, k);
    expectSame(gotKeys.subarray(0, n), expected.keys, `n=${n} keys`);
    expectSame((await readU32(device, v)).subarray(0, n), expected.values, `n=${n} values`);
    expectSame(gotKeys.subarray(n), keys.subarray(n), `n=${n} keys past count`);
  }
  // Other buffers with the same instance.
  await checkSort({ device, own }, randomKeys(3000, 12), { sorter, label: 'new buffers' });
});

gpuTest('several CPU-count sorts in one encoder, one instance', async ({ device, own }) => {
  const sorter = own(new RadixSort(device, { maxCount: 3 * TILE }));
  const inputs = [3 * TILE, 500, 2 * TILE + 1, 2].map((n, i) => ({ keys: randomKeys(n, 40 + i), values: iota(n) }));
  const buffers = inputs.map(({ keys, values }) => ({ keys: own(bufferFrom(device, keys)), values: own(bufferFrom(device, values)), count: keys.length }));
  const encoder = device.createCommandEncoder();
  for (const b of buffers) sorter.encode(encoder, b);
  device.queue.submit([encoder.finish()]);
  for (const [i, { keys, values }] of inputs.entries()) {
    const expected = cpuRadixSort(keys, values);
    expectSame(await readU32(device, buffers[i].keys), expected.keys, `sort ${i} keys`);
    expectSame(await readU32(device, buffers[i].values), expected.values, `sort ${i} values`);
  }
});

gpuTest('works on a device with WebGPU default limits', async ({ own }) => {
  const { device } = await requestGpu({ defaultLimits: true });
  own(device);
  await withErrorScope(device, 'default limits', async () => {
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(8);
    await checkSort({ device, own }, randomKeys(3 * TILE + 7, 31), { label: 'default limits' });
  });
});

gpuTest('smaller tiles and a 2D dispatch (more tiles than a dispatch row holds)', async (f) => {
  const rows = f.device.limits.maxComputeWorkgroupsPerDimension;
  const n = rows * 8 + 1000; // tiles of 8 keys: just over one row
  const sorter = f.own(new RadixSort(f.device, { maxCount: n, keyBits: 8, workgroupSize: 8, keysPerThread: 1 }));
  await checkSort(f, randomKeys(n, 21), { sorter, label: '2D dispatch' });
  const odd = f.own(new RadixSort(f.device, { maxCount: 5000, workgroupSize: 64, keysPerThread: 5 }));
  await checkSort(f, randomKeys(5000, 22), { sorter: odd, label: '64x5 tiles' });
});

gpuTest('rejects bad options and counts', ({ device, own }) => {
  expect(() => new RadixSort(device, { maxCount: 10, keyBits: 6 })).toThrow(RangeError);
  expect(() => new RadixSort(device, { maxCount: 10, keysPerThread: 256 })).toThrow(RangeError);
  const sorter = own(new RadixSort(device, { maxCount: 10 }));
  const b = own(bufferFrom(device, new Uint32Array(20)));
  const c = own(bufferFrom(device, new Uint32Array(20)));
  expect(() => sorter.encode(device.createCommandEncoder(), { keys: b, values: c, count: 11 })).toThrow(RangeError);
  expect(() => sorter.encode(device.createCommandEncoder(), { keys: b, values: b, count: 5 })).toThrow(/different buffers/);
});

gpuTest('times all passes as the profiler stage "sort"', async ({ device, own }) => {
  const profiler = own(new GpuProfiler(device, 1));
  const sorter = own(new RadixSort(device, { maxCount: 1000 }));
  const k = own(bufferFrom(device, randomKeys(1000, 3)));
  const v = own(bufferFrom(device, iota(1000)));
  const encoder = device.createCommandEncoder();
  sorter.encode(encoder, { keys: k, values: v, count: 1000 }, profiler);
  const after = profiler.finish(encoder);
  device.queue.submit([encoder.finish()]);
  after();
  await device.queue.onSubmittedWorkDone();
  await new Promise((r) => setTimeout(r, 50));
  expect(Object.keys(profiler.stages)).toEqual([profiler.hasTimestamps ? 'sort' : 'submit (cpu)']);
});

for (const log2 of [20, 22]) {
  gpuTest(`2^${log2} random pairs`, async (f) => {
    const n = 2 ** log2;
    const keys = randomKeys(n, log2);
    const sorter = f.own(new RadixSort(f.device, { maxCount: n }));
    await checkSort(f, keys.subarray(0, 1000), { sorter, label: 'warm-up' });
    const ms = await checkSort(f, keys, { sorter });
    console.info(`radix sort 2^${log2} (${n} pairs, 32-bit keys): ${ms.toFixed(0)} ms`);
  });
}
