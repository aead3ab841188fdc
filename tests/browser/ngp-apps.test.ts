import { expect } from 'vitest';
import nerfWgsl from '../../shaders/ngp_app_nerf.wgsl?raw';
import { bufferFrom, readF32 } from '../../src/gpu/readback.ts';
import { computePipeline } from '../../src/gpu/shader.ts';
import { cameraBlock, orbitPose } from '../../src/demos/ngp/common.ts';
import { NerfRaySampler, packRgba8, probePointsReference, sampleRaysReference, type RayDataset } from '../../src/demos/ngp/nerf-rays.ts';
import { gpuTest, rng } from './harness.ts';

/** CPU volume rendering of one ray (f64), the function the NeRF loss kernel differentiates. */
function composite(raw: Float64Array, deltas: Float64Array, bg: number[]): number[] {
  let T = 1;
  const C = [0, 0, 0];
  for (let j = 0; j < deltas.length; j++) {
    const sigma = Math.exp(Math.min(15, Math.max(-15, raw[j * 4])));
    const a = 1 - Math.exp(-sigma * deltas[j]);
    for (let c = 0; c < 3; c++) C[c] += T * a * (1 / (1 + Math.exp(-raw[j * 4 + 1 + c])));
    T *= 1 - a;
  }
  return C.map((v, c) => v + T * bg[c]);
}

gpuTest('NeRF loss kernel: per-ray loss and d loss / d raw outputs match CPU finite differences', async ({ device, own }) => {
  const rays = 5;
  const S = 7;
  const random = rng(21);
  const raw = Float32Array.from({ length: rays * S * 4 }, () => (random() - 0.5) * 4);
  const deltas = Float32Array.from({ length: rays * S }, () => 0.02 + random() * 0.2);
  const targets = Float32Array.from({ length: rays * 3 }, random);
  const bg = [1, 0.5, 0.25];
  const gradScale = 1.5;
  const uniform = new ArrayBuffer(48);
  new Uint32Array(uniform, 0, 4).set([rays, S, 1, 32]);
  new Float32Array(uniform, 16, 8).set([gradScale, 1 / (rays * 3), 0.1, 0, ...bg, 1]);
  const u = own(device.createBuffer({ size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }));
  device.queue.writeBuffer(u, 0, uniform);
  const bufs = [raw, deltas, targets].map((a) => own(bufferFrom(device, a)));
  const dRaw = own(bufferFrom(device, new Float32Array(rays * S * 4)));
  const rayLoss = own(bufferFrom(device, new Float32Array(rays)));
  const stats = own(bufferFrom(device, new Float32Array(4)));
  const loss = computePipeline(device, 'nerf test', nerfWgsl, 'loss');
  const finish = computePipeline(device, 'nerf test', nerfWgsl, 'finish');
  const group = (p: GPUComputePipeline, e: [number, GPUBuffer][]) => device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: e.map(([binding, buffer]) => ({ binding, resource: { buffer } })) });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(loss);
  pass.setBindGroup(0, group(loss, [[0, u], [1, bufs[0]], [2, bufs[1]], [3, bufs[2]], [4, dRaw], [5, rayLoss]]));
  pass.dispatchWorkgroups(1);
  pass.setPipeline(finish);
  pass.setBindGroup(0, group(finish, [[0, u], [5, rayLoss], [6, stats]]));
  pass.dispatchWorkgroups(1);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const gotGrad = await readF32(device, dRaw);
  const gotStats = await readF32(device, stats);
  let total = 0;
  let worst = 0;
  for (let r = 0; r < rays; r++) {
    const rr = Float64Array.from(raw.subarray(r * S * 4, (r + 1) * S * 4));
    const dd = Float64Array.from(deltas.subarray(r * S, (r + 1) * S));
    const t = Array.from(targets.subarray(r * 3, r * 3 + 3));
    const L = (x: Float64Array) => composite(x, dd, bg).reduce((s, v, c) => s + (v - t[c]) ** 2, 0);
    total += L(rr);
    for (let i = 0; i < S * 4; i++) {
      const h = 1e-5;
      const plus = Float64Array.from(rr);
      const minus = Float64Array.from(rr);
      plus[i] += h;
      minus[i] -= h;
      const numeric = ((L(plus) - L(minus)) / (2 * h)) * gradScale;
      worst = Math.max(worst, Math.abs(numeric - gotGrad[r * S * 4 + i]) / (Math.abs(numeric) + 1e-3));
    }
  }
  console.info(`NeRF loss gradient: worst relative error ${worst.toExponential(2)}`);
  expect(worst).toBeLessThan(1e-2);
  expect(gotStats[0]).toBeCloseTo(total / (rays * 3), 5);
  expect(gotStats[2]).toBe(1);
});

