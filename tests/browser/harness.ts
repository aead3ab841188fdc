/**
 * Kernel-test harness: one real WebGPU device for the file (headless Chromium; SwiftShader
 * without a GPU), every test body inside a validation/out-of-memory error scope, and the
 * buffers a test makes destroyed after it.
 */
import { afterAll, test as base } from 'vitest';
import { requestGpu } from '../../src/gpu/device.ts';
import { withErrorScope } from '../../src/gpu/errors.ts';
export { seededRandom as rng } from '../../src/nn/random.ts';

let shared: Promise<GPUDevice> | null = null;

export function testDevice(): Promise<GPUDevice> {
  shared ??= requestGpu().then(({ adapter, device }) => {
    console.info(`adapter: ${adapter.info.vendor} / ${adapter.info.architecture}; features: ${[...device.features].join(', ')}`);
    return device;
  });
  return shared;
}

afterAll(async () => {
  if (shared) (await shared).destroy();
  shared = null;
});

export interface GpuFixture {
  device: GPUDevice;
  /** Registers a resource to destroy after the test. */
  own<T extends { destroy(): void }>(resource: T): T;
}

/** `gpuTest('name', async ({ device, own }) => ...)`: fails on any GPU validation error. */
export function gpuTest(name: string, body: (f: GpuFixture) => Promise<void> | void, timeout?: number): void {
  base(name, async () => {
    const device = await testDevice();
    const owned: { destroy(): void }[] = [];
    try {
      await withErrorScope(device, name, () => body({ device, own: (r) => (owned.push(r), r) }));
    } finally {
      for (const r of owned) r.destroy();
    }
  }, timeout);
}

