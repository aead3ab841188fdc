/**
 * What the fused and unfused MLPs share: one interface, so a model, a test or the benchmark
 * can swap them. Weight layout and padding: config.ts (`mlpLayout`).
 */
import type { MlpConfig, MlpLayout, MlpPrecision } from './config.ts';
import type { BufferLike, EncodeTarget } from './gpu-util.ts';

export interface MlpOptions {
  /** Most rows one training forward/backward handles (sizes the stored activations). 0: inference only. */
  maxBatch: number;
  /** Seed of tcnn's Xavier-uniform initialisation. */
  seed?: number;
  /** 'f16' needs the device feature `shader-f16` (fused MLP only). */
  precision?: MlpPrecision;
  /** Workgroup shapes for a CPU implementation of WebGPU (default: whether the device is one). */
  cpu?: boolean;
}

/** Buffers of one backward call. */
export interface MlpBackwardBuffers {
  /** The input of the training forward, f32 [n][inputPadded]. */
  input: BufferLike;
  /** The outputs of the training forward (after the output activation), f32 [n][outputPadded]. */
  output: BufferLike;
  /** dL/doutput, f32 [n][outputPadded] (padding columns zero). */
  dOutput: BufferLike;
  /** When given, receives dL/dinput f32 [n][inputPadded] (to backpropagate into an encoding). */
  dInput?: BufferLike;
}

export interface MlpKernels {
  readonly config: MlpConfig;
  readonly layout: MlpLayout;
  /** Master f32 weights (layout: config.ts); Adam updates these. */
  readonly params: GPUBuffer;
  /** f32 dL/dweights of the last backward, summed over the batch (overwritten each backward). */
  readonly grads: GPUBuffer;
  /** Replaces the weights and refreshes the kernels' copies (queue writes; no encoder needed). */
  setWeights(weights: Float32Array<ArrayBuffer>): void;
  /** Refreshes the kernels' copies of `params` (after an optimiser step). */
  encodePrepare(target: EncodeTarget): void;
  /** Inference: input f32 [n][inputPadded] -> output f32 [n][outputPadded]. */
  encodeForward(target: EncodeTarget, input: BufferLike, output: BufferLike, n: number): void;
  /** Like encodeForward, and keeps what backward needs (n <= maxBatch). */
  encodeTrainForward(target: EncodeTarget, input: BufferLike, output: BufferLike, n: number): void;
  /** Backward of the last training forward: writes `grads` (and dInput when given). */
  encodeBackward(target: EncodeTarget, buffers: MlpBackwardBuffers, n: number): void;
  destroy(): void;
}

export function checkBatch(n: number, maxBatch: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: batch size must be a non-negative integer, not ${n}`);
  if (n > maxBatch) throw new RangeError(`${what}: batch of ${n} rows is over maxBatch ${maxBatch} given at construction`);
}
