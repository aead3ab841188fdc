import { expect, test } from 'vitest';
import { GpuProfiler } from '../../src/gpu/profiler.ts';
import { computePipeline } from '../../src/gpu/shader.ts';
import { gpuTest } from './harness.ts';

const busy = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  var x = data[id.x];
  for (var i = 0u; i < 200u; i++) { x = fract(x * 1.0001 + 0.37); }
  data[id.x] = x;
}`;

/** Three frames of passes 'a', 'b', 'b'; returns the stages the profiler reported. */
async function profileFrames(device: GPUDevice, profiler: GpuProfiler, data: GPUBuffer): Promise<string[]> {
  const pipeline = computePipeline(device, 'busy', busy, 'main');
  const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: data } }] });
  for (let frame = 0; frame < 3; frame++) {
    const encoder = device.createCommandEncoder();
    for (const stage of ['a', 'b', 'b']) {
      const pass = profiler.computePass(encoder, stage);
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(64);
      pass.end();
    }
    const after = profiler.finish(encoder);
    device.queue.submit([encoder.finish()]);
    after();
    await device.queue.onSubmittedWorkDone();
  }
  await new Promise((r) => setTimeout(r, 50));
  for (const ms of Object.values(profiler.stages)) expect(ms).toBeGreaterThanOrEqual(0);
  return Object.keys(profiler.stages).sort();
}

gpuTest('profiler reports per-stage milliseconds from timestamp queries', async ({ device, own }) => {
  expect(device.features.has('timestamp-query')).toBe(true); // the suite requests it where the adapter has it
  const profiler = own(new GpuProfiler(device, 1));
  expect(profiler.hasTimestamps).toBe(true);
  expect(await profileFrames(device, profiler, own(device.createBuffer({ size: 4 * 64 * 64, usage: GPUBufferUsage.STORAGE })))).toEqual(['a', 'b']);
});

test('without timestamp-query the profiler falls back to whole-submit CPU timing', async () => {
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter!.requestDevice(); // no optional features
  try {
    const profiler = new GpuProfiler(device, 1);
    expect(profiler.hasTimestamps).toBe(false);
    expect(await profileFrames(device, profiler, device.createBuffer({ size: 4 * 64 * 64, usage: GPUBufferUsage.STORAGE }))).toEqual(['submit (cpu)']);
    profiler.destroy();
  } finally {
    device.destroy();
  }
});
