import { expect } from 'vitest';
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

gpuTest('profiler reports per-stage milliseconds', async ({ device, own }) => {
  const profiler = own(new GpuProfiler(device, 1));
  const data = own(device.createBuffer({ size: 4 * 64 * 64, usage: GPUBufferUsage.STORAGE }));
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
  const names = Object.keys(profiler.stages).sort();
  if (profiler.hasTimestamps) {
    expect(names).toEqual(['a', 'b']);
    expect(profiler.stages.a).toBeGreaterThanOrEqual(0);
  } else {
    expect(names).toEqual(['submit (cpu)']);
  }
  for (const ms of Object.values(profiler.stages)) expect(Number.isFinite(ms)).toBe(true);
});
