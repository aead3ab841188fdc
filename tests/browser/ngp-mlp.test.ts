import { expect } from 'vitest';
import { bufferFrom, readF32 } from '../../src/gpu/readback.ts';
import { mlpLayout, type MlpConfig } from '../../src/nn/ngp/config.ts';
import { FusedMlp, type FusedMlpOptions } from '../../src/nn/ngp/fused-mlp.ts';
import type { MlpKernels } from '../../src/nn/ngp/mlp.ts';
import { UnfusedMlp } from '../../src/nn/ngp/unfused-mlp.ts';
import { withErrorScope } from '../../src/gpu/errors.ts';
import { test } from 'vitest';
import { mlpBackward, mlpForward } from '../../src/nn/ngp/reference.ts';
import { gpuTest, rng } from './harness.ts';

type Make = (device: GPUDevice, config: MlpConfig, maxBatch: number) => MlpKernels;

function randomInputs(config: MlpConfig, n: number, seed: number) {
  const layout = mlpLayout(config);
  const random = rng(seed);
  const input = new Float32Array(n * layout.inputPadded);
  for (let r = 0; r < n; r++) for (let k = 0; k < config.inputDims; k++) input[r * layout.inputPadded + k] = random() * 2 - 1;
  const dOutput = new Float32Array(n * layout.outputPadded);
  for (let r = 0; r < n; r++) for (let o = 0; o < config.outputDims; o++) dOutput[r * layout.outputPadded + o] = random() * 2 - 1;
  return { layout, input, dOutput };
}

