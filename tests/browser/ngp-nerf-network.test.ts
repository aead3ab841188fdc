import { expect } from 'vitest';
import { bufferFrom, readF32 } from '../../src/gpu/readback.ts';
import { gridLayout, initMlpWeights, type GridConfig } from '../../src/nn/ngp/config.ts';
import { NerfNetwork } from '../../src/nn/ngp/nerf-network.ts';
import { nerfNetworkReference, shEncode4 } from '../../src/nn/ngp/reference.ts';
import { gpuTest, rng } from './harness.ts';

function relError(got: ArrayLike<number>, want: ArrayLike<number>, stride = 1, cols = stride): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) if (i % stride < cols) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) if (i % stride < cols) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(scale).toBeGreaterThan(0);
  return worst / scale;
}

for (const fused of [true, false]) {
  gpuTest(`NeRF network (grid -> density MLP -> SH + colour MLP), ${fused ? 'fused' : 'unfused'} MLPs: forward and backward match the CPU`, async ({ device, own }) => {
    const grid: GridConfig = { dims: 3, levels: 4, featuresPerLevel: 4, log2HashmapSize: 10, baseResolution: 4, perLevelScale: 2 };
    const n = 300;
    const net = own(new NerfNetwork(device, { grid, maxBatch: n, seed: 3, fused, width: 32 }));
    const random = rng(41);
    const gridParams = Float32Array.from({ length: gridLayout(grid).paramCount }, () => random() * 2 - 1);
    const densityWeights = initMlpWeights(net.density.config, 8);
    const colourWeights = initMlpWeights(net.colour.config, 9);
    net.grid.setParams(gridParams);
    net.density.setWeights(densityWeights);
    net.colour.setWeights(colourWeights);
    const positions = Float32Array.from({ length: n * 3 }, random);
    const directions = new Float32Array(n * 3);
    for (let r = 0; r < n; r++) {
      const v = [random() - 0.5, random() - 0.5, random() - 0.5];
      const len = Math.hypot(...v);
      directions.set(v.map((c) => (c / len) * 0.5 + 0.5), r * 3);
    }
    const dRaw = Float32Array.from({ length: n * 4 }, () => random() - 0.5);
    const pos = own(bufferFrom(device, positions));
    const dirs = own(bufferFrom(device, directions));
    const raw = own(device.createBuffer({ size: n * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }));
    let encoder = device.createCommandEncoder();
    net.encodeForward(encoder, pos, raw, n, dirs);
    net.encodeTrainForward(encoder, pos, dirs, n);
    device.queue.submit([encoder.finish()]);
    device.queue.writeBuffer(net.dOutputs, 0, dRaw);
    encoder = device.createCommandEncoder();
    net.encodeBackward(encoder, pos, n, 1);
    device.queue.submit([encoder.finish()]);
    const want = nerfNetworkReference({ grid, gridParams, density: net.density.config, densityWeights, colour: net.colour.config, colourWeights }, positions, directions, n, dRaw);
    const errors = {
      inference: relError(await readF32(device, raw), want.raw),
      train: relError(await readF32(device, net.predictions, 0, n * 4), want.raw),
      sh: relError(await readF32(device, net.intermediates.rgbIn, 0, n * 32), want.rgbIn, 32),
      dColourWeights: relError(await readF32(device, net.colour.grads, 0, want.dColourWeights!.length), want.dColourWeights!),
      dDensity: relError(await readF32(device, net.intermediates.dDens, 0, n * 16), want.dDens!),
      dDensityWeights: relError(await readF32(device, net.density.grads, 0, want.dDensityWeights!.length), want.dDensityWeights!),
      dFeatures: relError(await readF32(device, net.intermediates.dFeatures, 0, n * 16), want.dFeatures!),
    };
    console.info(`NeRF network (${fused ? 'fused' : 'unfused'}) max error / max |value|: ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
    for (const e of Object.values(errors)) expect(e).toBeLessThan(1e-4);
    // The SH columns of the colour input are tcnn's encoding of the direction.
    const rgbIn = await readF32(device, net.intermediates.rgbIn, 0, n * 32);
    const sh = shEncode4(directions[3], directions[4], directions[5]);
    for (let k = 0; k < 16; k++) expect(rgbIn[32 + 16 + k]).toBeCloseTo(sh[k], 5);
    // One Adam step moved every parameter set.
    const after = await readF32(device, net.colour.params, 0, colourWeights.length);
    expect(after.some((v, i) => v !== colourWeights[i])).toBe(true);
  });
}

gpuTest('NeRF network rejects missing directions and over-large batches with clear errors', async ({ device, own }) => {
  const net = own(new NerfNetwork(device, { grid: { dims: 3, levels: 2, featuresPerLevel: 4, log2HashmapSize: 8, baseResolution: 4, perLevelScale: 2 }, maxBatch: 64, seed: 1, width: 16 }));
  const buf = own(device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE }));
  const encoder = device.createCommandEncoder();
  expect(() => net.encodeForward(encoder, buf, buf, 10)).toThrow(/view directions/);
  expect(() => net.encodeTrainForward(encoder, buf, buf, 65)).toThrow(/over 64/);
  encoder.finish();
});
