import { expect, test } from 'vitest';
import { GpuContext } from '../../src/gpu/device.ts';
import { GpuError, withErrorScope } from '../../src/gpu/errors.ts';
import { bufferFrom, readTexture, readU32 } from '../../src/gpu/readback.ts';
import { trackResources } from '../../src/gpu/resources.ts';
import { computePipeline, shaderModule, wgsl, workgroups } from '../../src/gpu/shader.ts';
import { gpuTest } from './harness.ts';

gpuTest('withErrorScope surfaces validation errors as GpuError', async ({ device }) => {
  const failing = withErrorScope(device, 'bad buffer', () => {
    device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
  });
  await expect(failing).rejects.toBeInstanceOf(GpuError);
  await expect(withErrorScope(device, 'bad buffer', () => device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE }))).rejects.toThrow(
    /GPU validation error in bad buffer/,
  );
  await expect(withErrorScope(device, 'fine', () => 42)).resolves.toBe(42);
});

gpuTest('shared WGSL chunks compose, modules are cached, pipelines run', async ({ device, own }) => {
  const chunk = 'fn twice(x: u32) -> u32 { return 2u * x; }';
  const kernel = `@group(0) @binding(0) var<storage, read_write> d: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) { if (id.x < arrayLength(&d)) { d[id.x] = twice(d[id.x]) + K; } }
override K: u32 = 0u;`;
  const code = wgsl(chunk, kernel);
  expect(shaderModule(device, 'twice', code)).toBe(shaderModule(device, 'twice', code));
  const pipeline = computePipeline(device, 'twice', code, 'main', { K: 7 });
  const data = own(bufferFrom(device, Uint32Array.from({ length: 100 }, (_, i) => i)));
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: data } }] }));
  pass.dispatchWorkgroups(workgroups(100, 64));
  pass.end();
  device.queue.submit([encoder.finish()]);
  const out = await readU32(device, data);
  expect(Array.from(out.slice(0, 4))).toEqual([7, 9, 11, 13]);
  expect(out[99]).toBe(2 * 99 + 7);
  expect(() => workgroups(1e9, 1, device)).toThrow(/over the device limit/);
});

gpuTest('readTexture returns RGBA for bgra8unorm, rows unpadded', async ({ device, own }) => {
  const width = 3; // 12 bytes a row: the copy pads rows to 256
  const texture = own(device.createTexture({ size: [width, 2], format: 'bgra8unorm', usage: GPUTextureUsage.COPY_SRC | GPUTextureUsage.COPY_DST }));
  const bgra = new Uint8Array(width * 2 * 4);
  for (let i = 0; i < width * 2; i++) bgra.set([i, 100, 200, 255], i * 4); // B=i G=100 R=200
  device.queue.writeTexture({ texture }, bgra, { bytesPerRow: width * 4 }, [width, 2]);
  const image = await readTexture(device, texture);
  expect([image.width, image.height]).toEqual([3, 2]);
  expect(Array.from(image.data.slice(0, 8))).toEqual([200, 100, 0, 255, 200, 100, 1, 255]);
  expect(Array.from(image.data.slice(20, 24))).toEqual([200, 100, 5, 255]);
});

test('resource tracker counts live buffers and textures until destroyed', async () => {
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter!.requestDevice();
  const tracker = trackResources(device);
  expect(trackResources(device)).toBe(tracker);
  const b = device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE });
  const t = device.createTexture({ size: [8, 4], format: 'rgba8unorm', usage: GPUTextureUsage.TEXTURE_BINDING });
  expect(tracker.snapshot()).toEqual({ buffers: 1, textures: 1, bytes: 1024 + 8 * 4 * 4 });
  b.destroy();
  b.destroy(); // twice counts once
  t.destroy();
  expect(tracker.snapshot()).toEqual({ buffers: 0, textures: 0, bytes: 0 });
  device.destroy();
});

test('GpuContext shares one device and re-acquires after loss', async () => {
  const gpu = new GpuContext();
  const [a, b] = await Promise.all([gpu.acquire(), gpu.acquire()]);
  expect(a).toBe(b);
  expect(gpu.info?.features).toContain('timestamp-query');
  expect(gpu.generation).toBe(1);
  const restored = new Promise<GPUDevice>((resolve) => gpu.addEventListener('device', (e) => resolve((e as CustomEvent).detail.device), { once: true }));
  a.destroy();
  const next = await restored;
  expect(next).not.toBe(a);
  expect(gpu.generation).toBe(2);
  expect(gpu.lastLoss).toMatch(/destroyed/);
  gpu.close();
});

test('GpuContext reports a missing adapter as unavailable, with the reason', async () => {
  const original = GPU.prototype.requestAdapter;
  GPU.prototype.requestAdapter = async () => null;
  try {
    const gpu = new GpuContext();
    await expect(gpu.acquire()).rejects.toThrow(/no GPU adapter/);
    expect(gpu.unavailable?.missing).toBe('no-adapter');
  } finally {
    GPU.prototype.requestAdapter = original;
  }
});