// Spread/offset of the log-densities: the first case puts the mean above the threshold, the second below.
for (const [spread, offset] of [[12, 0], [4, -2]]) {
  gpuTest(`NeRF occupancy kernels: density EMA and bitfield at min(threshold, mean) match the CPU (log-density ${offset} +- ${spread / 2})`, async ({ device, own }) => {
    const res = 8;
    const cells = res ** 3;
    const random = rng(5);
    // Density MLP outputs, 16 per cell (log-density first), and the previous grid.
    const dens = Float32Array.from({ length: cells * 16 }, () => (random() - 0.5) * spread + offset);
    const previous = Float32Array.from({ length: cells }, () => random() * 0.002);
    const threshold = 0.01;
    const decay = 0.95;
    const uniform = new ArrayBuffer(48);
    new Uint32Array(uniform, 0, 4).set([0, 0, 0, res]);
    new Float32Array(uniform, 16, 8).set([0, 0, threshold, decay, 1, 1, 1, 1]);
    const u = own(device.createBuffer({ size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }));
    device.queue.writeBuffer(u, 0, uniform);
    const raw = own(bufferFrom(device, dens));
    const grid = own(bufferFrom(device, previous));
    const bits = own(bufferFrom(device, new Uint32Array(cells / 32).fill(0xdeadbeef)));
    const ema = computePipeline(device, 'nerf test', nerfWgsl, 'occupancy_ema');
    const toBits = computePipeline(device, 'nerf test', nerfWgsl, 'occupancy_bits');
    const group = (p: GPUComputePipeline, e: [number, GPUBuffer][]) => device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: e.map(([binding, buffer]) => ({ binding, resource: { buffer } })) });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(ema);
    pass.setBindGroup(0, group(ema, [[0, u], [1, raw], [8, grid]]));
    pass.dispatchWorkgroups(cells / 64);
    pass.setPipeline(toBits);
    pass.setBindGroup(0, group(toBits, [[0, u], [7, bits], [8, grid]]));
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const gotGrid = await readF32(device, grid);
    const gotBits = new Uint32Array((await readF32(device, bits)).buffer);
    const minStep = Math.sqrt(3) / 1024;
    const want = Array.from(previous, (p, i) => Math.max(p * decay, Math.exp(Math.min(15, Math.max(-15, dens[i * 16]))) * minStep));
    const mean = want.reduce((s, v) => s + v, 0) / cells;
    const limit = Math.min(threshold, mean);
    let occupied = 0;
    for (let i = 0; i < cells; i++) {
      expect(gotGrid[i]).toBeCloseTo(want[i], 5);
      // Cells within rounding of the limit may go either way.
      if (Math.abs(want[i] - limit) < 1e-6 * limit) continue;
      const bit = (gotBits[i >>> 5] >>> (i & 31)) & 1;
      expect(bit).toBe(want[i] > limit ? 1 : 0);
      occupied += bit;
    }
    console.info(`occupancy: ${occupied} / ${cells} cells occupied (limit ${limit.toExponential(2)})`);
    expect(occupied).toBeGreaterThan(0);
    expect(occupied).toBeLessThan(cells);
  });
}

/** A small dataset for the ray sampler: orbit cameras, random rgba8 pixels. */
function rayDataset(res: number, trainViews: number, heldViews: number): RayDataset {
  const random = rng(17);
  const total = trainViews + heldViews;
  const cameras = new Float32Array(total * 16);
  for (let v = 0; v < total; v++) cameras.set(cameraBlock(orbitPose(v * 2.4, (random() - 0.5) * 1.2, 1.5, 45), res, res), v * 16);
  const images = Uint32Array.from({ length: total * res * res }, () => packRgba8(random(), random(), random()));
  return { res, trainViews, heldViews, cameras, images };
}

