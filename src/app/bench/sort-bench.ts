import { GpuProfiler } from '../../gpu/profiler.ts';
import { RadixSort } from '../../gpu/radix-sort.ts';
import { row, sample, type BenchContext, type BenchRow, type BenchSuite } from './harness.ts';

/**
 * GPU radix sort of key/value pairs against the browser's own typed-array sort, same keys,
 * same run. The GPU time is submit-to-done wall time (what a frame pays), with the
 * timestamp-query time of the sort passes alongside.
 */
export const sortBench: BenchSuite = {
  name: 'sort',
  title: 'GPU radix sort vs typed-array sort',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    const sizes = [1 << 16, 1 << 18, 1 << 20, 1 << 22];
    for (const [i, n] of sizes.entries()) {
      const label = `2^${Math.log2(n)} pairs`;
      const reps = n > 1 << 20 ? 3 : n > 1 << 18 ? 5 : 9;
      const keys = new Uint32Array(n);
      let s = 12345;
      for (let k = 0; k < n; k++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        keys[k] = s;
      }
      const values = Uint32Array.from({ length: n }, (_, k) => k);

      ctx.progress(i / sizes.length, `${label}: GPU radix sort`);
      rows.push(await gpuSort(ctx.device, keys, values, label, reps));

      ctx.progress((i + 0.5) / sizes.length, `${label}: typed-array sort`);
      const keysOnly = await sample(() => void keys.slice().sort(), reps, 1, ctx.signal);
      rows.push(row('sort', label, 'Uint32Array.prototype.sort', false, keysOnly, { note: 'keys only' }));
      const packed = new BigUint64Array(n);
      const pairs = await sample(
        () => {
          for (let k = 0; k < n; k++) packed[k] = (BigInt(keys[k]) << 32n) | BigInt(k);
          packed.sort();
        },
        reps,
        1,
        ctx.signal,
      );
      rows.push(row('sort', label, 'BigUint64Array.prototype.sort', false, pairs, { note: 'packed (key << 32) + value, stable' }));
    }
    ctx.progress(1, 'sort done');
    return rows;
  },
};

async function gpuSort(device: GPUDevice, keys: Uint32Array<ArrayBuffer>, values: Uint32Array<ArrayBuffer>, label: string, reps: number): Promise<BenchRow> {
  const n = keys.length;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const pristineKeys = device.createBuffer({ size: n * 4, usage });
  const pristineValues = device.createBuffer({ size: n * 4, usage });
  const k = device.createBuffer({ size: n * 4, usage });
  const v = device.createBuffer({ size: n * 4, usage });
  device.queue.writeBuffer(pristineKeys, 0, keys);
  device.queue.writeBuffer(pristineValues, 0, values);
  const sorter = new RadixSort(device, { maxCount: n });
  const profiler = new GpuProfiler(device, 1);
  try {
    const samples = await sample(async () => {
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(pristineKeys, 0, k, 0, n * 4);
      encoder.copyBufferToBuffer(pristineValues, 0, v, 0, n * 4);
      sorter.encode(encoder, { keys: k, values: v, count: n }, profiler);
      const after = profiler.finish(encoder);
      device.queue.submit([encoder.finish()]);
      after();
      await device.queue.onSubmittedWorkDone();
    }, reps);
    await new Promise((r) => setTimeout(r, 20));
    return row('sort', label, 'ours: WGSL radix sort', true, samples, { gpuMs: profiler.stages.sort, note: 'incl. 2 buffer copies' });
  } finally {
    sorter.destroy();
    profiler.destroy();
    for (const b of [pristineKeys, pristineValues, k, v]) b.destroy();
  }
}
