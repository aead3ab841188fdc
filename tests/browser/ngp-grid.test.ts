import { expect } from 'vitest';
import { bufferFrom, readBuffer, readF32 } from '../../src/gpu/readback.ts';
import { gridLayout, type GridConfig } from '../../src/nn/ngp/config.ts';
import { GridEncoding } from '../../src/nn/ngp/grid-encoding.ts';
import { gridBackward, gridContributionCounts, gridForward } from '../../src/nn/ngp/reference.ts';
import { gpuTest, rng } from './harness.ts';

interface Case {
  name: string;
  config: GridConfig;
  expect: 'dense' | 'hashed' | 'mixed';
}

const cases: Case[] = [
  { name: '2D dense-only F=2', config: { dims: 2, levels: 3, featuresPerLevel: 2, log2HashmapSize: 12, baseResolution: 4, perLevelScale: 2 }, expect: 'dense' },
  { name: '3D hashed-only F=2', config: { dims: 3, levels: 2, featuresPerLevel: 2, log2HashmapSize: 8, baseResolution: 16, perLevelScale: 1.5 }, expect: 'hashed' },
  { name: '3D mixed F=1', config: { dims: 3, levels: 5, featuresPerLevel: 1, log2HashmapSize: 10, baseResolution: 4, perLevelScale: 1.8 }, expect: 'mixed' },
  { name: '2D mixed F=4', config: { dims: 2, levels: 6, featuresPerLevel: 4, log2HashmapSize: 9, baseResolution: 5, perLevelScale: 1.9 }, expect: 'mixed' },
  { name: '3D mixed F=8', config: { dims: 3, levels: 4, featuresPerLevel: 8, log2HashmapSize: 9, baseResolution: 3, perLevelScale: 2.1 }, expect: 'mixed' },
  { name: '2D mixed F=2 smoothstep', config: { dims: 2, levels: 8, featuresPerLevel: 2, log2HashmapSize: 10, baseResolution: 8, perLevelScale: 1.6, interpolation: 'smoothstep' }, expect: 'mixed' },
  { name: '3D mixed F=2 smoothstep, 16 levels', config: { dims: 3, levels: 16, featuresPerLevel: 2, log2HashmapSize: 11, baseResolution: 2, perLevelScale: 1.4, interpolation: 'smoothstep' }, expect: 'mixed' },
];

function inputs(config: GridConfig, n: number, seed: number) {
  const random = rng(seed);
  const layout = gridLayout(config);
  // Include exact 0 and 1 coordinates: the +0.5 offset and wraparound paths.
  const positions = Float32Array.from({ length: n * config.dims }, (_, i) => (i < config.dims ? 0 : i < 2 * config.dims ? 1 : random()));
  const params = Float32Array.from({ length: layout.paramCount }, () => random() * 2 - 1);
  return { layout, positions, params };
}

for (const { name, config, expect: kind } of cases) {
  gpuTest(`grid forward matches tcnn semantics: ${name}`, async ({ device, own }) => {
    const n = 1000;
    const { layout, positions, params } = inputs(config, n, 11);
    const dense = layout.levels.filter((l) => l.dense).length;
    expect(kind === 'dense' ? dense === layout.levels.length : kind === 'hashed' ? dense === 0 : dense > 0 && dense < layout.levels.length).toBe(true);
    const grid = own(new GridEncoding(device, config));
    grid.setParams(params);
    const pos = own(bufferFrom(device, positions));
    const features = own(device.createBuffer({ size: n * layout.outputStride * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }));
    const encoder = device.createCommandEncoder();
    grid.encodeForward(encoder, pos, features, n);
    device.queue.submit([encoder.finish()]);
    const got = await readF32(device, features);
    const want = gridForward(config, params, positions, n);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    // f32: p = scale * x + 0.5 may round once (fma) or twice (SwiftShader); one ulp of p moves
    // the interpolation by at most ulp * 2 * 2^D * max|param|.
    const maxScale = Math.max(...layout.levels.map((l) => l.scale));
    expect(worst).toBeLessThan(1.2e-7 * (maxScale + 1) * 2 * 2 ** config.dims + 1e-6);
  });
}

for (const { name, config } of cases.slice(0, 6)) {
  gpuTest(`grid backward (fixed-point i32 atomics) matches the CPU: ${name}`, async ({ device, own }) => {
    const n = 2048;
    const { layout, positions } = inputs(config, n, 5);
    const random = rng(99);
    const dFeatures = Float32Array.from({ length: n * layout.outputStride }, () => random() * 2 - 1);
    const grid = own(new GridEncoding(device, config));
    const pos = own(bufferFrom(device, positions));
    const dF = own(bufferFrom(device, dFeatures));
    const encoder = device.createCommandEncoder();
    grid.encodeClearGrads(encoder);
    grid.encodeBackward(encoder, pos, dF, n);
    device.queue.submit([encoder.finish()]);
    const got = grid.gradsToFloat(new Int32Array(await readBuffer(device, grid.grads, 0, layout.paramCount * 4)));
    const want = gridBackward(config, positions, dFeatures, n);
    const counts = gridContributionCounts(config, positions, n);
    // Each contribution rounds to within half a fixed-point unit.
    const unit = 1 / grid.fixedPointScale;
    let worst = 0;
    let worstRelToBound = 0;
    let maxGrad = 0;
    for (let i = 0; i < want.length; i++) {
      const err = Math.abs(got[i] - want[i]);
      worst = Math.max(worst, err);
      maxGrad = Math.max(maxGrad, Math.abs(want[i]));
      worstRelToBound = Math.max(worstRelToBound, err / (counts[i] * 0.5 * unit + 1e-6 * Math.abs(want[i]) + 1e-9));
    }
    console.info(`${name}: max |gpu - cpu| = ${worst.toExponential(2)} (fixed-point unit ${unit.toExponential(2)}, max |grad| ${maxGrad.toFixed(2)}, worst error / bound ${worstRelToBound.toFixed(3)})`);
    expect(worstRelToBound).toBeLessThanOrEqual(1);
  });
}

