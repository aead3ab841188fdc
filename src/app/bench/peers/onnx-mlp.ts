/**
 * Peer for the neural graphics lab benchmark: onnxruntime-web running the same MLP (same
 * weights, exported by ../onnx-writer.ts) on its WebGPU execution provider, or its
 * single-threaded WASM provider. Only `session.run` (plus, on WebGPU, waiting for ORT's own
 * device to finish) is timed; session creation and input upload are not.
 *
 * Loading: the 'onnxruntime-web' bundle (JSEP: WebGPU + WASM providers) is imported lazily so
 * the #/bench page does not pay for it unless the suite runs; its .wasm comes from
 * node_modules through Vite (`?url`), single-threaded, no proxy worker (the page has no
 * cross-origin isolation, so no SharedArrayBuffer).
 */
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import type * as Ort from 'onnxruntime-web';

type OrtModule = typeof Ort;
let ortPromise: Promise<OrtModule> | null = null;

async function loadOrt(): Promise<OrtModule> {
  ortPromise ??= import('onnxruntime-web').then((ort) => {
    ort.env.wasm.wasmPaths = { wasm: ortWasmUrl };
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return ort;
  });
  return ortPromise;
}

export type OrtProvider = 'webgpu' | 'wasm';

export interface OrtMlpRun {
  /** Runs the batch once and resolves when its results are complete (on ORT's device for WebGPU). */
  run(): Promise<void>;
  /** The output of one run, f32 [n][outputs]. */
  output(): Promise<Float32Array>;
  /** Where the input/output tensors live. */
  readonly io: 'gpu-buffer' | 'cpu';
  destroy(): Promise<void>;
}

/**
 * A session for `model` (ONNX bytes) on `provider`, fed `input` (f32 [n][inputs]; `dims`
 * overrides that shape, e.g. NCHW for a conv net). On WebGPU the input is uploaded once into a GPU buffer of ORT's device and outputs stay on the GPU
 * (like ours); when that fails, CPU tensors are used (and the row says so).
 */
export async function createOrtMlp(model: Uint8Array, provider: OrtProvider, input: Float32Array<ArrayBuffer>, n: number, inputs: number, dims: number[] = [n, inputs]): Promise<OrtMlpRun> {
  const ort = await loadOrt();
  if (provider === 'webgpu') {
    try {
      return await gpuRun(ort, model, input, dims);
    } catch (e) {
      console.warn(`onnxruntime-web WebGPU with GPU tensors failed (${(e as Error).message}); using CPU tensors`);
    }
  }
  const session = await ort.InferenceSession.create(model, { executionProviders: [provider], graphOptimizationLevel: 'all' });
  const feed = new ort.Tensor('float32', input, dims);
  let last: Ort.Tensor | null = null;
  const run = async () => {
    const out = await session.run({ input: feed });
    last = out.output;
  };
  return {
    io: 'cpu',
    run,
    async output() {
      if (!last) await run();
      return (await last!.getData()) as Float32Array;
    },
    async destroy() {
      await session.release();
    },
  };
}

async function gpuRun(ort: OrtModule, model: Uint8Array, input: Float32Array<ArrayBuffer>, dims: number[]): Promise<OrtMlpRun> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', preferredOutputLocation: 'gpu-buffer' });
  try {
    const device = await ort.env.webgpu.device;
    const buffer = device.createBuffer({ label: 'ort mlp input', size: input.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, input);
    await device.queue.onSubmittedWorkDone();
    const feed = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims });
    let last: Ort.Tensor | null = null;
    const run = async () => {
      last?.dispose();
      const out = await session.run({ input: feed });
      last = out.output;
      if (last.location !== 'gpu-buffer') throw new Error(`ORT output landed on ${last.location}, not the GPU`);
      await device.queue.onSubmittedWorkDone();
    };
    await run(); // surfaces a failure here, while CPU tensors are still an option
    return {
      io: 'gpu-buffer',
      run,
      async output() {
        if (!last) await run();
        return (await last!.getData()) as Float32Array;
      },
      async destroy() {
        last?.dispose();
        feed.dispose();
        buffer.destroy();
        await session.release();
      },
    };
  } catch (e) {
    await session.release();
    throw e;
  }
}
