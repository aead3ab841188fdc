/**
 * The ONNX export of the DM-VTON student (src/app/bench/dmvton-onnx.ts, what the benchmark's
 * onnxruntime-web peer runs) against the CPU reference of the official forward: the peer runs
 * the same network as ours. ORT's single-threaded WASM provider, narrow random model, 128x96.
 */
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import { expect, test } from 'vitest';
import { dmvtonToOnnx } from '../../src/app/bench/dmvton-onnx.ts';
import { dmvtonReference } from '../../src/demos/tryon/reference.ts';
import * as ref from '../../src/nn/reference.ts';
import { NARROW_WIDTHS, syntheticGen, syntheticWarp } from '../fixtures/dmvton-synthetic.ts';
import { rng } from './harness.ts';

test('ONNX export of the student (ORT WASM) matches the CPU reference at 128x96', async () => {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.wasmPaths = { wasm: ortWasmUrl };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  const H = 128;
  const W = 96;
  const warp = syntheticWarp(NARROW_WIDTHS, 21);
  const gen = syntheticGen(NARROW_WIDTHS, 22);
  const r = rng(5);
  const person = ref.hostTensor([1, 3, H, W], () => r() * 2 - 1);
  const garment = ref.hostTensor([1, 3, H, W], (i) => Math.sin(i * 0.01));
  const edge = ref.hostTensor([1, 1, H, W], (i) => ((i % W) > 20 && (i % W) < 76 && i / W > 30 && i / W < 110 ? 1 : 0));
  const want = dmvtonReference(warp, gen, person, garment, edge);
  const masked = ref.hostTensor([1, 3, H, W], (i) => garment.data[i] * edge.data[i % (H * W)]);
  const session = await ort.InferenceSession.create(dmvtonToOnnx(warp, gen, H, W), { executionProviders: ['wasm'] });
  const out = await session.run({
    person: new ort.Tensor('float32', person.data, [1, 3, H, W]),
    garment: new ort.Tensor('float32', masked.data, [1, 3, H, W]),
    edge: new ort.Tensor('float32', edge.data, [1, 1, H, W]),
  });
  const err = (got: Float32Array, w: Float32Array) => got.reduce((m, v, i) => Math.max(m, Math.abs(v - w[i])), 0);
  const e1 = err((await out.tryon.getData()) as Float32Array, want.tryOn.data);
  const e2 = err((await out.warped_cloth.getData()) as Float32Array, want.warpedCloth.data);
  console.info(`ONNX (ORT WASM) vs reference: try-on ${e1}, warped ${e2}`);
  expect(e1).toBeLessThan(1e-3);
  expect(e2).toBeLessThan(1e-3);
  await session.release();
});
