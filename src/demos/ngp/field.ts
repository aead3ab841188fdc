/**
 * A neural field for the lab's apps: grid encoding + fully fused MLP + Adam, composed from the
 * kernels in src/nn/ngp the way NgpModel composes them, with the loss left open: the plain
 * regression apps (GIA, NSDF, NVR) use tcnn's L2 (`encodeTrainStep`), NeRF writes its own
 * volume-rendering gradient into `dOutputs` between `encodeTrainForward` and `encodeBackward`.
 *
 * Profiler stages: 'encoding', 'mlp', 'loss+adam' (as NgpModel).
 */
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { Adam } from '../../nn/ngp/adam.ts';
import { initGridParams, initMlpWeights, type GridConfig, type LossKind, type MlpConfig } from '../../nn/ngp/config.ts';
import { FusedMlp } from '../../nn/ngp/fused-mlp.ts';
import { storageBuffer, type BufferLike } from '../../nn/ngp/gpu-util.ts';
import { GridEncoding } from '../../nn/ngp/grid-encoding.ts';
import { Loss } from '../../nn/ngp/loss.ts';
import type { MlpKernels } from '../../nn/ngp/mlp.ts';
import { UnfusedMlp } from '../../nn/ngp/unfused-mlp.ts';

export interface FieldOptions {
  grid: GridConfig;
  mlp: Omit<MlpConfig, 'inputDims'>;
  /** Most rows per training step. */
  maxBatch: number;
  seed: number;
  /** Fully fused MLP (default) or the unfused baseline (one GEMM dispatch per layer). */
  fused?: boolean;
}

const FIXED_POINT = 2 ** 14;

export class NeuralField {
  readonly grid: GridEncoding;
  readonly mlp: MlpKernels;
  readonly fused: boolean;
  readonly loss: Loss;
  readonly gridAdam: Adam;
  readonly mlpAdam: Adam;
  readonly maxBatch: number;
  /** Outputs of the last training forward, f32 [n][outputStride]. */
  readonly predictions: GPUBuffer;
  /** dL/doutputs of the current step, f32 [n][outputStride] (loss scale included). */
  readonly dOutputs: GPUBuffer;
  step = 0;
  private readonly features: GPUBuffer;
  private readonly dFeatures: GPUBuffer;
  private readonly chunkRows: number;

  constructor(
    private readonly device: GPUDevice,
    options: FieldOptions,
    private readonly profiler: GpuProfiler | null,
  ) {
    this.maxBatch = options.maxBatch;
    this.grid = new GridEncoding(device, options.grid, { seed: options.seed, fixedPointScale: FIXED_POINT });
    const mlpConfig: MlpConfig = { ...options.mlp, inputDims: this.grid.outputDims };
    this.fused = options.fused !== false;
    const mlpOptions = { maxBatch: this.maxBatch, seed: options.seed + 1 };
    this.mlp = this.fused ? new FusedMlp(device, mlpConfig, mlpOptions) : new UnfusedMlp(device, mlpConfig, mlpOptions);
    this.loss = new Loss(device);
    this.mlpAdam = new Adam(device, { count: this.mlp.layout.paramCount, matrix: true });
    this.gridAdam = new Adam(device, { count: this.grid.layout.paramCount, matrix: false, gradients: 'fixed', fixedPointScale: FIXED_POINT });
    this.chunkRows = Math.max(64, Math.floor(this.maxBatch / 64) * 64);
    const rows = Math.max(this.maxBatch, this.chunkRows);
    this.features = storageBuffer(device, 'field features', rows * this.grid.outputStride * 4);
    this.dFeatures = storageBuffer(device, 'field dL/dfeatures', this.maxBatch * this.grid.outputStride * 4);
    this.predictions = storageBuffer(device, 'field predictions', this.maxBatch * this.outputStride * 4);
    this.dOutputs = storageBuffer(device, 'field dL/doutputs', this.maxBatch * this.outputStride * 4);
  }

  get dims(): number {
    return this.grid.config.dims;
  }

  get outputDims(): number {
    return this.mlp.config.outputDims;
  }

  get outputStride(): number {
    return this.mlp.layout.outputPadded;
  }

  /** Parameters in the grid and the MLP. */
  get paramCount(): number {
    return this.grid.layout.paramCount + this.mlp.layout.paramCount;
  }

