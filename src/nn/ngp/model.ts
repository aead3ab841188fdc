/**
 * NgpModel: a multiresolution grid encoding followed by an MLP, trained with Adam on an
 * L2 / relative-L2 loss, instant-ngp style. One training step is recorded into one command
 * encoder with no readback; sizes travel in uniforms, so one set of pipelines serves every
 * batch size up to `maxBatch`.
 *
 * Stages (GPU time per stage via the GpuProfiler, when given): 'encoding' (grid forward and
 * backward), 'mlp' (training forward, backward, weight-gradient reduction), 'loss+adam' (loss,
 * its GPU reduction, both Adam steps, refreshing the MLP's weight copies).
 *
 * Gradient scaling: the loss gradient is multiplied by tcnn's loss_scale, here n * outputDims,
 * which cancels the loss's 1 / (n * outputDims): per-row gradients reaching the encoding are
 * O(|prediction - target|), which suits the grid's fixed-point accumulation (default 2^14 units
 * per 1.0: a contribution of 1e-4 still has ~1.6 units, and a parameter's summed gradient
 * may reach 2^17 before overflow). Adam divides by the same scale, so updates are exactly
 * those of the unscaled loss (Adam is scale-invariant up to epsilon and L2).
 *
 * Buffers the caller provides: inputs f32 [n][dims] in [0,1]^dims, targets f32 [n][outputDims],
 * outputs f32 [n][outputStride] (outputStride = outputDims rounded up to 4).
 *
 * Composition beyond one encoding + one MLP (instant-ngp NeRF: density MLP whose outputs,
 * with a direction encoding, feed a colour MLP): use GridEncoding, FusedMlp and Adam directly;
 * `FusedMlp.encodeBackward` returns dL/dinput for chaining, and everything takes either a
 * command encoder or an open compute pass.
 */
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { initGridParams, initMlpWeights, type AdamConfig, type GridConfig, type LossKind, type MlpConfig, type MlpPrecision } from './config.ts';
import { Adam } from './adam.ts';
import { FusedMlp, type FusedMlpOptions } from './fused-mlp.ts';
import { storageBuffer, type BufferLike } from './gpu-util.ts';
import { GridEncoding } from './grid-encoding.ts';
import { Loss } from './loss.ts';
import { checkBatch, type MlpKernels } from './mlp.ts';
import { UnfusedMlp } from './unfused-mlp.ts';

export type NgpStage = 'encoding' | 'mlp' | 'loss+adam';
export const NGP_STAGES: readonly NgpStage[] = ['encoding', 'mlp', 'loss+adam'];

export interface NgpModelOptions {
  grid: GridConfig;
  /** The MLP after the encoding (its input width is the encoding's). */
  mlp: Omit<MlpConfig, 'inputDims'>;
  /** Most rows per training step (sizes the intermediate buffers); inference runs any n in chunks. */
  maxBatch: number;
  /** Adam settings for both parameter sets (instant-ngp defaults). */
  optimizer?: AdamConfig;
  /** Overrides for the grid's Adam. */
  gridOptimizer?: AdamConfig;
  /** Fully fused MLP (default) or the unfused baseline. */
  fused?: boolean;
  precision?: MlpPrecision;
  /** Extra FusedMlp options (block shape overrides). */
  fusedOptions?: Partial<FusedMlpOptions>;
  seed?: number;
  /** Fixed-point units per 1.0 of grid gradient (default 2^14). */
  fixedPointScale?: number;
  profiler?: GpuProfiler;
}

export class NgpModel {
  readonly grid: GridEncoding;
  readonly mlp: MlpKernels;
  readonly loss: Loss;
  readonly gridAdam: Adam;
  readonly mlpAdam: Adam;
  readonly maxBatch: number;
  /** Training steps encoded so far. */
  step = 0;
  /** Outputs of the last training step, f32 [n][outputStride]. */
  readonly predictions: GPUBuffer;
  private readonly features: GPUBuffer;
  private readonly dFeatures: GPUBuffer;
  private readonly dOutputs: GPUBuffer;
  private readonly chunkRows: number;
  private readonly profiler: GpuProfiler | undefined;

