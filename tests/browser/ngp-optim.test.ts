import { expect } from 'vitest';
import { bufferFrom, readBuffer, readF32 } from '../../src/gpu/readback.ts';
import { Adam } from '../../src/nn/ngp/adam.ts';
import { Loss, LossReadback } from '../../src/nn/ngp/loss.ts';
import { adamReference, lossReference } from '../../src/nn/ngp/reference.ts';
import { gpuTest, rng } from './harness.ts';

function close(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, abs: number): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (abs + rel * Math.abs(want[i])));
  return worst;
}

gpuTest('Adam (matrix params: L2, shared step counter) matches tcnn adam_step', async ({ device, own }) => {
  const count = 1000;
  const random = rng(1);
  const init = Float32Array.from({ length: count }, () => random() * 2 - 1);
  const params = own(bufferFrom(device, init));
  const adam = own(new Adam(device, { count, matrix: true, learningRate: 1e-2, l2Reg: 1e-3 }));
  const state = { params: Float64Array.from(init), m: new Float64Array(count), v: new Float64Array(count), steps: new Uint32Array(count) };
  const lossScale = 8;
  for (let s = 0; s < 4; s++) {
    const g = Float32Array.from({ length: count }, () => (random() * 2 - 1) * (s === 2 ? 1e-6 : 3));
    const grads = own(bufferFrom(device, g));
    const encoder = device.createCommandEncoder();
    adam.encodeStep(encoder, params, grads, lossScale);
    device.queue.submit([encoder.finish()]);
    adamReference(state, g, { ...adam.hyper, matrix: true, lossScale });
  }
  const got = await readF32(device, params, 0, count);
  expect(close(got, state.params, 1e-5, 1e-6)).toBeLessThan(1);
  expect(Array.from(new Uint32Array(await readBuffer(device, adam.steps, 0, 4)))).toEqual([4]);
});

gpuTest('Adam (grid params: fixed-point grads, zero gradients skipped, per-parameter steps)', async ({ device, own }) => {
  const count = 4096;
  const scale = 2 ** 16;
  const random = rng(2);
  const init = Float32Array.from({ length: count }, () => (random() * 2 - 1) * 1e-4);
  const params = own(bufferFrom(device, init));
  const adam = own(new Adam(device, { count, matrix: false, gradients: 'fixed', fixedPointScale: scale }));
  const state = { params: Float64Array.from(init), m: new Float64Array(count), v: new Float64Array(count), steps: new Uint32Array(count) };
  const grads = own(device.createBuffer({ size: count * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC }));
  for (let s = 0; s < 3; s++) {
    const fixed = Int32Array.from({ length: count }, () => (random() < 0.3 ? 0 : Math.round((random() * 2 - 1) * 5 * scale)));
    device.queue.writeBuffer(grads, 0, fixed);
    const encoder = device.createCommandEncoder();
    adam.encodeStep(encoder, params, grads, 1);
    device.queue.submit([encoder.finish()]);
    adamReference(state, Array.from(fixed, (q) => q / scale), { ...adam.hyper, matrix: false });
    expect(new Int32Array(await readBuffer(device, grads)).every((q) => q === 0)).toBe(true);
  }
  const got = await readF32(device, params, 0, count);
  expect(close(got, state.params, 1e-5, 1e-7)).toBeLessThan(1);
  expect(Array.from(new Uint32Array(await readBuffer(device, adam.steps)))).toEqual(Array.from(state.steps));
});

gpuTest('L2 and relative L2 losses: gradients, padding, GPU-reduced value and running stats', async ({ device, own }) => {
  const random = rng(3);
  const loss = own(new Loss(device));
  const readback = own(new LossReadback(device));
  for (const [n, dims, stride] of [[1000, 3, 4], [333, 1, 4], [2048, 16, 16]]) {
    const pred = Float32Array.from({ length: n * stride }, () => random() * 2 - 0.5);
    const target = Float32Array.from({ length: n * dims }, () => random());
    const p = own(bufferFrom(device, pred));
    const t = own(bufferFrom(device, target));
    const grad = own(device.createBuffer({ size: n * stride * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }));
    for (const kind of ['l2', 'relative_l2'] as const) {
      const encoder = device.createCommandEncoder();
      loss.encodeReset(encoder);
      loss.encode(encoder, kind, { predictions: p, targets: t, gradients: grad }, n, dims, stride, 64);
      loss.encode(encoder, kind, { predictions: p, targets: t, gradients: grad }, n, dims, stride, 64);
      const after = readback.encode(encoder, loss.stats);
      device.queue.submit([encoder.finish()]);
      after();
      const want = lossReference(kind, pred, target, n, dims, stride, 64);
      expect(close(await readF32(device, grad), want.gradient, 1e-5, 1e-9)).toBeLessThan(1);
      const [last, sum, calls] = await readF32(device, loss.stats, 0, 3);
      expect(last).toBeCloseTo(want.loss, 5);
      expect(sum).toBeCloseTo(2 * want.loss, 5);
      expect(calls).toBe(2);
      await device.queue.onSubmittedWorkDone();
      await new Promise((r) => setTimeout(r, 10));
      expect(readback.latest?.count).toBe(2);
      expect(readback.latest?.mean).toBeCloseTo(want.loss, 5);
    }
  }
});