  private stage(encoder: GPUCommandEncoder, stage: string, fn: (pass: GPUComputePassEncoder) => void): void {
    const pass = this.profiler ? this.profiler.computePass(encoder, stage) : encoder.beginComputePass({ label: stage });
    fn(pass);
    pass.end();
  }

  /** Inference over n rows (chunked): inputs f32 [n][dims] -> outputs f32 [n][outputStride]. */
  encodeForward(encoder: GPUCommandEncoder, inputs: GPUBuffer, outputs: GPUBuffer, n: number): void {
    for (let row0 = 0; row0 < n; row0 += this.chunkRows) {
      const rows = Math.min(this.chunkRows, n - row0);
      const whole = row0 === 0 && rows === n;
      const slice = (buffer: GPUBuffer, width: number): BufferLike => (whole ? buffer : { buffer, offset: row0 * width * 4, size: rows * width * 4 });
      const input = slice(inputs, this.dims);
      const output = slice(outputs, this.outputStride);
      this.stage(encoder, 'encoding', (pass) => this.grid.encodeForward(pass, input, this.features, rows));
      this.stage(encoder, 'mlp', (pass) => this.mlp.encodeForward(pass, this.features, output, rows));
    }
  }

  /** Training forward: predictions for n <= maxBatch rows, keeping what backward needs. */
  encodeTrainForward(encoder: GPUCommandEncoder, inputs: GPUBuffer, n: number): void {
    if (n > this.maxBatch) throw new RangeError(`training batch of ${n} is over ${this.maxBatch}`);
    this.stage(encoder, 'encoding', (pass) => this.grid.encodeForward(pass, inputs, this.features, n));
    this.stage(encoder, 'mlp', (pass) => this.mlp.encodeTrainForward(pass, this.features, this.predictions, n));
  }

  /** Backward from `dOutputs` and one Adam step; `lossScale` is the factor in dOutputs. */
  encodeBackward(encoder: GPUCommandEncoder, inputs: GPUBuffer, n: number, lossScale: number): void {
    this.stage(encoder, 'mlp', (pass) =>
      this.mlp.encodeBackward(pass, { input: this.features, output: this.predictions, dOutput: this.dOutputs, dInput: this.dFeatures }, n),
    );
    this.stage(encoder, 'encoding', (pass) => this.grid.encodeBackward(pass, inputs, this.dFeatures, n));
    this.stage(encoder, 'loss+adam', (pass) => {
      this.mlpAdam.encodeStep(pass, this.mlp.params, this.mlp.grads, lossScale);
      this.gridAdam.encodeStep(pass, this.grid.params, this.grid.grads, lossScale);
      this.mlp.encodePrepare(pass);
    });
    this.step++;
  }

  /** One regression step: inputs f32 [n][dims], targets f32 [n][outputDims]. */
  encodeTrainStep(encoder: GPUCommandEncoder, inputs: GPUBuffer, targets: GPUBuffer, n: number, kind: LossKind = 'l2'): void {
    const scale = n * this.outputDims;
    this.encodeTrainForward(encoder, inputs, n);
    this.stage(encoder, 'loss+adam', (pass) =>
      this.loss.encode(pass, kind, { predictions: this.predictions, targets, gradients: this.dOutputs }, n, this.outputDims, this.outputStride, scale),
    );
    this.encodeBackward(encoder, inputs, n, scale);
  }

  /** Seeded re-initialisation of parameters, optimiser state and loss statistics. */
  reset(seed: number): void {
    this.grid.setParams(initGridParams(this.grid.layout, seed));
    this.mlp.setWeights(initMlpWeights(this.mlp.config, seed + 1));
    const encoder = this.device.createCommandEncoder({ label: 'field reset' });
    this.mlpAdam.encodeReset(encoder);
    this.gridAdam.encodeReset(encoder);
    this.grid.encodeClearGrads(encoder);
    this.loss.encodeReset(encoder);
    this.device.queue.submit([encoder.finish()]);
    this.step = 0;
  }

  destroy(): void {
    this.grid.destroy();
    this.mlp.destroy();
    this.loss.destroy();
    this.gridAdam.destroy();
    this.mlpAdam.destroy();
    for (const b of [this.features, this.dFeatures, this.predictions, this.dOutputs]) b.destroy();
  }
}
