/**
 * instant-ngp's NeRF network (configs/nerf/base.json): a 3D hash grid, a density MLP (64 wide,
 * 1 hidden layer, 16 outputs; output 0 is the log-density, sigma = exp, trained as tcnn's
 * truncated exp) and a colour MLP (64 wide, 2 hidden layers, 3 outputs: rgb logits) whose input
 * is the 16 density outputs followed by the degree-4 spherical-harmonics encoding of the view
 * direction (tcnn SphericalHarmonics of the direction mapped to [0,1]). Both MLPs are the fully
 * fused kernel unless `fused: false` (the unfused baseline). Glue kernels:
 * shaders/ngp_nerf_network.wgsl.
 *
 * Rows: positions f32 [n][3] in [0,1]^3, directions f32 [n][3] in [0,1]^3 (d * 0.5 + 0.5);
 * output ("raw") f32 [n][4] = (log-density, r, g, b logits), which the volume renderer and the
 * NeRF loss read. Training: `encodeTrainForward` -> the caller writes dL/draw into `dOutputs`
 * -> `encodeBackward` (colour MLP, density MLP, grid; three Adam steps).
 *
 * Profiler stages: 'encoding' (grid), 'mlp' (both MLPs, with the SH encoding and glue kernels
 * between them in the same pass), 'loss+adam'; a training step opens 5 timed passes (plus the
 * caller's loss), like NgpModel, so the profiler's per-frame pass budget covers many steps.
 */
import nerfNetWgsl from '../../../shaders/ngp_nerf_network.wgsl?raw';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { computePipeline } from '../../gpu/shader.ts';
import { Adam } from './adam.ts';
import { initGridParams, initMlpWeights, type GridConfig, type MlpConfig } from './config.ts';
import { FusedMlp } from './fused-mlp.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import { flatGroups, storageBuffer, UniformArena, type BufferLike } from './gpu-util.ts';
import { GridEncoding } from './grid-encoding.ts';
import type { MlpKernels } from './mlp.ts';
import { UnfusedMlp } from './unfused-mlp.ts';

/** Density MLP outputs (instant-ngp: 16, the first the log-density). */
export const NERF_DENSITY_OUTPUTS = 16;
/** Degree-4 SH coefficients of the direction. */
export const NERF_SH_COEFFICIENTS = 16;

export interface NerfNetworkOptions {
  grid: GridConfig;
  /** Most rows per training step; inference runs any n in chunks of this. */
  maxBatch: number;
  seed: number;
  fused?: boolean;
  /** Hidden width of both MLPs (instant-ngp: 64). */
  width?: 16 | 32 | 64 | 128;
  fixedPointScale?: number;
}

type Entry = 'assemble' | 'merge' | 'split_grad' | 'merge_grad';

export class NerfNetwork {
  readonly grid: GridEncoding;
  readonly density: MlpKernels;
  readonly colour: MlpKernels;
  readonly fused: boolean;
  readonly maxBatch: number;
  readonly gridAdam: Adam;
  readonly densityAdam: Adam;
  readonly colourAdam: Adam;
  /** Raw outputs of the last training forward, f32 [n][4]. */
  readonly predictions: GPUBuffer;
  /** dL/draw of the current step, f32 [n][4] (loss scale included). */
  readonly dOutputs: GPUBuffer;
  /** [last loss, running sum, steps, 0] (f32), written by the caller's loss kernel. */
  readonly lossStats: GPUBuffer;
  readonly outputStride = 4;
  readonly dims = 3;
  step = 0;
  private readonly bufs: Record<'features' | 'dens' | 'rgbIn' | 'rgbOut' | 'dRgbOut' | 'dRgbIn' | 'dDens' | 'dFeatures', GPUBuffer>;
  private readonly pipelines: Record<Entry, GPUComputePipeline>;
  private readonly uniforms: UniformArena;
  private readonly binds: BindCache;
  private readonly chunkRows: number;
  private readonly fixedPointScale: number;