function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>, count = want.length): { worst: number; scale: number } {
  let scale = 0;
  for (let i = 0; i < count; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = 0;
  for (let i = 0; i < count; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (scale || 1));
  return { worst, scale };
}

/** Runs forward, train forward and backward of `mlp`; compares with the CPU reference. */
export async function checkMlp(device: GPUDevice, own: <T extends { destroy(): void }>(r: T) => T, mlp: MlpKernels, n: number, tolerance: number, label: string) {
  const config = mlp.config;
  const { layout, input, dOutput } = randomInputs(config, n, 17);
  const inBuf = own(bufferFrom(device, input));
  const dOut = own(bufferFrom(device, dOutput));
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  const out = own(device.createBuffer({ size: n * layout.outputPadded * 4, usage }));
  const outTrain = own(device.createBuffer({ size: n * layout.outputPadded * 4, usage }));
  const dIn = own(device.createBuffer({ size: n * layout.inputPadded * 4, usage }));
  const encoder = device.createCommandEncoder();
  mlp.encodeForward(encoder, inBuf, out, n);
  mlp.encodeTrainForward(encoder, inBuf, outTrain, n);
  mlp.encodeBackward(encoder, { input: inBuf, output: outTrain, dOutput: dOut, dInput: dIn }, n);
  device.queue.submit([encoder.finish()]);
  const weights = await readF32(device, mlp.params, 0, layout.paramCount);
  const want = mlpForward(config, weights, input, n);
  const back = mlpBackward(config, weights, input, dOutput, n);
  const fwd = maxRelError(await readF32(device, out), want.output);
  const fwdTrain = maxRelError(await readF32(device, outTrain), want.output);
  const dW = maxRelError(await readF32(device, mlp.grads, 0, layout.paramCount), back.dWeights);
  const dX = maxRelError(await readF32(device, dIn), back.dInput);
  console.info(`${label}: max error / max |value|: forward ${fwd.worst.toExponential(1)}, dW ${dW.worst.toExponential(1)}, dInput ${dX.worst.toExponential(1)}`);
  expect(fwd.worst).toBeLessThan(tolerance);
  expect(fwdTrain.worst).toBeLessThan(tolerance);
  expect(dW.worst).toBeLessThan(tolerance);
  expect(dX.worst).toBeLessThan(tolerance);
  expect(dW.scale).toBeGreaterThan(0);
}

const fused = (options: Partial<FusedMlpOptions> = {}): Make => (device, config, maxBatch) => new FusedMlp(device, config, { maxBatch, seed: 5, ...options });

const widthCases: [MlpConfig, number][] = [
  [{ inputDims: 32, outputDims: 3, width: 16, hiddenLayers: 2, outputActivation: 'none' }, 300],
  [{ inputDims: 32, outputDims: 1, width: 32, hiddenLayers: 3, outputActivation: 'sigmoid' }, 300],
  [{ inputDims: 32, outputDims: 3, width: 64, hiddenLayers: 2, outputActivation: 'exp' }, 300],
  [{ inputDims: 16, outputDims: 16, width: 64, hiddenLayers: 1, outputActivation: 'relu' }, 200],
  [{ inputDims: 24, outputDims: 4, width: 128, hiddenLayers: 2, outputActivation: 'none' }, 130],
  [{ inputDims: 5, outputDims: 2, width: 32, hiddenLayers: 8, outputActivation: 'sigmoid' }, 150],
  [{ inputDims: 96, outputDims: 7, width: 32, hiddenLayers: 2, outputActivation: 'none' }, 150],
];

for (const [config, n] of widthCases) {
  const name = `width ${config.width}, in ${config.inputDims}, out ${config.outputDims}, ${config.hiddenLayers} hidden, ${config.outputActivation}`;
  // Both block-shape families, whatever this adapter is: GPU shapes and CPU-implementation shapes.
  gpuTest(`fused MLP forward/backward match the CPU: ${name}`, async ({ device, own }) => {
    for (const cpu of [false, true]) {
      const mlp = own(fused({ cpu })(device, config, n));
      await checkMlp(device, own, mlp, n, 1e-4, `fused ${name}, ${cpu ? 'CPU' : 'GPU'} shapes [${(mlp as FusedMlp).key}]`);
    }
  });
}

gpuTest('fused MLP: many blocks per workgroup, forced block shapes, with and without cached weights', async ({ device, own }) => {
  const config: MlpConfig = { inputDims: 32, outputDims: 3, width: 64, hiddenLayers: 2, outputActivation: 'none' };
  const narrow: MlpConfig = { ...config, width: 32 };
  const variants: [MlpConfig, Partial<FusedMlpOptions>][] = [
    [config, { maxPartialGroups: 3, rowsPerBlock: 32, cacheWeights: false }],
    [config, { maxPartialGroups: 2, rowsPerBlock: 16, cacheWeights: true }],
    [narrow, { rowsPerBlock: 128, cacheWeights: false }],
  ];
  for (const [config, options] of variants) {
    const mlp = own(fused(options)(device, config, 333));
    await checkMlp(device, own, mlp, 333, 1e-4, `fused ${JSON.stringify(options)} [${(mlp as FusedMlp).key}]`);
  }
});

gpuTest('unfused MLP baseline matches the CPU (and so the fused MLP)', async ({ device, own }) => {
  for (const [config, n] of [widthCases[2], widthCases[1], widthCases[4]]) {
    for (const cpu of [false, true]) {
      const mlp = own(new UnfusedMlp(device, config, { maxBatch: n, seed: 5, cpu }));
      expect(mlp.tile).toBe(cpu ? 16 : 64);
      await checkMlp(device, own, mlp, n, 1e-4, `unfused width ${config.width}, ${mlp.tile}x${mlp.tile} GEMM tiles`);
    }
  }
});

gpuTest('fused and unfused agree on the same weights', async ({ device, own }) => {
  const config: MlpConfig = { inputDims: 32, outputDims: 3, width: 64, hiddenLayers: 3, outputActivation: 'sigmoid' };
  const n = 777;
  const a = own(new FusedMlp(device, config, { maxBatch: n, seed: 9 }));
  const b = own(new UnfusedMlp(device, config, { maxBatch: n, seed: 9 }));
  const { layout, input, dOutput } = randomInputs(config, n, 23);
  const inBuf = own(bufferFrom(device, input));
  const dOut = own(bufferFrom(device, dOutput));
  const results: Float32Array[][] = [];
  for (const mlp of [a, b]) {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    const out = own(device.createBuffer({ size: n * layout.outputPadded * 4, usage }));
    const dIn = own(device.createBuffer({ size: n * layout.inputPadded * 4, usage }));
    const encoder = device.createCommandEncoder();
    mlp.encodeTrainForward(encoder, inBuf, out, n);
    mlp.encodeBackward(encoder, { input: inBuf, output: out, dOutput: dOut, dInput: dIn }, n);
    device.queue.submit([encoder.finish()]);
    results.push([await readF32(device, out), await readF32(device, mlp.grads, 0, layout.paramCount), await readF32(device, dIn)]);
  }
  for (let k = 0; k < 3; k++) expect(maxRelError(results[0][k], results[1][k]).worst).toBeLessThan(1e-5);
});

test('fused MLP at WebGPU default limits (16 KiB workgroup storage) picks a valid block and matches the CPU', async () => {
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter!.requestDevice();
  const owned: { destroy(): void }[] = [];
  const own = <T extends { destroy(): void }>(r: T) => (owned.push(r), r);
  try {
    expect(device.limits.maxComputeWorkgroupStorageSize).toBe(16384);
    await withErrorScope(device, 'default limits', async () => {
      for (const [config, n] of [widthCases[2], widthCases[4], widthCases[6]]) {
        // Phones are GPUs: their block shapes at 16 KiB.
        const mlp = own(new FusedMlp(device, config, { maxBatch: n, seed: 5, cpu: false }));
        expect(mlp.block.workgroupBytes).toBeLessThanOrEqual(16384);
        expect(mlp.block.threads).toBeLessThanOrEqual(device.limits.maxComputeInvocationsPerWorkgroup);
        await checkMlp(device, own, mlp, n, 1e-4, `default limits width ${config.width} [${mlp.key}]`);
      }
    });
  } finally {
    for (const r of owned) r.destroy();
    device.destroy();
  }
});

gpuTest('f16 fused MLP (only where shader-f16 exists)', async ({ device, own }) => {
  if (!device.features.has('shader-f16')) {
    expect(() => new FusedMlp(device, widthCases[2][0], { maxBatch: 16, precision: 'f16' })).toThrow(/shader-f16/);
    console.info('shader-f16 not available: f16 path not run');
    return;
  }
  for (const [config, n] of [widthCases[2], widthCases[4]]) {
    const mlp = own(new FusedMlp(device, config, { maxBatch: n, seed: 5, precision: 'f16' }));
    await checkMlp(device, own, mlp, n, 2e-2, `f16 width ${config.width} [${mlp.key}]`);
  }
});

gpuTest('unfused MLP past 65535 workgroups per dimension (2D dispatch) matches the CPU', async ({ device, own }) => {
  // Narrow so SwiftShader runs it quickly; 16 outputs over 2^18 rows is more than 65535 64-wide groups.
  const config: MlpConfig = { inputDims: 4, outputDims: 16, width: 16, hiddenLayers: 1, outputActivation: 'sigmoid' };
  const n = 2 ** 18 + 77;
  expect(Math.ceil((n * mlpLayout(config).outputPadded) / 64)).toBeGreaterThan(device.limits.maxComputeWorkgroupsPerDimension);
  const mlp = own(new UnfusedMlp(device, config, { maxBatch: n, seed: 3 }));
  await checkMlp(device, own, mlp, n, 1e-4, `unfused at ${n} rows`);
});
