import { expect, test } from 'vitest';
import { isCpuDevice } from '../../src/gpu/device.ts';

// Only `adapterInfo` is read: a plain object stands in for the device.
const device = (info?: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }) =>
  ({ adapterInfo: info && { vendor: '', architecture: '', device: '', description: '', ...info } }) as unknown as GPUDevice;

test('CPU implementations of WebGPU are recognised by name or as fallback adapters; GPUs are not', () => {
  expect(isCpuDevice(device({ vendor: 'google', architecture: 'swiftshader' }))).toBe(true);
  expect(isCpuDevice(device({ description: 'llvmpipe (LLVM 17.0.6, 256 bits)' }))).toBe(true);
  expect(isCpuDevice(device({ vendor: 'mesa', description: 'lavapipe' }))).toBe(true);
  expect(isCpuDevice(device({ vendor: 'apple', architecture: 'metal-3', isFallbackAdapter: true }))).toBe(true);
  expect(isCpuDevice(device({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }))).toBe(false);
  expect(isCpuDevice(device({ vendor: 'qualcomm', architecture: 'adreno-7xx' }))).toBe(false);
  expect(isCpuDevice(device({ vendor: 'apple', architecture: 'metal-3', isFallbackAdapter: false }))).toBe(false);
  // A browser that does not expose adapterInfo on the device: treated as a GPU.
  expect(isCpuDevice(device())).toBe(false);
});