  constructor(
    private readonly device: GPUDevice,
    options: NerfNetworkOptions,
    private readonly profiler: GpuProfiler | null = null,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, not ${options.maxBatch}`);
    this.maxBatch = options.maxBatch;
    this.fixedPointScale = options.fixedPointScale ?? 2 ** 14;
    this.grid = new GridEncoding(device, options.grid, { seed: options.seed, fixedPointScale: this.fixedPointScale });
    const width = options.width ?? 64;
    const densityConfig: MlpConfig = { inputDims: this.grid.outputDims, width, hiddenLayers: 1, outputDims: NERF_DENSITY_OUTPUTS, outputActivation: 'none' };
    const colourConfig: MlpConfig = { inputDims: NERF_DENSITY_OUTPUTS + NERF_SH_COEFFICIENTS, width, hiddenLayers: 2, outputDims: 3, outputActivation: 'none' };
    this.fused = options.fused !== false;
    const make = (config: MlpConfig, seed: number): MlpKernels => {
      const o = { maxBatch: this.maxBatch, seed };
      return this.fused ? new FusedMlp(device, config, o) : new UnfusedMlp(device, config, o);
    };
    this.density = make(densityConfig, options.seed + 1);
    this.colour = make(colourConfig, options.seed + 2);
    this.gridAdam = new Adam(device, { count: this.grid.layout.paramCount, matrix: false, gradients: 'fixed', fixedPointScale: this.fixedPointScale });
    this.densityAdam = new Adam(device, { count: this.density.layout.paramCount, matrix: true });
    this.colourAdam = new Adam(device, { count: this.colour.layout.paramCount, matrix: true });
    // Inference chunks: a multiple of 64 rows keeps binding offsets 256-byte aligned.
    this.chunkRows = Math.max(64, Math.floor(this.maxBatch / 64) * 64);
    const rows = Math.max(this.maxBatch, this.chunkRows);
    const buf = (label: string, floats: number) => storageBuffer(device, `nerf network ${label}`, rows * floats * 4);
    this.bufs = {
      features: buf('features', this.grid.outputStride),
      dens: buf('density outputs', NERF_DENSITY_OUTPUTS),
      rgbIn: buf('colour inputs', 32),
      rgbOut: buf('colour outputs', 4),
      dRgbOut: buf('dL/dcolour outputs', 4),
      dRgbIn: buf('dL/dcolour inputs', 32),
      dDens: buf('dL/ddensity outputs', NERF_DENSITY_OUTPUTS),
      dFeatures: buf('dL/dfeatures', this.grid.outputStride),
    };
    this.predictions = buf('raw outputs', 4);
    this.dOutputs = buf('dL/draw', 4);
    this.lossStats = storageBuffer(device, 'nerf loss stats', 16);
    const pipe = (entry: Entry) => computePipeline(device, 'ngp nerf network', nerfNetWgsl, entry);
    this.pipelines = { assemble: pipe('assemble'), merge: pipe('merge'), split_grad: pipe('split_grad'), merge_grad: pipe('merge_grad') };
    this.uniforms = new UniformArena(device, 'ngp nerf network');
    this.binds = new BindCache(device);
  }

  get paramCount(): number {
    return this.grid.layout.paramCount + this.density.layout.paramCount + this.colour.layout.paramCount;
  }

  private stage(encoder: GPUCommandEncoder, stage: string, fn: (pass: GPUComputePassEncoder) => void): void {
    const pass = this.profiler ? this.profiler.computePass(encoder, stage) : encoder.beginComputePass({ label: stage });
    fn(pass);
    pass.end();
  }

  private glue(pass: GPUComputePassEncoder, entry: Entry, entries: Record<number, BufferLike>, n: number): void {
    const pipeline = this.pipelines[entry];
    const uniform = this.uniforms.bind(new Uint32Array([n, 0, 0, 0]).buffer);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.binds.get(pipeline, { 0: uniform, ...entries }));
    pass.dispatchWorkgroups(...flatGroups(this.device, n, 64));
  }

  private forwardRows(encoder: GPUCommandEncoder, positions: BufferLike, directions: BufferLike | null, raw: BufferLike | null, n: number, train: boolean): void {
    const b = this.bufs;
    this.stage(encoder, 'encoding', (pass) => this.grid.encodeForward(pass, positions, b.features, n));
    this.stage(encoder, 'mlp', (pass) => {
      if (train) this.density.encodeTrainForward(pass, b.features, b.dens, n);
      else this.density.encodeForward(pass, b.features, b.dens, n);
      if (!directions || !raw) return;
      this.glue(pass, 'assemble', { 1: b.dens, 2: directions, 3: b.rgbIn }, n);
      if (train) this.colour.encodeTrainForward(pass, b.rgbIn, b.rgbOut, n);
      else this.colour.encodeForward(pass, b.rgbIn, b.rgbOut, n);
      this.glue(pass, 'merge', { 1: b.dens, 4: b.rgbOut, 5: raw }, n);
    });
  }

  private chunks(n: number, fn: (row0: number, rows: number, slice: (buffer: GPUBuffer, floats: number) => BufferLike) => void): void {
    for (let row0 = 0; row0 < n; row0 += this.chunkRows) {
      const rows = Math.min(this.chunkRows, n - row0);
      const whole = row0 === 0 && rows === n;
      fn(row0, rows, (buffer, floats) => (whole ? buffer : { buffer, offset: row0 * floats * 4, size: rows * floats * 4 }));
    }
  }

  /** Inference over any n: positions, directions f32 [n][3] -> raw f32 [n][4]. */
  encodeForward(encoder: GPUCommandEncoder, positions: GPUBuffer, raw: GPUBuffer, n: number, directions?: GPUBuffer): void {
    if (!directions) throw new Error('the NeRF network needs view directions');
    this.chunks(n, (_row0, rows, slice) => this.forwardRows(encoder, slice(positions, 3), slice(directions, 3), slice(raw, 4), rows, false));
  }

  /** Density MLP outputs only (occupancy updates): positions f32 [n][3] -> f32 [n][16] (column 0 log-density). */
  encodeDensity(encoder: GPUCommandEncoder, positions: GPUBuffer, out: GPUBuffer, n: number): void {
    this.chunks(n, (row0, rows, slice) => {
      this.forwardRows(encoder, slice(positions, 3), null, null, rows, false);
      encoder.copyBufferToBuffer(this.bufs.dens, 0, out, row0 * NERF_DENSITY_OUTPUTS * 4, rows * NERF_DENSITY_OUTPUTS * 4);
    });
  }

  /** Training forward of n <= maxBatch rows into `predictions`, keeping what backward needs. */
  encodeTrainForward(encoder: GPUCommandEncoder, positions: GPUBuffer, directions: GPUBuffer, n: number): void {
    if (n > this.maxBatch) throw new RangeError(`training batch of ${n} is over ${this.maxBatch}`);
    this.forwardRows(encoder, positions, directions, this.predictions, n, true);
  }

  /** Backward from `dOutputs` through the colour MLP, the density MLP and the grid; one Adam step each. */
  encodeBackward(encoder: GPUCommandEncoder, positions: GPUBuffer, n: number, lossScale: number): void {
    const b = this.bufs;
    this.stage(encoder, 'mlp', (pass) => {
      this.glue(pass, 'split_grad', { 6: this.dOutputs, 7: b.dRgbOut }, n);
      this.colour.encodeBackward(pass, { input: b.rgbIn, output: b.rgbOut, dOutput: b.dRgbOut, dInput: b.dRgbIn }, n);
      this.glue(pass, 'merge_grad', { 6: this.dOutputs, 8: b.dRgbIn, 9: b.dDens }, n);
      this.density.encodeBackward(pass, { input: b.features, output: b.dens, dOutput: b.dDens, dInput: b.dFeatures }, n);
    });
    this.stage(encoder, 'encoding', (pass) => this.grid.encodeBackward(pass, positions, b.dFeatures, n));
    this.stage(encoder, 'loss+adam', (pass) => {
      this.colourAdam.encodeStep(pass, this.colour.params, this.colour.grads, lossScale);
      this.densityAdam.encodeStep(pass, this.density.params, this.density.grads, lossScale);
      this.gridAdam.encodeStep(pass, this.grid.params, this.grid.grads, lossScale);
      this.colour.encodePrepare(pass);
      this.density.encodePrepare(pass);
    });
    this.step++;
  }

  /** The buffers of the last training forward/backward (tests compare them with the CPU). */
  get intermediates(): Readonly<Record<'features' | 'dens' | 'rgbIn' | 'rgbOut' | 'dDens' | 'dFeatures', GPUBuffer>> {
    return this.bufs;
  }

  reset(seed: number): void {
    this.grid.setParams(initGridParams(this.grid.layout, seed));
    this.density.setWeights(initMlpWeights(this.density.config, seed + 1));
    this.colour.setWeights(initMlpWeights(this.colour.config, seed + 2));
    const encoder = this.device.createCommandEncoder({ label: 'nerf network reset' });
    for (const adam of [this.gridAdam, this.densityAdam, this.colourAdam]) adam.encodeReset(encoder);
    this.grid.encodeClearGrads(encoder);
    encoder.clearBuffer(this.lossStats);
    this.device.queue.submit([encoder.finish()]);
    this.step = 0;
  }

  destroy(): void {
    this.grid.destroy();
    this.density.destroy();
    this.colour.destroy();
    for (const adam of [this.gridAdam, this.densityAdam, this.colourAdam]) adam.destroy();
    for (const buffer of [...Object.values(this.bufs), this.predictions, this.dOutputs, this.lossStats]) buffer.destroy();
    this.uniforms.destroy();
    this.binds.clear();
  }
}