gpuTest('grid encoding accumulates over calls and clears', async ({ device, own }) => {
  const config = cases[0].config;
  const n = 256;
  const { layout, positions } = inputs(config, n, 3);
  const dFeatures = new Float32Array(n * layout.outputStride).fill(0.25);
  const grid = own(new GridEncoding(device, config, { fixedPointScale: 2 ** 20 }));
  const pos = own(bufferFrom(device, positions));
  const dF = own(bufferFrom(device, dFeatures));
  const encoder = device.createCommandEncoder();
  grid.encodeClearGrads(encoder);
  grid.encodeBackward(encoder, pos, dF, n);
  grid.encodeBackward(encoder, pos, dF, n);
  device.queue.submit([encoder.finish()]);
  const got = grid.gradsToFloat(new Int32Array(await readBuffer(device, grid.grads, 0, layout.paramCount * 4)));
  const want = gridBackward(config, positions, dFeatures, n);
  for (let i = 0; i < want.length; i += 7) expect(got[i]).toBeCloseTo(2 * want[i], 3);
});

gpuTest('grid tables beyond the storage binding limit fail with a clear Error', async ({ device }) => {
  const config: GridConfig = { dims: 3, levels: 16, featuresPerLevel: 8, log2HashmapSize: 24, baseResolution: 16, perLevelScale: 2 };
  expect(() => new GridEncoding(device, config)).toThrow(/storage binding limit.*lower log2HashmapSize/);
  expect(() => new GridEncoding(device, { ...config, levels: 17 })).toThrow(/levels must be 1\.\.16/);
});

gpuTest('grid encoding past 65535 workgroups per dimension (2D dispatch) matches the CPU', async ({ device, own }) => {
  // 8-wide workgroups make the batch need more than 65535 workgroups at a size SwiftShader runs quickly.
  const config: GridConfig = { dims: 2, levels: 2, featuresPerLevel: 2, log2HashmapSize: 8, baseResolution: 4, perLevelScale: 4 };
  const workgroupSize = 8;
  const n = 65535 * workgroupSize + 999;
  expect(Math.ceil(n / workgroupSize)).toBeGreaterThan(device.limits.maxComputeWorkgroupsPerDimension);
  const { layout, positions, params } = inputs(config, n, 21);
  const random = rng(7);
  const dFeatures = Float32Array.from({ length: n * layout.outputStride }, () => random() - 0.5);
  const grid = own(new GridEncoding(device, config, { workgroupSize, fixedPointScale: 2 ** 12 }));
  grid.setParams(params);
  const pos = own(bufferFrom(device, positions));
  const dF = own(bufferFrom(device, dFeatures));
  const features = own(device.createBuffer({ size: n * layout.outputStride * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }));
  const encoder = device.createCommandEncoder();
  grid.encodeForward(encoder, pos, features, n);
  grid.encodeClearGrads(encoder);
  grid.encodeBackward(encoder, pos, dF, n);
  device.queue.submit([encoder.finish()]);
  const got = await readF32(device, features);
  const want = gridForward(config, params, positions, n);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  // The last rows sit in the overflow (y > 0) workgroups: check them explicitly too.
  expect(got[(n - 1) * layout.outputStride]).toBeCloseTo(want[(n - 1) * layout.outputStride], 5);
  expect(worst).toBeLessThan(1e-5);
  const grads = grid.gradsToFloat(new Int32Array(await readBuffer(device, grid.grads, 0, layout.paramCount * 4)));
  const wantGrads = gridBackward(config, positions, dFeatures, n);
  const counts = gridContributionCounts(config, positions, n);
  let worstRel = 0;
  for (let i = 0; i < wantGrads.length; i++) {
    worstRel = Math.max(worstRel, Math.abs(grads[i] - wantGrads[i]) / (counts[i] * 0.5 / grid.fixedPointScale + 1e-5 * Math.abs(wantGrads[i]) + 1e-9));
  }
  console.info(`grid at ${n} positions (${Math.ceil(n / workgroupSize)} workgroups): forward max error ${worst.toExponential(2)}, backward error / bound ${worstRel.toFixed(3)}`);
  expect(worstRel).toBeLessThanOrEqual(1);
});
