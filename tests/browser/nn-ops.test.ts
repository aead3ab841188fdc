import { expect } from 'vitest';
import { Conv2d, type ConvImpl } from '../../src/nn/ops/conv2d.ts';
import type { Activation } from '../../src/nn/ops/common.ts';
import * as ref from '../../src/nn/reference.ts';
import { emptyTensor, readTensor, tensorFrom, type Shape, type Tensor } from '../../src/nn/tensor.ts';
import { gpuTest, rng } from './harness.ts';

type Own = <T extends { destroy(): void }>(r: T) => T;

function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length }, () => (r() * 2 - 1) * scale);
}

function randomHost(shape: Shape, seed: number, scale = 1): ref.HostTensor {
  return { data: randomArray(shape[0] * shape[1] * shape[2] * shape[3], seed, scale), shape };
}

function upload(device: GPUDevice, own: Own, t: ref.HostTensor): Tensor {
  return own(tensorFrom(device, t.data, t.shape));
}

async function expectClose(device: GPUDevice, got: Tensor, want: ref.HostTensor, label: string, tolerance = 1e-4): Promise<number> {
  expect(got.shape, label).toEqual(want.shape);
  const data = await readTensor(device, got);
  const err = ref.maxRelativeError(data, want.data);
  if (!(err < tolerance)) console.info(`${label}: max relative error ${err.toExponential(2)}`);
  expect(err, label).toBeLessThan(tolerance);
  return err;
}

interface ConvCase {
  n?: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  k: number;
  stride?: number;
  padding?: number;
  groups?: number;
  dilation?: number;
  activation?: Activation;
  alpha?: number;
  bias?: boolean;
  impl?: ConvImpl;
}

async function checkConv(device: GPUDevice, own: Own, c: ConvCase, seed: number): Promise<void> {
  const n = c.n ?? 1;
  const groups = c.groups ?? 1;
  const x = randomHost([n, c.cin, c.h, c.w], seed);
  const weight = randomArray(c.cout * (c.cin / groups) * c.k * c.k, seed + 1, 1 / Math.sqrt((c.cin / groups) * c.k * c.k));
  const bias = c.bias === false ? undefined : randomArray(c.cout, seed + 2, 0.5);
  const conv = own(
    new Conv2d(device, {
      inChannels: c.cin,
      outChannels: c.cout,
      kernel: c.k,
      stride: c.stride,
      padding: c.padding,
      groups,
      dilation: c.dilation,
      weight,
      bias,
      activation: c.activation,
      alpha: c.alpha,
      impl: c.impl,
    }),
  );
  const want = ref.conv2d(x, weight, bias, c.cout, c.k, { stride: c.stride, padding: c.padding, groups, dilation: c.dilation, activation: c.activation, alpha: c.alpha });
  const input = upload(device, own, x);
  const out = own(emptyTensor(device, conv.outputShape(input.shape)));
  const encoder = device.createCommandEncoder();
  conv.encode(encoder, input, out);
  device.queue.submit([encoder.finish()]);
  await expectClose(device, out, want, `conv ${JSON.stringify(c)} (${conv.impl})`);
}

gpuTest('conv2d 1x1 GEMM: aligned and odd pixel counts, tile-edge channels, batches, activations', async ({ device, own }) => {
  const cases: ConvCase[] = [
    { cin: 16, cout: 16, h: 4, w: 4, k: 1 },
    { cin: 37, cout: 70, h: 5, w: 7, k: 1, activation: 'gelu' },
    { cin: 64, cout: 65, h: 6, w: 6, k: 1, activation: 'relu6' },
    { cin: 31, cout: 3, h: 9, w: 9, k: 1, activation: 'sigmoid', n: 2 },
    { cin: 8, cout: 33, h: 12, w: 12, k: 1, activation: 'leaky_relu', alpha: 0.1, n: 2 },
    { cin: 20, cout: 24, h: 3, w: 5, k: 1, activation: 'tanh', bias: false },
    { cin: 12, cout: 18, h: 8, w: 4, k: 1, activation: 'relu' },
  ];
  let seed = 100;
  for (const c of cases) await checkConv(device, own, c, (seed += 10));
});

