/** A WebGPU validation or out-of-memory error caught by an error scope, with the label of the work that raised it. */
export class GpuError extends Error {
  constructor(
    readonly kind: 'validation' | 'out-of-memory' | 'internal',
    readonly where: string,
    message: string,
  ) {
    super(`GPU ${kind} error in ${where}: ${message}`);
    this.name = 'GpuError';
  }
}

/**
 * Runs `fn` inside validation, out-of-memory and internal error scopes and throws the
 * first error any of them caught. Errors surface to the caller, not only to the console.
 */
export async function withErrorScope<T>(device: GPUDevice, where: string, fn: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = await fn();
  } finally {
    const [validation, oom, internal] = await Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()]);
    const first = validation ?? oom ?? internal;
    if (first) {
      const kind = validation ? 'validation' : oom ? 'out-of-memory' : 'internal';
      // eslint-disable-next-line no-unsafe-finally
      throw new GpuError(kind, where, first.message);
    }
  }
  return result;
}