for (const [label, held, occupied] of [['training rays, half the cells occupied', false, 0.5], ['held-out rays, a sparse grid', true, 0.15], ['training rays, no occupancy grid', false, null]] as const) {
  gpuTest(`NeRF ray sampler: ${label}; views, pixels, targets and samples match the CPU reference`, async ({ device, own }) => {
    const data = rayDataset(16, 6, 2);
    const cells = 8;
    const random = rng(3);
    const bits = new Uint32Array(cells ** 3 / 32);
    for (let c = 0; c < cells ** 3; c++) if (occupied === null || random() < occupied) bits[c >>> 5] |= 1 << (c & 31);
    const occupancy = own(bufferFrom(device, bits));
    const sampler = own(new NerfRaySampler(device, data, occupancy));
    const sampling = { rays: 300, samples: 8, seed: 12345, held, cells };
    const rows = sampling.rays * sampling.samples;
    const out = {
      positions: own(bufferFrom(device, new Float32Array(rows * 3).fill(-1))),
      directions: own(bufferFrom(device, new Float32Array(rows * 3).fill(-1))),
      deltas: own(bufferFrom(device, new Float32Array(rows).fill(-1))),
      targets: own(bufferFrom(device, new Float32Array(sampling.rays * 3).fill(-1))),
    };
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    sampler.encodeRays(pass, sampling, out, occupied !== null);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const got = { positions: await readF32(device, out.positions), directions: await readF32(device, out.directions), deltas: await readF32(device, out.deltas), targets: await readF32(device, out.targets) };
    const want = sampleRaysReference(data, sampling, occupied === null ? null : bits);
    let checked = 0;
    let used = 0;
    const worst = { positions: 0, directions: 0, deltas: 0, targets: 0 };
    for (let r = 0; r < sampling.rays; r++) {
      // Targets and directions do not depend on the grid: every ray.
      for (let i = r * 3; i < r * 3 + 3; i++) worst.targets = Math.max(worst.targets, Math.abs(got.targets[i] - want.targets[i]));
      for (let i = r * 24; i < (r + 1) * 24; i++) worst.directions = Math.max(worst.directions, Math.abs(got.directions[i] - want.directions[i]));
      if (want.borderline[r]) continue;
      checked++;
      for (let i = r * 24; i < (r + 1) * 24; i++) worst.positions = Math.max(worst.positions, Math.abs(got.positions[i] - want.positions[i]));
      for (let i = r * 8; i < (r + 1) * 8; i++) {
        worst.deltas = Math.max(worst.deltas, Math.abs(got.deltas[i] - want.deltas[i]) / Math.max(1e-3, want.deltas[i]));
        if (want.deltas[i] > 0) used++;
      }
    }
    console.info(`NeRF rays (${label}): ${checked}/${sampling.rays} rays away from cell faces compared, ${used} samples in use; worst |err| positions ${worst.positions.toExponential(1)}, directions ${worst.directions.toExponential(1)}, deltas (rel) ${worst.deltas.toExponential(1)}, targets ${worst.targets.toExponential(1)}`);
    expect(checked).toBeGreaterThan(sampling.rays * 0.7);
    expect(used).toBeGreaterThan(checked); // some rays reach occupied cells
    expect(worst.targets).toBeLessThan(1e-6);
    expect(worst.directions).toBeLessThan(1e-5);
    expect(worst.positions).toBeLessThan(1e-4);
    expect(worst.deltas).toBeLessThan(1e-4);
  });
}

gpuTest('NeRF ray sampler: occupancy probe points, one inside each cell, match the CPU reference', async ({ device, own }) => {
  const data = rayDataset(4, 1, 1);
  const cells = 8;
  const sampler = own(new NerfRaySampler(device, data, own(bufferFrom(device, new Uint32Array(16)))));
  const positions = own(bufferFrom(device, new Float32Array(cells ** 3 * 3)));
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  sampler.encodeProbes(pass, cells, 777, positions);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const got = await readF32(device, positions);
  const want = probePointsReference(cells, 777);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  for (let c = 0; c < cells ** 3; c++) {
    expect(Math.floor(got[c * 3] * cells)).toBe(c % cells);
    expect(Math.floor(got[c * 3 + 2] * cells)).toBe(Math.floor(c / cells ** 2));
  }
  expect(worst).toBeLessThan(1e-6);
});
