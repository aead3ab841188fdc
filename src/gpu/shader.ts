/**
 * WGSL composition. Kernels live in shaders/*.wgsl and are imported with `?raw`.
 * Shared chunks (shaders/lib/*.wgsl) are joined in front of a kernel explicitly by the
 * TypeScript that builds the pipeline: `wgsl(lib.hash, kernel)`. There is no include
 * preprocessor; what a module contains is visible at the call site.
 */
export function wgsl(...chunks: string[]): string {
  return chunks.join('\n');
}

const moduleCache = new WeakMap<GPUDevice, Map<string, GPUShaderModule>>();

/**
 * One shader module per (device, label, code): pipelines built from the same text share it.
 * The label names the kernel in validation messages.
 */
export function shaderModule(device: GPUDevice, label: string, code: string): GPUShaderModule {
  let byCode = moduleCache.get(device);
  if (!byCode) moduleCache.set(device, (byCode = new Map()));
  const key = `${label}\u0000${code}`;
  let module = byCode.get(key);
  if (!module) {
    module = device.createShaderModule({ label, code });
    byCode.set(key, module);
  }
  return module;
}

/** Compute pipeline from WGSL with `override` constants; the layout is derived from the shader. */
export function computePipeline(
  device: GPUDevice,
  label: string,
  code: string,
  entryPoint: string,
  constants: Record<string, number> = {},
): GPUComputePipeline {
  return device.createComputePipeline({
    label: `${label}:${entryPoint}`,
    layout: 'auto',
    compute: { module: shaderModule(device, label, code), entryPoint, constants },
  });
}

/** Workgroup count in one dimension, checked against the device limit. */
export function workgroups(items: number, size: number, device?: GPUDevice): number {
  const n = Math.ceil(items / size);
  const max = device?.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  if (n > max) throw new RangeError(`${items} items need ${n} workgroups of ${size}, over the device limit of ${max}`);
  return n;
}

/** Where kernels record: a command encoder (the kernel opens its own pass) or an open compute pass. */
export type EncodeTarget = GPUCommandEncoder | GPUComputePassEncoder;

/** Runs `fn` in `target` when it is a pass, else in a new pass on the encoder labelled `label`. */
export function inPass(target: EncodeTarget, label: string, fn: (pass: GPUComputePassEncoder) => void): void {
  if ('dispatchWorkgroups' in target) {
    fn(target);
    return;
  }
  const pass = target.beginComputePass({ label });
  fn(pass);
  pass.end();
}