gpuTest('conv2d k x k: implicit GEMM, direct and depthwise, strides, padding, groups', async ({ device, own }) => {
  const cases: ConvCase[] = [
    { cin: 3, cout: 32, h: 11, w: 9, k: 3, padding: 1 },
    { cin: 7, cout: 32, h: 12, w: 10, k: 3, stride: 2, padding: 1, activation: 'relu6' },
    { cin: 32, cout: 2, h: 8, w: 6, k: 3, padding: 1 },
    { cin: 49, cout: 20, h: 7, w: 5, k: 3, padding: 1, activation: 'leaky_relu', alpha: 0.1 },
    { cin: 5, cout: 6, h: 9, w: 9, k: 5, stride: 3, padding: 2 },
    { cin: 5, cout: 6, h: 9, w: 9, k: 5, stride: 3, padding: 2, impl: 'direct' },
    { cin: 8, cout: 12, h: 7, w: 7, k: 3, padding: 1, groups: 4, activation: 'relu' },
    { cin: 4, cout: 4, h: 9, w: 9, k: 3, padding: 2, dilation: 2 },
    { cin: 24, cout: 24, h: 9, w: 11, k: 3, padding: 1, groups: 24, activation: 'relu6', bias: false },
    { cin: 24, cout: 24, h: 10, w: 13, k: 3, stride: 2, padding: 1, groups: 24, activation: 'relu6' },
    { cin: 16, cout: 16, h: 10, w: 13, k: 3, stride: 2, padding: 1, groups: 16, impl: 'direct' },
    { cin: 6, cout: 9, h: 6, w: 6, k: 1, stride: 2, n: 2 },
  ];
  let seed = 300;
  for (const c of cases) await checkConv(device, own, c, (seed += 10));
});

async function timeGpu(device: GPUDevice, encode: (encoder: GPUCommandEncoder) => void, repeats = 2): Promise<number> {
  const once = async () => {
    const encoder = device.createCommandEncoder();
    encode(encoder);
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await once(); // pipelines compiled, caches warm
  let best = Infinity;
  for (let i = 0; i < repeats; i++) best = Math.min(best, await once());
  return best;
}

gpuTest('timing: 1x1 conv 256->256 over 64x64 pixels, tiled GEMM vs naive direct kernel', async ({ device, own }) => {
  const C = 256;
  const x = randomHost([1, C, 64, 64], 7);
  const weight = randomArray(C * C, 8, 1 / 16);
  const bias = randomArray(C, 9, 0.1);
  const input = upload(device, own, x);
  const outGemm = own(emptyTensor(device, [1, C, 64, 64]));
  const outDirect = own(emptyTensor(device, [1, C, 64, 64]));
  const gemm = own(new Conv2d(device, { inChannels: C, outChannels: C, kernel: 1, weight, bias, activation: 'gelu', impl: 'gemm' }));
  const direct = own(new Conv2d(device, { inChannels: C, outChannels: C, kernel: 1, weight, bias, activation: 'gelu', impl: 'direct' }));
  const gemmMs = await timeGpu(device, (e) => gemm.encode(e, input, outGemm));
  const directMs = await timeGpu(device, (e) => direct.encode(e, input, outDirect), 1);
  const gflop = (2 * C * C * 64 * 64) / 1e9;
  console.info(
    `1x1 conv 256->256 @64x64 (${gflop.toFixed(2)} GFLOP): tiled GEMM ${gemmMs.toFixed(1)} ms (${(gflop / (gemmMs / 1000)).toFixed(2)} GFLOP/s), ` +
      `naive direct ${directMs.toFixed(1)} ms (${(gflop / (directMs / 1000)).toFixed(2)} GFLOP/s): ${(directMs / gemmMs).toFixed(1)}x`,
  );
  const a = await readTensor(device, outGemm);
  const b = await readTensor(device, outDirect);
  expect(ref.maxRelativeError(a, b)).toBeLessThan(1e-4);
}, 600_000);