  constructor(
    private readonly device: GPUDevice,
    options: NgpModelOptions,
  ) {
    const seed = options.seed ?? 1337;
    this.maxBatch = options.maxBatch;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, not ${this.maxBatch}`);
    this.profiler = options.profiler;
    const fixedPointScale = options.fixedPointScale ?? 2 ** 14;
    this.grid = new GridEncoding(device, options.grid, { seed, fixedPointScale });
    const mlpConfig: MlpConfig = { ...options.mlp, inputDims: this.grid.outputDims };
    if (this.grid.outputStride !== Math.ceil(mlpConfig.inputDims / 4) * 4) throw new Error('grid output stride and MLP input padding disagree');
    const mlpOptions = { maxBatch: this.maxBatch, seed: seed + 1, precision: options.precision };
    this.mlp = options.fused === false ? new UnfusedMlp(device, mlpConfig, mlpOptions) : new FusedMlp(device, mlpConfig, { ...mlpOptions, ...options.fusedOptions });
    this.loss = new Loss(device);
    this.mlpAdam = new Adam(device, { ...options.optimizer, count: this.mlp.layout.paramCount, matrix: true });
    this.gridAdam = new Adam(device, { ...options.optimizer, ...options.gridOptimizer, count: this.grid.layout.paramCount, matrix: false, gradients: 'fixed', fixedPointScale });
    // Inference chunks: a multiple of 64 rows keeps binding offsets 256-byte aligned.
    this.chunkRows = Math.max(64, Math.floor(this.maxBatch / 64) * 64);
    const rows = Math.max(this.maxBatch, this.chunkRows);
    this.features = storageBuffer(device, 'ngp features', rows * this.grid.outputStride * 4);
    this.dFeatures = storageBuffer(device, 'ngp dL/dfeatures', this.maxBatch * this.grid.outputStride * 4);
    this.predictions = storageBuffer(device, 'ngp predictions', this.maxBatch * this.outputStride * 4);
    this.dOutputs = storageBuffer(device, 'ngp dL/doutputs', this.maxBatch * this.outputStride * 4);
  }

  get inputDims(): number {
    return this.grid.config.dims;
  }

  get outputDims(): number {
    return this.mlp.config.outputDims;
  }

  /** Floats per output row (outputDims rounded up to 4). */
  get outputStride(): number {
    return this.mlp.layout.outputPadded;
  }

  /** Trained parameters: grid table entries plus MLP weights. */
  get paramCount(): number {
    return this.grid.layout.paramCount + this.mlp.layout.paramCount;
  }

  /** [last loss, running sum, steps, 0] (f32), reduced on the GPU; see LossReadback. */
  get lossStats(): GPUBuffer {
    return this.loss.stats;
  }

  setLearningRate(lr: number): void {
    this.mlpAdam.hyper.learningRate = lr;
    this.gridAdam.hyper.learningRate = lr;
  }

  private stage(encoder: GPUCommandEncoder, stage: NgpStage, fn: (pass: GPUComputePassEncoder) => void): void {
    const pass = this.profiler ? this.profiler.computePass(encoder, stage) : encoder.beginComputePass({ label: stage });
    fn(pass);
    pass.end();
  }

  /** Inference: inputs f32 [n][dims] -> outputs f32 [n][outputStride], any n (chunks of maxBatch rows). */
  encodeForward(encoder: GPUCommandEncoder, inputs: GPUBuffer, outputs: GPUBuffer, n: number): void {
    for (let row0 = 0; row0 < n; row0 += this.chunkRows) {
      const rows = Math.min(this.chunkRows, n - row0);
      const whole = row0 === 0 && rows === n;
      const slice = (buffer: GPUBuffer, width: number): BufferLike => (whole ? buffer : { buffer, offset: row0 * width * 4, size: rows * width * 4 });
      const input = slice(inputs, this.inputDims);
      const output = slice(outputs, this.outputStride);
      this.stage(encoder, 'encoding', (pass) => this.grid.encodeForward(pass, input, this.features, rows));
      this.stage(encoder, 'mlp', (pass) => this.mlp.encodeForward(pass, this.features, output, rows));
    }
  }

  /**
   * One training step on n <= maxBatch samples: forward, loss, backward, Adam. The loss lands
   * in `lossStats`; the predictions of this step in `predictions`.
   */
  encodeTrainStep(encoder: GPUCommandEncoder, inputs: GPUBuffer, targets: GPUBuffer, n: number, lossKind: LossKind = 'l2'): void {
    checkBatch(n, this.maxBatch, 'NgpModel training step');
    if (n === 0) return;
    const scale = n * this.outputDims;
    this.stage(encoder, 'encoding', (pass) => this.grid.encodeForward(pass, inputs, this.features, n));
    this.stage(encoder, 'mlp', (pass) => this.mlp.encodeTrainForward(pass, this.features, this.predictions, n));
    this.stage(encoder, 'loss+adam', (pass) =>
      this.loss.encode(pass, lossKind, { predictions: this.predictions, targets, gradients: this.dOutputs }, n, this.outputDims, this.outputStride, scale),
    );
    this.stage(encoder, 'mlp', (pass) =>
      this.mlp.encodeBackward(pass, { input: this.features, output: this.predictions, dOutput: this.dOutputs, dInput: this.dFeatures }, n),
    );
    this.stage(encoder, 'encoding', (pass) => this.grid.encodeBackward(pass, inputs, this.dFeatures, n));
    this.stage(encoder, 'loss+adam', (pass) => {
      this.mlpAdam.encodeStep(pass, this.mlp.params, this.mlp.grads, scale);
      this.gridAdam.encodeStep(pass, this.grid.params, this.grid.grads, scale);
      this.mlp.encodePrepare(pass);
    });
    this.step++;
  }

  /** Re-initialises parameters (seeded) and optimiser state, and zeroes the loss statistics. */
  reset(seed = 1337): void {
    this.grid.setParams(initGridParams(this.grid.layout, seed));
    this.mlp.setWeights(initMlpWeights(this.mlp.config, seed + 1));
    const encoder = this.device.createCommandEncoder({ label: 'ngp reset' });
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

/** PSNR in dB of a mean squared error over values in [0, 1]. */
export function psnrFromMse(mse: number): number {
  return -10 * Math.log10(Math.max(mse, 1e-20));
}
